"""Routing, 404/405 answers, preflights, cookies and settings of ``SockJSRouter``.

Every request goes through Cyclone's HTTP parser as raw bytes (PROTOCOL.md
sections 2 and 4).
"""

from __future__ import annotations

from typing import Any

import cyclone.web
import pytest
from helpers import NO_CACHE, NOT_FOUND, TEXT_PLAIN, Echo, Server, new_sid

from sockjs.cyclone import SettingsError, SockJSHTTPConnection, SockJSRouter
from sockjs.protocol.options import Options

# ---------------------------------------------------------------------------
# Greeting, 404 and 405
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "/"])
def test_greeting(server: Server, path: str) -> None:
    """Checklist 1, 2, 3: GET P and GET P/ -> the greeting, no cookie."""
    response = server.get(path)
    assert response.status == 200
    assert response.body == b"Welcome to SockJS!\n"
    assert response.header("Content-Type") == TEXT_PLAIN
    assert response.header("Content-Length") == "19"
    assert not response.has("Set-Cookie")
    assert not response.has("Access-Control-Allow-Origin")


@pytest.mark.parametrize(
    "path", ["/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/", "/000/s/XHR", "/INFO"]
)
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_unknown_paths_are_404(server: Server, path: str, method: str) -> None:
    """Checklist 4, 14: everything under the prefix is SockJS's, unknown -> 404."""
    response = server.request(method, path)
    assert response.status == 404
    assert response.body == NOT_FOUND
    assert response.header("Content-Type") == TEXT_PLAIN


