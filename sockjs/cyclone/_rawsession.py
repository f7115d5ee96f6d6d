"""The ``session`` object of a raw WebSocket connection (PROTOCOL.md 7.9).

A raw WebSocket has no SockJS session behind it: no open frame, no
heartbeats, no ``a``/``c`` frames, no JSON. Each client text message reaches
the application verbatim and each application message goes out verbatim as
one text message. :class:`RawSessionHandle` offers the application the same
calls as :class:`~sockjs.cyclone._session.SessionHandle` (it is a
:class:`~sockjs.cyclone._session.ConnectionSession`), so one
:class:`~sockjs.cyclone.conn.SockJSConnection` class serves both endpoints,
with the same hook rules: hooks may return Deferreds or be coroutines (the
next message waits), a failing ``connectionMade`` refuses the connection, a
failing ``messageReceived`` closes it with 1011, ``connectionLost`` runs
exactly once and ``close_info`` says how it ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from sockjs.cyclone._session import AppHooks, CloseInfo
from sockjs.cyclone.conninfo import ConnectionInfo
from sockjs.protocol.frames import encode_message

if TYPE_CHECKING:
    from sockjs.cyclone._service import Service


class RawSocket(Protocol):
    """What the raw WebSocket handler offers its session."""

    def send_text(self, text: str) -> None:
        """Send one text message."""

    def close_socket(self, code: int, reason: str) -> None:
        """Send a Close frame with ``code``/``reason``, then drop the connection."""


class RawSessionHandle(AppHooks):
    """The ``session`` of a :class:`SockJSConnection` served over ``<prefix>/websocket``.

    It is in ``service.live`` from the open until the close, so the router's
    ``connections`` and ``broadcast`` see raw clients like SockJS ones, and it
    runs the application's ``connectionLost`` exactly once (PROTOCOL.md 10.1
    item 22: sockjs-node 0.3.3 lost that event).
    """

    __slots__ = ("_closed", "_socket")

    def __init__(self, service: Service, socket: RawSocket, info: ConnectionInfo) -> None:
        super().__init__(service, info)
        self._socket = socket
        self._closed = False

    def _accepting(self) -> bool:
        return not self._closed

    # -- application API ----------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed (by either side)."""
        return self._closed

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
        self.close_by(code, reason, "application")

    def close_by(self, code: int, reason: str, initiator: str) -> None:
        """Close, recording who asked (see :class:`~sockjs.cyclone._session.CloseInfo`)."""
        if self._closed:
            return
        self._closed = True
        self._note_close(CloseInfo(code, reason, initiator))
        self._socket.close_socket(code, reason)
        self.settle()

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to many connections, encoding it once."""
        self.service.broadcast(clients, message)

    # -- transport side -----------------------------------------------------------

    def deliver(self, text: str) -> None:
        """Hand one client text message to the application, verbatim and in order."""
        if self._closed or (self.conn is None and self._pending is None):
            return
        self.service.stats.received(1, self.service.now())
        self._queue([text])

    def lost(self, close_info: CloseInfo) -> None:
        """The socket is gone without ``close()``: client Close, protocol error, TCP loss."""
        self._note_close(close_info)
        self._closed = True
        self.settle()

    def settle(self) -> None:
        """Once closed: leave ``service.live`` and run ``connectionLost`` (once)."""
        if not self._closed:
            return
        self.service.limiter.release(self)
        self._report_closed()

    # -- internals ----------------------------------------------------------------

    def _send(self, text: str) -> None:
        if self._closed:
            return
        self.service.stats.sent(1, self.service.now())
        self._socket.send_text(text)
