"""Session glue: one core session, its current receiver and the application.

The core (:class:`sockjs.protocol.session.Session`) decides; this module
carries its decisions out. After every call into the core it writes the
output to the receiver attached at the time of the call, then acts on the
session's events (:mod:`sockjs.protocol.events`): the application's hooks
(through :class:`~sockjs.cyclone._guard.HookGuard`), counters, log events.
Nothing here infers a lifecycle change from state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, Self

from sockjs.cyclone._guard import HookGuard
from sockjs.cyclone._types import AppConnection, PubSub, ReceiverSink, RouterLike, SessionLike
from sockjs.protocol import closing
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.events import SessionEvent
from sockjs.protocol.frames import encode_message
from sockjs.protocol.session import Output, Receiver, Session, SessionState
from sockjs.protocol.transports import Prepared

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from sockjs.cyclone._telemetry import Telemetry
    from sockjs.cyclone.conninfo import ConnectionInfo
    from sockjs.protocol.options import Options

# Globals: reading a member off the enum class is slow, and these
# comparisons run for every message.
_OPEN = SessionState.OPEN
_CLOSING = SessionState.CLOSING
_OPENED = SessionEvent.OPENED
_HEARTBEAT = SessionEvent.HEARTBEAT
_CLOSE_WRITTEN = SessionEvent.CLOSE_WRITTEN
_CLOSED = SessionEvent.CLOSED
_EXPIRED = SessionEvent.EXPIRED


class SessionHost(Protocol):
    """What a session needs of the router's service."""

    @property
    def options(self) -> Options:
        """The router's settings."""

    @property
    def telemetry(self) -> Telemetry:
        """The router's counters and log events."""

    @property
    def pubsub(self) -> PubSub:
        """The router's publish/subscribe hub."""

    @property
    def router(self) -> RouterLike | None:
        """The router itself (for ``SockJSConnection.router``)."""

    def now(self) -> float:
        """The current time (the reactor's)."""

    def reschedule(self) -> None:
        """Re-arm the service timer at the next deadline."""

    def new_connection(self, session: SessionLike) -> AppConnection:
        """The application's connection object for ``session``."""

    def session_opened(self, session: SessionLike) -> None:
        """``session`` is open: count it among the live connections."""

    def session_closed(self, session: SessionLike) -> None:
        """``session`` stopped taking messages: no more broadcasts or pub/sub."""

    def close_written(self, session: SessionLike, sink: ReceiverSink | None) -> None:
        """``session``'s close frame was written to ``sink`` (a graceful shutdown watches)."""

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to many connections, encoded once."""


class SessionBase(HookGuard):
    """What SockJS sessions and raw WebSockets share: the host, the client, the count."""

    __slots__ = ("_counted", "host", "info")

    def __init__(self, host: SessionHost, info: ConnectionInfo) -> None:
        super().__init__()
        self.host = host
        #: What the application learns about the client (``connectionMade(info)``).
        self.info = info
        self._counted = False

    @property
    def remote_ip(self) -> str:
        """The client address the session was opened from."""
        return self.info.ip

    @property
    def carrier(self) -> Self:
        """A session carries itself (a multiplex channel does not)."""
        return self

    @property
    def topic(self) -> None:
        """Not a multiplex channel."""
        return None

    @property
    def pubsub(self) -> PubSub:
        """The router's publish/subscribe hub."""
        return self.host.pubsub

    @property
    def telemetry(self) -> Telemetry:
        """The router's counters and log events."""
        return self.host.telemetry

    @property
    def router(self) -> RouterLike | None:
        """The router serving this session."""
        return self.host.router

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to many connections, encoding it once."""
        self.host.broadcast(clients, message)

    def _opened(self) -> None:
        """The client was told the session is open: count it, start the application."""
        host = self.host
        self._counted = True
        host.session_opened(self)
        host.telemetry.session_opened(self.info.transport, self.info.ip)
        self.start(host.new_connection(self), self.info)

    def _ended(self, close: CloseInfo) -> None:
        """The session stopped taking messages: uncount it, run ``connectionLost`` once."""
        host = self.host
        if close is closing.SLOW_CONSUMER:
            host.telemetry.slow_consumer(host.options.max_queued_bytes)
        elif close is closing.PEER_TIMEOUT:
            host.telemetry.dead_peer(close)
        if self._counted:
            self._counted = False
            host.telemetry.session_closed(self.info.transport, close)
        host.session_closed(self)
        self.finish()

    def _end(self, close: CloseInfo, refused: bool) -> None:
        del refused  # a refused session closes like any other: the client is told
        self.close_with(close)

    # -- for subclasses (the rest of SessionLike) ---------------------------------------

    @property
    def is_closed(self) -> bool:  # pragma: no cover - interface
        """True once closing or closed."""
        raise NotImplementedError

    @property
    def close_info(self) -> CloseInfo | None:  # pragma: no cover - interface
        """How the session ended, once it did."""
        raise NotImplementedError

    def send_message(self, message: Any) -> None:  # pragma: no cover - interface
        """Send one message to the client."""
        raise NotImplementedError

    def send_prepared(self, encoded: str, message: Any) -> None:  # pragma: no cover
        """Broadcast path: the message and its JSON encoding, made once."""
        raise NotImplementedError

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close the session (the application's call).

        A SockJS client gets ``c[code,"reason"]``. A raw WebSocket gets a
        Close frame with ``code`` and ``reason`` (a code that may not appear
        in a Close frame, such as 1005 or 2010, is sent as 1000) and the
        connection is dropped right after it. ``connectionLost`` runs now.
        """
        self.close_with(closing.by_application(code, reason))

    def close_with(self, close: CloseInfo) -> None:  # pragma: no cover - interface
        """Close with ``close`` (who closed included)."""
        raise NotImplementedError

    def _hook_failed(self, hook: str, failure: Failure | None) -> None:
        self.host.telemetry.app_exception(hook, failure)