@pytest.mark.parametrize(
    "path", ["//xhr", "/a./a/xhr", "/a/a./xhr", "/././xhr", "///xhr", "////xhr"]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_invalid_session_paths_are_404_not_405(server: Server, path: str, method: str) -> None:
    """Checklist 6: ids that are empty or contain '.' do not match any route."""
    assert server.request(method, path).status == 404
    assert server.router.session_count == 0


ALLOW_TABLE = [
    ("POST", "", "GET"),
    ("PUT", "/", "GET"),
    ("HEAD", "", "GET"),
    ("OPTIONS", "", "GET"),
    ("POST", "/iframe.html", "GET"),
    ("OPTIONS", "/iframe.html", "GET"),
    ("POST", "/info", "OPTIONS, GET"),
    ("DELETE", "/info", "OPTIONS, GET"),
    ("GET", "/000/s/xhr", "POST, OPTIONS"),
    ("HEAD", "/000/s/xhr", "POST, OPTIONS"),
    ("GET", "/000/s/xhr_send", "POST, OPTIONS"),
    ("GET", "/000/s/xhr_streaming", "POST, OPTIONS"),
    ("OPTIONS", "/000/s/jsonp", "GET"),
    ("POST", "/000/s/jsonp", "GET"),
    ("GET", "/000/s/jsonp_send", "POST"),
    ("OPTIONS", "/000/s/jsonp_send", "POST"),
    ("POST", "/000/s/eventsource", "GET"),
    ("OPTIONS", "/000/s/eventsource", "GET"),
    ("POST", "/000/s/htmlfile", "GET"),
    ("POST", "/0/0/websocket", "GET"),
    ("OPTIONS", "/0/0/websocket", "GET"),
    ("POST", "/websocket", "GET"),
]


@pytest.mark.parametrize(("method", "path", "allow"), ALLOW_TABLE)
def test_wrong_method_is_405_with_exact_allow(
    server: Server, method: str, path: str, allow: str
) -> None:
    """Checklist 10-13: 405, exact Allow, empty body, no Content-Type, no session."""
    response = server.request(method, path)
    assert response.status == 405
    assert response.header("Allow") == allow
    assert response.body == b""
    assert response.header("Content-Length") == "0"
    assert not response.has("Content-Type")
    assert not response.has("Set-Cookie")
    assert not response.has("Access-Control-Allow-Origin")
    assert server.router.session_count == 0


def test_405_with_upgrade_headers(server: Server) -> None:
    """Checklist 12: POST to a websocket URL with upgrade headers is still 405."""
    response = server.post(
        "/0/0/websocket", headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    )
    assert response.status == 405
    assert response.header("Allow") == "GET"
    assert not response.has("Content-Type")


def test_405_has_no_cookie_on_jsessionid_service() -> None:
    """Checklist 15: a 405 carries no Set-Cookie even with jsessionid on."""
    server = Server(settings={"jsessionid": True})
    response = server.request("GET", "/000/s/xhr", headers={"Cookie": "JSESSIONID=abc"})
    assert response.status == 405
    assert not response.has("Set-Cookie")


@pytest.mark.parametrize("ids", ["/a/a", "/_/_", "/1/1", "/abcdefgh_i-j%20/abcdefg_i-j%20"])
def test_accepted_session_ids(server: Server, ids: str) -> None:
    """Checklist 5: these server/session pairs open a session."""
    response = server.post(f"{ids}/xhr")
    assert (response.status, response.body) == (200, b"o\n")


def test_trailing_slash_is_accepted(server: Server) -> None:
    """Checklist 8, 9: one optional trailing slash on every route."""
    sid = new_sid()
    assert server.post(f"/000/{sid}/xhr/").body == b"o\n"
    assert server.send(sid, "x").status == 204
    assert server.post(f"/000/{sid}/xhr_send/", b'["y"]').status == 204
    assert server.post(f"/000/{sid}/xhr/").body == b'a["x","y"]\n'
    info = server.get("/info/")
    assert info.status == 200
    assert info.header("Content-Type") == "application/json; charset=UTF-8"


def test_server_id_is_ignored(server: Server) -> None:
    """Checklist 7: a session opened via /000/S is reachable via /999/S."""
    sid = new_sid()
    assert server.post(f"/000/{sid}/xhr").body == b"o\n"
    assert server.post(f"/999/{sid}/xhr_send", b'["a"]').status == 204
    assert server.post(f"/999/{sid}/xhr").body == b'a["a"]\n'


def test_query_string_is_not_part_of_routing(server: Server) -> None:
    """PROTOCOL.md 2.1: routing uses the path only."""
    assert server.get("/?t=1").body == b"Welcome to SockJS!\n"
    assert server.get("/info?t=1").status == 200
    assert server.get("/iframe.html?t=1234").status == 200
    sid = new_sid()
    assert server.post(f"/000/{sid}/xhr?t=1").body == b"o\n"


def test_paths_outside_the_prefix_are_not_claimed(server: Server) -> None:
    """PROTOCOL.md 2.1: only <prefix>, <prefix>/ and <prefix>/... belong to SockJS."""
    client = server.client()
    client.get("/echoes")
    response = client.response()
    assert response.status == 404
    assert response.body != NOT_FOUND  # Cyclone's own page, not ours


# ---------------------------------------------------------------------------
# Prefixes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "prefix"),
    [("/echo", "/echo"), ("/echo/", "/echo"), ("echo", "/echo"), ("/a/b/echo", "/a/b/echo")],
)
def test_prefix_is_normalised(given: str, prefix: str) -> None:
    """PROTOCOL.md 2.1: the base URL never has a trailing slash."""
    server = Server(prefix=given)
    assert server.router.prefix == prefix
    client = server.client()
    client.get(prefix + "/")
    assert client.response().body == b"Welcome to SockJS!\n"
    sid = new_sid()
    client.post(f"{prefix}/000/{sid}/xhr")
    assert client.response().body == b"o\n"


@pytest.mark.parametrize("given", ["", "/"])
def test_root_prefix(given: str) -> None:
    """A service mounted at the root serves every path."""
    server = Server(prefix=given)
    assert server.router.prefix == ""
    assert server.get("/").body == b"Welcome to SockJS!\n"
    assert server.get("/nope").status == 404
    assert server.post(f"/000/{new_sid()}/xhr").body == b"o\n"


def test_two_routers_in_one_application_have_separate_sessions() -> None:
    """PROTOCOL.md 2.3: the session namespace is per service."""
    one = Server(prefix="/one")
    two_router = SockJSRouter(Echo, "/two", reactor=one.clock)
    one.app = cyclone.web.Application(one.router.urls + two_router.urls)
    sid = new_sid()
    try:
        client = one.client()
        client.post(f"/one/000/{sid}/xhr")
        client.post(f"/two/000/{sid}/xhr")
        client.post(f"/two/000/{sid}/xhr_send", b'["x"]')
        client.post(f"/one/000/{sid}/xhr_send", b'["y"]')
        client.post(f"/one/000/{sid}/xhr")
        bodies = [r.body for r in client.responses()]
        assert bodies == [b"o\n", b"o\n", b"", b"", b'a["y"]\n']
        assert one.router.session_count == two_router.session_count == 1
        client.abort()
        one.advance(5.001)
        assert two_router.session_count == 0
    finally:
        two_router.stop()


