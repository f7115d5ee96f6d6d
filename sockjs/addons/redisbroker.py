"""A publish/subscribe broker on Redis, for many processes sharing channels.

Install the optional dependency with ``pip install 'sockjs-cyclone[redis]'``
(it pulls in ``txredisapi``) and hand the same broker to the routers of each
process::

    broker = RedisBroker("redis://127.0.0.1:6379")
    router = SockJSRouter(Chat, "/chat", broker=broker)
    broker.report_to(router)          # Redis trouble shows in router.stats

A message published on a channel in any process reaches the subscribers of
that channel in all of them: each subscriber gets it once, in the order its
publisher sent it, at most once across processes (Redis pub/sub keeps
nothing). Local delivery never waits for Redis and goes on while Redis is
down; both Redis connections are retried with backoff for ever. The
scaling page of the documentation says what this covers, what is logged and
counted (:data:`COUNTERS`), and how to run it.

Messages are JSON values; the payload on the Redis channel
``<prefix><channel>`` is ``<origin> <compact JSON>``. What cannot be read
(not UTF-8, not JSON, nested too deep to decode) is counted and skipped.
The connection machinery is shared with the streams broker
(``sockjs.addons._redislink``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import txredisapi
from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure

from sockjs.addons._redislink import Connector, RedisLinks, _Link, _Linked
from sockjs.cyclone._clock import Clock
from sockjs.cyclone.pubsub import Subscription
from sockjs.protocol.brokerwire import BadBrokerData, encode_json, read_tagged, tag
from sockjs.protocol.redisconf import RedisAddress

__all__ = ["Connector", "RedisAddress", "RedisBroker"]

#: The trouble counted in ``broker.counters`` and in the ``errors_*`` keys of
#: the routers given to ``report_to``: outages, failed connection attempts,
#: messages that stayed local, and things on a channel that were not a
#: broker's message (dropped).
COUNTERS = (
    "redis_disconnected",
    "redis_connect_failed",
    "redis_not_published",
    "redis_bad_message",
)


class RedisBroker(RedisLinks):
    """A :class:`~sockjs.cyclone.pubsub.Broker` that shares channels through Redis pub/sub.

    ``url`` is a ``redis://`` or ``rediss://`` (TLS) URL, with a password
    for AUTH if Redis needs one (see :class:`RedisAddress`); ``tls``, for
    ``rediss://``, is a Twisted ``IOpenSSLClientConnectionCreator`` (from
    ``twisted.internet.ssl.optionsForClientTLS``: a private CA, a client
    certificate), the system's trust roots by default. Channel names get
    ``prefix`` in front on the Redis side. Connecting starts at once; call
    :meth:`stop` when shutting down.

    Reconnection waits ``initial_delay`` seconds after the first failure,
    then ``factor`` times longer after each further one, up to
    ``max_delay``, each delay varied by up to ``jitter`` (a fraction) so that
    many processes do not reconnect in step. A connection attempt gives up
    after ``connect_timeout`` seconds. A PUBLISH that Redis does not answer
    within ``reply_timeout`` seconds drops that connection (a Redis that
    hangs is treated like one that went away; ``None``: no limit).

    ``reactor`` (a clock and TCP connector; the global reactor by default),
    ``connect``, ``origin`` and ``random`` exist for tests: ``connect`` is a
    ``Connector``, a callable that connects a given protocol instance and
    returns a Deferred, used instead of a TCP connection to ``url``.
    """

    COUNTERS = COUNTERS
    NAMESPACE = "sockjs.cyclone.redisbroker"
    LOST_TEXT = "Lost {address}: messages reach this process only until it is back"
    BACK_TEXT = "Reconnected to {address} after {seconds:.1f} s: channels are shared again"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        prefix: str = "sockjs:",
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
        #: Channels (without prefix) this process wants from Redis.
        self._channels: set[str] = set()
        self._publisher = _Link(self, "publisher", _Publisher, reply_timeout)
        # Only PUBLISH is timed: a subscriber's replies are not matched one
        # to one with its commands (see _command).
        self._subscriber = _Link(self, "subscriber", _Subscriber, None)
        self._start(self._publisher, self._subscriber)

    # -- Broker -----------------------------------------------------------------

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Deliver ``message`` to local subscribers now and to other processes via Redis.

        The Deferred fails only for a value that JSON cannot encode (nobody
        receives it then). Otherwise it fires once Redis has confirmed the
        message or, when Redis is unreachable, once it has been delivered
        locally; the remote part is best effort and counted when it fails.
        """
        try:
            payload = tag(self.origin, encode_json(message))
        except (TypeError, ValueError) as error:
            return fail(error)
        confirmed: Deferred[Any] | None = None
        protocol = self._publisher.protocol
        if protocol is not None:
            try:
                confirmed = protocol.publish(self.prefix + channel, payload)
            except txredisapi.ConnectionError:  # pragma: no cover - the link hears of it first
                confirmed = None
        # Redis before the local sessions: the PUBLISH is then first in line
        # when this reactor turn's writes go out, and the other processes
        # start their fan-out while this one still writes to its sockets.
        local = self._local.publish(channel, message)
        if confirmed is None:
            self._count("redis_not_published")
            return local
        confirmed.addCallbacks(lambda _: None, self._publish_failed)
        confirmed.addCallback(lambda _: local)
        return confirmed

    def subscribe(self, channel: str, callback: Callable[[Any], None]) -> Subscription:
        """Call ``callback`` for every later message on ``channel``, from any process."""
        subscription = self._local.subscribe(channel, callback)
        if channel not in self._channels:
            self._channels.add(channel)
            self._command("SUBSCRIBE", [channel])
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """End ``subscription``; the Redis channel is left with its last subscriber."""
        self._local.unsubscribe(subscription)
        channel = subscription.channel
        if channel in self._channels and not self._local.subscriber_count(channel):
            self._channels.discard(channel)
            self._command("UNSUBSCRIBE", [channel])

    @property
    def channels(self) -> frozenset[str]:
        """Channels this process is (or will be, once connected) subscribed to on Redis."""
        return frozenset(self._channels)

    # -- Redis side -----------------------------------------------------------------

    def _command(self, name: str, channels: list[str]) -> None:
        """SUBSCRIBE or UNSUBSCRIBE now if connected (else the next connection does it)."""
        protocol = self._subscriber.protocol
        if protocol is None:
            return
        prefixed = [self.prefix + channel for channel in channels]
        method = protocol.subscribe if name == "SUBSCRIBE" else protocol.unsubscribe
        # Replies carry nothing we need; a failure means the connection is
        # going, and the next one subscribes again.
        method(prefixed).addErrback(lambda _: None)

    def _link_ready(self, link: _Link) -> None:
        if link is self._subscriber and self._channels:
            self._command("SUBSCRIBE", sorted(self._channels))
        super()._link_ready(link)

    def _message_received(self, redis_channel: Any, data: Any) -> None:
        if not isinstance(redis_channel, str) or not redis_channel.startswith(self.prefix):
            return  # not ours (a channel we did not subscribe to cannot arrive)
        try:
            theirs, message = read_tagged(data, self.origin)
        except BadBrokerData:
            self._count("redis_bad_message")
            self.log.warn("Dropped a malformed message on {channel}", channel=redis_channel)
            return
        if theirs:  # ours was delivered locally when it was published
            self._local.publish(redis_channel[len(self.prefix) :], message)

    def _publish_failed(self, failure: Failure) -> None:
        self._count("redis_not_published")
        if not isinstance(failure.value, txredisapi.ConnectionError):
            self.log.warn("PUBLISH failed: {error}", error=failure.getErrorMessage())


class _Publisher(_Linked, txredisapi.RedisProtocol):  # type: ignore[misc]
    """The connection that PUBLISHes."""


class _Subscriber(_Linked, txredisapi.SubscriberProtocol):  # type: ignore[misc]
    """The connection that SUBSCRIBEs and receives the messages."""

    def messageReceived(self, pattern: Any, channel: Any, message: Any) -> None:
        broker: RedisBroker = self.link.owner  # type: ignore[assignment]
        broker._message_received(channel, message)
