"""Routing and URL layout (PROTOCOL.md section 2; checklist 11.A, items 1-15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .rawhttp import Response, content_type_is, request, xhr_poll, xhr_send

if TYPE_CHECKING:
    from collections.abc import Callable

    from .conftest import ServerProcess

pytestmark = pytest.mark.integration

GREETING = b"Welcome to SockJS!\n"
WS_UPGRADE_HEADERS = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw=="),
]


@pytest.fixture(scope="module")
def fresh_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A server process used only by the fixed-id test (checklist 5)."""
    return server_factory()


def allowed_methods(resp: Response) -> set[str]:
    """The methods listed in the ``Allow`` header of ``resp``."""
    value = resp.header("Allow") or ""
    return {token.strip() for token in value.split(",") if token.strip()}


def assert_405(resp: Response, allow: set[str]) -> None:
    """A 405 has ``Allow`` listing exactly ``allow``, an empty body and no Content-Type."""
    assert resp.status == 405, resp
    assert resp.header("Allow"), resp
    assert allowed_methods(resp) == allow, resp.header("Allow")
    assert resp.body == b"", resp
    assert not resp.has_header("Content-Type"), resp


def test_greeting(server: ServerProcess) -> None:
    """Checklist 1: ``GET P`` -> 200, ``Welcome to SockJS!\\n``, text/plain; charset=UTF-8."""
    resp = request(server.port, "GET", "/echo")
    assert resp.status == 200, resp
    assert resp.body == GREETING
    assert content_type_is(resp, "text/plain; charset=UTF-8"), resp.header("Content-Type")


def test_greeting_trailing_slash(server: ServerProcess) -> None:
    """Checklist 2: ``GET P/`` is identical to ``GET P``; ``P/?query`` too (2.1)."""
    bare = request(server.port, "GET", "/echo")
    for path in ("/echo/", "/echo/?t=1"):
        resp = request(server.port, "GET", path)
        assert resp.status == bare.status == 200, resp
        assert resp.body == bare.body == GREETING
        assert resp.header("Content-Type") == bare.header("Content-Type")


@pytest.mark.parametrize("prefix", ["/echo", "/cookie_needed_echo"])
@pytest.mark.parametrize("slash", ["", "/"])
def test_greeting_has_no_cookie(server: ServerProcess, prefix: str, slash: str) -> None:
    """Checklist 3: greeting responses carry no ``Set-Cookie`` (not even with jsessionid)."""
    resp = request(server.port, "GET", prefix + slash, headers=[("Cookie", "JSESSIONID=abc")])
    assert resp.status == 200, resp
    assert not resp.has_header("Set-Cookie"), resp


@pytest.mark.parametrize("path", ["/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/"])
def test_unknown_paths_404(server: ServerProcess, path: str) -> None:
    """Checklist 4: ``P/a``, ``P/a.html``, ``P//``, ``P///``, ``P/a/a``, ``P/a/a/``, ``P/a/``."""
    resp = request(server.port, "GET", "/echo" + path)
    assert resp.status == 404, resp


@pytest.mark.parametrize(
    "ids",
    ["/a/a", "/_/_", "/1/1", "/abcdefgh_i-j%20/abcdefg_i-j%20"],
)
def test_accepted_server_and_session_ids(fresh_server: ServerProcess, ids: str) -> None:
    """Checklist 5: ``POST P/a/a/xhr``, ``/_/_``, ``/1/1``, ``%20`` ids -> 200 ``o\\n``.

    The ids are fixed, so they run against a server process of their own in
    which nothing else has touched them.
    """
    resp = request(fresh_server.port, "POST", f"/echo{ids}/xhr")
    assert resp.status == 200, resp
    assert resp.body == b"o\n"