# ---------------------------------------------------------------------------
# Router API
# ---------------------------------------------------------------------------


def test_urls_and_apply_routes() -> None:
    """``urls`` is a fresh list each time; ``apply_routes`` appends to the caller's."""
    router = SockJSRouter(Echo, "/echo", reactor=Server().clock)
    first = router.urls
    first.clear()
    assert len(router.urls) == 13  # twelve routes and the catch-all
    routes: list[Any] = [("/other", cyclone.web.RequestHandler)]
    assert router.apply_routes(routes) is routes
    assert len(routes) == 14
    assert routes[0] == ("/other", cyclone.web.RequestHandler)
    router.stop()


def test_settings_property_and_defaults(server: Server) -> None:
    """Defaults are the old sockjs-cyclone ones, in seconds."""
    options = server.router.settings
    assert isinstance(options, Options)
    assert options is server.router.options
    assert options.heartbeat_delay == 25.0
    assert options.disconnect_delay == 5.0
    assert options.response_limit == 131072
    assert options.jsessionid is True
    assert options.verify_ip is True


def test_default_reactor_is_the_global_one() -> None:
    """``reactor=None`` uses twisted.internet.reactor, imported lazily."""
    from twisted.internet import reactor

    router = SockJSRouter(Echo, "/echo")
    try:
        assert router._service.reactor is reactor
        assert router.session_count == 0
    finally:
        router.stop()


def test_connections_and_session_count(server: Server) -> None:
    """``connections`` lists open application connections; ``session_count`` all sessions."""
    assert server.router.connections == []
    server.open()
    server.open()
    conns = server.router.connections
    assert len(conns) == 2
    assert all(isinstance(conn, Echo) for conn in conns)
    assert server.router.session_count == 2
    conns[0].close()
    assert len(server.router.connections) == 1
    assert server.router.session_count == 2  # the closed one waits for its replay window


# ---------------------------------------------------------------------------
# Settings validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"disconect_delay": 5}, "unknown setting 'disconect_delay'"),
        ({"disconnect_delay": "5"}, "'disconnect_delay' must be a number of seconds"),
        ({"heartbeat_delay": True}, "'heartbeat_delay' must be a number of seconds"),
        ({"response_limit": 1.5}, "'response_limit' must be an integer number of bytes"),
        ({"max_queued_bytes": False}, "'max_queued_bytes' must be an integer"),
        ({"jsessionid": 1}, "'jsessionid' must be True, False or a callable"),
        ({"verify_ip": "yes"}, "'verify_ip' must be True or False"),
        ({"sockjs_url": 3}, "'sockjs_url' must be a string"),
        ({"disabled_transports": "xhr"}, "'disabled_transports' must be a list"),
        ({"disabled_transports": [1]}, "'disabled_transports' must be a list"),
        ({"disabled_transports": ["carrier_pigeon"]}, "unknown transports"),
        ({"allowed_origins": "*"}, "'allowed_origins' must be None or a list"),
        ({"allowed_origins": [1]}, "'allowed_origins' must be None or a list"),
        ({"disconnect_delay": 0}, "'disconnect_delay' must be > 0"),
        ({"heartbeat_delay": -1}, "'heartbeat_delay' must be > 0"),
        ({"session_check_interval": 0}, "'session_check_interval' must be > 0"),
        ({"response_limit": 0}, "'response_limit' must be >= 1"),
        ({"max_request_body": 0}, "'max_request_body' must be >= 1"),
        ({"max_message_size": -5}, "'max_message_size' must be >= 1"),
        ({"sockjs_url": "ftp://x/sockjs.js"}, "'sockjs_url' must start with"),
        ({"sockjs_url": '/x".js'}, "'sockjs_url' must start with"),
    ],
)
def test_bad_settings_raise(settings: dict[str, Any], fragment: str) -> None:
    """Unknown keys, wrong types and out-of-range values fail at construction."""
    with pytest.raises(SettingsError) as caught:
        SockJSRouter(Echo, "/echo", settings, reactor=Server().clock)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_good_settings_are_coerced() -> None:
    """Integers are accepted as seconds; lists become frozensets / tuples."""
    server = Server(
        settings={
            "disconnect_delay": 2,
            "heartbeat_delay": 1.5,
            "disabled_transports": ["xhr", "jsonp"],
            "allowed_origins": ["http://a.example"],
            "sockjs_url": "/static/sockjs.js",
            "immediate_flush": False,
            "session_check_interval": 3,
        }
    )
    options = server.options
    assert options.disconnect_delay == 2.0 and isinstance(options.disconnect_delay, float)
    assert options.heartbeat_delay == 1.5
    assert options.disabled_transports == frozenset({"xhr", "jsonp"})
    assert options.allowed_origins == ("http://a.example",)
    assert Server(settings={"allowed_origins": None}).options.allowed_origins is None


