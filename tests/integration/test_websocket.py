"""Integration tests: SockJS over WebSocket (PROTOCOL.md 7.8, 7.10; checklist 11.J).

Against ``examples/test_server.py`` over real sockets: the ``websockets``
client library (RFC 6455, with and without permessage-deflate) for the
message flows, and hand-written handshakes on raw sockets for what no
maintained client speaks any more (hybi-07/08 version numbers, hixie-76) and
for byte-exact checks.  Every read is bounded by a timeout.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import Protocol, Side, State
from websockets.sync.client import ClientConnection, connect

from .rawhttp import RawHTTP, Response

KEY = "x3JJHMbDL1EzLkh9GBhXDw=="
ACCEPT = "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
KEY1 = "4 @1  46546xW%0l 1 5"
KEY2 = "12998 5 Y3 1  .P00"
HIXIE_ANSWER = bytes.fromhex("ca3400d8a50847972cd5715ababf437b")
TIMEOUT = 5.0
#: ``max_message_size`` of the test server's services (the default): bytes of
#: one WebSocket message payload, after decompression.
MAX_MESSAGE = 1024 * 1024
COMPRESSION = [pytest.param("deflate", id="deflate"), pytest.param(None, id="plain")]


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def ws_connect(
    port: int, path: str, compression: str | None = "deflate", **kwargs: Any
) -> Iterator[ClientConnection]:
    """A ``websockets`` client connection, bounded in time, no proxy, no pings."""
    with connect(
        f"ws://127.0.0.1:{port}{path}",
        compression=compression,
        proxy=None,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,
        **kwargs,
    ) as ws:
        yield ws


def closed_by_server(ws: ClientConnection) -> ConnectionClosed:
    """Wait until the server closes; return the exception that says how."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            ws.recv(timeout=TIMEOUT)
    return info.value


