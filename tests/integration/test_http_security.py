"""Security findings over real sockets, against examples/test_server.py (issues 18, 19).

Reflected headers the server cannot write (a UTF-8 ``Origin``, a UTF-8
``Access-Control-Request-Headers``) used to get a bare ``0\\r\\n\\r\\n`` and a
CRITICAL traceback; they must get a valid HTTP answer, the connection must
stay usable, and the server's output must stay free of tracebacks (checked
when the session's server stops). Also ``Vary``, the cookie attributes, and
the /jsonp_prefix and /no_iframe services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .rawhttp import RawHTTP, new_session_id, request

if TYPE_CHECKING:
    from .conftest import ServerProcess

pytestmark = pytest.mark.integration

EURO_ORIGIN = b"Origin: http://\xe2\x82\xac.example\r\n"


def raw(port: int, method: str, path: str, extra: bytes) -> bytes:
    length = b"Content-Length: 0\r\n" if method == "POST" else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
    return head + extra + length + b"\r\n"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/echo/info", 200),
        ("OPTIONS", "/echo/info", 204),
        ("POST", "/echo/000/{sid}/xhr", 200),
        ("POST", "/echo/000/{sid}/xhr_streaming", 200),
        ("GET", "/echo/000/{sid}/eventsource", 200),
    ],
)
def test_utf8_origin_gets_valid_http(
    server: ServerProcess, method: str, path: str, status: int
) -> None:
    """Finding 4: answered as if ``Origin`` were absent (``*``); then the next request."""
    with RawHTTP(server.port) as conn:
        conn.send_raw(raw(server.port, method, path.format(sid=new_session_id()), EURO_ORIGIN))
        head = conn.read_head()
        assert head.status == status, head
        assert head.header("Access-Control-Allow-Origin") == "*"
        assert head.header("Vary") is not None
        if method == "GET" and path.endswith("info"):
            conn.read_body(head)
            # The connection is still good for another request.
            conn.send("GET", "/echo/info")
            assert conn.read_response().status == 200


def test_utf8_request_headers_are_not_echoed(server: ServerProcess) -> None:
    with RawHTTP(server.port) as conn:
        extra = b"Access-Control-Request-Headers: \xe4\xb8\xad\r\nOrigin: http://a.example\r\n"
        conn.send_raw(raw(server.port, "OPTIONS", "/echo/000/a/xhr_send", extra))
        response = conn.read_response()
    assert response.status == 204, response
    assert response.header("Access-Control-Allow-Origin") == "http://a.example"
    assert response.header("Vary") == "Origin, Access-Control-Request-Headers"
    assert not response.has_header("Access-Control-Allow-Headers")


def test_cookie_is_http_only(server: ServerProcess) -> None:
    response = request(server.port, "POST", f"/cookie_needed_echo/000/{new_session_id()}/xhr")
    assert response.header_all("Set-Cookie") == ["JSESSIONID=dummy; path=/; HttpOnly"]


def test_jsonp_prefix_service(server: ServerProcess) -> None:
    """Setting 6 on /jsonp_prefix/echo; /echo keeps the 0.3.3 body."""
    sid = new_session_id()
    prefixed = request(server.port, "GET", f"/jsonp_prefix/echo/000/{sid}/jsonp?c=cb")
    assert prefixed.body == b'/**/cb("o");\r\n'
    plain = request(server.port, "GET", f"/echo/000/{new_session_id()}/jsonp?c=cb")
    assert plain.body == b'cb("o");\r\n'


def test_no_iframe_service(server: ServerProcess) -> None:
    """Setting 8 on /no_iframe/echo: the iframe page is 404, the rest is served."""
    assert request(server.port, "GET", "/no_iframe/echo/iframe.html").status == 404
    assert request(server.port, "GET", "/no_iframe/echo/iframe-1.6.1.html").status == 404
    assert request(server.port, "GET", "/echo/iframe.html").status == 200
    response = request(server.port, "POST", f"/no_iframe/echo/000/{new_session_id()}/xhr")
    assert response.body == b"o\n"