# ---------------------------------------------------------------------------
# Disabled transports
# ---------------------------------------------------------------------------


def test_disabled_transports_answer_404() -> None:
    """PROTOCOL.md 1.2: a disabled transport's URLs are unknown paths."""
    server = Server(settings={"disabled_transports": ["xhr", "jsonp", "eventsource", "htmlfile"]})
    sid = new_sid()
    assert server.post(f"/000/{sid}/xhr").status == 404
    assert server.post(f"/000/{sid}/xhr_send", b'["x"]').status == 404
    assert server.get(f"/000/{sid}/jsonp?c=x").status == 404
    assert server.post(f"/000/{sid}/jsonp_send", b'["x"]').status == 404
    assert server.get(f"/000/{sid}/eventsource").status == 404
    assert server.get(f"/000/{sid}/htmlfile?c=x").status == 404
    assert server.router.session_count == 0
    # The transports still enabled work.
    streaming = server.poll(sid, "xhr_streaming")
    assert streaming.response().chunks == [b"h" * 2048 + b"\n", b"o\n"]


def test_disabled_websocket_is_404_with_long_cache() -> None:
    """Checklist 122, 127: GET on both WebSocket URLs -> 404; POST -> 405."""
    server = Server(settings={"disabled_transports": ["websocket"]})
    for path in ("/0/0/websocket", "/websocket"):
        response = server.get(path, headers={"Upgrade": "websocket", "Connection": "Upgrade"})
        assert response.status == 404
        assert response.header("Cache-Control") == "public, max-age=31536000"
        assert response.header("Expires") == "Fri, 01 Jan 1971 00:00:00 GMT"
        post = server.post(path)
        assert (post.status, post.header("Allow")) == (405, "GET")


# ---------------------------------------------------------------------------
# Preflights (PROTOCOL.md 4.2)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/info", "OPTIONS, GET"),
        ("/abc/abc/xhr", "OPTIONS, POST"),
        ("/abc/abc/xhr_send", "OPTIONS, POST"),
        ("/abc/abc/xhr_streaming", "OPTIONS, POST"),
    ],
)
def test_preflight(server: Server, path: str, methods: str) -> None:
    """Checklist 38, 39, 41, 43, 44: 204 with the long-cache profile; no session."""
    server.advance(1000)
    response = server.request("OPTIONS", path)
    assert response.status == 204
    assert response.body == b""
    assert not response.has("Content-Type")
    assert not response.has("Content-Length")
    assert response.header("Access-Control-Allow-Methods") == methods
    assert response.header("Cache-Control") == "public, max-age=31536000"
    assert response.header("Expires") == "Fri, 01 Jan 1971 00:16:40 GMT"
    assert response.header("Access-Control-Max-Age") == "31536000"
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Access-Control-Allow-Credentials") == "true"
    assert not response.has("Access-Control-Allow-Headers")
    assert response.header("Set-Cookie") == "JSESSIONID=dummy; path=/; HttpOnly"
    assert server.router.session_count == 0
    assert server.send("abc", "x").status == 404


@pytest.mark.parametrize(
    ("origin", "expected"), [("test", "test"), ("null", "*"), ("", "*"), (None, "*")]
)
def test_preflight_origin(server: Server, origin: str | None, expected: str) -> None:
    """Checklist 40, 42, 43: Origin echoed; missing, empty or "null" -> "*"."""
    headers = {} if origin is None else {"Origin": origin}
    response = server.request("OPTIONS", "/abc/abc/xhr", headers=headers)
    assert response.header("Access-Control-Allow-Origin") == expected
    assert response.header("Access-Control-Allow-Credentials") == "true"


