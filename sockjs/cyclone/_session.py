"""Glue between one core session, its current receiver and the application."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.logger import Logger

from sockjs.cyclone.conninfo import ConnectionInfo
from sockjs.protocol.frames import CLOSE_REASONS, CloseCode, encode_message
from sockjs.protocol.session import Output, Session, SessionState

if TYPE_CHECKING:
    from sockjs.cyclone._service import Service
    from sockjs.cyclone.conn import SockJSConnection

log = Logger(namespace="sockjs.cyclone")


class ReceiverSink(Protocol):
    """What a receiving handler offers the glue (a ``Receiver.token``)."""

    def write_output(self, output: Output) -> None:
        """Write chunks; finish the response when ``output.end``."""


class SessionHandle:
    """The ``session`` object a :class:`SockJSConnection` is built with.

    It owns the application connection, forwards application calls to the
    core session and writes what the core returns to the receiver attached
    at the time of the call.
    """

    __slots__ = ("_counted", "_lost", "conn", "core", "info", "remote_ip", "service")

    def __init__(self, service: Service, core: Session, info: ConnectionInfo) -> None:
        self.service = service
        self.core = core
        self.info = info
        self.remote_ip = info.ip
        self.conn: SockJSConnection | None = None
        self._lost = False
        self._counted = False
        core.owner = self

    # -- application API ----------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """True once the session is closing or closed."""
        return self.core.state >= SessionState.CLOSING

    def send_message(self, message: Any) -> None:
        """Queue one message (any JSON-serializable value) for the client."""
        self.send_encoded(encode_message(message))

    sendMessage = send_message  # the old project's spelling

    def send_encoded(self, encoded: str) -> None:
        """Queue a message already encoded once (broadcast path)."""
        core = self.core
        if core.state != SessionState.OPEN:
            return
        receiver = core.receiver
        now = self.service.now()
        self.service.stats.sent(1, now)
        output = core.send(encoded, now)
        if output is not None and receiver is not None:
            receiver.token.write_output(output)
        self.settle()

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast entry point: SockJS sessions take the encoded form."""
        del message
        self.send_encoded(encoded)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close the session; the client gets ``c[code,"reason"]``."""
        core = self.core
        receiver = core.receiver
        output = core.close(code, reason, self.service.now())
        if output is not None and receiver is not None:
            receiver.token.write_output(output)
        self.settle()

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to many connections, encoding it once."""
        self.service.broadcast(clients, message)

    # -- transport side -------------------------------------------------------------

    def opened(self) -> None:
        """The open frame was written: create the connection and tell the app."""
        conn = self.service.connection_class(self)
        self.conn = conn
        self.service.live.add(self)
        self.service.stats.session_opened(self.info.transport)
        self._counted = True
        try:
            accepted = conn.connectionMade(self.info)
        except Exception:
            log.failure("connectionMade raised; refusing the session")
            accepted = False
        if accepted is False:
            # Refused: the client is told, the application hears nothing more.
            self._lost = True
            self.conn = None
            self.service.live.discard(self)
            if self.core.state == SessionState.OPEN:
                self.close(CloseCode.GO_AWAY, CLOSE_REASONS[CloseCode.GO_AWAY])
        self.settle()

    def deliver(self, messages: Iterable[Any]) -> None:
        """Hand incoming messages to the application, in order, while OPEN."""
        if not isinstance(messages, list):
            messages = list(messages)
        if self.core.accepts_messages:
            self.service.stats.received(len(messages), self.service.now())
        for message in messages:
            conn = self.conn
            if conn is None or not self.core.accepts_messages:
                return
            if not self._call_app(conn.messageReceived, message):
                # A failing handler must not take the server down, nor leave
                # the client talking to a half-broken session.
                self.close(CloseCode.INTERNAL_ERROR, CLOSE_REASONS[CloseCode.INTERNAL_ERROR])
                return

    def receiver_lost(self, token: ReceiverSink) -> None:
        """The attached receiver's connection dropped (PROTOCOL.md 6.8 (a))."""
        receiver = self.core.receiver
        if receiver is not None and receiver.token is token:
            self.core.abort()
            self.settle()

    def resume(self, token: ReceiverSink) -> None:
        """The receiver's transport can take more data."""
        receiver = self.core.receiver
        if receiver is not None and receiver.token is token:
            output = self.core.resume(self.service.now())
            if output is not None:
                receiver.token.write_output(output)
            self.settle()

    def settle(self) -> None:
        """After any core call: notify the app of a close, drop dead sessions, re-arm."""
        state = self.core.state
        if state >= SessionState.CLOSING and self._counted:
            self._counted = False
            self.service.stats.session_closed(self.info.transport)
        if state >= SessionState.CLOSING and not self._lost:
            self._lost = True
            conn = self.conn
            self.service.live.discard(self)
            if conn is not None:
                self._call_app(conn.connectionLost)
        if state == SessionState.CLOSED:
            self.service.registry.discard(self.core)
        self.service.reschedule()

    def _call_app(self, hook: Callable[..., Any], *args: Any) -> bool:
        try:
            hook(*args)
        except Exception:
            log.failure("Application hook {hook} raised", hook=getattr(hook, "__qualname__", hook))
            return False
        return True
