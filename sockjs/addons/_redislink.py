"""The Redis connections both brokers keep: connect (TCP or TLS), AUTH, watch, retry.

:class:`RedisLinks` is the common part of ``RedisBroker`` (pub/sub) and
``StreamsBroker`` (streams): the address, the local subscribers, the
counters and the routers they are reported to, and a :class:`_Link` per
Redis connection, each kept open for ever with backoff between attempts.
The subclasses say what each connection does once it is ready.
"""

from __future__ import annotations

import random as _random
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from sockjs.cyclone._clock import Clock
from sockjs.cyclone.pubsub import InProcessBroker
from sockjs.cyclone.router import SockJSRouter
from sockjs.protocol.redisconf import Backoff, RedisAddress, worth_logging
from sockjs.protocol.stats import Stats

try:
    import txredisapi
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the Redis brokers need txredisapi: pip install 'sockjs-cyclone[redis]'"
    ) from error

if TYPE_CHECKING:
    from sockjs.cyclone._clock import DelayedCall

#: Connects a protocol instance to Redis; the Deferred fires once the
#: connection is made (``protocol.makeConnection`` has run) or fails.
Connector = Callable[[Any], Deferred[Any]]


class RedisLinks:
    """What both Redis brokers share; see their docstrings for the arguments."""

    #: The trouble each broker counts (``counters`` keys).
    COUNTERS: ClassVar[tuple[str, ...]] = ()
    #: The ``log_namespace`` of the broker's log events.
    NAMESPACE: ClassVar[str] = "sockjs.cyclone"
    #: Logged when the connections go / come back (``{address}``, ``{seconds}``).
    LOST_TEXT: ClassVar[str] = "Lost {address}"
    BACK_TEXT: ClassVar[str] = "Reconnected to {address} after {seconds:.1f} s"

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        reactor: Clock | None,
        connect: Connector | None,
        tls: Any,
        initial_delay: float,
        max_delay: float,
        factor: float,
        jitter: float,
        connect_timeout: float,
        reply_timeout: float | None,
        origin: str | None,
        random: Callable[[], float] | None,
    ) -> None:
        backoff = Backoff(initial_delay, max_delay, factor, jitter, random or _random.random)
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = cast(Clock, global_reactor)
        self.log = Logger(namespace=self.NAMESPACE, source=self)
        self.address = RedisAddress.parse(url)
        if tls is not None and not self.address.tls:
            raise ValueError("TLS options need a rediss:// URL")
        self.prefix = prefix
        #: This broker's tag on the messages it publishes (random per process).
        self.origin = origin if origin is not None else secrets.token_hex(8)
        if not self.origin or " " in self.origin:
            raise ValueError("origin must be a non-empty string without spaces")
        #: How often each kind of Redis trouble happened, by name (``redis_disconnected``...).
        self.counters: dict[str, int] = dict.fromkeys(self.COUNTERS, 0)
        self._reactor: Clock = reactor
        self._connect = connect or _connector(reactor, self.address, connect_timeout, tls)
        self._backoff = backoff
        self._reply_timeout = reply_timeout
        self._local = InProcessBroker()
        self._sinks: list[Stats] = []
        self._links: list[_Link] = []
        self._connected = False
        self._lost_since: float | None = None
        self._stopped = False

    def _start(self, *links: _Link) -> None:
        self._links = list(links)
        for link in links:
            link.start()

    # -- public -------------------------------------------------------------------

    def subscriber_count(self, channel: str) -> int:
        """Local subscriptions to ``channel`` (for tests and stats)."""
        return self._local.subscriber_count(channel)

    @property
    def connected(self) -> bool:
        """Whether every connection to Redis is up (messages are shared)."""
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
        """Stop reconnecting and close the connections; fires when they are closed."""
        self._stopped = True
        self._connected = False
        waits = [link.stop() for link in self._links]
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
        self._update_state()

    def _link_down(self, link: _Link) -> None:
        self._update_state()

    def _update_state(self) -> None:
        connected = all(link.protocol is not None for link in self._links)
        if connected == self._connected:
            return
        self._connected = connected
        address, lost_since = str(self.address), self._lost_since
        if not connected:
            self._lost_since = self._reactor.seconds()
            self._count("redis_disconnected")
            self.log.warn(self.LOST_TEXT, address=address)
        elif lost_since is None:
            self.log.info("Connected to {address}", address=address)
        else:
            seconds = self._reactor.seconds() - lost_since
            self.log.warn(self.BACK_TEXT, address=address, seconds=seconds)

    def _count(self, kind: str, n: int = 1) -> None:
        self.counters[kind] += n
        for stats in self._sinks:
            for _ in range(n):
                stats.error(kind)