def test_preflight_echoes_request_headers(server: Server) -> None:
    """PROTOCOL.md 4.1 step 4 on a preflight."""
    response = server.request(
        "OPTIONS", "/info", headers={"Access-Control-Request-Headers": "a, b, c"}
    )
    assert response.header("Access-Control-Allow-Headers") == "a, b, c"


def test_preflight_without_jsessionid_has_no_cookie() -> None:
    """PROTOCOL.md 4.4: with jsessionid off no Set-Cookie appears."""
    server = Server(settings={"jsessionid": False})
    response = server.request("OPTIONS", "/abc/abc/xhr", headers={"Cookie": "JSESSIONID=x"})
    assert response.status == 204
    assert not response.has("Set-Cookie")


# ---------------------------------------------------------------------------
# JSESSIONID (PROTOCOL.md 4.4)
# ---------------------------------------------------------------------------


def _session_requests(server: Server, headers: dict[str, str]) -> dict[str, Any]:
    """One response of each session endpoint (streams cut short by the client)."""
    sid = new_sid()
    answers = {
        "xhr": server.post(f"/000/{sid}/xhr", headers=headers),
        "xhr_send": server.post(f"/000/{sid}/xhr_send", b'["x"]', headers=headers),
        "jsonp_send": server.post(
            f"/000/{sid}/jsonp_send",
            b"d=%5B%22x%22%5D",
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        ),
        "jsonp": server.get(f"/000/{sid}/jsonp?c=callback", headers=headers),
        "preflight": server.request("OPTIONS", f"/000/{sid}/xhr", headers=headers),
        "xhr_send_404": server.post(f"/000/{new_sid()}/xhr_send", b'["x"]', headers=headers),
        "jsonp_500": server.get(f"/000/{sid}/jsonp", headers=headers),
    }
    for transport in ("xhr_streaming", "eventsource", "htmlfile?c=callback"):
        client = server.client()
        method = "POST" if transport == "xhr_streaming" else "GET"
        client.request(method, f"/echo/000/{new_sid()}/{transport}", headers=headers)
        answers[transport] = client.response()
        client.abort()
    return answers


def test_jsessionid_cookie_on_every_session_response(server: Server) -> None:
    """Checklist 50, 52: JSESSIONID=dummy; path=/ on all session endpoints and errors."""
    for name, response in _session_requests(server, {}).items():
        assert response.header_all("Set-Cookie") == ["JSESSIONID=dummy; path=/; HttpOnly"], name
        # The suite's reading: the first two attributes, split on ';'.
        first, second, *_ = response.header("Set-Cookie").split(";")
        assert first.strip() == "JSESSIONID=dummy" and second.strip().lower() == "path=/"


def test_jsessionid_cookie_echoes_the_client_value(server: Server) -> None:
    """Checklist 51: the client's JSESSIONID is echoed."""
    headers = {"Cookie": "other=1; JSESSIONID=abcdef; more=2"}
    for name, response in _session_requests(server, headers).items():
        assert response.header("Set-Cookie") == "JSESSIONID=abcdef; path=/; HttpOnly", name


@pytest.mark.parametrize("value", ['a"b', "a,b", "a\\b", "a b"])
def test_jsessionid_cookie_never_echoes_unsafe_values(server: Server, value: str) -> None:
    """A value that is not a cookie token cannot inject header syntax: ``dummy``."""
    response = server.request(
        "POST", f"/000/{new_sid()}/xhr", headers={"Cookie": f"JSESSIONID={value}"}
    )
    assert response.header("Set-Cookie") == "JSESSIONID=dummy; path=/; HttpOnly"


def test_no_cookie_anywhere_when_jsessionid_is_off() -> None:
    """Checklist 53: with jsessionid off, no response carries Set-Cookie."""
    server = Server(settings={"jsessionid": False})
    answers = _session_requests(server, {"Cookie": "JSESSIONID=abcdef"})
    answers["greeting"] = server.get("")
    answers["info"] = server.get("/info")
    answers["iframe"] = server.get("/iframe.html")
    answers["404"] = server.get("/nope")
    for name, response in answers.items():
        assert not response.has("Set-Cookie"), name


def test_no_cookie_on_static_endpoints_even_with_jsessionid(server: Server) -> None:
    """Checklist 3, 27, 37: greeting, iframe and /info never set the cookie."""
    for path in ("", "/iframe.html", "/info"):
        assert not server.get(path, headers={"Cookie": "JSESSIONID=x"}).has("Set-Cookie")


