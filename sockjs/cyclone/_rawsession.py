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

import inspect
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from sockjs.cyclone import logevents
from sockjs.cyclone._session import INTERRUPTED, CloseInfo, _hook, _name
from sockjs.cyclone.conninfo import ConnectionInfo
from sockjs.protocol.frames import CLOSE_REASONS, CloseCode, encode_message

if TYPE_CHECKING:
    from sockjs.cyclone._service import Service
    from sockjs.cyclone.conn import SockJSConnection

_FAILED = object()


class RawSocket(Protocol):
    """What the raw WebSocket handler offers its session."""

    def send_text(self, text: str) -> None:
        """Send one text message."""

    def close_socket(self, code: int, reason: str) -> None:
        """Send a Close frame with ``code``/``reason``, then drop the connection."""


class RawSessionHandle:
    """The ``session`` of a :class:`SockJSConnection` served over ``<prefix>/websocket``.

    It is in ``service.live`` from the open until the close, so the router's
    ``connections`` and ``broadcast`` see raw clients like SockJS ones, and it
    runs the application's ``connectionLost`` exactly once (PROTOCOL.md 10.1
    item 22: sockjs-node 0.3.3 lost that event).
    """

    __slots__ = (
        "_closed",
        "_counted",
        "_lost",
        "_pending",
        "_socket",
        "close_info",
        "conn",
        "info",
        "remote_ip",
        "service",
    )

    def __init__(self, service: Service, socket: RawSocket, info: ConnectionInfo) -> None:
        self.service = service
        self.info = info
        self.remote_ip = info.ip
        self.conn: SockJSConnection | None = None
        self.close_info: CloseInfo | None = None
        self._socket = socket
        self._closed = False
        self._lost = False
        self._counted = False
        # Messages waiting for an asynchronous hook; None while nothing waits.
        self._pending: deque[str] | None = None

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

    def opened(self) -> None:
        """The handshake is done: create the connection and tell the application."""
        conn = self.service.connection_class(self)
        self.conn = conn
        self.service.live.add(self)
        self.service.stats.session_opened(self.info.transport)
        self._counted = True
        logevents.session_opened(self.service.prefix, self.info.transport, self.info.ip)
        result = self._invoke(conn.connectionMade, self.info)
        if isinstance(result, Deferred):
            # Messages that arrive meanwhile wait for connectionMade to finish.
            self._pending = deque()
            result.addBoth(self._made)
            return
        self._made(result)

    def _made(self, result: Any) -> None:
        failed = result is _FAILED
        if isinstance(result, Failure):
            self._app_exception(_hook(self.conn, "connectionMade"), result)
            failed = True
        if failed or result is False:
            # Refused (False: 3000) or broken (raised: 1011): the client is
            # told, the application hears nothing more (as for SockJS sessions).
            self._lost = True
            self.conn = None
            self._pending = None
            self.service.live.discard(self)
            code = CloseCode.INTERNAL_ERROR if failed else CloseCode.GO_AWAY
            self.close_by(code, CLOSE_REASONS[code], "server")
            self.settle()
            return
        self._pump()

    def deliver(self, text: str) -> None:
        """Hand one client text message to the application, verbatim and in order."""
        if self._closed or (self.conn is None and self._pending is None):
            return
        self.service.stats.received(1, self.service.now())
        if self._pending is not None:
            self._pending.append(text)
            return
        self._pending = deque([text])
        self._pump()

    def _pump(self, result: Any = None) -> None:
        if isinstance(result, Failure):
            self._app_exception(_hook(self.conn, "messageReceived"), result)
            self._internal_error()
            return
        pending = self._pending
        while pending:
            conn = self.conn
            if conn is None or self._closed:
                break
            outcome = self._invoke(conn.messageReceived, pending.popleft())
            if outcome is _FAILED:
                self._internal_error()
                return
            if isinstance(outcome, Deferred):
                outcome.addBoth(self._pump)
                return
        self._pending = None

    def _internal_error(self) -> None:
        self._pending = None
        code = CloseCode.INTERNAL_ERROR
        self.close_by(code, CLOSE_REASONS[code], "server")

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
        if self._counted:
            self._counted = False
            self.service.stats.session_closed(self.info.transport)
            info = self.close_info or INTERRUPTED
            logevents.session_closed(
                self.service.prefix, self.info.transport, info.code, info.reason, info.initiator
            )
        if self._lost:
            return
        self._lost = True
        self._pending = None
        self.service.live.discard(self)
        conn = self.conn
        if conn is not None:
            outcome = self._invoke(conn.connectionLost)
            if isinstance(outcome, Deferred):
                outcome.addErrback(
                    lambda failure: self._app_exception(_hook(conn, "connectionLost"), failure)
                )

    # -- internals ----------------------------------------------------------------

    def _send(self, text: str) -> None:
        if self._closed:
            return
        self.service.stats.sent(1, self.service.now())
        self._socket.send_text(text)

    def _note_close(self, info: CloseInfo) -> None:
        if self.close_info is None:
            self.close_info = info

    def _app_exception(self, hook: str, failure: Failure | None = None) -> None:
        self.service.stats.error("app_exception")
        logevents.app_exception(self.service.prefix, hook, failure)

    def _invoke(self, hook: Callable[..., Any], *args: Any) -> Any:
        """Run an application hook; a Deferred for async results, ``_FAILED`` on error."""
        try:
            result = hook(*args)
        except Exception:
            self._app_exception(_name(hook))
            return _FAILED
        if inspect.iscoroutine(result):
            return Deferred.fromCoroutine(result)
        return result
