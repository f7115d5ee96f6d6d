"""The clients of :mod:`sockjs.addons.testing` (re-exported there; documented there).

A :class:`TestClient` speaks SockJS to the test server's real Cyclone
application through :mod:`sockjs.addons._memclient`: receiving requests
(``xhr``, ``xhr_streaming``) and ``xhr_send`` each on a connection of its
own, or one WebSocket. It reads what the server wrote whenever the server
writes (the harness pumps), and makes its next receiving request lazily:
when the test reads it, sends with it or moves time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import sockjs.protocol.transports
from sockjs.addons._memclient import HTTPExchange, WebSocket
from sockjs.protocol import transports
from sockjs.protocol.httpclient import request as http_request
from sockjs.protocol.multiplex import escape_topic

if TYPE_CHECKING:
    from sockjs.cyclone._types import RouterLike
    from sockjs.cyclone.conn import SockJSConnection
    from sockjs.protocol.closing import CloseInfo

__all__ = ["ChannelClient", "ClientClosedError", "TestClient"]

# Initiators of closes after which the server has forgotten the session: a
# poll would only open a new one (see TestClient._wants_poll).
_FORGOTTEN = ("timeout", "client")


class Harness(Protocol):
    """What a client needs of its test server (``sockjs.cyclone.testing.SockJSTestServer``)."""

    #: The real Cyclone application under test.
    app: Any
    #: Clients whose connections the server wrote to since the last pump.
    _dirty: dict[TestClient, None]

    @property
    def router(self) -> RouterLike:
        """The router under test."""

    def advance(self, seconds: float) -> None:
        """Move the clock."""

    def _calling(self, opening: TestClient | None = None) -> AbstractContextManager[None]:
        """While the server runs a request (``opening``: the client it may open a session for)."""

    def _pump(self) -> None:
        """Let clients read what the server wrote."""

    def _repoll(self, waiting: Callable[[], list[TestClient]]) -> None:
        """Let ``waiting`` clients make their receiving requests."""


class ClientClosedError(RuntimeError):
    """The test used a client whose session is over (it saw a close frame or went away)."""


class TestClient:
    """One SockJS client of a test server (made by ``SockJSTestServer.open()``).

    Reading :attr:`frames`, :attr:`received`, :attr:`closed` or
    :attr:`close_frame` first lets the client poll, as a real one would have.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        server: Harness,
        # Spelled in full: autodoc shows the annotations of this module unevaluated.
        wire: sockjs.protocol.transports.Wire,
        ip: str,
        headers: Mapping[str, str] | None,
        cookies: Mapping[str, str] | None,
        arguments: Mapping[str, str | Sequence[str]] | None,
    ) -> None:
        self.server = server
        #: Transport name (``xhr_streaming``, ``xhr`` or ``websocket``).
        self.transport = wire.name
        self.ip = ip
        #: The session id (``None`` for WebSocket sessions, which have none).
        self.session_id: str | None = None
        self._wire = wire
        self._headers = list((headers or {}).items())
        if cookies and all(name.lower() != "cookie" for name, _ in self._headers):
            pairs = "; ".join(f"{name}={value}" for name, value in cookies.items())
            self._headers.append(("Cookie", pairs))
        self._query = "?" + urlencode(arguments, doseq=True) if arguments else ""
        self._session: Any = None  # the server's session object (see _observe)
        self._receiving: HTTPExchange | None = None
        self._socket: WebSocket | None = None
        self._frames: list[str] = []
        self._received: list[Any] = []
        self._popped = 0
        self._close_frame: tuple[int, str] | None = None
        self._opened = False
        self._polling = True
        self._gone = False
        #: ``(status, body)`` of a receiving request the server did not answer with 200.
        self._failure: tuple[int, bytes] | None = None

    # -- what the client saw ----------------------------------------------------------

    @property
    def frames(self) -> list[str]:
        """Every frame received, in order: ``o``, ``h``, ``a[...]``, ``c[...]``."""
        self._flush()
        return list(self._frames)

    @property
    def received(self) -> list[Any]:
        """Every application message received so far, decoded, in order."""
        self._flush()
        return list(self._received)

    def pop_messages(self) -> list[Any]:
        """Messages received since the previous call (all of them the first time)."""
        self._flush()
        fresh = self._received[self._popped :]
        self._popped = len(self._received)
        return fresh

    @property
    def closed(self) -> bool:
        """True once the client saw a close frame, went away or was dropped."""
        self._flush()
        return self._close_frame is not None or self._gone

    @property
    def close_frame(self) -> tuple[int, str] | None:
        """``(code, reason)`` of the close frame received, if any."""
        self._flush()
        return self._close_frame

    @property
    def connection(self) -> SockJSConnection | None:
        """The application's connection object (``None`` if the session was refused)."""
        conn: SockJSConnection | None = getattr(self._session, "conn", None)
        return conn

    @property
    def close_info(self) -> CloseInfo | None:
        """How the session ended (code, reason, initiator), as ``connectionLost`` sees it."""
        info: CloseInfo | None = getattr(self._session, "close_info", None)
        return info

    # -- what the client does ---------------------------------------------------------

    def send(self, *messages: Any) -> None:
        """Send messages in one request, as ``xhr_send`` (or one WebSocket message) does.

        A ``404`` (the server no longer knows the session) raises
        :class:`ClientClosedError`; any other HTTP error (``413`` past
        ``max_request_body``...) raises :class:`RuntimeError`.
        """
        self._flush()
        if self._gone or self._close_frame is not None:
            raise ClientClosedError("this client's session is over; open a new client")
        server = self.server
        payload = json.dumps(list(messages), ensure_ascii=False)
        if self._socket is not None:
            with server._calling():
                self._socket.send_text(payload)
            server._pump()
            return
        request = http_request("POST", self._url("xhr_send"), self._headers, payload.encode())
        with server._calling():
            exchange = HTTPExchange(server.app, self.ip, request, _ignore)
            body = b"".join(exchange.read())
            exchange.connection.lose()
        server._pump()
        status = exchange.response.status
        if status == 404:
            self._gone = True
            raise ClientClosedError("the server no longer knows this session (404)")
        if status not in (200, 204):
            raise RuntimeError(f"xhr_send was answered with {status}: {body!r}")

    def advance(self, seconds: float) -> None:
        """Move the server's clock (see ``SockJSTestServer.advance()``)."""
        self.server.advance(seconds)

    def disconnect(self) -> None:
        """The client goes away: its connection drops (PROTOCOL.md 6.8).

        A polling client polls first, so a receiver is attached: the session
        closes at once and ``connectionLost`` sees
        ``close_info.initiator == "client"``. After :meth:`stop_polling`
        there may be no connection to drop; the session then expires.
        """
        if self._gone:
            return
        self._flush()
        self._gone = True
        self._polling = False
        self.server._dirty[self] = None
        self.server._pump()

    def stop_polling(self) -> None:
        """The client makes no new receiving request (it vanishes between two polls).

        A receiver already attached stays until the server ends it; from then
        on the session waits ``disconnect_delay`` and expires
        (``close_info.initiator == "timeout"``). :meth:`resume_polling`
        brings the client back before that.
        """
        if self._wire is transports.WEBSOCKET:
            raise TypeError("WebSocket sessions do not expire; use disconnect()")
        self._polling = False

    def resume_polling(self) -> None:
        """Poll again after :meth:`stop_polling` (messages queued meanwhile arrive)."""
        if self._wire is transports.WEBSOCKET or self._gone:
            return
        self._polling = True
        self._flush()

    def channel(self, name: str) -> ChannelClient:
        """Open multiplex channel ``name`` on this session (sends ``sub,<topic>``)."""
        return ChannelClient(self, name)

    # -- internals ----------------------------------------------------------------------

    def _url(self, route: str, session_id: str | None = None) -> str:
        session_id = session_id or self.session_id
        return f"{self.server.router.prefix}/000/{session_id}/{route}{self._query}"

    def _mark(self) -> None:
        # Called from inside server code: only take note.
        self.server._dirty[self] = None

    def _open(self, session_id: str) -> None:
        server = self.server
        if self._wire is transports.WEBSOCKET:
            # The id in a WebSocket URL is ignored: the session is anonymous (6.1).
            target = self._url("websocket", session_id)
            with server._calling(opening=self):
                self._socket = WebSocket(server.app, self.ip, target, self._headers, self._mark)
        else:
            self.session_id = session_id
            self._receive()
        server._pump()

    def _receive(self) -> None:
        """Make a receiving request (``xhr`` or ``xhr_streaming``)."""
        server = self.server
        request = http_request("POST", self._url(self.transport), self._headers)
        with server._calling(opening=self):
            self._receiving = HTTPExchange(server.app, self.ip, request, self._mark)

    def _flush(self) -> None:
        self.server._repoll(lambda: [self] if self._wants_poll() else [])

    def _wants_poll(self) -> bool:
        if (
            self._gone
            or not self._polling
            or self._close_frame is not None
            or self._receiving is not None
            or self.session_id is None
        ):
            return False
        info = self.close_info
        if info is not None and info.initiator in _FORGOTTEN:
            self._gone = True  # sockjs-client would get a new "o": "Server lost session"
            return False
        return True

    def _read(self) -> None:
        """Parse what the server wrote (client side only: no call into the server)."""
        exchange = self._receiving
        if exchange is not None:
            for piece in exchange.read():
                if exchange.response.status != 200:
                    self._failure = (exchange.response.status, piece)
                elif not (self._wire.streaming and piece == self._wire.prelude):
                    for frame in piece.decode("utf-8").split("\n"):
                        if frame:
                            self._frame(frame)
            if exchange.response.complete and exchange.response.status != 200:
                self._failure = self._failure or (exchange.response.status, b"")
        if self._socket is not None:
            for frame in self._socket.read_messages():
                self._frame(frame)

    def _frame(self, frame: str) -> None:
        self._frames.append(frame)
        kind = frame[:1]
        if kind == "a":
            self._received.extend(json.loads(frame[1:]))
        elif kind == "c":
            code, reason = json.loads(frame[1:])
            self._close_frame = (code, reason)
        elif kind == "o":
            if self._opened:  # the server lost the session and made a new one
                self._gone = True
            self._opened = True

    def _settle(self) -> None:
        """Close connections that are over, or all of them once the client is gone."""
        exchange = self._receiving
        if exchange is not None and (exchange.over or self._gone):
            self._receiving = None
            if self._failure is not None or not exchange.response.complete:
                self._gone = True  # an HTTP error, or dropped mid-response
            exchange.connection.lose()
        socket = self._socket
        if socket is not None and not socket.connection.lost:
            socket.send_replies()
            if self._gone or socket.connection.closed_by_server:
                self._gone = True
                socket.connection.lose()
            elif not socket.response.upgraded and socket.response.complete:
                self._gone = True
                self._failure = (socket.response.status, b"")
                socket.connection.lose()

    def __repr__(self) -> str:
        return f"<TestClient {self.transport} {self.session_id or ''} gone={self._gone}>"