def test_session_responses_have_the_no_cache_profile(server: Server) -> None:
    """Checklist 48, 49: exact Cache-Control, no Expires, no Last-Modified (errors too)."""
    for name, response in _session_requests(server, {}).items():
        if name == "preflight":
            continue
        assert response.header("Cache-Control") == NO_CACHE, name
        assert not response.has("Expires"), name
        assert not response.has("Last-Modified"), name


def test_charset_is_upper_case_everywhere(server: Server) -> None:
    """Checklist 54: every Content-Type that names a charset spells it UTF-8."""
    answers = _session_requests(server, {})
    answers.update(
        greeting=server.get(""), info=server.get("/info"), iframe=server.get("/iframe.html")
    )
    for name, response in answers.items():
        content_type = response.header("Content-Type")
        if content_type is not None:
            assert content_type.endswith("charset=UTF-8"), name


# ---------------------------------------------------------------------------
# HTTP/1.x connection handling (PROTOCOL.md 4.7)
# ---------------------------------------------------------------------------


def test_http10_greeting_closes_the_connection(server: Server) -> None:
    """Checklist 141: HTTP/1.0 keep-alive request -> length or close; socket closed."""
    client = server.client()
    client.request("GET", "/echo", headers={"Connection": "Keep-Alive"}, version="HTTP/1.0")
    response = client.response()
    assert response.status == 200
    assert not response.has("Transfer-Encoding")
    assert response.header("Content-Length") == "19"
    assert response.header("Connection") == "close"
    assert client.closed_by_server


def test_http11_keeps_the_connection_alive(server: Server) -> None:
    """Checklist 142: a second request on the same HTTP/1.1 connection works."""
    client = server.client()
    client.get("/echo")
    client.get("/echo/info")
    client.request("OPTIONS", "/echo/info")
    responses = client.responses()
    assert [r.status for r in responses] == [200, 200, 204]
    assert all(not r.has("Connection") for r in responses)
    assert not client.closed_by_server


def test_http11_connection_close_is_honoured(server: Server) -> None:
    """PROTOCOL.md 4.7: ``Connection: close`` -> the same header and a closed socket."""
    client = server.client()
    client.get("/echo", headers={"Connection": "close"})
    assert client.response().header("Connection") == "close"
    assert client.closed_by_server


# ---------------------------------------------------------------------------
# Request heads through SockJSHTTPConnection (the opt-in hardened parser)
# ---------------------------------------------------------------------------


@pytest.fixture
def hardened() -> Server:
    """An /echo service whose application uses SockJSHTTPConnection."""
    return Server(hardened=True)


def refused(client: Any, status: int) -> bool:
    """The connection got exactly one short refusal with ``status`` and was closed."""
    (response,) = client.responses()
    return (
        response.status == status
        and response.header("Connection") == "close"
        and response.header("Content-Type") == TEXT_PLAIN
        and client.closed_by_server
    )


def test_hardened_serves_like_cyclone(hardened: Server) -> None:
    """Same answers as the plain parser, keep-alive included."""
    client = hardened.client()
    client.get("/echo")
    client.request("POST", "/echo/info")
    client.post(f"/echo/000/{new_sid()}/xhr")
    statuses = [r.status for r in client.responses()]
    assert statuses == [200, 405, 200]
    assert not client.closed_by_server


def test_hardened_tolerates_blank_lines_between_requests(hardened: Server) -> None:
    """RFC 9112 2.2: empty lines before a request line are ignored."""
    client = hardened.client()
    client.send_raw(b"\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /echo HTTP/1.1\r\n\r\n")
    assert [r.status for r in client.responses()] == [200, 200]


@pytest.mark.parametrize(
    "line",
    [
        b"GET /echo",
        b"GET /echo HTTP/2.0",
        b"GET  /echo HTTP/1.1",
        b"G(T /echo HTTP/1.1",
        b"GET echo HTTP/1.1",
        b"GET /echo\xff HTTP/1.1",
        b"GET /ec ho HTTP/1.1",
    ],
)
def test_hardened_refuses_malformed_request_lines(hardened: Server, line: bytes) -> None:
    """A request line that is not ``METHOD /target HTTP/1.x`` -> 400 and close."""
    client = hardened.client()
    client.send_raw(line + b"\r\nHost: x\r\n\r\n")
    assert refused(client, 400)
    client.send_raw(b"GET /echo HTTP/1.1\r\n\r\n")  # ignored after a refusal
    assert len(client.responses()) == 1