class SessionHandle(SessionBase):
    """The ``session`` object a :class:`~sockjs.cyclone.SockJSConnection` is built with.

    It forwards the application's calls to the core session and writes what
    the core returns to the receiver attached at the time of the call.
    """

    __slots__ = ("core",)

    def __init__(self, host: SessionHost, core: Session, info: ConnectionInfo) -> None:
        super().__init__(host, info)
        self.core = core
        core.owner = self

    @property
    def is_closed(self) -> bool:
        """True once the session is closing or closed."""
        return self.core.state >= _CLOSING

    @property
    def close_info(self) -> CloseInfo | None:
        """Code, reason and initiator of the close, once there was one."""
        return self.core.close_info

    def send_message(self, message: Any) -> None:
        """Queue one message (any JSON-serializable value) for the client."""
        self.send_encoded(encode_message(message))

    sendMessage = send_message  # the old project's spelling

    def send_encoded(self, encoded: str) -> None:
        """Queue a message already encoded once."""
        host = self.host
        now = host.now()
        if self.send_at(encoded, now):
            host.telemetry.stats.sent(1, now)
            host.reschedule()

    def send_at(self, encoded: str, now: float, prepared: Prepared | None = None) -> bool:
        """Queue an encoded message at ``now``; False if the session takes none.

        The broadcast path: the caller counts the messages and re-arms the
        timer once for all the sessions it sent to, and passes the same
        ``prepared`` to each (frame bytes made once).
        """
        core = self.core
        if core.state != _OPEN:
            return False
        receiver = core.receiver
        output = core.send(encoded, now, prepared)
        if output is not None and receiver is not None:
            receiver.token.write_output(output)
        if core.events:  # max_queued_bytes closed it
            self.settle(receiver)
        return True

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast entry point: SockJS sessions take the encoded form."""
        del message
        self.send_encoded(encoded)

    def close_with(self, close: CloseInfo) -> None:
        """Close the session with ``close`` (who closed included)."""
        receiver = self.core.receiver
        self._carry_out(receiver, self.core.close(close, self.host.now()))

    # -- the transport side ---------------------------------------------------------

    def attach(self, receiver: Receiver, now: float) -> None:
        """A receiving request joins the session (admission said yes)."""
        receiver.token.write_output(self.core.attach(receiver, now))
        self.settle(receiver)

    def deliver(self, messages: list[Any]) -> None:
        """Hand incoming messages to the application, in order, while OPEN (6.4)."""
        if self.core.state != _OPEN or (self.conn is None and not self.waiting):
            return
        host = self.host
        host.telemetry.stats.received(len(messages), host.now())
        self.dispatch(messages)

    def receiver_lost(self, sink: ReceiverSink, close: CloseInfo = closing.INTERRUPTED) -> None:
        """The attached receiver's connection dropped (PROTOCOL.md 6.8 (a))."""
        receiver = self.core.receiver
        if receiver is not None and receiver.token is sink:
            self.core.abort(close)
            self.settle(receiver)

    def alive(self, sink: ReceiverSink) -> None:
        """The receiver's peer sent something: a ping, if one is out, is answered."""
        receiver = self.core.receiver
        if receiver is not None and receiver.token is sink and receiver.pong_due is not None:
            self.core.alive()
            self.host.reschedule()

    def pause(self, sink: ReceiverSink) -> None:
        """The receiver's client stopped reading: the core queues meanwhile."""
        receiver = self.core.receiver
        if receiver is not None and receiver.token is sink:
            self.core.pause()

    def resume(self, sink: ReceiverSink) -> None:
        """The receiver's client reads again: write what queued."""
        receiver = self.core.receiver
        if receiver is not None and receiver.token is sink:
            output = self.core.resume(self.host.now())
            if output is not None:
                sink.write_output(output)
            self.settle(receiver)

    def timer(self, now: float) -> None:
        """The service timer found this session's deadline due."""
        receiver = self.core.receiver
        self._carry_out(receiver, self.core.handle_timer(now))

    def stop(self) -> None:
        """The service stops: the session ends now, its receiver without a frame."""
        core = self.core
        receiver = core.receiver
        core.forget(closing.GOING_AWAY)
        if receiver is not None:
            receiver.token.abort_response()
        self.settle(receiver)

    # -- events ---------------------------------------------------------------------

    def _carry_out(self, receiver: Receiver | None, output: Output | None) -> None:
        """Write ``output`` to ``receiver`` (attached when the core made it), then settle."""
        if output is not None and receiver is not None:
            receiver.token.write_output(output)
        self.settle(receiver)

    def settle(self, receiver: Receiver | None = None) -> None:
        """Act on the core's events (``receiver``: the one the last call wrote to)."""
        core = self.core
        if core.events:
            for event in core.take_events():
                if event is _OPENED:
                    self._opened()
                elif event is _HEARTBEAT:
                    self.host.telemetry.stats.heartbeat()
                elif event is _CLOSE_WRITTEN:
                    self.host.close_written(self, None if receiver is None else receiver.token)
                elif event is _CLOSED:
                    self._closed()
                elif event is _EXPIRED:
                    self.host.telemetry.stats.sessions_expired += 1
        self.host.reschedule()

    def _closed(self) -> None:
        self._ended(self.core.close_info or closing.INTERRUPTED)

    def _accepting(self) -> bool:
        return self.core.state == _OPEN
