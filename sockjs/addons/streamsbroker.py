"""A publish/subscribe broker on one Redis stream: nothing lost when Redis blinks.

Install the optional dependency with ``pip install 'sockjs-cyclone[redis]'``
and hand the same broker to the routers of each process, as with
``RedisBroker``::

    broker = StreamsBroker("redis://127.0.0.1:6379")
    router = SockJSRouter(Chat, "/chat", broker=broker)
    broker.report_to(router)          # Redis trouble shows in router.stats
    broker.on_loss = resync           # called with a Loss when messages were lost

Every channel of the broker goes into one stream, ``<prefix>stream``
(``XADD ... MAXLEN ~ retention``); each process reads it with ``XREAD
BLOCK`` from the last entry it read, also after a reconnection. Messages
published while Redis is unreachable wait in a bounded buffer and are
written in order when it is back; copies and gaps are told apart by each
publisher's message numbers. The sans-I/O part is
:mod:`sockjs.protocol.streams`; the scaling page of the documentation says
what is lossless and what is not, and what each setting does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import txredisapi
from twisted.internet.defer import Deferred, FirstError, fail, gatherResults
from twisted.python.failure import Failure

from sockjs.addons._redislink import Connector, RedisLinks, _Commands, _Link
from sockjs.cyclone._clock import Clock
from sockjs.cyclone.pubsub import Subscription
from sockjs.protocol.brokerwire import encode_json
from sockjs.protocol.redisconf import worth_logging
from sockjs.protocol.streams import Inbox, Loss, LossKind, Outbox

if TYPE_CHECKING:
    from sockjs.cyclone._clock import DelayedCall

__all__ = ["Loss", "LossKind", "StreamsBroker"]

#: The trouble counted in ``broker.counters`` and in the ``errors_*`` keys of
#: the routers given to ``report_to``.
COUNTERS = (
    "redis_disconnected",
    "redis_connect_failed",
    "redis_not_published",
    "redis_bad_message",
    "redis_buffer_overflow",
    "redis_stream_gap",
)


class StreamsBroker(RedisLinks):
    """A :class:`~sockjs.cyclone.pubsub.Broker` that shares channels through a Redis stream.

    ``url``, ``tls``, ``prefix`` and the reconnection settings are those of
    :class:`~sockjs.addons.redisbroker.RedisBroker`. The stream is
    ``<prefix>stream`` and keeps about ``retention`` entries; messages wait
    for Redis in a buffer of at most ``buffer_bytes`` bytes. The reader
    asks for up to ``read_count`` entries at a time and waits ``block``
    seconds for new ones before asking again; it gives up on Redis after
    ``block + reply_timeout`` seconds without an answer, the writer after
    ``reply_timeout``.

    ``on_loss`` (also settable later, as the attribute) is called with a
    :class:`Loss` each time messages did not reach
    every subscriber: this process's buffer overflowed or Redis refused a
    message (the message reached this process's subscribers only), or this
    process found messages of another one missing. Each loss is also
    logged and counted.
    """

    COUNTERS = COUNTERS
    NAMESPACE = "sockjs.cyclone.streamsbroker"
    LOST_TEXT = "Lost {address}: messages wait in the buffer until it is back"
    BACK_TEXT = "Reconnected to {address} after {seconds:.1f} s: writing the buffer, reading on"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        prefix: str = "sockjs:",
        retention: int = 100_000,
        buffer_bytes: int = 4 << 20,
        read_count: int = 256,
        block: float = 2.0,
        on_loss: Callable[[Loss], object] | None = None,
        reactor: Clock | None = None,
        connect: Connector | None = None,
        tls: Any = None,
        initial_delay: float = 0.25,
        max_delay: float = 5.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        connect_timeout: float = 5.0,
        reply_timeout: float | None = 5.0,
        origin: str | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        if retention < 1 or buffer_bytes < 0 or read_count < 1 or not block > 0:
            raise ValueError("need retention >= 1, buffer_bytes >= 0, read_count >= 1, block > 0")
        super().__init__(
            url,
            prefix=prefix,
            reactor=reactor,
            connect=connect,
            tls=tls,
            initial_delay=initial_delay,
            max_delay=max_delay,
            factor=factor,
            jitter=jitter,
            connect_timeout=connect_timeout,
            reply_timeout=reply_timeout,
            origin=origin,
            random=random,
        )
        #: Called with each :class:`Loss` (exceptions are logged).
        self.on_loss = on_loss
        key = f"{prefix}stream"
        self._outbox = Outbox(self.origin, key, retention, buffer_bytes)
        self._inbox = Inbox(self.origin, key, count=read_count, block_ms=round(block * 1000))
        self._read_retry: DelayedCall | None = None
        self._read_errors = 0
        self._writer = _Link(self, "writer", _Commands, reply_timeout)
        read_timeout = None if reply_timeout is None else block + reply_timeout
        self._reader = _Link(self, "reader", _Commands, read_timeout)
        self._start(self._writer, self._reader)

    # -- Broker -----------------------------------------------------------------

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Deliver ``message`` to local subscribers now, and to other processes via the stream.

        The Deferred fails only for a value that JSON cannot encode (nobody
        receives it then); otherwise it fires once the local subscribers
        have it. The message is kept until Redis has stored it; if the
        buffer has no room for it, the loss is reported.
        """
        try:
            body = encode_json(message)
        except (TypeError, ValueError) as error:
            return fail(error)
        loss = self._outbox.add(channel, body)
        self._flush()  # Redis first: the other processes start while this one delivers
        done = self._local.publish(channel, message)
        if loss is not None:
            self._lost(loss)
        return done

    def subscribe(self, channel: str, callback: Callable[[Any], None]) -> Subscription:
        """Call ``callback`` for every later message on ``channel``, from any process."""
        return self._local.subscribe(channel, callback)

    def unsubscribe(self, subscription: Subscription) -> None:
        """End ``subscription`` (idempotent)."""
        self._local.unsubscribe(subscription)

    def publish_locally(self, channel: str, message: Any) -> Deferred[None]:
        """Deliver ``message`` to this process's subscribers of ``channel`` only.

        For ``on_loss`` hooks: tell this process's clients to resync.
        """
        return self._local.publish(channel, message)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the messages waiting for Redis to store them."""
        return self._outbox.bytes

    def stop(self) -> Deferred[None]:
        """Stop reading and writing and close the connections; fires when they are closed.

        Messages still in the buffer are not written; they are counted as
        ``redis_not_published`` and logged.
        """
        if self._read_retry is not None and self._read_retry.active():
            self._read_retry.cancel()
        if len(self._outbox) and not self._stopped:
            self._count("redis_not_published", len(self._outbox))
            self.log.warn("Stopping with {n} message(s) not written", n=len(self._outbox))
        return super().stop()

    # -- writing ------------------------------------------------------------------

    def _flush(self) -> None:
        protocol = self._writer.protocol
        if protocol is None:
            return
        for command in self._outbox.to_send():
            protocol.execute_command(*command).addCallbacks(self._written, self._not_written)

    def _written(self, _: object) -> None:
        self._outbox.confirmed()

    def _not_written(self, failure: Failure) -> None:
        if isinstance(failure.value, txredisapi.ConnectionError):
            return  # the connection is going; what was in flight is written again
        loss = self._outbox.refused()
        if loss is not None:
            self.log.warn("XADD failed: {error}", error=failure.getErrorMessage())
            self._lost(loss)

    # -- reading ------------------------------------------------------------------

    def _read(self, protocol: Any) -> None:
        if protocol is not self._reader.protocol:
            return  # that connection is gone; the next one reads on
        replies = [protocol.execute_command(*command) for command in self._inbox.commands()]
        gatherResults(replies, consumeErrors=True).addCallbacks(
            self._round, self._round_failed, callbackArgs=(protocol,), errbackArgs=(protocol,)
        )

    def _round(self, replies: list[Any], protocol: Any) -> None:
        self._read_errors = 0
        batch = self._inbox.received(replies, self._wanted)
        self._read(protocol)  # Redis prepares the next batch while this one is delivered
        for channel, message in batch.deliveries:
            self._local.publish(channel, message)
        if batch.bad:
            self._count("redis_bad_message", batch.bad)
            self.log.warn("Skipped {n} malformed stream entries", n=batch.bad)
        for loss in batch.losses:
            self._lost(loss)

    def _round_failed(self, failure: Failure, protocol: Any) -> None:
        error = failure.value.subFailure if isinstance(failure.value, FirstError) else failure
        if isinstance(error.value, txredisapi.ConnectionError):
            return  # the link reconnects, and _link_ready reads on
        self._read_errors += 1
        if worth_logging(self._read_errors):
            self.log.warn("Reading the stream failed: {error}", error=error.getErrorMessage())
        self._read_retry = self._reactor.callLater(self._backoff.maximum, self._read, protocol)

    def _wanted(self, channel: str) -> bool:
        return self._local.subscriber_count(channel) > 0

    # -- links and losses -----------------------------------------------------------

    def _link_ready(self, link: _Link) -> None:
        if link is self._writer:
            self._flush()
        else:
            self._read(link.protocol)
        super()._link_ready(link)

    def _link_down(self, link: _Link) -> None:
        if link is self._writer:
            self._outbox.disconnected()
        super()._link_down(link)

    def _lost(self, loss: Loss) -> None:
        self._count(loss.counter)
        gap = loss.kind in (LossKind.SEQUENCE_GAP, LossKind.RETENTION_GAP)
        if gap or worth_logging(self.counters[loss.counter]):
            self.log.warn("Messages lost: {what}", what=loss.describe(), loss=loss)
        if self.on_loss is not None:
            try:
                self.on_loss(loss)
            except Exception:
                self.log.failure("on_loss raised")
