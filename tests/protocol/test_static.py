"""Info body, iframe page, header policy and route table."""

import json
import re

from sockjs.protocol import http, info, routing
from sockjs.protocol.errors import PeerError, SessionNotFound
from sockjs.protocol.options import Options


def test_info_body() -> None:
    """Checklists 31-34, 36, 37."""
    body = json.loads(info.info_body(Options(jsessionid=False), 42))
    assert body == {"websocket": True, "origins": ["*:*"], "cookie_needed": False, "entropy": 42}
    body = json.loads(
        info.info_body(Options(disabled_transports=frozenset({"websocket"})), 2**32 - 1)
    )
    assert body["websocket"] is False
    assert body["cookie_needed"] is True


def test_iframe_page() -> None:
    """Checklists 20, 24, 25, 26."""
    page = info.IframePage("/static/sockjs.js")
    assert b'<script src="/static/sockjs.js"></script>' in page.body
    assert page.body.startswith(b"<!DOCTYPE html>\n<html>\n<head>\n")
    assert page.body.endswith(b"</html>")
    assert page.body.index(b"_sockjs_onload") < page.body.index(b"<script src=")
    assert re.fullmatch(r'"[0-9a-f]{32}"', page.etag)
    assert page.etag == info.IframePage("/static/sockjs.js").etag
    assert page.etag != info.IframePage("/other.js").etag
    assert page.matches(page.etag)
    assert not page.matches(None)
    assert not page.matches('"nope"')


def test_greeting() -> None:
    assert info.GREETING == b"Welcome to SockJS!\n"


def test_http_date() -> None:
    assert http.http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http.http_date(1451649600) == "Fri, 01 Jan 2016 12:00:00 GMT"


def test_cache_for() -> None:
    """Checklists 22, 39."""
    headers = dict(http.cache_for(0))
    assert headers["Cache-Control"] == "public, max-age=31536000"
    assert headers["Expires"] == "Fri, 01 Jan 1971 00:00:00 GMT"


def test_cors() -> None:
    """Checklists 30, 40, 42, 43, 45, 46, 47."""
    assert http.cors(None, None) == [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]
    assert dict(http.cors("null", ""))["Access-Control-Allow-Origin"] == "*"
    headers = dict(http.cors("test", "a, b, c"))
    assert headers["Access-Control-Allow-Origin"] == "test"
    assert headers["Access-Control-Allow-Headers"] == "a, b, c"


def test_preflight() -> None:
    """Checklists 38, 39, 41."""
    headers = dict(http.preflight(0, "OPTIONS, POST"))
    assert headers["Access-Control-Max-Age"] == "31536000"
    assert headers["Access-Control-Allow-Methods"] == "OPTIONS, POST"
    assert "Expires" in headers


def test_jsessionid() -> None:
    """Checklists 50, 51."""
    assert http.jsessionid_cookie(None) == ("Set-Cookie", "JSESSIONID=dummy; path=/; HttpOnly")
    assert http.jsessionid_cookie("a=b; JSESSIONID=abcdef") == (
        "Set-Cookie",
        "JSESSIONID=abcdef; path=/; HttpOnly",
    )
    assert http.jsessionid_value("JSESSIONID") == "dummy"
    assert http.jsessionid_cookie("JSESSIONID=a;b") == (
        "Set-Cookie",
        "JSESSIONID=a; path=/; HttpOnly",
    )
    # A value that could smuggle header syntax is replaced.
    assert http.jsessionid_cookie('JSESSIONID="x\\y"')[1] == "JSESSIONID=dummy; path=/; HttpOnly"
    assert http.jsessionid_cookie("JSESSIONID=")[1] == "JSESSIONID=dummy; path=/; HttpOnly"


def test_routes() -> None:
    """Checklists 4, 6, 8, 9, 14, 17, 19 (route patterns)."""
    patterns = {
        route.name: re.compile(routing.full_pattern("/echo", route)) for route in routing.ROUTES
    }

    def match(path: str) -> list[str]:
        return [name for name, pattern in patterns.items() if pattern.match(path)]

    assert match("/echo") == ["greeting"]
    assert match("/echo/") == ["greeting"]
    assert match("/echo/info/") == ["info"]
    assert match("/echo/000/S/xhr/") == ["xhr"]
    assert match("/echo/abcdefgh_i-j%20/abcdefg_i-j%20/xhr") == ["xhr"]
    for path in [
        "/echo/a",
        "/echo//",
        "/echo/a/a",
        "/echo/a./a/xhr",
        "/echo/././xhr",
        "/echo///xhr",
        "/echo/000/S/XHR",
        "/echo/iframe.htm",
        "/echo/IFRAME.HTML",
        "/echo/iframe-/.html",
        "/echo//xhr",
    ]:
        assert match(path) == [], path
    for path in [
        "/echo/iframe.html",
        "/echo/iframe-a.html",
        "/echo/iframe-0.1.2abc-dirty.2144.html",
    ]:
        assert match(path) == ["iframe"], path
    assert {r.name: r.allow for r in routing.ROUTES}["info"] == "OPTIONS, GET"
    assert {r.name: r.allow for r in routing.ROUTES}["xhr"] == "POST, OPTIONS"
    assert re.match(routing.catch_all_pattern("/echo"), "/echo/anything/else")
    assert not re.match(routing.catch_all_pattern("/echo"), "/echoes")


def test_normalize_prefix() -> None:
    assert routing.normalize_prefix("/echo/") == "/echo"
    assert routing.normalize_prefix("echo") == "/echo"
    assert routing.normalize_prefix("/") == ""
    assert routing.normalize_prefix("") == ""


def test_errors_carry_answers() -> None:
    assert SessionNotFound().status == 404
    assert PeerError("custom").detail == "custom"
    assert PeerError().body == "500 - Internal Server Error"


def test_core_imports_no_io() -> None:
    """The core pulls in no reactor, framework or socket module."""
    import subprocess
    import sys

    # Compare with the modules loaded before ours: coverage measurement, when
    # active in the subprocess, loads socket itself.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import sockjs.protocol, sockjs.protocol.session, sockjs.protocol.registry, "
        "sockjs.protocol.transports, sockjs.protocol.info, sockjs.protocol.http, "
        "sockjs.protocol.routing, sockjs.protocol.options\n"
        "new = set(sys.modules) - before\n"
        "bad = [m for m in ('twisted', 'cyclone', 'socket', 'asyncio', 'websockets') if m in new]\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
