"""The in-memory HTTP/WebSocket connections under ``sockjs.cyclone.testing`` (``_memclient``).

They talk to a real router in a real Cyclone application on a fake clock.
(The codecs they use are tested in tests/protocol: test_httpclient.py and
test_wsframes.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cyclone.web
import pytest
from twisted.internet.task import Clock

from sockjs.addons._memclient import PING, PONG, HTTPExchange, MemoryConnection, WebSocket
from sockjs.cyclone import SockJSConnection, SockJSHTTPConnection, SockJSRouter
from sockjs.protocol.httpclient import request as http_request
from sockjs.protocol.wsframes import FrameReader, frame

CLOSE = 0x8


def server_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked frame, as a server sends it."""
    return frame(opcode, payload)


class Echo(SockJSConnection):
    def messageReceived(self, message: Any) -> None:
        self.sendMessage(message)


class App:
    """A router in a Cyclone application set up as SockJSTestServer does."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.clock = Clock()
        self.router = SockJSRouter(Echo, "/echo", settings, reactor=self.clock)
        self.app = cyclone.web.Application(self.router.urls)
        self.app.protocol = SockJSHTTPConnection
        self.app.sockjs_clock = self.clock
        self.activity = 0

    def note(self) -> None:
        self.activity += 1


@pytest.fixture
def app() -> Iterator[App]:
    made = App()
    yield made
    made.router.stop()
    assert made.clock.getDelayedCalls() == []


# ---------------------------------------------------------------------------
# Connections to a real application
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("ip", ["10.0.0.7", "::1"])
def test_exchange_with_a_real_application(app: App, ip: str) -> None:
    exchange = HTTPExchange(app.app, ip, http_request("POST", "/echo/0/s1/xhr", []), app.note)
    assert exchange.read() == [b"o\n"]
    assert exchange.response.status == 200
    assert exchange.response.headers["content-type"].startswith("application/javascript")
    assert exchange.over and app.activity > 0
    assert exchange.connection.transport.getPeer().host == ip
    exchange.connection.lose()
    exchange.connection.lose()  # once only
    assert exchange.connection.lost
    exchange.connection.send(b"GET / HTTP/1.1\r\n\r\n")  # ignored once lost


def test_each_connection_has_its_own_port(app: App) -> None:
    one, two = (MemoryConnection(app.app, "10.0.0.1", app.note) for _ in range(2))
    assert one.transport.getPeer().port != two.transport.getPeer().port
    one.lose()  # each open connection has its idle timer
    two.lose()


def test_every_write_and_close_is_reported(app: App) -> None:
    connection = MemoryConnection(app.app, "10.0.0.1", app.note)
    connection.transport.writeSequence([b"a", b"b"])
    assert (app.activity, connection.receive(), connection.receive()) == (1, b"ab", b"")
    connection.transport.loseConnection()
    assert app.activity == 2 and connection.closed_by_server
    connection.lose()


def test_losing_a_streaming_connection_stops_its_producer(app: App) -> None:
    request = http_request("POST", "/echo/0/s2/xhr_streaming", [])
    exchange = HTTPExchange(app.app, "10.0.0.1", request, app.note)
    assert exchange.read()[-1] == b"o\n"
    assert exchange.connection.transport.producer is not None
    assert not exchange.over
    exchange.connection.lose()
    assert exchange.connection.transport.producer is None
    assert app.router.session_count == 0  # the client went away: the session closed


def open_websocket(app: App) -> WebSocket:
    return WebSocket(app.app, "10.0.0.1", "/echo/0/s3/websocket", [("Origin", "x")], app.note)


def test_websocket_handshake_messages_pings_and_close(app: App) -> None:
    ws = open_websocket(app)
    assert ws.read_messages() == ["o"]
    assert ws.open
    ws.send_text('["hi"]')
    assert ws.read_messages() == ['a["hi"]']
    sent: list[bytes] = []
    ws.connection.protocol.dataReceived = sent.append  # what the client writes from now on
    ws.connection.transport.write(server_frame(PING, b"are you there"))
    assert ws.read_messages() == []
    assert sent == []  # reading never writes
    ws.send_replies()
    assert FrameReader().feed(b"".join(sent)) == [(True, PONG, b"are you there")]
    ws.connection.transport.write(server_frame(PING, b"") + server_frame(CLOSE, b"\x03\xe8bye"))
    assert ws.read_messages() == []
    assert ws.close_frame == (1000, "bye") and not ws.open
    ws.send_replies()  # closed: the ping is not answered any more
    assert len(sent) == 1
    ws.connection.transport.write(server_frame(CLOSE, b""))
    ws.read_messages()
    assert ws.close_frame == (1005, "")
    ws.connection.lose()


def test_websocket_refused_with_an_http_answer() -> None:
    refusing = App({"disabled_transports": ["websocket"]})
    ws = open_websocket(refusing)
    assert ws.read_messages() == []
    assert (ws.response.status, ws.response.upgraded, ws.open) == (404, False, False)
    ws.connection.lose()
    refusing.router.stop()


def test_websocket_with_a_wrong_accept_key_fails(app: App) -> None:
    ws = open_websocket(app)
    ws._accept = "not the key"
    with pytest.raises(AssertionError, match="Sec-WebSocket-Accept"):
        ws.read_messages()
    ws.connection.lose()