class RawWebSocket:
    """A WebSocket client on a bare socket: the handshake is written by hand.

    After :meth:`handshake`, frames are decoded with websockets' sans-I/O
    client protocol.  Only for what the library cannot do (old version
    numbers, byte-exact heads); flows use :func:`ws_connect`.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.http = RawHTTP(port, timeout=TIMEOUT)
        self.peer = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
        self._frames: list[Frame] = []

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def handshake(self, path: str, version: str = "13", **headers: str) -> Response:
        items = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", version),
            ("Sec-WebSocket-Key", KEY),
        ]
        for name, value in headers.items():
            items = [(n, v) for n, v in items if n.lower() != name.replace("_", "-").lower()]
            items.append((name.replace("_", "-"), value))
        self.http.send("GET", path, headers=items)
        return self.http.read_head()

    def send_text(self, text: str) -> None:
        self.peer.send_text(text.encode())
        self.http.send_raw(b"".join(self.peer.data_to_send()))

    def recv_frame(self, timeout: float = TIMEOUT) -> Frame | None:
        """The next frame, or ``None`` once the server closed TCP."""
        deadline = time.monotonic() + timeout
        while not self._frames:
            if self.http.closed_by_peer and not self.http._buf:
                return None
            data = self.http.read_available(max(0.0, min(0.2, deadline - time.monotonic())))
            if data:
                self.peer.receive_data(data)
                self._frames += [e for e in self.peer.events_received() if isinstance(e, Frame)]
            elif time.monotonic() >= deadline:
                raise TimeoutError("no frame from the server")
        return self._frames.pop(0)

    def recv_text(self) -> str:
        frame = self.recv_frame()
        assert frame is not None and frame.opcode is Opcode.TEXT, frame
        return bytes(frame.data).decode()


def hixie_request(port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Connection: Upgrade\r\n"
        "Upgrade: WebSocket\r\n"
        f"Origin: http://127.0.0.1:{port}\r\n"
        f"Sec-WebSocket-Key1: {KEY1}\r\n"
        f"Sec-WebSocket-Key2: {KEY2}\r\n"
        "\r\n"
    ).encode()


def read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until true or ``timeout`` (state changes cross processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# ---------------------------------------------------------------------------
# Handshake refusals (110, 111, 122)
# ---------------------------------------------------------------------------


def test_plain_get_is_400(server: Any) -> None:
    """Checklist 110: GET without upgrade headers -> 400 with the Upgrade text."""
    with RawHTTP(server.port) as conn:
        conn.send("GET", "/echo/0/0/websocket")
        response = conn.read_response()
    assert response.status == 400
    assert b'Can "Upgrade" only to "WebSocket".' in response.body


def test_connection_close_is_400(server: Any) -> None:
    """Checklist 111: ``Upgrade: WebSocket`` with ``Connection: close`` -> 400."""
    with RawHTTP(server.port) as conn:
        conn.send(
            "GET",
            "/echo/0/0/websocket",
            headers=[("Upgrade", "WebSocket"), ("Connection", "close")],
        )
        response = conn.read_response()
    assert response.status == 400
    assert response.body == b'"Connection" must be "Upgrade".'


def test_post_is_405(server: Any) -> None:
    with RawHTTP(server.port) as conn:
        conn.send("POST", "/echo/0/0/websocket")
        response = conn.read_response()
    assert response.status == 405
    assert response.header("Allow") == "GET"


def test_disabled_websocket_is_404(server: Any, sid: str) -> None:
    """Checklist 122: ``/disabled_websocket_echo/0/0/websocket`` -> 404."""
    with RawHTTP(server.port) as conn:
        conn.send("GET", "/disabled_websocket_echo/0/0/websocket")
        assert conn.read_response().status == 404
    with RawWebSocket(server.port) as ws:
        response = ws.handshake(f"/disabled_websocket_echo/000/{sid}/websocket")
        assert response.status == 404
    path = f"/disabled_websocket_echo/000/{sid}/websocket"
    with pytest.raises(InvalidStatus) as refused, ws_connect(server.port, path):
        pass
    assert refused.value.response.status_code == 404


# ---------------------------------------------------------------------------
# Handshakes (112-116)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["7", "8", "13"])
def test_hybi_handshake(server: Any, sid: str, version: str) -> None:
    """Checklist 112, 116: versions 7, 8, 13 -> 101 with the accept key; first message ``o``."""
    with RawWebSocket(server.port) as ws:
        head = ws.handshake(f"/echo/000/{sid}/websocket", version)
        assert head.status == 101
        assert (head.header("Upgrade") or "").lower() == "websocket"
        assert (head.header("Connection") or "").lower() == "upgrade"
        assert head.header("Sec-WebSocket-Accept") == ACCEPT
        assert not head.has_header("Content-Length")
        assert ws.recv_text() == "o"
        ws.send_text('["a"]')
        assert ws.recv_text() == 'a["a"]'


def test_hybi_origin_headers_of_old_versions(server: Any, sid: str) -> None:
    """hybi-07/08 send ``Sec-WebSocket-Origin``; the default allow-list takes any origin."""
    with RawWebSocket(server.port) as ws:
        head = ws.handshake(
            f"/echo/000/{sid}/websocket", "8", Sec_WebSocket_Origin="http://elsewhere.example"
        )
        assert head.status == 101
        assert ws.recv_text() == "o"


def test_keep_alive_upgrade(server: Any, sid: str) -> None:
    """Checklist 113: ``Connection: keep-alive, Upgrade`` with version 7 -> 101."""
    with RawWebSocket(server.port) as ws:
        head = ws.handshake(f"/echo/000/{sid}/websocket", "7", Connection="keep-alive, Upgrade")
        assert head.status == 101
        assert ws.recv_text() == "o"


def test_hixie76_handshake(server: Any, sid: str) -> None:
    """Checklist 114, 115, 116: 101 before key3, the MD5 answer, then ``o``."""
    path = f"/echo/000/{sid}/websocket"
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(hixie_request(server.port, path))
        head = read_head(sock).decode("latin-1")  # arrives although key3 was not sent
        lines = head.split("\r\n")
        assert lines[0] == "HTTP/1.1 101 WebSocket Protocol Handshake"
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        assert headers["upgrade"].lower() == "websocket"
        assert headers["connection"].lower() == "upgrade"
        assert headers["sec-websocket-location"] == f"ws://127.0.0.1:{server.port}{path}"
        assert headers["sec-websocket-origin"] == f"http://127.0.0.1:{server.port}"
        assert "content-length" not in headers
        sock.sendall(b"aaaaaaaa")
        assert read_exactly(sock, 16) == HIXIE_ANSWER
        assert read_exactly(sock, 3) == b"\x00o\xff"
        sock.sendall(b'\x00["a"]\xff')
        assert read_exactly(sock, 8) == b'\x00a["a"]\xff'
        sock.sendall(b'\x00\xff\x00"b"\xff')  # an empty message, then a bare string
        assert read_exactly(sock, 8) == b'\x00a["b"]\xff'
        sock.sendall(b"\xff\x00")
        assert read_exactly(sock, 2) == b"\xff\x00"
        assert sock.recv(10) == b""


def test_hixie76_close_service_and_broken_json(server: Any, sid: str) -> None:
    """Checklist 119, 120 over hixie-76: ``c`` frame, then ``0xFF 0x00`` and EOF."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(hixie_request(server.port, f"/close/000/{sid}/websocket") + b"aaaaaaaa")
        read_head(sock)
        expected = HIXIE_ANSWER + b'\x00o\xff\x00c[3000,"Go away!"]\xff\xff\x00'
        assert read_exactly(sock, len(expected)) == expected
        assert sock.recv(10) == b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(hixie_request(server.port, f"/echo/000/{sid}/websocket") + b"aaaaaaaa")
        read_head(sock)
        assert read_exactly(sock, 19) == HIXIE_ANSWER + b"\x00o\xff"
        sock.sendall(b'\x00["a\xff')
        assert read_exactly(sock, 2) == b"\xff\x00"
        assert sock.recv(10) == b""


