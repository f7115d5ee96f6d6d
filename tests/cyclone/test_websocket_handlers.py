"""WebSocket endpoints of the Cyclone adapter: real frames in memory, fake time.

Every test drives a real ``cyclone.web.Application`` through a
``StringTransport`` under a ``Clock`` (see ``helpers``), once with Cyclone's
own ``HTTPConnection`` and once with ``SockJSHTTPConnection``. Client frames
are built by websockets' sans-I/O client (masked, like a browser's) or by
hand for the malformed ones; server bytes are decoded by the same client.

PROTOCOL.md 7.8-7.10 and 10.1 items 12, 13, 22.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import helpers
import pytest
from integration.slowclients import client_frame
from twisted.internet.defer import Deferred
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Close, Frame, Opcode
from websockets.headers import build_extension, parse_extension
from websockets.protocol import Protocol, Side, State

from sockjs.cyclone import SockJSConnection, SockJSHTTPConnection
from sockjs.cyclone._session import CloseInfo

KEY = "x3JJHMbDL1EzLkh9GBhXDw=="
ACCEPT = "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
KEY1 = "4 @1  46546xW%0l 1 5"
KEY2 = "12998 5 Y3 1  .P00"
KEY3 = b"aaaaaaaa"
HIXIE_ANSWER = bytes.fromhex("ca3400d8a50847972cd5715ababf437b")
MASK = b"\x11\x22\x33\x44"
LONG_CACHE = "public, max-age=31536000"


# ---------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------


@pytest.fixture(params=["cyclone", "sockjs"])
def http_protocol(request: pytest.FixtureRequest) -> str:
    """Which HTTP connection class the application uses."""
    return str(request.param)


@pytest.fixture
def make(http_protocol: str) -> Iterator[Any]:
    """Build a :class:`helpers.Server` with the variant's HTTP connection class."""

    def build(
        connection: type[SockJSConnection] | None = None,
        prefix: str = "/echo",
        settings: dict[str, Any] | None = None,
    ) -> helpers.Server:
        server = helpers.Server(connection, prefix, settings)
        if http_protocol == "sockjs":
            server.app.protocol = SockJSHTTPConnection
            # Its request timeout runs on the test clock, so it is checked too.
            server.app.sockjs_clock = server.clock
        return server

    yield build


def hybi_headers(version: str = "13", **extra: str) -> list[tuple[str, str]]:
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", version),
        ("Sec-WebSocket-Key", KEY),
    ]
    headers.extend((name.replace("_", "-"), value) for name, value in extra.items())
    return headers


def hixie_headers(origin: str | None = "http://localhost:8081") -> list[tuple[str, str]]:
    headers = [
        ("Host", "localhost:8081"),
        ("Connection", "Upgrade"),
        ("Upgrade", "WebSocket"),
    ]
    if origin is not None:
        headers.append(("Origin", origin))
    headers += [("Sec-WebSocket-Key1", KEY1), ("Sec-WebSocket-Key2", KEY2)]
    return headers


def split_head(data: bytes) -> tuple[helpers.Response, bytes]:
    """The 101 head (parsed) and the bytes after it."""
    end = data.find(b"\r\n\r\n")
    assert end >= 0, f"no complete response head in {data[:300]!r}"
    (response,) = helpers.parse_responses(data[: end + 4])
    return response, data[end + 4 :]


def masked(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = True
) -> bytes:
    """One client frame built by hand (for the malformed cases)."""
    return client_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask, mask_key=MASK)


