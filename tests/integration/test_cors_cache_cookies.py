"""CORS, preflight, caching and cookie headers (PROTOCOL.md section 4; checklist 11.D, 41-54)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from .rawhttp import (
    NO_CACHE,
    HeaderArg,
    RawHTTP,
    Response,
    new_session_id,
    request,
    xhr_poll,
    xhr_send,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .conftest import ServerProcess

pytestmark = pytest.mark.integration

PREFLIGHT_TRANSPORTS = ["xhr", "xhr_send", "xhr_streaming"]
FORM = ("Content-Type", "application/x-www-form-urlencoded")


def _headers(headers: HeaderArg) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


def head_only(port: int, method: str, path: str, headers: HeaderArg = None) -> Response:
    """Send a request to a streaming endpoint and return just the response head."""
    with RawHTTP(port) as conn:
        conn.send(method, path, headers=headers)
        return conn.read_head()


def hit(port: int, prefix: str, kind: str, headers: HeaderArg = None) -> Response:
    """Make one request of type ``kind`` on service ``prefix`` and return the response.

    Sessions needed by senders are opened first on a fresh id; streaming
    endpoints are read up to the end of the head only.
    """
    sid = new_session_id()
    base = f"{prefix}/000/{sid}"
    extra = _headers(headers)
    if kind == "greeting":
        return request(port, "GET", prefix, headers=extra)
    if kind == "info":
        return request(port, "GET", f"{prefix}/info", headers=extra)
    if kind == "info_options":
        return request(port, "OPTIONS", f"{prefix}/info", headers=extra)
    if kind == "iframe":
        return request(port, "GET", f"{prefix}/iframe.html", headers=extra)
    if kind == "xhr":
        return request(port, "POST", f"{base}/xhr", headers=extra)
    if kind.endswith("_options"):
        return request(port, "OPTIONS", f"{base}/{kind.removesuffix('_options')}", headers=extra)
    if kind == "xhr_send":
        assert xhr_poll(port, prefix, sid).body == b"o\n"
        return request(
            port,
            "POST",
            f"{base}/xhr_send",
            headers=[("Content-Type", "text/plain"), *extra],
            body=b'["x"]',
        )
    if kind == "xhr_send_500":
        return request(port, "POST", f"{base}/xhr_send", headers=extra, body=b"")
    if kind == "xhr_send_404":
        return request(port, "POST", f"{base}/xhr_send", headers=extra, body=b'["x"]')
    if kind == "xhr_streaming":
        return head_only(port, "POST", f"{base}/xhr_streaming", headers=extra)
    if kind == "jsonp":
        return request(port, "GET", f"{base}/jsonp?c=callback", headers=extra)
    if kind == "jsonp_500":
        return request(port, "GET", f"{base}/jsonp", headers=extra)
    if kind == "htmlfile_500":
        return request(port, "GET", f"{base}/htmlfile", headers=extra)
    if kind == "jsonp_send_500":
        opened = request(port, "GET", f"{base}/jsonp?c=callback")
        assert opened.body == b'callback("o");\r\n', opened
        return request(port, "POST", f"{base}/jsonp_send", headers=[FORM, *extra], body=b"d=")
    if kind == "jsonp_send":
        opened = request(port, "GET", f"{base}/jsonp?c=callback")
        assert opened.body == b'callback("o");\r\n', opened
        return request(
            port, "POST", f"{base}/jsonp_send", headers=[FORM, *extra], body=b"d=%5B%22x%22%5D"
        )
    if kind == "eventsource":
        return head_only(port, "GET", f"{base}/eventsource", headers=extra)
    if kind == "htmlfile":
        return head_only(port, "GET", f"{base}/htmlfile?c=callback", headers=extra)
    if kind == "404":
        return request(port, "GET", f"{prefix}/a", headers=extra)
    if kind == "405":
        return request(port, "GET", f"{base}/xhr", headers=extra)
    if kind == "websocket_400":
        return request(port, "GET", f"{prefix}/0/0/websocket", headers=extra)
    raise AssertionError(f"unknown kind {kind}")


def expected_status(kind: str) -> int:
    """The status a request of type ``kind`` (see :func:`hit`) must get."""
    if kind.endswith(("_500", "_404", "_400", "_405")):
        return int(kind[-3:])
    if kind in ("404", "405"):
        return int(kind)
    if kind == "xhr_send" or kind.endswith("_options"):
        return 204
    return 200


def max_age(cache_control: str | None) -> int:
    """The ``max-age`` directive of a Cache-Control value (-1 when absent)."""
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return int(match.group(1)) if match else -1


def assert_jsessionid(resp: Response, value: str) -> None:
    """``resp`` sets exactly one ``JSESSIONID=<value>; path=/`` cookie (4.4)."""
    cookies = [c for c in resp.header_all("Set-Cookie") if c.strip().startswith("JSESSIONID")]
    assert len(cookies) == 1, resp
    parts = cookies[0].split(";")
    assert parts[0].strip() == f"JSESSIONID={value}", cookies
    assert len(parts) > 1 and parts[1].strip().lower() == "path=/", cookies


@pytest.mark.parametrize("transport", PREFLIGHT_TRANSPORTS)
def test_preflight_ok(server: ServerProcess, sid: str, transport: str) -> None:
    """Checklist 41: ``OPTIONS P/abc/abc/<xhr transport>`` -> 204, ``OPTIONS, POST``."""
    for path in (f"/echo/abc/abc/{transport}", f"/echo/000/{sid}/{transport}"):
        resp = request(server.port, "OPTIONS", path)
        assert resp.status == 204, resp
        assert resp.body == b""
        assert resp.header("Access-Control-Allow-Methods") == "OPTIONS, POST", resp
        cache_control = resp.header("Cache-Control")
        assert cache_control is not None and "public" in cache_control, resp
        assert max_age(cache_control) >= 1000000, cache_control
        assert resp.header("Expires"), resp
        assert int(resp.header("Access-Control-Max-Age") or "0") > 1000000, resp


@pytest.mark.parametrize("transport", [*PREFLIGHT_TRANSPORTS, "info"])
def test_preflight_echoes_origin(server: ServerProcess, transport: str) -> None:
    """Checklist 42: preflight with ``Origin: test`` -> ``Allow-Origin: test``, credentials true."""
    path = "/echo/info" if transport == "info" else f"/echo/abc/abc/{transport}"
    resp = request(server.port, "OPTIONS", path, headers=[("Origin", "test")])
    assert resp.status == 204, resp
    assert resp.header("Access-Control-Allow-Origin") == "test", resp
    assert resp.header("Access-Control-Allow-Credentials") == "true", resp


@pytest.mark.parametrize("origin", [None, "null", ""], ids=["absent", "null", "empty"])
@pytest.mark.parametrize("transport", PREFLIGHT_TRANSPORTS)
def test_preflight_star_origin(server: ServerProcess, transport: str, origin: str | None) -> None:
    """Checklist 43: preflight with no Origin or ``Origin: null`` -> ``*`` and credentials true."""
    headers = [] if origin is None else [("Origin", origin)]
    resp = request(server.port, "OPTIONS", f"/echo/abc/abc/{transport}", headers=headers)
    assert resp.status == 204, resp
    assert resp.header("Access-Control-Allow-Origin") == "*", resp
    assert resp.header("Access-Control-Allow-Credentials") == "true", resp


def test_preflight_creates_no_session(
    server: ServerProcess, sid: str, server_state: Callable[[], dict[str, Any]]
) -> None:
    """Checklist 44: preflights do not create a session (a following ``xhr_send`` -> 404)."""
    before = server_state()["sessions"]["/echo"]
    for transport in PREFLIGHT_TRANSPORTS:
        resp = request(server.port, "OPTIONS", f"/echo/000/{sid}/{transport}")
        assert resp.status == 204, resp
    # Sessions can only expire meanwhile, never appear: the count must not grow.
    assert server_state()["sessions"]["/echo"] <= before
    sent = xhr_send(server.port, "/echo", sid, b'["x"]')
    assert sent.status == 404, sent


@pytest.mark.parametrize("method", ["POST", "OPTIONS"])
def test_allow_headers_echoed(server: ServerProcess, sid: str, method: str) -> None:
    """Checklist 45: ``Access-Control-Request-Headers: a, b, c`` -> ``Allow-Headers: a, b, c``."""
    resp = request(
        server.port,
        method,
        f"/echo/000/{sid}/xhr",
        headers=[("Access-Control-Request-Headers", "a, b, c")],
    )
    assert resp.status in (200, 204), resp
    assert resp.header("Access-Control-Allow-Headers") == "a, b, c", resp


@pytest.mark.parametrize("method", ["POST", "OPTIONS"])
def test_allow_headers_empty_request_header(server: ServerProcess, sid: str, method: str) -> None:
    """Checklist 46: an empty ``Access-Control-Request-Headers`` -> no ``Allow-Headers``."""
    resp = request(
        server.port,
        method,
        f"/echo/000/{sid}/xhr",
        headers=[("Access-Control-Request-Headers", "")],
    )
    assert resp.status in (200, 204), resp
    assert not resp.has_header("Access-Control-Allow-Headers"), resp


@pytest.mark.parametrize("method", ["POST", "OPTIONS"])
def test_allow_headers_absent(server: ServerProcess, sid: str, method: str) -> None:
    """Checklist 47: without ``Access-Control-Request-Headers`` -> no ``Allow-Headers``."""
    resp = request(server.port, method, f"/echo/000/{sid}/xhr")
    assert resp.status in (200, 204), resp
    assert not resp.has_header("Access-Control-Allow-Headers"), resp


@pytest.mark.parametrize(
    "kind", ["xhr", "xhr_send", "xhr_streaming", "xhr_send_500", "xhr_send_404"]
)
def test_xhr_no_cache(server: ServerProcess, kind: str) -> None:
    """Checklist 48: xhr, xhr_send, xhr_streaming (and their errors) have exact no-cache headers."""
    resp = hit(server.port, "/echo", kind)
    assert resp.status == expected_status(kind), resp
    assert resp.header("Cache-Control") == NO_CACHE, resp
    assert not resp.has_header("Expires"), resp
    assert not resp.has_header("Last-Modified"), resp


@pytest.mark.parametrize(
    "kind",
    [
        "jsonp",
        "jsonp_send",
        "eventsource",
        "htmlfile",
        "jsonp_500",
        "jsonp_send_500",
        "htmlfile_500",
    ],
)
def test_other_transports_no_cache(server: ServerProcess, kind: str) -> None:
    """Checklist 49: jsonp, jsonp_send, eventsource, htmlfile have the exact no-cache headers.

    PROTOCOL.md 4.3 extends the profile to these endpoints' error responses.
    """
    resp = hit(server.port, "/echo", kind)
    assert resp.status == expected_status(kind), resp
    assert resp.header("Cache-Control") == NO_CACHE, resp
    assert not resp.has_header("Expires"), resp
    assert not resp.has_header("Last-Modified"), resp


def test_jsessionid_dummy(server: ServerProcess, sid: str) -> None:
    """Checklist 50: ``/cookie_needed_echo`` xhr -> ``Set-Cookie`` ``JSESSIONID=dummy; path=/``."""
    resp = xhr_poll(server.port, "/cookie_needed_echo", sid)
    assert resp.status == 200, resp
    assert resp.body == b"o\n"
    assert_jsessionid(resp, "dummy")


def test_jsessionid_echoed(server: ServerProcess, sid: str) -> None:
    """Checklist 51: ``Cookie: JSESSIONID=abcdef`` -> ``Set-Cookie: JSESSIONID=abcdef; path=/``."""
    resp = xhr_poll(
        server.port, "/cookie_needed_echo", sid, headers=[("Cookie", "JSESSIONID=abcdef")]
    )
    assert resp.status == 200, resp
    assert resp.header_all("Set-Cookie") == ["JSESSIONID=abcdef; path=/; HttpOnly"], resp
    # The cookie is sent again on every response, also once the session exists.
    again = xhr_send(
        server.port,
        "/cookie_needed_echo",
        sid,
        b'["x"]',
        headers=[("Content-Type", "text/plain"), ("Cookie", "other=1; JSESSIONID=abcdef")],
    )
    assert again.status == 204, again
    assert again.header_all("Set-Cookie") == ["JSESSIONID=abcdef; path=/; HttpOnly"], again


@pytest.mark.parametrize(
    "kind",
    [
        "xhr_streaming",
        "eventsource",
        "htmlfile",
        "jsonp",
        "jsonp_send",
        "xhr_send",
        "xhr_options",
        "xhr_send_options",
        "xhr_streaming_options",
        "xhr_send_500",
        "jsonp_500",
        "jsonp_send_500",
        "htmlfile_500",
    ],
)
def test_jsessionid_on_session_endpoints(server: ServerProcess, kind: str) -> None:
    """Checklist 52: cookie_needed xhr_streaming/eventsource/htmlfile/jsonp/jsonp_send set it.

    PROTOCOL.md 4.4 adds xhr_send, the preflights and these endpoints' error responses.
    """
    resp = hit(server.port, "/cookie_needed_echo", kind)
    assert resp.status == expected_status(kind), resp
    assert_jsessionid(resp, "dummy")


ALL_KINDS = [
    "greeting",
    "info",
    "info_options",
    "iframe",
    "xhr",
    "xhr_options",
    "xhr_send",
    "xhr_send_options",
    "xhr_send_500",
    "xhr_send_404",
    "xhr_streaming",
    "xhr_streaming_options",
    "jsonp",
    "jsonp_500",
    "jsonp_send",
    "jsonp_send_500",
    "eventsource",
    "htmlfile_500",
    "htmlfile",
    "404",
    "405",
    "websocket_400",
]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_no_cookie_without_jsessionid(server: ServerProcess, kind: str) -> None:
    """Checklist 53: on ``/echo`` no response of any endpoint carries ``Set-Cookie``."""
    resp = hit(server.port, "/echo", kind, headers=[("Cookie", "JSESSIONID=abcdef")])
    assert resp.status == expected_status(kind), resp
    assert not resp.has_header("Set-Cookie"), resp


# Error answers may omit Content-Type altogether (4.5); all others must carry a charset.
_CHARSET_OPTIONAL = {
    "xhr_send_500",
    "jsonp_500",
    "jsonp_send_500",
    "htmlfile_500",
    "websocket_400",
    "404",
}


@pytest.mark.parametrize("prefix", ["/echo", "/cookie_needed_echo"])
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_charset_spelling(server: ServerProcess, prefix: str, kind: str) -> None:
    """Checklist 54: ``charset`` is spelled ``UTF-8`` on every response that has a Content-Type."""
    resp = hit(server.port, prefix, kind)
    assert resp.status == expected_status(kind), resp
    content_type = resp.header("Content-Type")
    if content_type is None:
        return
    params = [p.strip() for p in content_type.split(";")[1:]]
    charsets = [p.split("=", 1)[1] for p in params if p.lower().startswith("charset=")]
    assert all(c == "UTF-8" for c in charsets), content_type
    if kind not in _CHARSET_OPTIONAL:
        assert charsets == ["UTF-8"], content_type
