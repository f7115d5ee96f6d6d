"""Integration tests: XHR streaming (PROTOCOL.md 7.2, 6.9; checklist 11.F, 136).

Streams are read one HTTP chunk at a time: the protocol requires the prelude
and every frame to travel in a chunk of its own.  ``/echo`` has
``response_limit`` 4096.
"""

from __future__ import annotations

from typing import Any

from .rawhttp import RawHTTP, Response, request

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
JS_TYPE = "application/javascript; charset=UTF-8"
PRELUDE = b"h" * 2048 + b"\n"


def _path(sid: str, transport: str, prefix: str = "/echo") -> str:
    return f"{prefix}/000/{sid}/{transport}"


def send(port: int, sid: str, body: bytes, prefix: str = "/echo") -> Response:
    """One ``xhr_send`` on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr_send", prefix), body=body)


def open_stream(conn: RawHTTP, sid: str, prefix: str = "/echo") -> Response:
    """Start an xhr_streaming request on ``conn``; return its head (body unread)."""
    conn.send("POST", _path(sid, "xhr_streaming", prefix))
    return conn.read_head()


def test_xhr_streaming_headers(server: Any, sid: str) -> None:
    """Checklist 76: xhr_streaming -> 200, JS content type, CORS, no-cache headers."""
    with RawHTTP(server.port) as conn:
        head = open_stream(conn, sid)
        assert head.status == 200
        assert head.header("Content-Type") == JS_TYPE
        assert head.header("Access-Control-Allow-Origin") == "*"
        assert head.header("Access-Control-Allow-Credentials") == "true"
        assert head.header("Cache-Control") == NO_CACHE
        assert not head.has_header("Expires")
        assert not head.has_header("Last-Modified")


def test_xhr_streaming_is_chunked(server: Any, sid: str) -> None:
    """Checklist 81: HTTP/1.1 xhr_streaming uses chunked encoding and no Content-Length."""
    with RawHTTP(server.port) as conn:
        head = open_stream(conn, sid)
        assert head.header("Transfer-Encoding") == "chunked"
        assert not head.has_header("Content-Length")


def test_xhr_streaming_prelude_chunk(server: Any, sid: str) -> None:
    """Checklist 77: the first chunk is exactly 2048 ``h`` bytes and ``\\n``."""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid)
        assert conn.read_chunk() == PRELUDE


def test_xhr_streaming_open_chunk(server: Any, sid: str) -> None:
    """Checklist 78: the second chunk of a new session is exactly ``o\\n``."""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid)
        assert conn.read_chunk() == PRELUDE
        assert conn.read_chunk() == b"o\n"


def test_xhr_streaming_delivers_message_chunk(server: Any, sid: str) -> None:
    """Checklist 79: after xhr_send ``["x"]`` the next chunk is exactly ``a["x"]\\n``."""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid)
        assert conn.read_chunk() == PRELUDE
        assert conn.read_chunk() == b"o\n"
        assert send(server.port, sid, b'["x"]').status == 204
        assert conn.read_chunk() == b'a["x"]\n'
        # The stream stays open for more frames.
        assert send(server.port, sid, b'["y"]').status == 204
        assert conn.read_chunk() == b'a["y"]\n'


def _fill_to_limit(port: int, conn: RawHTTP, sid: str) -> None:
    """Echo 31 messages of 128 characters and check the stream ends right after."""
    message = "x" * 128
    frame = b'a["' + message.encode() + b'"]\n'
    assert len(frame) == 134
    for count in range(1, 32):
        assert send(port, sid, f'["{message}"]'.encode()).status == 204
        chunk = conn.read_chunk()
        assert chunk == frame, f"echo {count}: {chunk[:60]!r}"
    # 2 + 31 * 134 = 4156 >= 4096: the terminating chunk follows at once.
    assert conn.read_chunk() == b""


def test_xhr_streaming_response_limit(server: Any, sid: str) -> None:
    """Checklist 80: with limit 4096, 31 echoes of 128 chars (134-byte chunks) end the response."""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid)
        assert conn.read_chunk() == PRELUDE
        assert conn.read_chunk() == b"o\n"
        _fill_to_limit(server.port, conn, sid)


def test_xhr_streaming_resumes_after_limit(server: Any, sid: str) -> None:
    """Checklist 136: after the limit ended a stream, a new one gets buffered frames, no ``o``."""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid)
        assert conn.read_chunk() == PRELUDE
        assert conn.read_chunk() == b"o\n"
        _fill_to_limit(server.port, conn, sid)
    # No receiver now: these echoes wait in the session buffer.
    assert send(server.port, sid, b'["b1"]').status == 204
    assert send(server.port, sid, b'["b2"]').status == 204
    with RawHTTP(server.port) as conn:
        head = open_stream(conn, sid)
        assert head.status == 200
        assert conn.read_chunk() == PRELUDE
        assert conn.read_chunk() == b'a["b1","b2"]\n'
        assert send(server.port, sid, b'["new"]').status == 204
        assert conn.read_chunk() == b'a["new"]\n'


def test_xhr_streaming_limit_twice_on_one_connection(server: Any, sid: str) -> None:
    """Checklists 80, 136: the keep-alive connection is reusable after the limit ended a stream."""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid)
        assert conn.read_chunk() == PRELUDE
        assert conn.read_chunk() == b"o\n"
        _fill_to_limit(server.port, conn, sid)
        # Second streaming request on the same socket: no ``o``, same budget.
        head = open_stream(conn, sid)
        assert head.status == 200
        assert conn.read_chunk() == PRELUDE
        message = "x" * 128
        frame = b'a["' + message.encode() + b'"]\n'
        # Without the 2-byte ``o`` frame, 31 frames reach 4154 >= 4096 as well.
        for count in range(1, 32):
            assert send(server.port, sid, f'["{message}"]'.encode()).status == 204
            assert conn.read_chunk() == frame, f"echo {count}"
        assert conn.read_chunk() == b""
