"""Per-router state: sessions, the single timer, admission, broadcast."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sockjs.cyclone._clock import Clock, DelayedCall, cancel
from sockjs.cyclone._rawsession import RawSessionHandle, RawSocket
from sockjs.cyclone._session import SessionHandle
from sockjs.cyclone._telemetry import Telemetry
from sockjs.cyclone._types import (
    AppConnection,
    ReceiverSink,
    ReceivingRequest,
    RouterLike,
    SessionLike,
)
from sockjs.cyclone.conninfo import ConnectionInfo
from sockjs.cyclone.pubsub import Broker, Hub, InProcessBroker
from sockjs.protocol import closing
from sockjs.protocol.admission import Refusal
from sockjs.protocol.clientip import parse_networks
from sockjs.protocol.frames import encode_message
from sockjs.protocol.info import IframePage
from sockjs.protocol.options import Options
from sockjs.protocol.registry import SessionRegistry
from sockjs.protocol.session import Receiver
from sockjs.protocol.stats import Stats
from sockjs.protocol.transports import Prepared, Wire

#: Makes the application's connection for a session (the connection class).
ConnectionFactory = Callable[[SessionLike], AppConnection]


class Service:
    """Everything one :class:`~sockjs.cyclone.router.SockJSRouter` serves with."""

    def __init__(
        self,
        connection_class: ConnectionFactory,
        prefix: str,
        options: Options,
        reactor: Clock,
        broker: Broker | None = None,
    ) -> None:
        self.connection_class = connection_class
        self.prefix = prefix
        self.options = options
        self.reactor = reactor
        self.registry = SessionRegistry(options)
        #: Who may open or join a session now (stopping, limits, verify_ip, 2010).
        self.admission = self.registry.admission
        self.iframe_page = IframePage.for_options(options)
        self.stats = Stats()
        self.telemetry = Telemetry(prefix, self.stats)
        #: Publish/subscribe fan-out (a new in-process broker unless one is given).
        self.pubsub = Hub(self.broadcast, broker if broker is not None else InProcessBroker())
        #: Sessions whose application connection is open (for broadcast and stats).
        self.live: set[SessionLike] = set()
        self.trusted_proxies = parse_networks(options.trusted_proxies)
        #: The router this service belongs to (set by the router).
        self.router: RouterLike | None = None
        #: Called with each new session object as it is made (for
        #: :mod:`sockjs.addons.testing`, which finds its clients' sessions so).
        self.session_observers: list[Callable[[SessionLike], None]] = []
        #: Told when a session's close frame was written (a graceful shutdown watches).
        self.close_watch: Callable[[SessionLike, ReceiverSink | None], None] | None = None
        self._timer: DelayedCall | None = None
        self._timer_at: float | None = None

    def now(self) -> float:
        """Current time of the reactor this service runs on."""
        return float(self.reactor.seconds())

    @property
    def stopped(self) -> bool:
        """:meth:`stop` was called: no session may open or join any more."""
        return self.admission.stopped

    # -- sessions --------------------------------------------------------------------------

    def attach(
        self,
        sink: ReceivingRequest,
        session_id: str | None,
        wire: Wire,
        ip: str,
        make_info: Callable[[], ConnectionInfo],
    ) -> SessionHandle | None:
        """A receiving request for ``session_id`` (``None``: a WebSocket session) arrived.

        Admission decides (PROTOCOL.md 6.3 steps 1-2); a refused request is
        answered by ``sink.refuse(refusal)``. Otherwise the session (new or
        found) takes the request as its receiver: ``sink.begin(handle)``,
        then what the session writes.
        """
        core = None if session_id is None else self.registry.get(session_id)
        refusal = self.admission.admit(core, ip)
        if refusal is not None:
            self.telemetry.refused(refusal, ip)
            sink.refuse(refusal)
            return None
        now = self.now()
        if core is None:
            registry = self.registry
            if session_id is None:
                core = registry.create_anonymous(now, ip)
            else:
                core = registry.create(session_id, now, ip)
            handle = SessionHandle(self, core, make_info())
            self._made(handle)
        else:
            handle = core.owner
        sink.begin(handle)
        handle.attach(Receiver(wire, token=sink), now)
        return handle

    def open_raw(
        self, socket: RawSocket, ip: str, make_info: Callable[[], ConnectionInfo]
    ) -> Refusal | RawSessionHandle:
        """A raw WebSocket is open: admit it and start its application connection."""
        refusal = self.admission.admit(None, ip)
        if refusal is not None:
            self.telemetry.refused(refusal, ip)
            return refusal
        handle = RawSessionHandle(self, socket, make_info())
        self.admission.count(handle, ip)
        self._made(handle)
        handle.open()
        return handle

    def session(self, session_id: str) -> SessionHandle | None:
        """The live session with this id, for sending requests."""
        core = self.registry.get(session_id)
        if core is None:
            return None
        handle: SessionHandle = core.owner
        return handle

    def _made(self, session: SessionLike) -> None:
        for observer in self.session_observers:
            observer(session)

    # -- SessionHost ------------------------------------------------------------------------

    def new_connection(self, session: SessionLike) -> AppConnection:
        """The application's connection object for ``session``."""
        return self.connection_class(session)

    def session_opened(self, session: SessionLike) -> None:
        """``session`` is open: one of the live connections."""
        self.live.add(session)

    def session_closed(self, session: SessionLike) -> None:
        """``session`` stopped taking messages: no broadcasts, no subscriptions, not counted."""
        self.live.discard(session)
        self.pubsub.drop(session)
        if isinstance(session, RawSessionHandle):
            self.admission.release(session)

    def close_written(self, session: SessionLike, sink: ReceiverSink | None) -> None:
        """``session``'s close frame went to ``sink``."""
        watch = self.close_watch
        if watch is not None:
            watch(session, sink)

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send one message to many connections or sessions, encoded once."""
        encoded = encode_message(message)
        # One clock reading, one count and one timer check for the whole
        # broadcast instead of one per session.
        now = self.now()
        prepared = Prepared(encoded)  # and each transport's frame bytes once
        sent = 0
        for client in list(clients):
            # A connection, or a session; the 1.x API let anything through,
            # and what cannot receive is skipped.
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

    # -- the timer ----------------------------------------------------------------------

    def reschedule(self) -> None:
        """Arm one timer at the registry's next deadline (if it changed)."""
        deadline = self.registry.next_deadline()
        if deadline == self._timer_at or self.admission.stopped:
            return
        cancel(self._timer)
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
            handle: SessionHandle = core.owner
            handle.timer(now)
        self.reschedule()

    def stop(self) -> None:
        """Close every session and cancel the timer (no timer outlives the router)."""
        self.admission.stopped = True
        cancel(self._timer)
        self._timer = None
        self._timer_at = None
        for core in self.registry:
            handle: SessionHandle = core.owner
            handle.stop()
        for live in list(self.live):
            # Raw WebSockets have no core session in the registry.
            if isinstance(live, RawSessionHandle):
                live.close_with(closing.GOING_AWAY)