class WS:
    """One RFC 6455 client connection (versions 7, 8, 13) to a server."""

    def __init__(
        self,
        server: helpers.Server,
        path: str = "/000/s1/websocket",
        version: str = "13",
        deflate: bool = False,
        extra: list[tuple[str, str]] | None = None,
        first_frames: bytes = b"",
    ) -> None:
        self.server = server
        self.conn = server.client()
        headers = hybi_headers(version)
        factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
        if deflate:
            offer = build_extension([(factory.name, factory.get_request_params())])
            headers.append(("Sec-WebSocket-Extensions", offer))
        headers += extra or []
        request = self._request_bytes(server.prefix + path, headers)
        self.conn.send_raw(request + first_frames)
        self.head, rest = split_head(self.conn.new_data())
        self.peer = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
        answer = self.head.header("Sec-WebSocket-Extensions")
        if answer is not None:
            ((name, params),) = parse_extension(answer)
            assert name == "permessage-deflate"
            self.peer.extensions = [factory.process_response_params(params, [])]
        self._pending: list[Frame] = []
        #: Answer pings as soon as they come, as browsers do (the server's
        #: ping_timeout); False plays a client that vanished.
        self.answers_pings = True
        server.pumps.append(self._pump)
        self._feed(rest)

    @staticmethod
    def _request_bytes(path: str, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1:8081"]
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    # -- client -> server ------------------------------------------------------

    def send(self, text: str) -> None:
        """One masked text message."""
        self.peer.send_text(text.encode())
        self.push()

    def send_raw(self, data: bytes) -> None:
        """Bytes exactly as given."""
        self.conn.send_raw(data)

    def push(self) -> None:
        """Send what the client protocol queued."""
        data = b"".join(self.peer.data_to_send())
        if data and not self.conn.lost:
            self.conn.send_raw(data)

    def close(self, code: int = 1000, reason: str = "bye") -> None:
        """The client starts the closing handshake."""
        self.peer.send_close(code, reason)
        self.push()

    def drop(self) -> None:
        """The TCP connection goes away without a Close frame."""
        self.conn.abort()

    # -- server -> client ------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        if data:
            self.peer.receive_data(data)
            self._pending += [e for e in self.peer.events_received() if isinstance(e, Frame)]

    def _pump(self) -> None:
        """Between two timers: read what came, and answer its pings (pongs queued)."""
        if self.answers_pings and not self.conn.lost:
            self._feed(self.conn.new_data())
            self.push()

    def frames(self) -> list[Frame]:
        """Frames the server wrote since the last call."""
        self._feed(self.conn.new_data())
        frames, self._pending = self._pending, []
        return frames

    def texts(self) -> list[str]:
        """Text messages the server wrote since the last call (other frames dropped)."""
        return [bytes(f.data).decode() for f in self.frames() if f.opcode is Opcode.TEXT]

    def close_frame(self, frames: list[Frame]) -> Close:
        """The Close frame that must end ``frames``."""
        assert frames, "no frame"
        last = frames[-1]
        assert last.opcode is Opcode.CLOSE, frames
        return Close.parse(bytes(last.data))

    @property
    def closed_by_server(self) -> bool:
        """The server asked the transport to close."""
        return self.conn.closed_by_server


class Hixie:
    """One hixie-76 client connection."""

    def __init__(
        self,
        server: helpers.Server,
        path: str = "/000/s1/websocket",
        key3: bytes | None = KEY3,
        origin: str | None = "http://localhost:8081",
    ) -> None:
        self.conn = server.client()
        lines = [f"GET {server.prefix}{path} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in hixie_headers(origin)]
        self.conn.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode() + (key3 or b""))

    def read(self) -> bytes:
        return self.conn.new_data()

    @property
    def closed_by_server(self) -> bool:
        return self.conn.closed_by_server


def close_info(conn: SockJSConnection) -> CloseInfo:
    """The connection's close details (which must be known)."""
    info = conn.close_info
    assert info is not None
    return info


def assert_idle(server: helpers.Server) -> None:
    """No session, no application connection and no timer left (open HTTP connections aside)."""
    assert server.router.session_count == 0
    assert server.router.connections == []
    assert server.timers_but_connections == []


def frame_texts(frames: list[Frame]) -> list[str]:
    return [bytes(f.data).decode() for f in frames if f.opcode is Opcode.TEXT]


# ---------------------------------------------------------------------------
# Handshake refusals (110, 111, 122, 125, 127)
# ---------------------------------------------------------------------------


def test_plain_get_is_400_with_the_upgrade_text(make: Any) -> None:
    """Checklist 110: no upgrade headers -> 400 ``Can "Upgrade" only to "WebSocket".``."""
    server = make()
    for path in ("/0/0/websocket", "/websocket"):
        response = server.get(path)
        assert response.status == 400
        assert response.body == b'Can "Upgrade" only to "WebSocket".'
        assert not response.has("Upgrade")
    assert_idle(server)


def test_connection_close_is_400(make: Any) -> None:
    """Checklist 111: ``Connection: close`` -> 400 ``"Connection" must be "Upgrade".``."""
    server = make()
    headers = [("Upgrade", "WebSocket"), ("Connection", "close")]
    response = server.get("/0/0/websocket", headers=headers)
    assert response.status == 400
    assert response.body == b'"Connection" must be "Upgrade".'


def test_non_get_is_405(make: Any) -> None:
    server = make()
    for path in ("/0/0/websocket", "/websocket"):
        response = server.post(path, headers=hybi_headers())
        assert response.status == 405
        assert response.header("Allow") == "GET"
        assert response.body == b""


@pytest.mark.parametrize("version", ["7", "12", None])
def test_raw_endpoint_refuses_anything_but_rfc6455(make: Any, version: str | None) -> None:
    """Checklist 125: raw ``/websocket`` with version 7, another one, or hixie -> 400."""
    server = make()
    if version is None:
        client = Hixie(server, "/websocket")
        response = client.conn.response()
    else:
        response = server.get("/websocket", headers=hybi_headers(version))
    assert response.status == 400
    assert response.body == b"Only supported WebSocket protocol is RFC 6455."
    assert_idle(server)


def test_disabled_websocket_is_404_with_long_cache(make: Any) -> None:
    """Checklist 122, 127: websocket disabled -> both URLs 404, whatever the headers."""
    server = make(settings={"disabled_transports": ["websocket"]})
    for path in ("/0/0/websocket", "/websocket"):
        for headers in ([], hybi_headers()):
            response = server.get(path, headers=headers)
            assert response.status == 404
            assert response.header("Cache-Control") == LONG_CACHE
            assert response.has("Expires")
    info = json.loads(server.get("/info").body)
    assert info["websocket"] is False


def test_origin_refused_by_allow_list_is_403(make: Any) -> None:
    """PROTOCOL.md 7.8 check 3 with the project's 403 (sockjs-node said 400)."""
    server = make(settings={"allowed_origins": ["http://good.example"]})
    response = server.get("/0/0/websocket", headers=hybi_headers(Origin="http://evil.example"))
    assert response.status == 403
    assert response.body == b"Unverified origin."
    response = server.get("/websocket", headers=hybi_headers(Origin="http://evil.example"))
    assert response.status == 403
    # hybi-07/08 send the origin in Sec-WebSocket-Origin.
    headers = hybi_headers("8", Sec_WebSocket_Origin="http://evil.example")
    assert server.get("/0/0/websocket", headers=headers).status == 403
    # No origin at all is refused by an allow-list too.
    assert server.get("/0/0/websocket", headers=hybi_headers()).status == 403
    ws = WS(server, extra=[("Origin", "http://good.example")])
    assert ws.head.status == 101
    assert ws.texts() == ["o"]
    ws.close()
    assert_idle(server)


def test_hixie_with_a_refused_origin_gets_no_101(make: Any) -> None:
    server = make(settings={"allowed_origins": ["good.example:*"]})
    client = Hixie(server, origin="http://evil.example")
    response = client.conn.response()
    assert response.status == 403


# ---------------------------------------------------------------------------
# RFC 6455 handshake and SockJS framing (112, 113, 116-118, 121, 123)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["7", "8", "13"])
def test_hybi_handshake_bytes(make: Any, version: str) -> None:
    """Checklist 112, 116: 101 with the accept key, no Content-Length, then ``o``."""
    server = make()
    ws = WS(server, version=version)
    head = ws.head
    assert head.raw_head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert (head.header("Upgrade") or "").lower() == "websocket"
    assert (head.header("Connection") or "").lower() == "upgrade"
    assert head.header("Sec-WebSocket-Accept") == ACCEPT
    assert not head.has("Content-Length")
    assert not head.has("Content-Type")
    assert not head.has("Sec-WebSocket-Extensions")
    assert ws.texts() == ["o"]
    ws.close()
    assert_idle(server)


def test_keep_alive_upgrade_connection_header(make: Any) -> None:
    """Checklist 113: ``Connection: keep-alive, Upgrade`` with version 7 -> 101."""
    server = make()
    conn = server.client()
    request = WS._request_bytes(
        server.prefix + "/000/x/websocket",
        [(n, v) for n, v in hybi_headers("7") if n != "Connection"]
        + [("Connection", "keep-alive, Upgrade")],
    )
    conn.send_raw(request)
    head, rest = split_head(conn.new_data())
    assert head.status == 101
    assert rest == b"\x81\x01o"
    conn.abort()
    assert_idle(server)


def test_echo_and_message_forms(make: Any) -> None:
    """Checklist 117, 118, 123: arrays, empty messages and bare JSON strings."""
    server = make()
    ws = WS(server)
    assert ws.texts() == ["o"]
    ws.send('["a"]')
    assert ws.texts() == ['a["a"]']
    ws.send("")
    ws.send('["a"]')
    assert ws.texts() == ['a["a"]']
    ws.send('"a"')
    assert ws.texts() == ['a["a"]']
    ws.send('["b","c"]')
    assert "".join(ws.texts()) in ('a["b"]a["c"]', 'a["b","c"]')
    ws.send("[]")
    ws.send("42")
    assert ws.texts() == ["a[42]"]
    ws.send('["\\u2028 \\ud800 \\uffff"]')
    assert ws.texts() == ['a["\\u2028 \\ud800 \\uffff"]']
    assert not ws.conn.transport.disconnecting
    ws.close()
    assert_idle(server)


def test_each_frame_is_one_text_message_without_newline(make: Any) -> None:
    """PROTOCOL.md 7.8: ``o``, ``a[...]``, ``c[...]`` travel as text messages, no ``\\n``."""
    server = make()
    ws = WS(server)
    (frame,) = ws.frames()
    assert (frame.opcode, frame.fin, bytes(frame.data)) == (Opcode.TEXT, True, b"o")
    ws.close()


def test_two_websockets_with_one_session_id(make: Any) -> None:
    """Checklist 121: same id, independent sessions; the id is reusable after both close."""
    server = make()
    first, second = WS(server, "/000/same/websocket"), WS(server, "/000/same/websocket")
    assert first.texts() == ["o"]
    assert second.texts() == ["o"]
    first.send('["one"]')
    second.send('["two"]')
    assert first.texts() == ['a["one"]']
    assert second.texts() == ['a["two"]']
    first.close()
    second.drop()
    assert_idle(server)
    third = WS(server, "/000/same/websocket")
    assert third.texts() == ["o"]
    third.close()


def test_websocket_and_http_session_with_the_same_id_are_unrelated(make: Any) -> None:
    """PROTOCOL.md 6.1: WebSocket sessions are not in the session table."""
    server = make()
    ws = WS(server, "/000/shared/websocket")
    assert ws.texts() == ["o"]
    assert server.router._service.registry.http_session_count == 0
    assert server.post("/000/shared/xhr_send", b'["x"]').status == 404
    server.open("shared")  # an xhr session with that id opens independently
    ws.send('["ws"]')
    assert ws.texts() == ['a["ws"]']
    ws.close()


def test_frames_sent_with_the_handshake_are_processed(make: Any) -> None:
    """Bytes that arrive with the request head go to the WebSocket, after ``o``."""
    server = make()
    peer = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
    peer.send_text(b'["early"]')
    ws = WS(server, first_frames=b"".join(peer.data_to_send()))
    assert ws.texts() == ["o", 'a["early"]']
    ws.close()


def test_fragmented_message(make: Any) -> None:
    server = make()
    ws = WS(server)
    ws.texts()
    ws.peer.send_text(b'["hel', fin=False)
    ws.peer.send_continuation(b"lo", fin=False)
    ws.peer.send_ping(b"between")
    ws.peer.send_continuation(b'"]', fin=True)
    ws.push()
    frames = ws.frames()
    assert [(f.opcode, bytes(f.data)) for f in frames] == [
        (Opcode.PONG, b"between"),
        (Opcode.TEXT, b'a["hello"]'),
    ]
    ws.close()


def test_split_across_tcp_reads(make: Any) -> None:
    server = make()
    ws = WS(server)
    ws.texts()
    ws.peer.send_text(b'["abc"]')
    data = b"".join(ws.peer.data_to_send())
    for i in range(len(data)):
        ws.send_raw(data[i : i + 1])
    assert ws.texts() == ['a["abc"]']
    ws.close()


def test_permessage_deflate(make: Any) -> None:
    """Compression offered -> negotiated; messages compressed both ways."""
    server = make()
    ws = WS(server, deflate=True)
    assert ws.head.header("Sec-WebSocket-Extensions") == (
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    )
    assert ws.texts() == ["o"]
    text = "compressible " * 200
    ws.send(json.dumps([text]))
    raw = ws.conn.data[-200:]
    frames = ws.frames()
    assert frame_texts(frames) == [f'a["{text}"]']
    assert frames[0].rsv1 is False  # the decoded frame; the wire frame had RSV1 set
    assert len(raw) < len(text)  # far smaller on the wire than the text
    ws.peer.send_text(b'["fr', fin=False)
    ws.peer.send_continuation(b'ag"]', fin=True)
    ws.push()
    assert ws.texts() == ['a["frag"]']
    ws.close()
    assert_idle(server)


def test_ping_is_answered(make: Any) -> None:
    server = make()
    ws = WS(server)
    ws.texts()
    ws.peer.send_ping(b"are you there")
    ws.push()
    frames = ws.frames()
    assert [(f.opcode, bytes(f.data)) for f in frames] == [(Opcode.PONG, b"are you there")]
    ws.peer.send_pong(b"unsolicited")
    ws.push()
    assert ws.frames() == []
    ws.close()


# ---------------------------------------------------------------------------
# Closing (119, 120) and errors
# ---------------------------------------------------------------------------


def test_application_close(make: Any) -> None:
    """Checklist 120: ``o``, ``c[3000,"Go away!"]``, Close, then TCP close."""
    seen: list[Any] = []
    conn_class, events = helpers.recording(
        on_open=lambda conn, info: conn.close(),
        on_close=lambda conn: seen.append((conn.close_info, conn.is_closed)),
    )
    server = make(conn_class, "/close")
    ws = WS(server)
    frames = ws.frames()
    assert frame_texts(frames) == ["o", 'c[3000,"Go away!"]']
    close = ws.close_frame(frames)
    assert (close.code, close.reason) == (1000, "Normal closure")
    assert ws.closed_by_server
    assert events.names() == ["made", "lost"]
    ((info, is_closed),) = seen
    assert (info.code, info.reason, info.initiator) == (3000, "Go away!", "application")
    assert is_closed
    # No disconnect_delay for WebSockets: nothing left, no timer.
    assert_idle(server)
    # Whatever the client still sends is ignored, without errors.
    ws.send_raw(masked(0x1, b'["late"]'))
    ws.send_raw(masked(0x8, struct.pack("!H", 1000)))
    assert ws.conn.new_data() == b""
    ws.drop()
    assert events.names() == ["made", "lost"]


def test_application_close_with_its_code_later(make: Any) -> None:
    conn_class, events = helpers.recording(on_message=lambda conn, msg: conn.close(4001, "done"))
    server = make(conn_class)
    ws = WS(server)
    ws.texts()
    ws.send('["x","y"]')
    frames = ws.frames()
    assert frame_texts(frames) == ['c[4001,"done"]']
    assert ws.close_frame(frames).code == 1000
    assert events.messages() == ["x"]  # the second message is not delivered after close
    assert events.count("lost") == 1
    assert_idle(server)


def test_client_close(make: Any) -> None:
    """The client's Close is answered, TCP closed, connectionLost runs once, at once."""
    conn_class, events = helpers.recording()
    server = make(conn_class)
    ws = WS(server)
    ws.texts()
    ws.close(1000, "bye")
    frames = ws.frames()
    assert ws.close_frame(frames).code == 1000
    assert ws.closed_by_server
    assert events.names() == ["made", "lost"]
    info = close_info(events.conns[0])
    assert (info.code, info.reason, info.initiator) == (1000, "bye", "client")
    assert_idle(server)
    ws.drop()
    assert events.count("lost") == 1


def test_half_open_connection(make: Any) -> None:
    """TCP drops without a Close frame: session closed now, connectionLost once."""
    conn_class, events = helpers.recording()
    server = make(conn_class)
    ws = WS(server)
    ws.send('["a"]')
    ws.drop()
    assert events.names() == ["made", "message", "lost"]
    assert close_info(events.conns[0]).initiator == "client"
    assert events.conns[0].is_closed
    assert_idle(server)
    # The application writing afterwards is harmless.
    events.conns[0].sendMessage("nobody listens")
    events.conns[0].close()
    assert events.count("lost") == 1


def test_broken_json(make: Any) -> None:
    """Checklist 119: ``["a`` -> Close 3000 ``Broken framing.``, no ``c`` frame."""
    conn_class, events = helpers.recording()
    server = make(conn_class)
    ws = WS(server)
    assert ws.texts() == ["o"]
    ws.send('["a')
    frames = ws.frames()
    assert frame_texts(frames) == []
    close = ws.close_frame(frames)
    assert (close.code, close.reason) == (3000, "Broken framing.")
    assert ws.closed_by_server
    assert events.names() == ["made", "lost"]
    info = close_info(events.conns[0])
    assert (info.code, info.initiator) == (3000, "server")
    assert_idle(server)
    ws.drop()
    assert events.count("lost") == 1


def test_binary_message_is_1003(make: Any) -> None:
    server = make()
    ws = WS(server)
    ws.texts()
    ws.peer.send_binary(b'["a"]')
    ws.push()
    frames = ws.frames()
    assert ws.close_frame(frames).code == 1003
    assert ws.closed_by_server
    assert_idle(server)


def test_oversize_message_is_1009_and_the_limit_itself_passes(make: Any) -> None:
    """``max_message_size`` counts the WebSocket payload: equal passes, one more is 1009."""
    server = make(settings={"max_message_size": 64})
    ws = WS(server)
    ws.texts()
    at_limit = json.dumps(["x" * 60])
    assert len(at_limit) == 64
    ws.send(at_limit)
    assert ws.texts() == ["a" + at_limit]
    ws.send(json.dumps(["x" * 61]))
    frames = ws.frames()
    assert ws.close_frame(frames).code == 1009
    assert ws.closed_by_server
    assert_idle(server)


def test_oversize_fragmented_and_compressed_are_1009(make: Any) -> None:
    server = make(settings={"max_message_size": 64})
    ws = WS(server)
    ws.texts()
    ws.peer.send_text(b'["' + b"x" * 40, fin=False)
    ws.peer.send_continuation(b"x" * 40 + b'"]', fin=True)
    ws.push()
    assert ws.close_frame(ws.frames()).code == 1009
    ws = WS(server, deflate=True)
    ws.texts()
    ws.send(json.dumps(["y" * 1000]))  # compresses to a few bytes, inflates past the limit
    assert ws.close_frame(ws.frames()).code == 1009
    assert_idle(server)


def test_invalid_utf8_is_1007(make: Any) -> None:
    server = make()
    ws = WS(server)
    ws.texts()
    ws.send_raw(masked(0x1, b'["\xff"]'))
    assert ws.close_frame(ws.frames()).code == 1007
    assert ws.closed_by_server
    assert_idle(server)


@pytest.mark.parametrize(
    "garbage",
    [
        masked(0x1, b'["a"]', mask=False),  # unmasked client frame
        masked(0x1, b'["a"]', rsv=2),  # reserved bit without an extension
        masked(0x3, b"x"),  # reserved opcode
        masked(0x9, b"p", fin=False),  # fragmented control frame
        b"GET / HTTP/1.1\r\n\r\n",  # not WebSocket at all
    ],
)
def test_framing_violations_are_1002(make: Any, garbage: bytes) -> None:
    conn_class, events = helpers.recording()
    server = make(conn_class)
    ws = WS(server)
    ws.texts()
    ws.send_raw(garbage)
    assert ws.close_frame(ws.frames()).code == 1002
    assert ws.closed_by_server
    assert events.names() == ["made", "lost"]
    assert_idle(server)


def test_refused_connection(make: Any, logs: helpers.LogCapture) -> None:
    """connectionMade returning False -> ``c[3000,"Go away!"]``; raising -> ``c[1011,...]``.

    Either way the application gets no connectionLost.
    """
    for on_open, close in (
        (lambda conn, info: False, 'c[3000,"Go away!"]'),
        (lambda conn, info: 1 / 0, 'c[1011,"Internal server error"]'),
    ):
        conn_class, events = helpers.recording(on_open=on_open)
        server = make(conn_class)
        ws = WS(server)
        frames = ws.frames()
        assert frame_texts(frames) == ["o", close]
        assert ws.closed_by_server
        assert events.names() == ["made"]
        assert_idle(server)
    assert len(logs.take_failures()) == 1


def test_failing_message_handler_closes_with_1011(make: Any, logs: helpers.LogCapture) -> None:
    conn_class, events = helpers.recording(on_message=lambda conn, msg: 1 / 0)
    server = make(conn_class)
    ws = WS(server)
    ws.texts()
    ws.send('["boom"]')
    frames = ws.frames()
    assert frame_texts(frames) == ['c[1011,"Internal server error"]']
    assert ws.close_frame(frames).code == 1000
    assert events.count("lost") == 1
    assert len(logs.take_failures()) == 1
    assert_idle(server)


def test_async_message_handler_keeps_order(make: Any) -> None:
    """A Deferred from messageReceived holds back the next message of the session."""
    waiting: list[Deferred[None]] = []

    class Slow(SockJSConnection):
        def messageReceived(self, message: Any) -> Deferred[None]:
            self.sendMessage("start " + message)
            d: Deferred[None] = Deferred()
            d.addCallback(lambda _: self.sendMessage("end " + message))
            waiting.append(d)
            return d

    server = make(Slow)
    ws = WS(server)
    ws.texts()
    ws.send('["1","2"]')
    assert ws.texts() == ['a["start 1"]']
    waiting.pop(0).callback(None)
    assert ws.texts() == ['a["end 1"]', 'a["start 2"]']
    waiting.pop(0).callback(None)
    assert ws.texts() == ['a["end 2"]']
    ws.close()


# ---------------------------------------------------------------------------
# Timers and back-pressure
# ---------------------------------------------------------------------------


def test_heartbeats(make: Any) -> None:
    """PROTOCOL.md 6.5: ``h`` every ``heartbeat_delay`` as a text message."""
    server = make(settings={"heartbeat_delay": 10, "disconnect_delay": 3})
    ws = WS(server)
    assert ws.texts() == ["o"]
    server.advance(9.9)
    assert ws.texts() == []
    server.advance(0.1)
    assert ws.texts() == ["h"]
    server.advance(10)
    assert ws.texts() == ["h"]
    # disconnect_delay plays no part while the WebSocket is open.
    server.advance(3)
    assert ws.texts() == []
    assert server.router.session_count == 1
    ws.close()
    assert_idle(server)


def test_back_pressure_queues_then_flushes(make: Any) -> None:
    server = make()
    ws = WS(server)
    ws.texts()
    conn = server.router.connections[0]
    assert ws.conn.producer is not None and ws.conn.transport.streaming
    ws.conn.producer.pauseProducing()
    conn.sendMessage("one")
    conn.sendMessage("two")
    assert ws.texts() == []
    ws.conn.producer.resumeProducing()
    assert ws.texts() == ['a["one","two"]']
    conn.sendMessage("three")
    assert ws.texts() == ['a["three"]']
    ws.close()
    assert ws.conn.producer is None  # unregistered before the TCP close
    assert_idle(server)


def test_slow_consumer_is_closed_with_1013(make: Any) -> None:
    seen: list[Any] = []
    conn_class, events = helpers.recording(on_close=lambda conn: seen.append(conn.close_info))
    server = make(conn_class, settings={"max_queued_bytes": 1000})
    ws = WS(server)
    ws.texts()
    producer = ws.conn.producer
    producer.pauseProducing()
    conn = events.conns[0]
    for _ in range(9):
        conn.sendMessage("x" * 100)
    assert ws.texts() == []
    conn.sendMessage("x" * 100)
    frames = ws.frames()
    assert frame_texts(frames) == ['c[1013,"Slow consumer: too many queued bytes"]']
    assert ws.close_frame(frames).code == 1000
    assert ws.closed_by_server
    assert ws.conn.producer is None
    assert events.names() == ["made", "lost"]
    # The close details are known when connectionLost runs.
    assert [(info.code, info.initiator) for info in seen] == [(1013, "server")]
    assert_idle(server)


def test_stats_count_websockets(make: Any) -> None:
    server = make()
    ws = WS(server)
    ws.send('["a"]')
    stats = server.router.stats.dump()
    assert stats["connections_active"] == 1
    assert stats["sessions_active"] == 1
    assert stats["transp_websocket"] == 1
    ws.close()
    stats = server.router.stats.dump()
    assert stats["connections_active"] == 0
    assert stats["sessions_active"] == 0
    assert stats["messages_received"] == 1


def test_router_stop_closes_websockets_with_1001(make: Any) -> None:
    conn_class, events = helpers.recording()
    server = make(conn_class)
    sockjs_ws = WS(server)
    raw_ws = WS(server, "/websocket")
    sockjs_ws.texts()
    server.router.stop()
    for ws in (sockjs_ws, raw_ws):
        frames = ws.frames()
        assert frame_texts(frames) == []
        close = ws.close_frame(frames)
        assert (close.code, close.reason) == (1001, "Server going away")
        assert ws.closed_by_server
    assert events.count("lost") == 2
    assert [close_info(conn).code for conn in events.conns] == [1001, 1001]
    assert_idle(server)


# ---------------------------------------------------------------------------
# Hixie-76 (114, 115)
# ---------------------------------------------------------------------------


def test_hixie76_head_goes_out_before_key3(make: Any) -> None:
    """Checklist 114, 115, 116: 101 head first; after key3 the answer, then ``o``."""
    server = make()
    client = Hixie(server, key3=None)
    head = client.read()
    assert head == (
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Origin: http://localhost:8081\r\n"
        b"Sec-WebSocket-Location: ws://localhost:8081/echo/000/s1/websocket\r\n"
        b"\r\n"
    )
    assert server.router.session_count == 0  # no session before the handshake completes
    client.conn.send_raw(KEY3[:3])
    assert client.read() == b""
    client.conn.send_raw(KEY3[3:])
    assert client.read() == HIXIE_ANSWER + b"\x00o\xff"
    client.conn.send_raw(b'\x00["a"]\xff\x00\xff\x00"b"\xff')
    assert client.read() == b'\x00a["a"]\xff\x00a["b"]\xff'
    # The closing handshake is answered and TCP closed.
    client.conn.send_raw(b"\xff\x00")
    assert client.read() == b"\xff\x00"
    assert client.closed_by_server
    assert_idle(server)


def test_hixie76_key3_in_the_same_packet(make: Any) -> None:
    server = make()
    client = Hixie(server, key3=KEY3 + b'\x00["early"]\xff')
    head, rest = split_head(client.read())
    assert head.status == 101
    assert rest == HIXIE_ANSWER + b'\x00o\xff\x00a["early"]\xff'
    client.conn.abort()
    assert_idle(server)


def test_hixie76_without_origin(make: Any) -> None:
    server = make()
    client = Hixie(server, origin=None)
    head, rest = split_head(client.read())
    assert not head.has("Sec-WebSocket-Origin")
    assert rest == HIXIE_ANSWER + b"\x00o\xff"
    client.conn.abort()


def test_hixie76_application_close_and_broken_json(make: Any) -> None:
    conn_class, events = helpers.recording(on_open=lambda conn, info: conn.close())
    server = make(conn_class, "/close")
    client = Hixie(server)
    _, rest = split_head(client.read())
    assert rest == HIXIE_ANSWER + b'\x00o\xff\x00c[3000,"Go away!"]\xff\xff\x00'
    assert client.closed_by_server
    assert events.names() == ["made", "lost"]

    echo = make()
    client = Hixie(echo)
    client.read()
    client.conn.send_raw(b'\x00["a\xff')
    assert client.read() == b"\xff\x00"
    assert client.closed_by_server
    assert_idle(echo)


def test_hixie76_framing_errors_drop_the_connection(make: Any) -> None:
    server = make(settings={"max_message_size": 16})
    for garbage in (b"\x80\x05hello", b"\x00" + b"x" * 17, b'\x00["\xc3"]\xff'):
        client = Hixie(server)
        client.read()
        client.conn.send_raw(garbage)
        assert client.read() == b"\xff\x00"
        assert client.closed_by_server
    assert_idle(server)


def test_hixie76_heartbeat_and_drop(make: Any) -> None:
    conn_class, events = helpers.recording()
    server = make(conn_class, settings={"heartbeat_delay": 5})
    client = Hixie(server)
    client.read()
    server.advance(5)
    assert client.read() == b"\x00h\xff"
    client.conn.abort()
    assert events.names() == ["made", "lost"]
    assert_idle(server)


def test_hixie76_dropped_before_key3(make: Any) -> None:
    conn_class, events = helpers.recording()
    server = make(conn_class)
    client = Hixie(server, key3=b"aaa")
    client.read()
    client.conn.abort()
    assert events.names() == []
    assert_idle(server)


# ---------------------------------------------------------------------------
# Raw WebSocket (124-126, PROTOCOL.md 10.1 item 22)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["8", "13"])
def test_raw_echo(make: Any, version: str) -> None:
    """Checklist 124: ``Hello world!\\uFFFF`` comes back verbatim, no ``o`` first."""
    conn_class, events = helpers.recording()
    server = make(conn_class)
    ws = WS(server, "/websocket", version=version)
    assert ws.head.header("Sec-WebSocket-Accept") == ACCEPT
    assert ws.frames() == []
    ws.send("Hello world!\uffff")
    assert ws.texts() == ["Hello world!\uffff"]
    ws.send('["not", "json-decoded"]')
    assert ws.texts() == ['["not", "json-decoded"]']
    assert events.messages() == ["Hello world!\uffff", '["not", "json-decoded"]']
    assert events.infos[0].transport == "rawwebsocket"
    # No SockJS heartbeats on the raw endpoint: pings only, which the client answers.
    server.advance(3600)
    frames = ws.frames()
    assert frames and {frame.opcode for frame in frames} == {Opcode.PING}
    assert not ws.closed_by_server
    ws.close()
    assert events.count("lost") == 1
    assert_idle(server)


def test_raw_with_compression(make: Any) -> None:
    server = make()
    ws = WS(server, "/websocket", deflate=True)
    assert ws.head.has("Sec-WebSocket-Extensions")
    ws.send("zz" * 500)
    assert ws.texts() == ["zz" * 500]
    ws.close()


def test_raw_close_service(make: Any) -> None:
    """Checklist 126: closed by the server right after the handshake, no message."""
    conn_class, events = helpers.recording(on_open=lambda conn, info: conn.close())
    server = make(conn_class, "/close")
    ws = WS(server, "/websocket")
    frames = ws.frames()
    close = ws.close_frame(frames)
    assert len(frames) == 1
    assert (close.code, close.reason) == (3000, "Go away!")
    assert ws.closed_by_server
    assert events.names() == ["made", "lost"]
    assert_idle(server)


@pytest.mark.parametrize(
    ("code", "reason", "wire"),
    [
        (4001, "custom reason", (4001, "custom reason")),
        (1000, "Normal closure", (1000, "Normal closure")),
        (2010, "not a wire code", (1000, "not a wire code")),
        (3000, "é" * 100, (3000, "é" * 61)),  # cut to 123 bytes at a character boundary
    ],
)
def test_raw_application_close_code_and_reason(
    make: Any, code: int, reason: str, wire: tuple[int, str]
) -> None:
    conn_class, events = helpers.recording(on_message=lambda conn, msg: conn.close(code, reason))
    server = make(conn_class)
    ws = WS(server, "/websocket")
    ws.send("please close")
    close = ws.close_frame(ws.frames())
    assert (close.code, close.reason) == wire
    assert ws.closed_by_server
    info = close_info(events.conns[0])
    assert (info.code, info.reason, info.initiator) == (code, reason, "application")
    assert events.count("lost") == 1
    # The application may call close() again, or send: nothing happens.
    events.conns[0].close()
    events.conns[0].sendMessage("late")
    assert ws.frames() == []
    assert_idle(server)


def test_raw_connection_lost_runs_once(make: Any) -> None:
    """PROTOCOL.md 10.1 item 22: the raw endpoint delivers *on close* (once)."""
    for end in ("close", "drop", "binary", "garbage"):
        conn_class, events = helpers.recording()
        server = make(conn_class)
        ws = WS(server, "/websocket")
        assert len(server.router.connections) == 1
        if end == "close":
            ws.close(1001, "leaving")
        elif end == "drop":
            ws.drop()
        elif end == "binary":
            ws.peer.send_binary(b"\x00\x01")
            ws.push()
            assert ws.close_frame(ws.frames()).code == 1003
        else:
            ws.send_raw(masked(0x1, b"x", mask=False))
            assert ws.close_frame(ws.frames()).code == 1002
        assert events.names() == ["made", "lost"], end
        assert server.router.connections == []
        ws.drop()
        assert events.count("lost") == 1
        assert_idle(server)


def test_raw_refused_connection(make: Any, logs: helpers.LogCapture) -> None:
    """connectionMade returning False -> Close 3000; raising -> Close 1011."""
    for on_open, expected in (
        (lambda conn, info: False, (3000, "Go away!")),
        (lambda conn, info: 1 / 0, (1011, "Internal server error")),
    ):
        conn_class, events = helpers.recording(on_open=on_open)
        server = make(conn_class)
        ws = WS(server, "/websocket")
        close = ws.close_frame(ws.frames())
        assert (close.code, close.reason) == expected
        assert events.names() == ["made"]
        assert server.router.connections == []
    assert len(logs.take_failures()) == 1


def test_raw_failing_and_async_message_handlers(make: Any, logs: helpers.LogCapture) -> None:
    conn_class, events = helpers.recording(on_message=lambda conn, msg: 1 / 0)
    server = make(conn_class)
    ws = WS(server, "/websocket")
    ws.send("a")
    ws.send("b")
    close = ws.close_frame(ws.frames())
    assert (close.code, close.reason) == (1011, "Internal server error")
    assert events.messages() == ["a"]
    assert len(logs.take_failures()) == 1

    waiting: list[Deferred[None]] = []

    class Slow(SockJSConnection):
        def messageReceived(self, message: Any) -> Deferred[None]:
            d: Deferred[None] = Deferred()
            d.addCallback(lambda _: self.sendMessage(message.upper()))
            waiting.append(d)
            return d

    server = make(Slow)
    ws = WS(server, "/websocket")
    ws.send("a")
    ws.send("b")
    assert len(waiting) == 1
    waiting.pop().callback(None)
    waiting.pop().callback(None)
    assert ws.texts() == ["A", "B"]
    ws.close()


def test_raw_non_string_messages_and_broadcast(make: Any) -> None:
    conn_class, events = helpers.recording()
    server = make(conn_class)
    raw = WS(server, "/websocket")
    sockjs = WS(server)
    sockjs.texts()
    raw_conn, sockjs_conn = events.conns
    raw_conn.sendMessage({"k": [1, "é"]})
    assert raw.texts() == ['{"k":[1,"\\u00e9"]}']
    assert set(server.router.connections) == {raw_conn, sockjs_conn}
    server.router.broadcast(server.router.connections, "to all")
    server.router.broadcast([raw_conn, sockjs_conn], 7)
    assert raw.texts() == ["to all", "7"]
    assert sockjs.texts() == ['a["to all"]', "a[7]"]
    raw_conn.broadcast([sockjs_conn], "from raw")
    assert sockjs.texts() == ['a["from raw"]']
    raw.close()
    sockjs.close()
    assert_idle(server)


def test_raw_slow_consumer_is_closed_with_1013(make: Any) -> None:
    conn_class, events = helpers.recording()
    server = make(conn_class, settings={"max_queued_bytes": 1000})
    ws = WS(server, "/websocket")
    ws.conn.producer.pauseProducing()
    conn = events.conns[0]
    for _ in range(10):
        conn.sendMessage("x" * 100)
    assert not ws.conn.transport.disconnecting
    ws.conn.producer.resumeProducing()  # resets the count
    ws.conn.producer.pauseProducing()
    for _ in range(11):
        conn.sendMessage("x" * 100)
    frames = ws.frames()
    assert len(frame_texts(frames)) == 21
    close = ws.close_frame(frames)
    assert (close.code, close.reason) == (1013, "Slow consumer: too many queued bytes")
    assert ws.closed_by_server
    assert ws.conn.producer is None
    assert events.count("lost") == 1
    assert_idle(server)


def test_raw_stats(make: Any) -> None:
    server = make()
    ws = WS(server, "/websocket")
    ws.send("x")
    stats = server.router.stats.dump()
    assert stats["transp_rawwebsocket"] == 1
    assert stats["connections_active"] == 1
    assert stats["messages_received"] == 1
    assert stats["messages_sent"] == 1
    ws.drop()
    stats = server.router.stats.dump()
    assert stats["transp_rawwebsocket"] == 0
    assert stats["connections_active"] == 0


def test_raw_asynchronous_hooks(make: Any, logs: helpers.LogCapture) -> None:
    """Messages wait for a Deferred connectionMade; coroutine hooks work too."""
    opening: list[Deferred[None]] = []
    log: list[str] = []

    class Async(SockJSConnection):
        def connectionMade(self, info: Any) -> Deferred[None]:
            d: Deferred[None] = Deferred()
            opening.append(d)
            return d

        async def messageReceived(self, message: Any) -> None:
            log.append(message)
            self.sendMessage(message + "!")

        def connectionLost(self) -> None:
            log.append("lost")

    server = make(Async)
    ws = WS(server, "/websocket")
    ws.send("early")
    ws.send("second")
    assert log == []
    opening.pop().callback(None)
    assert log == ["early", "second"]
    assert ws.texts() == ["early!", "second!"]
    ws.close()
    assert log == ["early", "second", "lost"]

    class Failing(SockJSConnection):
        def connectionMade(self, info: Any) -> Deferred[None]:
            d: Deferred[None] = Deferred()
            opening.append(d)
            return d

        def connectionLost(self) -> Deferred[None]:
            d: Deferred[None] = Deferred()
            d.errback(RuntimeError("lost failed"))
            return d

    server = make(Failing)
    ws = WS(server, "/websocket")
    opening.pop().errback(RuntimeError("no"))
    close = ws.close_frame(ws.frames())
    assert (close.code, close.reason) == (1011, "Internal server error")
    assert len(logs.take_failures()) == 1
    ws = WS(server, "/websocket")
    opening.pop().callback(None)
    ws.close()
    assert len(logs.take_failures()) == 2  # the failing connectionLost is logged
    assert_idle(server)


def test_raw_failing_deferred_message_handler(make: Any, logs: helpers.LogCapture) -> None:
    class Failing(SockJSConnection):
        def messageReceived(self, message: Any) -> Deferred[None]:
            d: Deferred[None] = Deferred()
            d.errback(ValueError(message))
            return d

    server = make(Failing)
    ws = WS(server, "/websocket")
    ws.send("x")
    close = ws.close_frame(ws.frames())
    assert close.code == 1011
    assert len(logs.take_failures()) == 1
    assert_idle(server)


def test_disabled_websocket_refuses_other_methods_with_405(make: Any) -> None:
    server = make(settings={"disabled_transports": ["websocket"]})
    response = server.post("/0/0/websocket")
    assert response.status == 405
    assert response.header("Allow") == "GET"


def test_hixie76_key3_never_sent(make: Any) -> None:
    """A client that stops after the head is dropped after the handshake timeout."""
    conn_class, events = helpers.recording()
    server = make(conn_class)
    client = Hixie(server, key3=b"aaaa")
    client.read()
    server.advance(29.9)
    assert not client.conn.transport.disconnecting
    server.advance(0.1)
    assert client.closed_by_server
    assert client.read() == b""
    assert events.names() == []
    assert_idle(server)
    client.conn.abort()
    assert_idle(server)


def test_no_new_websocket_after_router_stop(make: Any) -> None:
    """A stopped router runs no timer: new WebSockets get 503, as new HTTP receivers do."""
    server = make()
    server.router.stop()
    for path in ("/000/s/websocket", "/websocket"):
        response = server.get(path, headers=hybi_headers())
        assert (response.status, response.body) == (503, b"Service stopped.")
    client = Hixie(server)
    assert client.conn.response().status == 503
    assert_idle(server)
