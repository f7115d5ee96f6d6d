"""HTTP/1.0 and HTTP/1.1 framing of non-streaming responses (PROTOCOL.md 4.7; items 141-142)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .rawhttp import RawHTTP, Response, new_session_id

if TYPE_CHECKING:
    from .conftest import ServerProcess

pytestmark = pytest.mark.integration

GREETING = b"Welcome to SockJS!\n"


def connection_tokens(resp: Response) -> set[str]:
    """Lower-cased tokens of the response ``Connection`` header."""
    value = resp.header("Connection") or ""
    return {token.strip().lower() for token in value.split(",") if token.strip()}


def read_http10_response(conn: RawHTTP, expected_body: bytes | None) -> bool:
    """Read an HTTP/1.0 answer checking 4.7's three allowed shapes.

    Returns True when the server kept the connection open (case (i)).
    """
    resp = conn.read_head()
    assert resp.status in (200, 204), resp
    assert not resp.has_header("Transfer-Encoding"), resp
    tokens = connection_tokens(resp)
    length = resp.header("Content-Length")
    if length is None:
        # (iii): no length, Connection: close, body until the socket closes.
        assert "close" in tokens, resp
        body = conn.read_until_close()
        if expected_body is not None:
            assert body == expected_body
        return False
    body = conn.read_exact(int(length))
    if expected_body is not None:
        assert length == str(len(expected_body)), resp
        assert body == expected_body
    if "keep-alive" in tokens:
        # (i): the socket stays open for a further request.
        return True
    # (ii): Content-Length with Connection: close or no Connection header.
    assert conn.expect_closed(2.0), "server kept an HTTP/1.0 connection open without keep-alive"
    return False


def test_http10_greeting_keep_alive(server: ServerProcess) -> None:
    """Checklist 141: HTTP/1.0 ``GET P`` + ``Connection: Keep-Alive`` -> 200, no chunking.

    Either ``Content-Length: 19`` (then keep-alive or close) or ``Connection: close``
    followed by the socket closing.
    """
    with RawHTTP(server.port) as conn:
        conn.send("GET", "/echo", headers=[("Connection", "Keep-Alive")], version="HTTP/1.0")
        resp = conn.read_head()
        assert resp.status == 200, resp
        assert not resp.has_header("Transfer-Encoding"), resp
        tokens = connection_tokens(resp)
        length = resp.header("Content-Length")
        if length is not None:
            assert length == "19", resp
            assert conn.read_exact(19) == GREETING
            if "keep-alive" in tokens:
                conn.send(
                    "GET", "/echo", headers=[("Connection", "Keep-Alive")], version="HTTP/1.0"
                )
                read_http10_response(conn, GREETING)
            else:
                assert conn.expect_closed(2.0), "no keep-alive announced, but socket stayed open"
        else:
            assert "close" in tokens, resp
            assert conn.read_until_close() == GREETING


def test_http10_greeting_without_keep_alive(server: ServerProcess) -> None:
    """Checklist 141: plain HTTP/1.0 ``GET P`` -> no chunking and the socket is closed after."""
    with RawHTTP(server.port) as conn:
        conn.send("GET", "/echo", version="HTTP/1.0")
        resp = conn.read_head()
        assert resp.status == 200, resp
        assert not resp.has_header("Transfer-Encoding"), resp
        assert "keep-alive" not in connection_tokens(resp), resp
        length = resp.header("Content-Length")
        if length is not None:
            assert length == "19"
            assert conn.read_exact(19) == GREETING
            assert conn.expect_closed(2.0)
        else:
            assert conn.read_until_close() == GREETING


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", "/echo/info", b"", None),
        ("GET", "/echo/iframe.html", b"", None),
        ("POST", "/echo/000/{sid}/xhr", b"", b"o\n"),
        ("GET", "/echo/000/{sid}/jsonp?c=cb", b"", b'cb("o");\r\n'),
        ("GET", "/echo/a", b"", None),
    ],
)
def test_http10_non_streaming(
    server: ServerProcess, method: str, path: str, body: bytes, expected: bytes | None
) -> None:
    """Checklist 141: other non-streaming answers to HTTP/1.0 never use Transfer-Encoding."""
    with RawHTTP(server.port) as conn:
        conn.send(
            method,
            path.format(sid=new_session_id()),
            headers=[("Connection", "Keep-Alive")],
            body=body,
            version="HTTP/1.0",
        )
        resp = conn.read_head()
        assert not resp.has_header("Transfer-Encoding"), resp
        tokens = connection_tokens(resp)
        length = resp.header("Content-Length")
        if length is None:
            assert "close" in tokens, resp
            payload = conn.read_until_close()
        else:
            payload = conn.read_exact(int(length))
            if "keep-alive" not in tokens:
                assert conn.expect_closed(2.0)
        if expected is not None:
            assert payload == expected


def test_http11_greeting_keep_alive(server: ServerProcess) -> None:
    """Checklist 142: HTTP/1.1 ``GET P`` -> ``Content-Length: 19`` or chunked; connection reused."""
    with RawHTTP(server.port) as conn:
        for _ in range(2):
            conn.send("GET", "/echo")
            resp = conn.read_response()
            assert resp.status == 200, resp
            assert resp.body == GREETING
            if resp.is_chunked:
                assert not resp.has_header("Content-Length"), resp
            else:
                assert resp.header("Content-Length") == "19", resp
            # Connection must be absent or keep-alive on HTTP/1.1 (4.7).
            assert connection_tokens(resp) <= {"keep-alive"}, resp
        assert not conn.closed_by_peer


def test_http11_mixed_requests_on_one_connection(server: ServerProcess) -> None:
    """Checklist 142: one HTTP/1.1 connection serves a series of non-streaming requests."""
    sid = new_session_id()
    steps: list[tuple[str, str, list[tuple[str, str]], bytes, int, bytes | None]] = [
        ("GET", "/echo", [], b"", 200, GREETING),
        ("GET", "/echo/info", [], b"", 200, None),
        ("OPTIONS", "/echo/info", [], b"", 204, b""),
        ("GET", "/echo/iframe.html", [], b"", 200, None),
        ("POST", f"/echo/000/{sid}/xhr", [], b"", 200, b"o\n"),
        ("POST", f"/echo/000/{sid}/xhr_send", [("Content-Type", "text/plain")], b'["k"]', 204, b""),
        ("POST", f"/echo/000/{sid}/xhr", [], b"", 200, b'a["k"]\n'),
        ("POST", f"/echo/000/{sid}/xhr_send", [], b"", 500, None),
        ("GET", "/echo/nosuch", [], b"", 404, None),
        ("POST", "/echo", [], b"", 405, b""),
        ("HEAD", "/echo", [], b"", 405, b""),
        ("GET", "/echo/", [], b"", 200, GREETING),
    ]
    with RawHTTP(server.port) as conn:
        for method, path, headers, body, status, expected in steps:
            conn.send(method, path, headers=headers, body=body)
            resp = conn.read_response()
            assert resp.status == status, (method, path, resp)
            assert not (resp.is_chunked and resp.has_header("Content-Length")), resp
            assert connection_tokens(resp) <= {"keep-alive"}, (method, path, resp)
            if expected is not None:
                assert resp.body == expected, (method, path, resp)
        assert not conn.closed_by_peer