# ---------------------------------------------------------------------------
# Messages (116-118, 121, 123) with a real client, compressed or not
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("compression", COMPRESSION)
def test_echo(server: Any, sid: str, compression: str | None) -> None:
    """Checklist 116, 117, 118, 123: ``o``; arrays, empty messages and bare strings."""
    with ws_connect(server.port, f"/echo/000/{sid}/websocket", compression) as ws:
        assert ws.response is not None
        negotiated = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert (negotiated is not None) == (compression is not None)
        assert ws.recv(timeout=TIMEOUT) == "o"
        ws.send('["a"]')
        assert ws.recv(timeout=TIMEOUT) == 'a["a"]'
        ws.send("")
        ws.send('["a"]')
        assert ws.recv(timeout=TIMEOUT) == 'a["a"]'
        ws.send('"a"')
        assert ws.recv(timeout=TIMEOUT) == 'a["a"]'
        ws.send('["b","c"]')
        first = ws.recv(timeout=TIMEOUT)
        assert first in ('a["b"]', 'a["b","c"]')
        if first == 'a["b"]':
            assert ws.recv(timeout=TIMEOUT) == 'a["c"]'
        text = "\u2028é\uffff" * 1000
        ws.send(json.dumps([text], ensure_ascii=False))
        assert json.loads(ws.recv(timeout=TIMEOUT)[1:]) == [text]
        ws.send(['["frag', 'mented"]'])  # one message in two frames
        assert ws.recv(timeout=TIMEOUT) == 'a["fragmented"]'


def test_fragmented_frames_are_assembled(server: Any, sid: str) -> None:
    with ws_connect(server.port, f"/echo/000/{sid}/websocket", None) as ws:
        assert ws.recv(timeout=TIMEOUT) == "o"
        ws.send(iter(['["hel', "lo", '"]']))
        assert ws.recv(timeout=TIMEOUT) == 'a["hello"]'
        pong = ws.ping(b"ping")
        assert pong.wait(TIMEOUT)


def test_broken_json_closes(server: Any, sid: str) -> None:
    """Checklist 119: ``["a`` -> the server closes (3000 ``Broken framing.``, no ``c``)."""
    with ws_connect(server.port, f"/echo/000/{sid}/websocket") as ws:
        assert ws.recv(timeout=TIMEOUT) == "o"
        ws.send('["a')
        closed = closed_by_server(ws)
        assert closed.rcvd is not None
        assert (closed.rcvd.code, closed.rcvd.reason) == (3000, "Broken framing.")


def test_close_service(server: Any, sid: str) -> None:
    """Checklist 120: ``o``, ``c[3000,"Go away!"]``, then the server closes."""
    with ws_connect(server.port, f"/close/000/{sid}/websocket") as ws:
        assert ws.recv(timeout=TIMEOUT) == "o"
        assert ws.recv(timeout=TIMEOUT) == 'c[3000,"Go away!"]'
        closed = closed_by_server(ws)
        assert closed.rcvd is not None and closed.rcvd.code == 1000


