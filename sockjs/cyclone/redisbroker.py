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
``<prefix><channel>`` is ``<origin> <compact JSON>``.
"""

from __future__ import annotations

import json
import random as _random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlsplit

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from sockjs.cyclone._clock import Clock
from sockjs.cyclone.pubsub import InProcessBroker, Subscription
from sockjs.cyclone.router import SockJSRouter
from sockjs.protocol.encoding import json_decode
from sockjs.protocol.stats import Stats

try:
    import txredisapi
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sockjs.cyclone.redisbroker needs txredisapi: pip install 'sockjs-cyclone[redis]'"
    ) from error

if TYPE_CHECKING:
    from sockjs.cyclone._clock import DelayedCall

__all__ = ["Connector", "RedisAddress", "RedisBroker"]

log = Logger(namespace="sockjs.cyclone.redisbroker")

#: Connects a protocol instance to Redis; the Deferred fires once the TCP
#: connection is made (``protocol.makeConnection`` has run) or fails.
Connector = Callable[[Any], Deferred[Any]]

# Compact, UTF-8 as it is (Redis carries bytes), and strict: NaN and
# Infinity are not JSON, and the other processes could not decode them.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

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


@dataclass(frozen=True)
class RedisAddress:
    """Where Redis is, from a ``redis://[[user]:password@]host[:port][/db]`` URL.

    The database number is accepted and ignored: Redis pub/sub channels are
    shared by all databases of a server (use the broker's ``prefix`` to keep
    applications apart).
    """

    host: str = "127.0.0.1"
    port: int = 6379
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        """Read a ``redis://`` URL; raise :class:`ValueError` for anything else."""
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError(f"not a redis:// URL (TLS is not supported): {url!r}")
        try:
            port = parts.port
        except ValueError as error:
            raise ValueError(f"bad port in {url!r}") from error
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError(f"the path of a redis:// URL is a database number: {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"no query or fragment expected in {url!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port if port is not None else 6379,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis://{host}:{self.port}"  # never the password: this goes to logs


class RedisBroker:
    """A :class:`~sockjs.cyclone.pubsub.Broker` that shares channels through Redis.

    ``url`` is a ``redis://`` URL (see :class:`RedisAddress`). Channel names
    get ``prefix`` in front on the Redis side. Connecting starts at once;
    call :meth:`stop` when shutting down.

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

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        prefix: str = "sockjs:",
        reactor: Clock | None = None,
        connect: Connector | None = None,
        initial_delay: float = 0.25,
        max_delay: float = 5.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        connect_timeout: float = 5.0,
        reply_timeout: float | None = 5.0,
        origin: str | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        if not 0 < initial_delay <= max_delay or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("need 0 < initial_delay <= max_delay, factor >= 1, 0 <= jitter < 1")
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = cast(Clock, global_reactor)
        self.address = RedisAddress.parse(url)
        self.prefix = prefix
        #: This broker's tag on the messages it publishes (random per process).
        self.origin = origin if origin is not None else secrets.token_hex(8)
        if not self.origin or " " in self.origin:
            raise ValueError("origin must be a non-empty string without spaces")
        #: How often each kind of Redis trouble happened, by name (``redis_disconnected``...).
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._reactor: Clock = reactor
        self._connect = connect or _tcp_connector(reactor, self.address, connect_timeout)
        self._backoff = _Backoff(initial_delay, max_delay, factor, jitter, random or _random.random)
        self._reply_timeout = reply_timeout
        self._local = InProcessBroker()
        #: Channels (without prefix) this process wants from Redis.
        self._channels: set[str] = set()
        self._sinks: list[Stats] = []
        self._connected = False
        self._lost_since: float | None = None
        self._stopped = False
        self._publisher = _Link(self, "publisher", _Publisher)
        self._subscriber = _Link(self, "subscriber", _Subscriber)
        self._publisher.start()
        self._subscriber.start()

    # -- Broker -----------------------------------------------------------------

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Deliver ``message`` to local subscribers now and to other processes via Redis.

        The Deferred fails only for a value that JSON cannot encode (nobody
        receives it then). Otherwise it fires once Redis has confirmed the
        message or, when Redis is unreachable, once it has been delivered
        locally; the remote part is best effort and counted when it fails.
        """
        try:
            payload = f"{self.origin} {_encode(message)}"
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
            self._subscriber.command("SUBSCRIBE", [channel])
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """End ``subscription``; the Redis channel is left with its last subscriber."""
        self._local.unsubscribe(subscription)
        channel = subscription.channel
        if channel in self._channels and not self._local.subscriber_count(channel):
            self._channels.discard(channel)
            self._subscriber.command("UNSUBSCRIBE", [channel])

    # -- the rest of the public API ---------------------------------------------

    def subscriber_count(self, channel: str) -> int:
        """Local subscriptions to ``channel`` (for tests and stats)."""
        return self._local.subscriber_count(channel)

    @property
    def channels(self) -> frozenset[str]:
        """Channels this process is (or will be, once connected) subscribed to on Redis."""
        return frozenset(self._channels)

    @property
    def connected(self) -> bool:
        """Whether both connections to Redis are up (messages are shared)."""
        return self._connected

    def report_to(self, *targets: SockJSRouter | Stats) -> None:
        """Count Redis trouble in these routers' ``stats`` too (``errors_redis_*`` keys)."""
        for target in targets:
            stats = getattr(getattr(target, "stats", None), "counters", target)
            if not callable(getattr(stats, "error", None)):
                raise TypeError(f"not a router or a Stats object: {target!r}")
            if not any(stats is sink for sink in self._sinks):
                self._sinks.append(cast(Stats, stats))

    def stop(self) -> Deferred[None]:
        """Stop reconnecting and close both connections; fires when they are closed."""
        self._stopped = True
        self._connected = False
        waits = [self._publisher.stop(), self._subscriber.stop()]
        done: Deferred[None] = Deferred()
        remaining = [len(waits)]

        def one_closed(_: object) -> None:
            remaining[0] -= 1
            if not remaining[0]:
                done.callback(None)

        for wait in waits:
            wait.addBoth(one_closed)
        return done

    # -- called by the links ------------------------------------------------------

    def _link_ready(self, link: _Link) -> None:
        if link is self._subscriber and self._channels:
            link.command("SUBSCRIBE", sorted(self._channels))
        self._update_state()

    def _link_down(self) -> None:
        self._update_state()

    def _update_state(self) -> None:
        connected = self._publisher.protocol is not None and self._subscriber.protocol is not None
        if connected == self._connected:
            return
        self._connected = connected
        if connected:
            if self._lost_since is None:
                log.info("Connected to {address}", address=str(self.address))
            else:
                log.warn(
                    "Reconnected to {address} after {seconds:.1f} s: channels are shared again",
                    address=str(self.address),
                    seconds=self._reactor.seconds() - self._lost_since,
                )
        else:
            self._lost_since = self._reactor.seconds()
            self._count("redis_disconnected")
            log.warn(
                "Lost {address}: messages reach this process only until it is back",
                address=str(self.address),
            )

    def _message_received(self, redis_channel: Any, data: Any) -> None:
        if not isinstance(redis_channel, str) or not redis_channel.startswith(self.prefix):
            return  # not ours (a channel we did not subscribe to cannot arrive)
        origin, _, payload = data.partition(" ") if isinstance(data, str) else ("", "", "")
        if origin == self.origin:
            return  # our own message: delivered locally when it was published
        try:
            if not origin or not payload:
                raise ValueError("no origin tag")
            message = json_decode(payload)
        except ValueError:
            self._count("redis_bad_message")
            log.warn("Dropped a malformed message on {channel}", channel=redis_channel)
            return
        self._local.publish(redis_channel[len(self.prefix) :], message)

    def _publish_failed(self, failure: Failure) -> None:
        self._count("redis_not_published")
        if not isinstance(failure.value, txredisapi.ConnectionError):
            log.warn("PUBLISH failed: {error}", error=failure.getErrorMessage())

    def _count(self, kind: str) -> None:
        self.counters[kind] += 1
        for stats in self._sinks:
            stats.error(kind)


class _Backoff:
    """Delays between reconnection attempts: exponential, capped, jittered."""

    def __init__(
        self, initial: float, maximum: float, factor: float, jitter: float, random: Any
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.random = random

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` (>= 1) failures in a row."""
        # The exponent is capped: after a long outage factor**n would overflow.
        base = min(self.maximum, self.initial * self.factor ** min(failures - 1, 64))
        spread = base * self.jitter
        return max(0.0, base - spread + 2 * spread * float(self.random()))


class _Link:
    """One connection to Redis, kept open: connect, watch, retry with backoff."""

    def __init__(self, broker: RedisBroker, role: str, protocol_class: Any) -> None:
        self.broker = broker
        self.role = role
        self.protocol_class = protocol_class
        #: The connected, usable protocol, or None.
        self.protocol: Any = None
        self._attempt: Deferred[Any] | None = None
        self._connecting: Any = None
        self._retry: DelayedCall | None = None
        self._failures = 0
        self._stopped = False
        self._closed: list[Deferred[None]] = []

    def start(self) -> None:
        """Make the first connection attempt."""
        self._connect()

    def command(self, name: str, channels: list[str]) -> None:
        """SUBSCRIBE or UNSUBSCRIBE now if connected (else the next connection does it)."""
        if self.protocol is None:
            return
        prefixed = [self.broker.prefix + channel for channel in channels]
        method = self.protocol.subscribe if name == "SUBSCRIBE" else self.protocol.unsubscribe
        # Replies carry nothing we need; a failure means the connection is
        # going, and the next one subscribes again.
        method(prefixed).addErrback(lambda _: None)

    def stop(self) -> Deferred[None]:
        """Stop retrying and close; fires once no connection is left."""
        self._stopped = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        if self._attempt is not None:
            self._attempt.cancel()
        open_protocol = self.protocol or self._connecting
        if open_protocol is None or open_protocol.transport is None:
            return succeed(None)
        closed: Deferred[None] = Deferred()
        self._closed.append(closed)
        open_protocol.transport.loseConnection()
        return closed

    # -- connection life ----------------------------------------------------------

    def _connect(self) -> None:
        self._retry = None
        protocol = self.protocol_class(self)
        # txredisapi schedules parts of its parsing with a class-level
        # reactor.callLater; ours keeps that on the broker's clock.
        protocol.callLater = self.broker._reactor.callLater
        if self.protocol_class is _Publisher:
            # Only PUBLISH is timed: a subscriber's replies are not matched
            # one to one with its commands (see _Link.command).
            protocol.replyTimeout = self.broker._reply_timeout
        self._connecting = protocol
        attempt = self._attempt = self.broker._connect(protocol)
        attempt.addCallbacks(
            self._connected, self._failed, callbackArgs=(protocol,), errbackArgs=(protocol,)
        )

    def _connected(self, _: object, protocol: Any) -> None:
        self._attempt = None
        address = self.broker.address
        if address.password is None:
            self._ready(protocol)
            return
        auth: Deferred[Any] = protocol.auth(address.password, address.username)
        auth.addCallbacks(
            lambda _: self._ready(protocol), self._auth_failed, errbackArgs=(protocol,)
        )

    def _auth_failed(self, failure: Failure, protocol: Any) -> None:
        if protocol is not self._connecting or isinstance(
            failure.value, txredisapi.ConnectionError
        ):
            return  # the connection is going: _lost() counts the failed attempt
        log.warn(
            "Redis refused the {role} connection's AUTH: {error}",
            role=self.role,
            error=failure.getErrorMessage(),
        )
        # Counted as a failed attempt: the delay grows as for a refused TCP
        # connection (Redis may be reconfigured).
        self._connecting = None
        protocol.transport.loseConnection()
        self._failed(failure, protocol, quiet=True)

    def _ready(self, protocol: Any) -> None:
        if protocol is not self._connecting or self._stopped:
            return
        self._connecting = None
        self.protocol = protocol
        self._failures = 0
        self.broker._link_ready(self)

    def _failed(self, failure: Failure, protocol: Any = None, quiet: bool = False) -> None:
        self._attempt = None
        if protocol is not None and protocol is self._connecting:
            self._connecting = None
        if self._stopped:
            return
        self._failures += 1
        self.broker._count("redis_connect_failed")
        delay = self.broker._backoff.delay(self._failures)
        # Attempts 1, 2, 4, 8, ... are logged: a long outage must not flood the log.
        if not quiet and self._failures & (self._failures - 1) == 0:
            log.warn(
                "Cannot connect to {address} ({role}, attempt {n}): {error}; "
                "retrying in {delay:.2f} s",
                address=str(self.broker.address),
                role=self.role,
                n=self._failures,
                error=failure.getErrorMessage(),
                delay=delay,
            )
        self._retry = self.broker._reactor.callLater(delay, self._connect)

    def _lost(self, protocol: Any, reason: Failure) -> None:
        """The protocol's connection closed (after or before it was usable)."""
        if self._stopped:
            closed, self._closed = self._closed, []
            self.protocol = self._connecting = None
            for waiter in closed:
                waiter.callback(None)
            return
        if protocol is self.protocol:
            self.protocol = None
            log.info(
                "Redis {role} connection closed: {error}",
                role=self.role,
                error=reason.getErrorMessage(),
            )
            self.broker._link_down()
            # Reconnect soon, but not at once: a restarting Redis refuses
            # connections for a moment and many processes would retry in step.
            self._failures = 0
            self._retry = self.broker._reactor.callLater(
                self.broker._backoff.delay(1), self._connect
            )
        elif protocol is self._connecting and self._attempt is None:
            # Connected, then closed during AUTH: a failed attempt.
            self._failed(reason, protocol)


class _Linked:
    """What both Redis connections add to txredisapi's protocol: their link."""

    transport: Any

    def __init__(self, link: _Link) -> None:
        # convertNumbers=False: a payload like "12" must stay a string.
        super().__init__(charset="utf-8", convertNumbers=False)  # type: ignore[call-arg]
        self.link = link

    def connectionMade(self) -> Any:
        _keep_alive(self.transport)
        return super().connectionMade()  # type: ignore[misc]

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)  # type: ignore[misc]
        self.link._lost(self, reason)


class _Publisher(_Linked, txredisapi.RedisProtocol):  # type: ignore[misc]
    """The connection that PUBLISHes."""


class _Subscriber(_Linked, txredisapi.SubscriberProtocol):  # type: ignore[misc]
    """The connection that SUBSCRIBEs and receives the messages."""

    def messageReceived(self, pattern: Any, channel: Any, message: Any) -> None:
        self.link.broker._message_received(channel, message)


def _keep_alive(transport: Any) -> None:
    # A subscriber connection is idle for long stretches; TCP keepalive lets
    # the kernel notice a peer that vanished without closing.
    set_keep_alive = getattr(transport, "setTcpKeepAlive", None)
    if set_keep_alive is not None:
        set_keep_alive(True)


def _tcp_connector(reactor: Any, address: RedisAddress, timeout: float) -> Connector:
    from twisted.internet.endpoints import HostnameEndpoint

    endpoint = HostnameEndpoint(reactor, address.host, address.port, timeout=timeout)

    def connect(protocol: Any) -> Deferred[Any]:
        factory: Any = _OneProtocol(protocol)  # an IProtocolFactory (zope: opaque to mypy)
        attempt: Deferred[Any] = endpoint.connect(factory)
        return attempt

    return connect


class _OneProtocol(Factory):
    """Hands out one given protocol, quietly (no "Starting factory" per reconnection)."""

    noisy = False

    def __init__(self, protocol: Any) -> None:
        self.protocol_instance = protocol

    def buildProtocol(self, addr: Any) -> Any:
        return self.protocol_instance
