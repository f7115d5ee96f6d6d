"""The ``session`` object of a raw WebSocket connection (PROTOCOL.md 7.9).

No SockJS session stands behind it: no open frame, heartbeats or JSON; text
goes both ways verbatim. :class:`RawSessionHandle` offers the application
the calls of a SockJS session through the same guard, so one
:class:`~sockjs.cyclone.SockJSConnection` class serves both endpoints, and
runs ``connectionLost`` exactly once (PROTOCOL.md 10.1 item 22).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sockjs.cyclone._session import SessionBase, SessionHost
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.frames import encode_message

if TYPE_CHECKING:
    from sockjs.cyclone.conninfo import ConnectionInfo


class RawSocket(Protocol):
    """What the raw WebSocket handler offers its session."""

    @property
    def transport(self) -> Any:
        """The TCP transport of the WebSocket."""

    def send_text(self, text: str) -> None:
        """Send one text message."""

    def send_binary(self, data: bytes) -> None:
        """Send one binary message."""

    def close_socket(self, close: CloseInfo) -> None:
        """Send a Close frame for ``close``, then drop the connection."""


class RawSessionHandle(SessionBase):
    """The ``session`` of a :class:`SockJSConnection` served over ``<prefix>/websocket``."""

    __slots__ = ("_close_info", "_closed", "_socket")

    def __init__(self, host: SessionHost, socket: RawSocket, info: ConnectionInfo) -> None:
        super().__init__(host, info)
        self._socket = socket
        self._closed = False
        self._close_info: CloseInfo | None = None

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

    def send_message(self, message: Any) -> None:
        """Send ``message`` as one text message (``bytes``: one binary message).

        A ``str`` goes out verbatim; any other value as its JSON text (the
        same text a SockJS client would find inside an ``a`` frame). Binary
        messages need the ``raw_binary`` setting. Ignored once the
        connection is closed.
        """
        if isinstance(message, str):
            self._send(message)
        elif isinstance(message, bytes | bytearray | memoryview):
            if not self.host.options.raw_binary:
                raise TypeError("binary messages need the raw_binary setting")
            if not self._closed:
                self.host.telemetry.stats.sent(1, self.host.now())
                self._socket.send_binary(bytes(message))
        elif not self._closed:
            self._send(encode_message(message))

    sendMessage = send_message  # the old project's spelling

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast entry point: raw clients get the message itself, not its JSON."""
        self._send(message if isinstance(message, str) else encoded)

    def close_with(self, close: CloseInfo) -> None:
        """Close with ``close`` (who closed included)."""
        if self._closed:
            return
        self._close_info = close
        self._closed = True
        self._socket.close_socket(close)
        self._ended(close)

    def open(self) -> None:
        """The WebSocket is open: create the application's connection."""
        self._opened()

    def deliver(self, text: str | bytes) -> None:
        """Hand one client message to the application, verbatim and in order."""
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
        self._ended(close)

    def _send(self, text: str) -> None:
        if self._closed:
            return
        self.host.telemetry.stats.sent(1, self.host.now())
        self._socket.send_text(text)

    def _accepting(self) -> bool:
        return not self._closed