class ChannelClient:
    """One websocket-multiplex channel of a :class:`TestClient` (PROTOCOL.md 9).

    Made by :meth:`TestClient.channel`, which sends ``sub,<topic>``.
    """

    def __init__(self, client: TestClient, name: str) -> None:
        self.client = client
        #: The channel name as it travels (JavaScript ``escape()``).
        self.topic = escape_topic(name)
        self._closed = False
        # Only what arrives from now on belongs to this channel (a topic can be reopened).
        self._start = len(client.received)
        client.send(f"sub,{self.topic}")

    @property
    def received(self) -> list[str]:
        """Payloads of the ``msg,<topic>,...`` messages received so far."""
        return self._payloads(lambda kind: kind == "msg")

    @property
    def closed(self) -> bool:
        """True once either side unsubscribed (``uns,<topic>``)."""
        return self._closed or bool(self._payloads(lambda kind: kind == "uns"))

    def send(self, payload: str) -> None:
        """Send ``msg,<topic>,<payload>``."""
        self.client.send(f"msg,{self.topic},{payload}")

    def close(self) -> None:
        """Send ``uns,<topic>`` (the server sends nothing back)."""
        self._closed = True
        self.client.send(f"uns,{self.topic}")

    def _payloads(self, wanted: Callable[[str], bool]) -> list[str]:
        found = []
        for message in self.client.received[self._start :]:
            if not isinstance(message, str):
                continue
            kind, _, rest = message.partition(",")
            topic, _, payload = rest.partition(",")
            if topic == self.topic and wanted(kind):
                found.append(payload)
        return found


def _ignore() -> None:
    pass