class _Link:
    """One connection to Redis, kept open: connect, AUTH, watch, retry with backoff."""

    def __init__(
        self, owner: RedisLinks, role: str, protocol_class: Any, reply_timeout: float | None
    ) -> None:
        self.owner = owner
        self.role = role
        self.protocol_class = protocol_class
        self.reply_timeout = reply_timeout
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
        protocol.callLater = self.owner._reactor.callLater
        protocol.replyTimeout = self.reply_timeout
        self._connecting = protocol
        attempt = self._attempt = self.owner._connect(protocol)
        attempt.addCallbacks(
            self._connected, self._failed, callbackArgs=(protocol,), errbackArgs=(protocol,)
        )

    def _connected(self, _: object, protocol: Any) -> None:
        self._attempt = None
        address = self.owner.address
        if address.password is None and not address.tls:
            self._ready(protocol)
            return
        # Under TLS the connection is made before the handshake: a reply (to
        # AUTH, or to PING) also shows that the handshake went through.
        if address.password is None:
            check: Deferred[Any] = protocol.ping()
        else:
            check = protocol.auth(address.password, address.username)
        check.addCallbacks(
            lambda _: self._ready(protocol), self._auth_failed, errbackArgs=(protocol,)
        )

    def _auth_failed(self, failure: Failure, protocol: Any) -> None:
        if protocol is not self._connecting or isinstance(
            failure.value, txredisapi.ConnectionError
        ):
            return  # the connection is going: _lost() counts the failed attempt
        self.owner.log.warn(
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
        self.owner._link_ready(self)

    def _failed(self, failure: Failure, protocol: Any = None, quiet: bool = False) -> None:
        self._attempt = None
        if protocol is not None and protocol is self._connecting:
            self._connecting = None
        if self._stopped:
            return
        self._failures += 1
        self.owner._count("redis_connect_failed")
        delay = self.owner._backoff.delay(self._failures)
        if not quiet and worth_logging(self._failures):
            self.owner.log.warn(
                "Cannot connect to {address} ({role}, attempt {n}): {error}; "
                "retrying in {delay:.2f} s",
                address=str(self.owner.address),
                role=self.role,
                n=self._failures,
                error=failure.getErrorMessage(),
                delay=delay,
            )
        self._retry = self.owner._reactor.callLater(delay, self._connect)

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
            self.owner.log.info(
                "Redis {role} connection closed: {error}",
                role=self.role,
                error=reason.getErrorMessage(),
            )
            self.owner._link_down(self)
            # Reconnect soon, but not at once: a restarting Redis refuses
            # connections for a moment and many processes would retry in step.
            self._failures = 0
            self._retry = self.owner._reactor.callLater(self.owner._backoff.delay(1), self._connect)
        elif protocol is self._connecting and self._attempt is None:
            # Connected, then closed during AUTH (or the TLS handshake): a failed attempt.
            self._failed(reason, protocol)


class _Linked:
    """What every Redis connection adds to txredisapi's protocol: its link."""

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


class _Commands(_Linked, txredisapi.RedisProtocol):  # type: ignore[misc]
    """A connection for plain commands (PUBLISH, XADD, XREAD...)."""


def _keep_alive(transport: Any) -> None:
    # A connection may be idle for long stretches; TCP keepalive lets the
    # kernel notice a peer that vanished without closing. Under TLS the TCP
    # transport is the TLS protocol's own transport.
    for candidate in (transport, getattr(transport, "transport", None)):
        set_keep_alive = getattr(candidate, "setTcpKeepAlive", None)
        if set_keep_alive is not None:
            set_keep_alive(True)
            return


def _connector(reactor: Any, address: RedisAddress, timeout: float, tls: Any) -> Connector:
    from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS

    endpoint: Any = HostnameEndpoint(reactor, address.host, address.port, timeout=timeout)
    if address.tls:
        from twisted.internet.ssl import optionsForClientTLS

        # The server's certificate must name the host and chain to a trusted
        # root (the system's, unless ``tls`` says otherwise).
        endpoint = wrapClientTLS(tls or optionsForClientTLS(address.host), endpoint)

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