@pytest.mark.parametrize(
    "path", ["//xhr", "/a./a/xhr", "/a/a./xhr", "/././xhr", "///xhr", "////xhr"]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_invalid_session_paths_404(server: ServerProcess, path: str, method: str) -> None:
    """Checklist 6: GET/POST ``P//xhr``, ``P/a./a/xhr``, ... ``P////xhr`` -> 404, never 405."""
    resp = request(server.port, method, "/echo" + path)
    assert resp.status == 404, resp


def test_server_id_is_ignored(server: ServerProcess, sid: str) -> None:
    """Checklist 7: session opened via ``/000/S`` is reached via ``/999/S`` (send and poll)."""
    assert xhr_poll(server.port, "/echo", sid, server_id="000").body == b"o\n"
    sent = xhr_send(server.port, "/echo", sid, b'["a"]', server_id="999")
    assert sent.status == 204, sent
    resp = xhr_poll(server.port, "/echo", sid, server_id="999")
    assert resp.status == 200, resp
    assert resp.body == b'a["a"]\n'


def test_trailing_slash_on_transport(server: ServerProcess, sid: str) -> None:
    """Checklist 8: ``POST P/000/S/xhr/`` behaves like ``P/000/S/xhr`` (also xhr_send/)."""
    resp = request(server.port, "POST", f"/echo/000/{sid}/xhr/")
    assert resp.status == 200, resp
    assert resp.body == b"o\n"
    assert content_type_is(resp, "application/javascript; charset=UTF-8")
    sent = request(
        server.port,
        "POST",
        f"/echo/000/{sid}/xhr_send/",
        headers=[("Content-Type", "text/plain")],
        body=b'["s"]',
    )
    assert sent.status == 204, sent
    resp = request(server.port, "POST", f"/echo/000/{sid}/xhr/")
    assert resp.status == 200, resp
    assert resp.body == b'a["s"]\n'


def test_info_trailing_slash(server: ServerProcess) -> None:
    """Checklist 9: ``GET P/info/`` behaves like ``GET P/info``."""
    plain = request(server.port, "GET", "/echo/info")
    slashed = request(server.port, "GET", "/echo/info/")
    assert plain.status == slashed.status == 200, slashed
    assert slashed.header("Content-Type") == plain.header("Content-Type")
    assert content_type_is(slashed, "application/json; charset=UTF-8")
    assert slashed.header("Cache-Control") == plain.header("Cache-Control")
    assert slashed.body.startswith(b"{") and b'"entropy"' in slashed.body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD", "OPTIONS"])
def test_greeting_wrong_method_405(server: ServerProcess, method: str) -> None:
    """Checklist 10: ``POST P`` (and other non-GET methods) -> 405 ``Allow: GET``, empty, no CT."""
    resp = request(server.port, method, "/echo")
    assert_405(resp, {"GET"})
    if method == "POST":
        assert resp.header("Allow") == "GET"


@pytest.mark.parametrize("transport", ["xhr", "xhr_send", "xhr_streaming"])
def test_get_on_xhr_route_405(server: ServerProcess, sid: str, transport: str) -> None:
    """Checklist 11: ``GET P/000/S/xhr`` -> 405, ``Allow`` has POST (+OPTIONS), no body, no CT."""
    resp = request(server.port, "GET", f"/echo/000/{sid}/{transport}")
    assert_405(resp, {"POST", "OPTIONS"})
    assert "POST" in allowed_methods(resp)


@pytest.mark.parametrize("upgrade", [False, True], ids=["plain", "upgrade-headers"])
@pytest.mark.parametrize("path", ["/0/0/websocket", "/websocket"])
def test_post_on_websocket_405(server: ServerProcess, upgrade: bool, path: str) -> None:
    """Checklist 12: ``POST P/0/0/websocket`` with/without upgrade headers -> 405 ``Allow: GET``."""
    headers = WS_UPGRADE_HEADERS if upgrade else None
    resp = request(server.port, "POST", "/echo" + path, headers=headers)
    assert_405(resp, {"GET"})


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/000/{sid}/jsonp", {"GET"}),
        ("/000/{sid}/jsonp_send", {"POST"}),
        ("/000/{sid}/eventsource", {"GET"}),
        ("/000/{sid}/htmlfile", {"GET"}),
        ("/000/{sid}/websocket", {"GET"}),
        ("/websocket", {"GET"}),
        ("/iframe.html", {"GET"}),
        ("", {"GET"}),
    ],
)
def test_options_without_preflight_route_405(
    server: ServerProcess, sid: str, path: str, allow: set[str]
) -> None:
    """Checklist 13: ``OPTIONS P/000/S/jsonp`` (and other non-preflight routes) -> 405."""
    resp = request(server.port, "OPTIONS", "/echo" + path.format(sid=sid))
    assert_405(resp, allow)
    if path.endswith("/jsonp"):
        assert resp.header("Allow") == "GET"


@pytest.mark.parametrize("path", ["/000/{sid}/XHR", "/000/{sid}/Xhr_send", "/INFO"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_routes_are_case_sensitive(server: ServerProcess, sid: str, path: str, method: str) -> None:
    """Checklist 14: ``GET P/000/S/XHR`` (wrong case) -> 404."""
    resp = request(server.port, method, "/echo" + path.format(sid=sid))
    assert resp.status == 404, resp


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/000/{sid}/xhr"),
        ("GET", "/000/{sid}/xhr_send"),
        ("POST", "/000/{sid}/jsonp"),
        ("OPTIONS", "/000/{sid}/eventsource"),
        ("POST", ""),
        ("POST", "/info"),
        ("POST", "/iframe.html"),
    ],
)
def test_405_has_no_cookie(server: ServerProcess, sid: str, method: str, path: str) -> None:
    """Checklist 15: a 405 carries no ``Set-Cookie``, even on ``/cookie_needed_echo``."""
    resp = request(
        server.port,
        method,
        "/cookie_needed_echo" + path.format(sid=sid),
        headers=[("Cookie", "JSESSIONID=abcdef")],
    )
    assert resp.status == 405, resp
    assert not resp.has_header("Set-Cookie"), resp
