"""Per-router state: options, session registry, the single timer, broadcast."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from sockjs.cyclone import logevents
from sockjs.cyclone._clock import Clock, DelayedCall
from sockjs.cyclone._rawsession import RawSessionHandle
from sockjs.cyclone._session import CloseInfo, ConnectionSession, SessionHandle
from sockjs.cyclone.pubsub import Broker, Hub, InProcessBroker
from sockjs.protocol import http
from sockjs.protocol.clientip import parse_networks
from sockjs.protocol.frames import encode_message
from sockjs.protocol.info import IframePage
from sockjs.protocol.limits import (
    GOING_AWAY,
    TOO_MANY_SESSIONS_FROM_IP,
    Refusal,
    SessionLimiter,
)
from sockjs.protocol.options import Options
from sockjs.protocol.registry import SessionRegistry
from sockjs.protocol.session import Prepared, Receiver, SessionState
from sockjs.protocol.stats import Stats
from sockjs.protocol.transports import Wire

if TYPE_CHECKING:
    from sockjs.cyclone.conn import SockJSConnection
    from sockjs.cyclone.handlers.base import SockJSHandler
    from sockjs.cyclone.handlers.receivers import ReceiverHandler

SHUTDOWN = CloseInfo(1001, "Server going away", "server")


class Service:
    """Everything one :class:`~sockjs.cyclone.router.SockJSRouter` serves with."""

    def __init__(
        self,
        connection_class: type[SockJSConnection],
        prefix: str,
        options: Options,
        reactor: Clock,
        broker: Broker | None = None,
    ) -> None:
        self.connection_class = connection_class
        #: The SockJSRouter this service belongs to (set by the router).
        self.router: Any = None
        self.prefix = prefix
        self.options = options
        self.reactor = reactor
        self.registry = SessionRegistry(options)
        self.iframe_page = IframePage(options.sockjs_url)
        #: Publish/subscribe fan-out (a new in-process broker unless one is given).
        self.pubsub = Hub(self, broker if broker is not None else InProcessBroker())
        #: Sessions whose application connection is open (for broadcast and stats).
        #: Leaving it (every close path calls ``discard``) ends the session's subscriptions.
        self.live: set[ConnectionSession] = _LiveSessions(self.pubsub.session_closed)
        self.stats = Stats()
        self.trusted_proxies = parse_networks(options.trusted_proxies)
        self._timer: DelayedCall | None = None
        self._timer_at: float | None = None
        self._stopped = False
        #: Called with each new session object (``conn``, ``close_info``...) as
        #: it is made; :mod:`sockjs.cyclone.testing` finds its clients' sessions so.
        self.session_observers: list[Callable[[Any], None]] = []
        #: ``max_sessions`` / ``max_sessions_per_ip`` accounting (every session kind).
        self.limiter = SessionLimiter(options.max_sessions, options.max_sessions_per_ip)
        #: A graceful shutdown is under way: new sessions are refused with 1001.
        self.stopping = False
        #: Called with (handler, handle, chunks) after each receiving request is
        #: answered while stopping (see :mod:`sockjs.cyclone._shutdown`).
        self.shutdown_watch: (
            Callable[[ReceiverHandler, SessionHandle, list[bytes]], None] | None
        ) = None

    def now(self) -> float:
        """Current time of the reactor this service runs on."""
        return float(self.reactor.seconds())

    # -- timer --------------------------------------------------------------------------

    def reschedule(self) -> None:
        """Arm one timer at the registry's next deadline (if it changed)."""
        deadline = self.registry.next_deadline()
        if deadline == self._timer_at or self._stopped:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            delay = max(0.0, deadline - self.now())
            self._timer = self.reactor.callLater(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self.now()
        for core in self.registry.due(now):
            receiver = core.receiver
            was_open = core.state == SessionState.OPEN
            output = core.handle_timer(now)
            if output is not None and receiver is not None:
                self.stats.heartbeat()
                receiver.token.write_output(output)
            handle: SessionHandle = core.owner
            if was_open and core.state == SessionState.CLOSED:
                self.stats.sessions_expired += 1
                handle.expired()
            else:
                handle.settle()
        self.reschedule()

    def stop(self) -> None:
        """Cancel the timer and close every session (no timer outlives the router)."""
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._timer_at = None
        for core in self.registry:
            handle: SessionHandle = core.owner
            receiver = core.receiver
            handle.close_info = handle.close_info or SHUTDOWN
            core.forget()
            if receiver is not None:
                receiver.token.abort_response()
            handle.settle()
        for live in list(self.live):
            # Raw WebSockets have no core session in the registry.
            if isinstance(live, RawSessionHandle):
                live.close_by(SHUTDOWN.code, SHUTDOWN.reason, SHUTDOWN.initiator)

    # -- sessions -----------------------------------------------------------------------

    def attach_receiver(self, handler: ReceiverHandler, session_id: str, wire: Wire) -> None:
        """Run PROTOCOL.md 6.3 for a receiving request and write the result."""
        if self._stopped:
            # No timer runs any more, so a new session could never expire.
            handler.respond(503, [], b"Service stopped.")
            return
        now = self.now()
        core = self.registry.get(session_id)
        info = handler.connection_info()
        if core is None:
            refusal = self.refusal(info.ip)
            if refusal is not None:
                handler.refuse_session(refusal)
                return
            core = self.registry.create(session_id, now)
            handle = SessionHandle(self, core, info)
            self.limiter.add(handle, info.ip)
        else:
            handle = core.owner
        receiver = Receiver(wire, token=handler)
        if self.options.verify_ip and handle.remote_ip != info.ip:
            self.stats.error("ip_mismatch")
            logevents.transport_error(
                self.prefix, "ip_mismatch", "a receiver from another IP", code=2010
            )
            result = core.reject(receiver)
        else:
            result = core.attach(receiver, now)
            if result.conflict:
                self.stats.error("another_connection")
                logevents.transport_error(
                    self.prefix, "another_connection", "a second receiver", code=2010
                )
        handler.begin_response(handle)
        handler.write_output(result.output)
        if self.shutdown_watch is not None:
            self.shutdown_watch(handler, handle, result.output.chunks)
        if result.opened:
            handle.info.transport = wire.name
            handle.opened()
        else:
            handle.settle()

    def refusal(self, ip: str) -> Refusal | None:
        """``(code, reason)`` refusing a new session from ``ip`` now, or ``None`` to admit it.

        Refused: every new session while stopping (1001), and those over
        ``max_sessions`` / ``max_sessions_per_ip`` (1013, with a log line).
        """
        if self.stopping:
            return GOING_AWAY
        refusal = self.limiter.refusal(ip)
        if refusal is not None:
            per_ip = refusal is TOO_MANY_SESSIONS_FROM_IP
            self.stats.error("too_many_sessions")
            logevents.limit_hit(
                self.prefix,
                "too_many_sessions",
                "max_sessions_per_ip" if per_ip else "max_sessions",
                "a new session was refused",
                code=refusal[0],
                ip=ip,
            )
        return refusal

    def forget(self, handle: SessionHandle) -> None:
        """A session is CLOSED: out of the registry and of the session limits."""
        self.registry.discard(handle.core)
        self.limiter.release(handle)

    def session(self, session_id: str) -> SessionHandle | None:
        """The live session with this id, for sending requests."""
        core = self.registry.get(session_id)
        if core is None:
            return None
        handle: SessionHandle = core.owner
        return handle

    # -- helpers for handlers -------------------------------------------------------------

    def preflight(self, handler: SockJSHandler, methods: str) -> None:
        """Answer an OPTIONS preflight (PROTOCOL.md 4.2); touches no session."""
        handler.cors_headers()
        if self.options.jsessionid:
            handler.add_headers([http.jsessionid_cookie(handler.header("Cookie"))])
        handler.respond(204, http.preflight(self.now(), methods), b"", content_type=None)

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send one message to many connections or sessions, encoded once."""
        encoded = encode_message(message)
        # One clock reading, one count and one timer check for the whole
        # broadcast instead of one per session.
        now = self.now()
        prepared = Prepared(encoded)  # and each transport's frame bytes once
        sent = 0
        for client in list(clients):
            handle = getattr(client, "session", client)
            if type(handle) is SessionHandle:  # the usual case
                sent += handle.send_at(encoded, now, prepared)
                continue
            send = getattr(handle, "send_prepared", None)
            if send is not None:
                send(encoded, message)
        if sent:
            self.stats.sent(sent, now)
            self.reschedule()


class _LiveSessions(set["ConnectionSession"]):
    """``Service.live``: a set that reports each session leaving it."""

    def __init__(self, on_leave: Callable[[ConnectionSession], None]) -> None:
        super().__init__()
        self._on_leave = on_leave

    def discard(self, session: object) -> None:
        """Remove ``session``; the first removal tells ``on_leave``."""
        if session in self:
            super().discard(session)
            self._on_leave(cast("ConnectionSession", session))
