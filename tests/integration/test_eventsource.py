"""Integration tests: EventSource transport (PROTOCOL.md 7.6; checklist 11.H).

Read chunk by chunk: the ``\\r\\n`` prelude and every ``data:`` event must each
be a chunk of their own.
"""

from __future__ import annotations

from typing import Any

from .rawhttp import RawHTTP, Response, request

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
SSE_TYPE = "text/event-stream; charset=UTF-8"


def _path(sid: str, transport: str, prefix: str = "/echo") -> str:
    return f"{prefix}/000/{sid}/{transport}"


def send(port: int, sid: str, body: bytes) -> Response:
    """One ``xhr_send`` to /echo on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr_send"), body=body)


def open_eventsource(conn: RawHTTP, sid: str, prefix: str = "/echo") -> Response:
    """Start an eventsource request; return its head with the body unread."""
    conn.send("GET", _path(sid, "eventsource", prefix))
    return conn.read_head()


def test_eventsource_headers(server: Any, sid: str) -> None:
    """Checklist 96: eventsource -> 200, ``text/event-stream; charset=UTF-8``, no-cache."""
    with RawHTTP(server.port) as conn:
        head = open_eventsource(conn, sid)
        assert head.status == 200
        assert head.header("Content-Type") == SSE_TYPE
        assert head.header("Cache-Control") == NO_CACHE
        assert not head.has_header("Expires")
        assert not head.has_header("Last-Modified")
        # HTTP/1.1 streaming: chunked, never a Content-Length (PROTOCOL.md 4.7).
        assert head.header("Transfer-Encoding") == "chunked"
        assert not head.has_header("Content-Length")


def test_eventsource_prelude_and_open(server: Any, sid: str) -> None:
    """Checklist 97: first chunk exactly ``\\r\\n``, second exactly ``data: o\\r\\n\\r\\n``."""
    with RawHTTP(server.port) as conn:
        open_eventsource(conn, sid)
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b"data: o\r\n\r\n"


def test_eventsource_message(server: Any, sid: str) -> None:
    """Checklist 98: after xhr_send ``["x"]`` the next chunk is ``data: a["x"]\\r\\n\\r\\n``."""
    with RawHTTP(server.port) as conn:
        open_eventsource(conn, sid)
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b"data: o\r\n\r\n"
        assert send(server.port, sid, b'["x"]').status == 204
        assert conn.read_chunk() == b'data: a["x"]\r\n\r\n'


def test_eventsource_control_characters(server: Any, sid: str) -> None:
    """Checklist 99: JSON ``["  \\u0000\\n\\r "]`` comes back with the escapes literal."""
    with RawHTTP(server.port) as conn:
        open_eventsource(conn, sid)
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b"data: o\r\n\r\n"
        assert send(server.port, sid, b'["  \\u0000\\n\\r "]').status == 204
        assert conn.read_chunk() == b'data: a["  \\u0000\\n\\r "]\r\n\r\n'


def test_eventsource_percent_escaped(server: Any, sid: str) -> None:
    """Checklist 100: a message ``100%`` arrives as ``data: a["100%25"]\\r\\n\\r\\n``."""
    with RawHTTP(server.port) as conn:
        open_eventsource(conn, sid)
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b"data: o\r\n\r\n"
        assert send(server.port, sid, b'["100%"]').status == 204
        assert conn.read_chunk() == b'data: a["100%25"]\r\n\r\n'


def test_eventsource_response_limit(server: Any, sid: str) -> None:
    """Checklist 101: with limit 4096, one echo of a 4096-character message ends the stream."""
    message = "m" * 4096
    with RawHTTP(server.port) as conn:
        open_eventsource(conn, sid)
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b"data: o\r\n\r\n"
        assert send(server.port, sid, f'["{message}"]'.encode()).status == 204
        assert conn.read_chunk() == b'data: a["' + message.encode() + b'"]\r\n\r\n'
        assert conn.read_chunk() == b""


def test_eventsource_resumes_after_limit(server: Any, sid: str) -> None:
    """Checklist 136: after the limit a new eventsource gets buffered data, no ``o``."""
    message = "m" * 4096
    with RawHTTP(server.port) as conn:
        open_eventsource(conn, sid)
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b"data: o\r\n\r\n"
        assert send(server.port, sid, f'["{message}"]'.encode()).status == 204
        assert conn.read_chunk().startswith(b'data: a["m')
        assert conn.read_chunk() == b""
    assert send(server.port, sid, b'["after"]').status == 204
    with RawHTTP(server.port) as conn:
        assert open_eventsource(conn, sid).status == 200
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b'data: a["after"]\r\n\r\n'


def test_eventsource_close_service(server: Any, sid: str) -> None:
    """Checklists 129, 130 (eventsource): on /close, ``o``, close frame, end."""
    with RawHTTP(server.port) as conn:
        open_eventsource(conn, sid, prefix="/close")
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b"data: o\r\n\r\n"
        assert conn.read_chunk() == b'data: c[3000,"Go away!"]\r\n\r\n'
        assert conn.read_chunk() == b""
        # Second request on the same (now CLOSING) session: replayed close frame only.
        open_eventsource(conn, sid, prefix="/close")
        assert conn.read_chunk() == b"\r\n"
        assert conn.read_chunk() == b'data: c[3000,"Go away!"]\r\n\r\n'
        assert conn.read_chunk() == b""
