"""Integration tests: streaming over HTTP/1.0 and HTTP/1.1 (PROTOCOL.md 4.7; checklist 11.M).

HTTP/1.0 has no chunked encoding: a streaming response is raw bytes with no
length and ends when the server closes the socket.
"""

from __future__ import annotations

from typing import Any

from .rawhttp import RawHTTP, Response, request

PRELUDE = b"h" * 2048 + b"\n"
GO_AWAY = b'c[3000,"Go away!"]\n'


def _path(sid: str, transport: str, prefix: str) -> str:
    return f"{prefix}/000/{sid}/{transport}"


def send(port: int, sid: str, body: bytes) -> Response:
    """One ``xhr_send`` to /echo on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr_send", "/echo"), body=body)


def test_http10_xhr_streaming_close(server: Any, sid: str) -> None:
    """Checklist 143: HTTP/1.0 /close xhr_streaming -> raw prelude, ``o``, close, EOF."""
    with RawHTTP(server.port) as conn:
        conn.send("POST", _path(sid, "xhr_streaming", "/close"), version="HTTP/1.0")
        head = conn.read_head()
        assert head.status == 200
        assert not head.has_header("Transfer-Encoding")
        assert not head.has_header("Content-Length")
        connection = head.header("Connection")
        assert connection is None or connection.lower() == "close"
        body = conn.read_until_close()
    assert body == PRELUDE + b"o\n" + GO_AWAY


def test_http11_xhr_streaming_close(server: Any, sid: str) -> None:
    """Checklist 144: HTTP/1.1 /close xhr_streaming -> prelude, ``o``, close, last chunk."""
    with RawHTTP(server.port) as conn:
        conn.send("POST", _path(sid, "xhr_streaming", "/close"))
        head = conn.read_head()
        assert head.status == 200
        assert head.header("Transfer-Encoding") == "chunked"
        assert not head.has_header("Content-Length")
        assert conn.read_chunk() == PRELUDE
        assert conn.read_chunk() == b"o\n"
        assert conn.read_chunk() == GO_AWAY
        assert conn.read_chunk() == b""
        # The response was properly terminated: the connection takes another request.
        conn.send("GET", "/echo")
        again = conn.read_response()
    assert (again.status, again.body) == (200, b"Welcome to SockJS!\n")


def test_http10_xhr_streaming_echo(server: Any, sid: str) -> None:
    """Checklists 143, 79: HTTP/1.0 xhr_streaming on /echo streams raw frames as they happen."""
    with RawHTTP(server.port) as conn:
        conn.send("POST", _path(sid, "xhr_streaming", "/echo"), version="HTTP/1.0")
        head = conn.read_head()
        assert head.status == 200
        assert not head.has_header("Transfer-Encoding")
        assert not head.has_header("Content-Length")
        assert conn.read_exact(len(PRELUDE)) == PRELUDE
        assert conn.read_exact(2) == b"o\n"
        assert send(server.port, sid, b'["x"]').status == 204
        assert conn.read_exact(7) == b'a["x"]\n'


def test_http10_xhr_streaming_response_limit(server: Any, sid: str) -> None:
    """Checklists 143, 80: over HTTP/1.0 the response limit ends the stream with EOF."""
    message = "x" * 128
    frame = b'a["' + message.encode() + b'"]\n'
    with RawHTTP(server.port) as conn:
        conn.send("POST", _path(sid, "xhr_streaming", "/echo"), version="HTTP/1.0")
        assert conn.read_head().status == 200
        assert conn.read_exact(len(PRELUDE) + 2) == PRELUDE + b"o\n"
        for count in range(1, 31):
            assert send(server.port, sid, f'["{message}"]'.encode()).status == 204
            assert conn.read_exact(len(frame)) == frame, f"echo {count}"
        assert send(server.port, sid, f'["{message}"]'.encode()).status == 204
        # The 31st frame crosses 4096 bytes; nothing follows it but EOF.
        assert conn.read_until_close() == frame


def test_http10_eventsource_close(server: Any, sid: str) -> None:
    """Checklists 143, 97: HTTP/1.0 eventsource on /close -> raw events, then socket closed."""
    with RawHTTP(server.port) as conn:
        conn.send("GET", _path(sid, "eventsource", "/close"), version="HTTP/1.0")
        head = conn.read_head()
        assert head.status == 200
        assert not head.has_header("Transfer-Encoding")
        assert not head.has_header("Content-Length")
        body = conn.read_until_close()
    assert body == b'\r\ndata: o\r\n\r\ndata: c[3000,"Go away!"]\r\n\r\n'


def test_http10_htmlfile_close(server: Any, sid: str) -> None:
    """Checklists 143, 104: HTTP/1.0 htmlfile on /close -> raw prelude, scripts, EOF."""
    with RawHTTP(server.port) as conn:
        conn.send("GET", _path(sid, "htmlfile", "/close") + "?c=cb", version="HTTP/1.0")
        head = conn.read_head()
        assert head.status == 200
        assert not head.has_header("Transfer-Encoding")
        assert not head.has_header("Content-Length")
        body = conn.read_until_close()
    tail = b'<script>\np("o");\n</script>\r\n<script>\np("c[3000,\\"Go away!\\"]");\n</script>\r\n'
    assert body.endswith(b"\r\n\r\n" + tail), body[-200:]
    assert len(body) - len(tail) > 1024
    assert b"var c = parent.cb;" in body


def test_http10_xhr_poll(server: Any, sid: str) -> None:
    """Checklists 64, 66 over HTTP/1.0: polling and sending work without chunked encoding."""
    first = request(server.port, "POST", _path(sid, "xhr", "/echo"), version="HTTP/1.0")
    assert (first.status, first.body) == (200, b"o\n")
    assert not first.has_header("Transfer-Encoding")
    resp = request(
        server.port, "POST", _path(sid, "xhr_send", "/echo"), body=b'["q"]', version="HTTP/1.0"
    )
    assert resp.status == 204
    second = request(server.port, "POST", _path(sid, "xhr", "/echo"), version="HTTP/1.0")
    assert second.body == b'a["q"]\n'
    assert not second.has_header("Transfer-Encoding")