def test_close_service_bytes(server: Any, sid: str) -> None:
    """Checklist 120, byte-level: Close right after ``c``, then end-of-stream."""
    with RawWebSocket(server.port) as ws:
        assert ws.handshake(f"/close/000/{sid}/websocket").status == 101
        assert ws.recv_text() == "o"
        assert ws.recv_text() == 'c[3000,"Go away!"]'
        close = ws.recv_frame()
        assert close is not None and close.opcode is Opcode.CLOSE
        assert Close.parse(bytes(close.data)).code == 1000
        assert ws.recv_frame() is None  # TCP closed by the server


def test_same_session_id_twice(server: Any, sid: str) -> None:
    """Checklist 121: two WebSockets with one id are independent; the id works again later."""
    path = f"/echo/000/{sid}/websocket"
    with ws_connect(server.port, path) as first, ws_connect(server.port, path) as second:
        assert first.recv(timeout=TIMEOUT) == "o"
        assert second.recv(timeout=TIMEOUT) == "o"
        first.send('["one"]')
        second.send('["two"]')
        assert first.recv(timeout=TIMEOUT) == 'a["one"]'
        assert second.recv(timeout=TIMEOUT) == 'a["two"]'
    with ws_connect(server.port, path) as third:
        assert third.recv(timeout=TIMEOUT) == "o"
        third.send('["three"]')
        assert third.recv(timeout=TIMEOUT) == 'a["three"]'


def test_binary_message_is_refused(server: Any, sid: str) -> None:
    with ws_connect(server.port, f"/echo/000/{sid}/websocket") as ws:
        assert ws.recv(timeout=TIMEOUT) == "o"
        ws.send(b'["a"]')
        closed = closed_by_server(ws)
        assert closed.rcvd is not None and closed.rcvd.code == 1003


# ---------------------------------------------------------------------------
# Size limit: max_message_size is 1 MiB of WebSocket payload
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("compression", COMPRESSION)
def test_one_mib_message_passes_and_one_byte_more_is_1009(
    server: Any, sid: str, compression: str | None
) -> None:
    """A message of exactly 1 MiB (the JSON text) is echoed; 1 MiB + 1 byte gets 1009.

    "1 MiB message" means the WebSocket message payload, ``["xx...x"]``, counted
    in bytes after decompression: the largest SockJS message is 4 bytes shorter.
    """
    path = f"/echo/000/{sid}/websocket"
    at_limit = json.dumps(["x" * (MAX_MESSAGE - 4)])
    assert len(at_limit) == MAX_MESSAGE
    with ws_connect(server.port, path, compression, max_size=2 * MAX_MESSAGE) as ws:
        assert ws.recv(timeout=TIMEOUT) == "o"
        ws.send(at_limit)
        assert ws.recv(timeout=TIMEOUT * 2) == "a" + at_limit
        ws.send(json.dumps(["x" * (MAX_MESSAGE - 3)]))
        closed = closed_by_server(ws)
        assert closed.rcvd is not None and closed.rcvd.code == 1009


# ---------------------------------------------------------------------------
# Lifecycle, heartbeats, load
# ---------------------------------------------------------------------------


def test_session_ends_when_the_client_closes(
    server: Any, sid: str, server_state: Callable[[], dict[str, Any]]
) -> None:
    """PROTOCOL.md 7.8: the session closes at once (no disconnect_delay)."""
    with ws_connect(server.port, f"/amplify/000/{sid}/websocket") as ws:
        assert ws.recv(timeout=TIMEOUT) == "o"
        assert wait_for(lambda: server_state()["sessions"]["/amplify"] >= 1)
        ws.send('["3"]')
        assert ws.recv(timeout=TIMEOUT) == 'a["xxxxxxxx"]'
    # TCP dropped without a Close frame works the same.
    with RawWebSocket(server.port) as raw:
        raw.handshake(f"/amplify/000/{sid}/websocket")
        assert raw.recv_text() == "o"
    assert wait_for(lambda: server_state()["sessions"]["/amplify"] == 0)


