"""The ``session`` object of a raw WebSocket connection (PROTOCOL.md 7.9).

A raw WebSocket has no SockJS session behind it: no open frame, no
heartbeats, no ``a``/``c`` frames, no JSON. Each client text message reaches
the application verbatim and each application message goes out verbatim as
one text message. :class:`RawSessionHandle` offers the application the same
calls as a SockJS session, and runs its hooks through the same guard
(:mod:`sockjs.cyclone._guard`), so one
:class:`~sockjs.cyclone.SockJSConnection` class serves both endpoints.
It runs the application's ``connectionLost`` exactly once (PROTOCOL.md 10.1
item 22: sockjs-node 0.3.3 lost that event).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from sockjs.cyclone._guard import HookGuard
from sockjs.cyclone._session import SessionHost
from sockjs.cyclone._types import PubSub, RouterLike
from sockjs.protocol import closing
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.frames import encode_message

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from sockjs.cyclone._telemetry import Telemetry
    from sockjs.cyclone.conninfo import ConnectionInfo


class RawSocket(Protocol):
    """What the raw WebSocket handler offers its session."""

    @property
    def transport(self) -> Any:
        """The TCP transport of the WebSocket."""

    def send_text(self, text: str) -> None:
        """Send one text message."""

    def close_socket(self, close: CloseInfo) -> None:
        """Send a Close frame for ``close``, then drop the connection."""


class RawSessionHandle(HookGuard):
    """The ``session`` of a :class:`SockJSConnection` served over ``<prefix>/websocket``."""

    __slots__ = ("_close_info", "_closed", "_counted", "_socket", "host", "info")

    def __init__(self, host: SessionHost, socket: RawSocket, info: ConnectionInfo) -> None:
        super().__init__()
        self.host = host
        self.info = info
        self._socket = socket
        self._closed = False
        self._counted = False
        self._close_info: CloseInfo | None = None

    # -- what the application sees --------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed (by either side)."""
        return self._closed

    @property
    def close_info(self) -> CloseInfo | None:
        """Code, reason and initiator of the close, once there was one."""
        return self._close_info

    @property
    def transport(self) -> Any:
        """The TCP transport of the WebSocket."""
        return self._socket.transport

    @property
    def carrier(self) -> RawSessionHandle:
        """A raw WebSocket carries itself."""
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
        """The router serving this connection."""
        return self.host.router

    def send_message(self, message: Any) -> None:
        """Send ``message`` as one text message.

        A ``str`` goes out verbatim; any other value as its JSON text (the
        same text a SockJS client would find inside an ``a`` frame).
        Ignored once the connection is closed.
        """
        if isinstance(message, str):
            self._send(message)
        elif not self._closed:
            self._send(encode_message(message))

    sendMessage = send_message  # the old project's spelling

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast entry point: raw clients get the message itself, not its JSON."""
        self._send(message if isinstance(message, str) else encoded)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close with a WebSocket Close frame carrying ``code`` and ``reason``.

        The connection is dropped right after the Close frame and the
        application's ``connectionLost`` runs now. A code that may not appear
        in a Close frame (for instance 1005 or 2010) is sent as 1000; the
        reason is kept.
        """
        self.close_with(closing.by_application(code, reason))

    def close_with(self, close: CloseInfo) -> None:
        """Close with ``close`` (who closed included)."""
        if self._closed:
            return
        self._close_info = close
        self._closed = True
        self._socket.close_socket(close)
        self._ended()

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to many connections, encoding it once."""
        self.host.broadcast(clients, message)

    # -- the transport side ---------------------------------------------------------

    def open(self) -> None:
        """The WebSocket is open: create the application's connection."""
        host = self.host
        self._counted = True
        host.session_opened(self)
        host.telemetry.session_opened(self.info.transport, self.info.ip)
        self.start(host.new_connection(self), self.info)

    def deliver(self, text: str) -> None:
        """Hand one client text message to the application, verbatim and in order."""
        if self._closed or (self.conn is None and not self.waiting):
            return
        self.host.telemetry.stats.received(1, self.host.now())
        self.dispatch([text])

    def lost(self, close: CloseInfo) -> None:
        """The socket is gone without ``close()``: client Close, protocol error, TCP loss."""
        if self._closed:
            return
        self._close_info = close
        self._closed = True
        self._ended()

    # -- internals ----------------------------------------------------------------

    def _ended(self) -> None:
        host = self.host
        if self._counted:
            self._counted = False
            host.telemetry.session_closed(
                self.info.transport, self._close_info or closing.INTERRUPTED
            )
        host.session_closed(self)
        self.finish()

    def _send(self, text: str) -> None:
        if self._closed:
            return
        self.host.telemetry.stats.sent(1, self.host.now())
        self._socket.send_text(text)

    def _accepting(self) -> bool:
        return not self._closed

    def _end(self, close: CloseInfo, refused: bool) -> None:
        del refused  # the client gets a Close frame either way
        self.close_with(close)

    def _hook_failed(self, hook: str, failure: Failure | None) -> None:
        self.host.telemetry.app_exception(hook, failure)
