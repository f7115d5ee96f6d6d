"""The in-memory HTTP/WebSocket client under ``sockjs.cyclone.testing`` (``_memclient``).

Parsers are fed by hand (byte by byte where framing matters); connections
talk to a real router in a real Cyclone application on a fake clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cyclone.web
import pytest
from twisted.internet.task import Clock

from sockjs.cyclone import SockJSConnection, SockJSHTTPConnection, SockJSRouter
from sockjs.cyclone._memclient import (
    CLOSE,
    PING,
    PONG,
    TEXT,
    FrameReader,
    HTTPExchange,
    MemoryConnection,
    ResponseReader,
    WebSocket,
    client_frame,
    http_request,
)


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


def feed_bytewise(reader: ResponseReader, data: bytes) -> list[bytes]:
    pieces = []
    for index in range(len(data)):
        pieces.extend(reader.feed(data[index : index + 1]))
    return pieces


# ---------------------------------------------------------------------------
# Requests and responses
# ---------------------------------------------------------------------------


def test_request_bytes_add_host_and_length_once() -> None:
    assert (
        http_request("POST", "/x?a=1", [("X-A", "é")], b"ab")
        == (
            "POST /x?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: é\r\nContent-Length: 2\r\n\r\nab"
        ).encode()
    )
    given = http_request("POST", "/x", [("host", "h"), ("Content-Length", "0")])
    assert given == b"POST /x HTTP/1.1\r\nhost: h\r\nContent-Length: 0\r\n\r\n"
    assert http_request("GET", "/", []) == b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_chunked_response_keeps_chunk_boundaries() -> None:
    reader = ResponseReader()
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Y:  z \r\n\r\n"
        b"3\r\nabc\r\n2;name=value\r\nde\r\n0\r\n\r\n"
    )
    assert feed_bytewise(reader, data) == [b"abc", b"de"]
    assert (reader.status, reader.complete, reader.headers["x-y"]) == (200, True, "z")
    assert reader.feed(b"ignored after the end") == []


def test_length_delimited_and_empty_responses() -> None:
    reader = ResponseReader()
    assert feed_bytewise(reader, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\no\n\n") == [b"o\n\n"]
    assert reader.complete
    empty = ResponseReader()
    assert empty.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == []
    assert empty.complete
    no_content = ResponseReader()
    assert no_content.feed(b"HTTP/1.1 204 No Content\r\n\r\n") == []
    assert (no_content.status, no_content.complete) == (204, True)


def test_response_delimited_by_the_connection_closing() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\nab") == [b"ab"]
    assert reader.feed(b"") == []
    assert reader.feed(b"c") == [b"c"]
    assert not reader.complete


def test_switching_protocols_keeps_the_bytes_after_the_head() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket") == []
    assert reader.feed(b"\r\n\r\n\x81\x01o") == []
    assert (reader.upgraded, reader.complete, reader.rest) == (True, False, b"\x81\x01o")


# ---------------------------------------------------------------------------
# WebSocket frames
# ---------------------------------------------------------------------------


def server_frame(opcode: int, payload: bytes, final: bool = True) -> bytes:
    """An unmasked frame, as a server sends it."""
    first = (0x80 if final else 0) | opcode
    length = len(payload)
    if length < 126:
        return bytes([first, length]) + payload
    if length < 1 << 16:
        return bytes([first, 126]) + length.to_bytes(2, "big") + payload
    return bytes([first, 127]) + length.to_bytes(8, "big") + payload


def test_frame_reader_joins_fragments_and_passes_control_frames() -> None:
    reader = FrameReader()
    data = (
        server_frame(TEXT, b"hel", final=False)
        + server_frame(PING, b"p")
        + server_frame(0x0, b"lo")
        + server_frame(TEXT, b"!")
        + server_frame(CLOSE, b"\x03\xe8")
    )
    out = []
    for index in range(len(data)):
        out.extend(reader.feed(data[index : index + 1]))
    assert out == [(PING, b"p"), (TEXT, b"hello"), (TEXT, b"!"), (CLOSE, b"\x03\xe8")]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_client_frames_are_masked_and_read_back(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    frame = client_frame(TEXT, payload)
    assert frame[0] == 0x81
    assert frame[1] & 0x80  # masked (RFC 6455 5.3)
    assert FrameReader().feed(frame) == [(TEXT, payload)]
    assert FrameReader().feed(server_frame(TEXT, payload)) == [(TEXT, payload)]


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
    assert FrameReader().feed(b"".join(sent)) == [(PONG, b"are you there")]
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