def test_heartbeat(server: Any, sid: str) -> None:
    """PROTOCOL.md 6.5: an idle WebSocket gets ``h`` (``/heartbeat_echo``: every second)."""
    with ws_connect(server.port, f"/heartbeat_echo/000/{sid}/websocket") as ws:
        assert ws.recv(timeout=TIMEOUT) == "o"
        assert ws.recv(timeout=TIMEOUT) == "h"
        assert ws.recv(timeout=TIMEOUT) == "h"


def test_broadcast_reaches_websockets(server: Any) -> None:
    with (
        ws_connect(server.port, "/broadcast/000/b1/websocket") as one,
        ws_connect(server.port, "/broadcast/000/b2/websocket") as two,
    ):
        assert one.recv(timeout=TIMEOUT) == "o"
        assert two.recv(timeout=TIMEOUT) == "o"
        one.send('["hi all"]')
        assert one.recv(timeout=TIMEOUT) == 'a["hi all"]'
        assert two.recv(timeout=TIMEOUT) == 'a["hi all"]'


def test_hundred_concurrent_sessions(
    server: Any, server_state: Callable[[], dict[str, Any]]
) -> None:
    """100 WebSockets open at once, each echoing its own messages, then all closed."""
    before = server_state()["sessions"]["/echo"]
    with contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(ws_connect(server.port, f"/echo/000/c{i}/websocket", None))
            for i in range(100)
        ]
        for ws in clients:
            assert ws.recv(timeout=TIMEOUT) == "o"
        assert server_state()["sessions"]["/echo"] >= 100
        for i, ws in enumerate(clients):
            ws.send(json.dumps([f"m{i}", f"n{i}"]))
        for i, ws in enumerate(clients):
            received = str(ws.recv(timeout=TIMEOUT))
            if received == f'a["m{i}"]':
                received += str(ws.recv(timeout=TIMEOUT))
            assert received in (f'a["m{i}","n{i}"]', f'a["m{i}"]a["n{i}"]')
    assert wait_for(lambda: server_state()["sessions"]["/echo"] <= before)


def test_many_sequential_connections_leave_nothing(
    server: Any, server_state: Callable[[], dict[str, Any]]
) -> None:
    """Handshake refusals and aborted handshakes leave no session or timer behind."""
    delayed_before = server_state()["delayed_calls"]
    for i in range(20):
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
            # A hixie-76 client that goes away before sending key3.
            sock.sendall(hixie_request(server.port, f"/echo/000/h{i}/websocket") + b"aaa")
            read_head(sock)
        with RawWebSocket(server.port) as ws:
            assert ws.handshake("/echo/000/x/websocket", "99").status == 400
    assert wait_for(lambda: server_state()["sessions"]["/echo"] == 0, timeout=15)
    assert wait_for(lambda: server_state()["delayed_calls"] <= delayed_before, timeout=15)


def test_client_that_stops_reading_is_closed_with_1013(
    server: Any, sid: str, server_state: Callable[[], dict[str, Any]]
) -> None:
    """Back-pressure: past ``max_queued_bytes`` the session closes with 1013; others go on."""
    with RawWebSocket(server.port) as ws:
        ws.http.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert ws.handshake(f"/amplify/000/{sid}/websocket").status == 101
        peer = Protocol(Side.CLIENT, state=State.OPEN)
        for _ in range(64):
            peer.send_text(b'["18"]')  # 256 KiB answers: 16 MiB in all, not read for now
        ws.http.send_raw(b"".join(peer.data_to_send()))
        # The session closes while the client reads nothing...
        assert wait_for(lambda: server_state()["sessions"]["/amplify"] == 0, timeout=30)
        # ...and the server still serves everyone else.
        with ws_connect(server.port, "/echo/000/other/websocket") as other:
            assert other.recv(timeout=TIMEOUT) == "o"
            other.send('["still fine"]')
            assert other.recv(timeout=TIMEOUT) == 'a["still fine"]'
        texts = []
        while True:
            frame = ws.recv_frame(timeout=30)
            assert frame is not None, "TCP closed without a Close frame"
            if frame.opcode is Opcode.CLOSE:
                break
            texts.append(bytes(frame.data).decode())
        assert ws.recv_frame() is None
    assert texts[0] == "o"
    assert texts[-1] == 'c[1013,"Slow consumer: too many queued bytes"]'
    answers = texts[1:-1]
    assert all(text == 'a["' + "x" * 2**18 + '"]' for text in answers)
    assert len(answers) < 64, len(answers)  # the rest was never buffered
