"""Integration tests: raw WebSocket ``<prefix>/websocket`` (PROTOCOL.md 7.9; checklist 11.K).

No SockJS framing: no ``o``, no heartbeats, messages verbatim.  RFC 6455
only (versions 8 and 13).  Against ``examples/test_server.py`` with the
``websockets`` client (compression on and off) and raw sockets.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.frames import Close, Opcode

from .conftest import ServerProcess, check_output, start_server, stop_server
from .rawhttp import RawHTTP, request
from .test_websocket import (
    COMPRESSION,
    KEY1,
    KEY2,
    MAX_MESSAGE,
    TIMEOUT,
    RawWebSocket,
    closed_by_server,
    wait_for,
    ws_connect,
)

ECHO_TEXT = "Hello world!\uffff"
ONLY_RFC6455 = b"Only supported WebSocket protocol is RFC 6455."


@pytest.mark.parametrize("compression", COMPRESSION)
def test_raw_echo(server: Any, compression: str | None) -> None:
    """Checklist 124: ``Hello world!\\uFFFF`` comes back identical, no ``o`` first."""
    with ws_connect(server.port, "/echo/websocket", compression) as ws:
        assert ws.response is not None
        negotiated = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert (negotiated is not None) == (compression is not None)
        ws.send(ECHO_TEXT)
        assert ws.recv(timeout=TIMEOUT) == ECHO_TEXT
        for text in ("", '["not decoded"]', "é" * 10000, "\u2028\ud7ff"):
            ws.send(text)
            assert ws.recv(timeout=TIMEOUT) == text
        ws.send(iter(["frag", "mented"]))
        assert ws.recv(timeout=TIMEOUT) == "fragmented"
        assert ws.ping(b"x").wait(TIMEOUT)


@pytest.mark.parametrize("version", ["8", "13"])
def test_raw_versions_8_and_13(server: Any, version: str) -> None:
    """Checklist 124 on the wire: 101, then the first frame is the echo, not ``o``."""
    with RawWebSocket(server.port) as ws:
        head = ws.handshake("/echo/websocket", version)
        assert head.status == 101
        assert not head.has_header("Content-Length")
        ws.send_text(ECHO_TEXT)
        assert ws.recv_text() == ECHO_TEXT


def test_raw_no_heartbeat(server: Any) -> None:
    """No ``h`` on the raw endpoint, even where the service's heartbeat is 1 s."""
    with ws_connect(server.port, "/heartbeat_echo/websocket") as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=2.5)
        ws.send("still here")
        assert ws.recv(timeout=TIMEOUT) == "still here"


@pytest.mark.parametrize("version", ["7", "12"])
def test_raw_refuses_other_hybi_versions(server: Any, version: str) -> None:
    """Checklist 125: ``Sec-WebSocket-Version: 7`` (or any but 8/13) -> 400."""
    with RawWebSocket(server.port) as ws:
        response = ws.http.read_body(ws.handshake("/echo/websocket", version))
    assert response.status == 400
    assert response.body == ONLY_RFC6455


def test_raw_refuses_hixie(server: Any) -> None:
    """Checklist 125: a hixie-76 handshake on the raw endpoint -> 400."""
    headers = [
        ("Upgrade", "WebSocket"),
        ("Connection", "Upgrade"),
        ("Origin", f"http://127.0.0.1:{server.port}"),
        ("Sec-WebSocket-Key1", KEY1),
        ("Sec-WebSocket-Key2", KEY2),
    ]
    with RawHTTP(server.port) as conn:
        conn.send("GET", "/echo/websocket", headers=headers)
        response = conn.read_response()
    assert response.status == 400
    assert response.body == ONLY_RFC6455


def test_raw_plain_get_is_400(server: Any) -> None:
    with RawHTTP(server.port) as conn:
        conn.send("GET", "/echo/websocket")
        response = conn.read_response()
    assert response.status == 400
    assert response.body == b'Can "Upgrade" only to "WebSocket".'


def test_raw_close_service(server: Any) -> None:
    """Checklist 126: ``/close/websocket`` is closed by the server without any message."""
    with ws_connect(server.port, "/close/websocket") as ws:
        closed = closed_by_server(ws)
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (3000, "Go away!")
    with RawWebSocket(server.port) as raw:
        assert raw.handshake("/close/websocket").status == 101
        frame = raw.recv_frame()
        assert frame is not None and frame.opcode is Opcode.CLOSE
        assert Close.parse(bytes(frame.data)).code == 3000
        assert raw.recv_frame() is None