def test_hardened_refuses_a_header_line_without_colon(hardened: Server) -> None:
    """A header line that is not ``name: value`` -> 400 and close."""
    client = hardened.client()
    client.send_raw(b"GET /echo HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n")
    assert refused(client, 400)


def test_hardened_header_count_limit(hardened: Server) -> None:
    """More header lines than max_headers -> 431."""
    client = hardened.client()
    client.request("GET", "/echo", headers=[(f"X-H{i}", "v") for i in range(150)])
    assert refused(client, 431)


def test_hardened_accepts_exactly_max_headers(hardened: Server) -> None:
    """max_headers header lines are allowed; one more is not."""
    client = hardened.client()
    client.request("GET", "/echo", headers=[(f"X-H{i}", "v") for i in range(99)])  # + Host
    assert client.response().status == 200
    client = hardened.client()
    client.request("GET", "/echo", headers=[(f"X-H{i}", "v") for i in range(100)])
    assert refused(client, 431)


def test_hardened_head_size_limit(hardened: Server) -> None:
    """A head over max_header_bytes -> 431, counted over all its lines."""
    client = hardened.client()
    client.protocol.max_header_bytes = 300
    client.request("GET", "/echo", headers=[("X-A", "a" * 100), ("X-B", "b" * 100)])
    assert client.response().status == 200
    client.request("GET", "/echo", headers=[("X-A", "a" * 150), ("X-B", "b" * 150)])
    responses = client.responses()
    assert responses[-1].status == 431
    assert client.closed_by_server


def test_hardened_line_length_limit(hardened: Server) -> None:
    """One header line over LineReceiver.MAX_LENGTH -> 431."""
    client = hardened.client()
    client.request("GET", "/echo", headers={"X-Big": "x" * 20000})
    assert refused(client, 431)


@pytest.mark.parametrize("value", ["abc", "-1", "1 0"])
def test_hardened_refuses_invalid_content_length(hardened: Server, value: str) -> None:
    """A Content-Length that is not a number -> 400."""
    client = hardened.client()
    client.send_raw(f"POST /echo/info HTTP/1.1\r\nContent-Length: {value}\r\n\r\n".encode())
    assert refused(client, 400)


@pytest.mark.parametrize("value", ["+10", "1_0"])
def test_hardened_content_length_is_digits_only(hardened: Server, value: str) -> None:
    """RFC 9110 8.6: Content-Length is 1*DIGIT; anything else -> 400."""
    client = hardened.client()
    client.send_raw(
        f"POST /echo/info HTTP/1.1\r\nContent-Length: {value}\r\n\r\n0123456789".encode()
    )
    assert refused(client, 400)


def test_hardened_refuses_content_length_with_chunked(hardened: Server) -> None:
    """Both framings at once (a smuggling vector) -> 400."""
    client = hardened.client()
    client.send_raw(
        b"POST /echo/info HTTP/1.1\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    assert refused(client, 400)


def test_hardened_max_body_size_for_other_routes() -> None:
    """Routes that are not SockJS's use the application's max_body_size."""

    class Plain(cyclone.web.RequestHandler):
        def post(self) -> None:
            self.write(b"got %d" % len(self.request.body))

    server = Server(hardened=True)
    server.app = cyclone.web.Application([*server.router.urls, (r"/plain", Plain)], max_body_size=5)
    server.app.protocol = SockJSHTTPConnection
    server.app.sockjs_clock = server.clock
    for path in ("/plain", "/nowhere"):
        client = server.client()
        client.post(path, b"0123456789")
        assert refused(client, 413), path
    client = server.client()
    client.post("/plain", b"01234")
    assert client.response().body == b"got 5"
    # SockJS routes keep their own max_request_body (1 MiB by default).
    sid = server.open()
    assert server.send(sid, "0123456789").status == 204


def test_hardened_without_app_limit_accepts_any_body_elsewhere() -> None:
    """No max_body_size: bodies to other paths are not limited by the parser."""
    server = Server(hardened=True)
    client = server.client()
    # Below 100000 bytes: Cyclone spools larger bodies to a temporary file it
    # never closes (a ResourceWarning when it is collected).
    client.post("/nowhere", b"x" * 99999)
    assert client.response().status == 404
