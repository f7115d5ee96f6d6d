"""Integration tests: htmlfile ("forever iframe") transport (PROTOCOL.md 7.7; checklist 11.I)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .rawhttp import RawHTTP, Response, request

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
HTML_TYPE = "text/html; charset=UTF-8"

# The 7.7 prelude text (before padding) with CALLBACK standing for the name.
PRELUDE_TEMPLATE = (
    "<!doctype html>\n"
    "<html><head>\n"
    '  <meta http-equiv="X-UA-Compatible" content="IE=edge" />\n'
    '  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />\n'
    "</head><body><h2>Don't panic!</h2>\n"
    "  <script>\n"
    "    document.domain = document.domain;\n"
    "    var c = parent.CALLBACK;\n"
    "    c.start();\n"
    "    function p(d) {c.message(d);};\n"
    "    window.onload = function() {c.stop();};\n"
    "  </script>"
)


def _path(sid: str, transport: str, prefix: str = "/echo") -> str:
    return f"{prefix}/000/{sid}/{transport}"


def send(port: int, sid: str, body: bytes) -> Response:
    """One ``xhr_send`` to /echo on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr_send"), body=body)


def open_htmlfile(
    conn: RawHTTP, sid: str, query: str = "?c=%63allback", prefix: str = "/echo"
) -> Response:
    """Start an htmlfile request; return its head with the body unread."""
    conn.send("GET", _path(sid, "htmlfile", prefix) + query)
    return conn.read_head()


def script_chunk(frame: str) -> bytes:
    """Expected chunk for ``frame`` when the frame text has no ``<``."""
    return b"<script>\np(" + json.dumps(frame).encode() + b");\n</script>\r\n"


def start(conn: RawHTTP, sid: str) -> None:
    """Open an htmlfile stream and consume prelude and ``o``."""
    open_htmlfile(conn, sid)
    assert len(conn.read_chunk()) > 1024
    assert conn.read_chunk() == b'<script>\np("o");\n</script>\r\n'


def test_htmlfile_headers(server: Any, sid: str) -> None:
    """Checklist 102: htmlfile -> 200, ``text/html; charset=UTF-8``, no-cache headers."""
    with RawHTTP(server.port) as conn:
        head = open_htmlfile(conn, sid)
        assert head.status == 200
        assert head.header("Content-Type") == HTML_TYPE
        assert head.header("Cache-Control") == NO_CACHE
        assert not head.has_header("Expires")
        assert not head.has_header("Last-Modified")
        assert head.header("Transfer-Encoding") == "chunked"
        assert not head.has_header("Content-Length")


def test_htmlfile_prelude(server: Any, sid: str) -> None:
    """Checklist 103: the first chunk is > 1024 bytes and, stripped, is the 7.7 page."""
    with RawHTTP(server.port) as conn:
        open_htmlfile(conn, sid)
        prelude = conn.read_chunk()
    assert len(prelude) > 1024
    assert prelude.strip() == PRELUDE_TEMPLATE.replace("CALLBACK", "callback").encode()
    # Recommended exact construction: 653 spaces of padding and CRLF CRLF.
    assert prelude.endswith(b" \r\n\r\n")


def test_htmlfile_open_chunk(server: Any, sid: str) -> None:
    """Checklist 104: the second chunk is exactly ``<script>\\np("o");\\n</script>\\r\\n``."""
    with RawHTTP(server.port) as conn:
        open_htmlfile(conn, sid)
        assert len(conn.read_chunk()) > 1024
        assert conn.read_chunk() == b'<script>\np("o");\n</script>\r\n'


def test_htmlfile_message(server: Any, sid: str) -> None:
    """Checklist 105: after xhr_send ``["x"]`` the chunk is ``<script>\\np("a[\\"x\\"]");...``."""
    with RawHTTP(server.port) as conn:
        start(conn, sid)
        assert send(server.port, sid, b'["x"]').status == 204
        assert conn.read_chunk() == b'<script>\np("a[\\"x\\"]");\n</script>\r\n'


def test_htmlfile_missing_callback(server: Any) -> None:
    """Checklist 106: htmlfile without callback -> 500 ``"callback" parameter required``."""
    resp = request(server.port, "GET", "/echo/a/a/htmlfile")
    assert resp.status == 500
    assert b'"callback" parameter required' in resp.body


@pytest.mark.parametrize("query", ["?c=abc(", "?c=abc%28", "?c=%20", "?c=*"])
def test_htmlfile_invalid_callback(server: Any, query: str) -> None:
    """Checklist 107: ``htmlfile?c=abc(`` (and kin) -> 500 ``invalid "callback" parameter``."""
    resp = request(server.port, "GET", "/echo/a/a/htmlfile" + query)
    assert resp.status == 500
    assert b'invalid "callback" parameter' in resp.body


def test_htmlfile_script_end_tag_escaped(server: Any, sid: str) -> None:
    """Checklist 108: a message ``</script>`` has no ``<`` between ``p(`` and ``);``."""
    with RawHTTP(server.port) as conn:
        start(conn, sid)
        assert send(server.port, sid, b'["</script><!--"]').status == 204
        chunk = conn.read_chunk()
    head, tail = b"<script>\np(", b");\n</script>\r\n"
    assert chunk.startswith(head) and chunk.endswith(tail), chunk
    literal = chunk[len(head) : -len(tail)]
    assert b"<" not in literal, literal
    # The client still sees the original frame.
    assert json.loads(literal) == 'a["</script><!--"]'


def test_htmlfile_response_limit(server: Any, sid: str) -> None:
    """Checklist 109: with limit 4096, one echo of a 4096-character message ends the stream."""
    message = "m" * 4096
    with RawHTTP(server.port) as conn:
        start(conn, sid)
        assert send(server.port, sid, f'["{message}"]'.encode()).status == 204
        assert conn.read_chunk() == script_chunk(f'a["{message}"]')
        assert conn.read_chunk() == b""


def test_htmlfile_resumes_after_limit(server: Any, sid: str) -> None:
    """Checklist 136: after the limit a new htmlfile gets buffered data, no ``o``."""
    message = "m" * 4096
    with RawHTTP(server.port) as conn:
        start(conn, sid)
        assert send(server.port, sid, f'["{message}"]'.encode()).status == 204
        assert conn.read_chunk() == script_chunk(f'a["{message}"]')
        assert conn.read_chunk() == b""
    assert send(server.port, sid, b'["after"]').status == 204
    with RawHTTP(server.port) as conn:
        assert open_htmlfile(conn, sid, "?c=cb2").status == 200
        prelude = conn.read_chunk()
        assert prelude.strip() == PRELUDE_TEMPLATE.replace("CALLBACK", "cb2").encode()
        assert conn.read_chunk() == script_chunk('a["after"]')