def test_raw_disabled_is_404(server: Any) -> None:
    """Checklist 127: ``/disabled_websocket_echo/websocket`` -> 404."""
    with RawHTTP(server.port) as conn:
        conn.send("GET", "/disabled_websocket_echo/websocket")
        assert conn.read_response().status == 404
    with (
        pytest.raises(InvalidStatus) as refused,
        ws_connect(server.port, "/disabled_websocket_echo/websocket"),
    ):
        pass
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize("compression", COMPRESSION)
def test_raw_one_mib_boundary(server: Any, compression: str | None) -> None:
    """Exactly 1 MiB of payload is echoed; one byte more gets 1009."""
    with ws_connect(server.port, "/echo/websocket", compression, max_size=2 * MAX_MESSAGE) as ws:
        ws.send("x" * MAX_MESSAGE)
        assert ws.recv(timeout=TIMEOUT * 2) == "x" * MAX_MESSAGE
        ws.send("x" * (MAX_MESSAGE + 1))
        closed = closed_by_server(ws)
    assert closed.rcvd is not None and closed.rcvd.code == 1009


def test_raw_binary_is_refused(server: Any) -> None:
    with ws_connect(server.port, "/echo/websocket") as ws:
        ws.send(b"\x00\x01")
        closed = closed_by_server(ws)
    assert closed.rcvd is not None and closed.rcvd.code == 1003


def test_raw_broadcast_and_amplify(server: Any) -> None:
    """Raw clients take part in broadcasts with plain text; the app's replies are verbatim."""
    with (
        ws_connect(server.port, "/broadcast/websocket") as raw,
        ws_connect(server.port, "/broadcast/000/b/websocket") as sockjs,
    ):
        assert sockjs.recv(timeout=TIMEOUT) == "o"
        sockjs.send('["from sockjs"]')
        assert sockjs.recv(timeout=TIMEOUT) == 'a["from sockjs"]'
        assert raw.recv(timeout=TIMEOUT) == "from sockjs"
        raw.send("from raw")
        assert raw.recv(timeout=TIMEOUT) == "from raw"
        assert sockjs.recv(timeout=TIMEOUT) == 'a["from raw"]'
    with ws_connect(server.port, "/amplify/websocket") as ws:
        ws.send("4")
        assert ws.recv(timeout=TIMEOUT) == "x" * 16


@pytest.fixture
def own_server() -> Iterator[ServerProcess]:
    """A test server of this test's own: its counters move only with this test."""
    srv = start_server()
    yield srv
    check_output(stop_server(srv))


def test_raw_sessions_end_with_the_socket(own_server: ServerProcess) -> None:
    """PROTOCOL.md 10.1 item 22: the raw close event happens; nothing is left behind.

    ``/ticker`` stops its per-connection timer in ``connectionLost``, so the
    server's pending timers go back down only if that hook runs.  The server
    is this test's own: on the shared one, other tests' sessions add and
    remove timers of their own while this one counts.
    """
    port = own_server.port

    def delayed_calls() -> int:
        state = json.loads(request(port, "GET", "/_test/state").body)
        count: int = state["delayed_calls"]
        return count

    before = delayed_calls()
    with ws_connect(port, "/ticker/websocket") as ws:
        assert ws.recv(timeout=TIMEOUT) == "tick!"
        assert delayed_calls() > before
    assert wait_for(lambda: delayed_calls() == before)
    with RawWebSocket(port) as raw:  # dropped without a Close frame
        raw.handshake("/ticker/websocket")
        assert raw.recv_text() == "tick!"
        assert delayed_calls() > before
    assert wait_for(lambda: delayed_calls() == before)


def test_raw_many_clients(server: Any) -> None:
    """Fifty raw clients at once, each echoing its own JSON-looking text verbatim."""
    with contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(ws_connect(server.port, "/echo/websocket", None)) for _ in range(50)
        ]
        for i, ws in enumerate(clients):
            ws.send(json.dumps({"n": i}))
        for i, ws in enumerate(clients):
            assert json.loads(ws.recv(timeout=TIMEOUT)) == {"n": i}


def test_raw_half_open_socket(server: Any) -> None:
    """A client that vanishes mid-handshake or mid-frame leaves the server healthy."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            b"GET /echo/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n\x81\xfe\x10\x00"
        )
    with ws_connect(server.port, "/echo/websocket") as ws:
        ws.send(ECHO_TEXT)
        assert ws.recv(timeout=TIMEOUT) == ECHO_TEXT
