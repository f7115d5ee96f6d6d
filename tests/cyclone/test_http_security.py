"""Security findings (issue 18) and peer-parity settings (issue 19) over the adapter.

Real HTTP bytes through the in-memory :class:`helpers.Server`: the start-up
warning about open origins, ``check_origin_http`` and ``Sec-Fetch-Site``,
``verify_ip`` for senders, the client address under ``xheaders=True``,
reflected headers that cannot be written, ``Vary``, the cookie's
attributes, the iframe page's integrity and framing, ``jsonp_prefix``, the
``jsessionid`` callable and the ``iframe`` entry of ``disabled_transports``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import NOT_FOUND, LogCapture, Server, new_sid, parse_responses, recording
from twisted.logger import LogLevel

from sockjs.cyclone import ConnectionInfo
from sockjs.cyclone.logevents import APP_EXCEPTION, INTERNAL_ERROR, NAMESPACE, TRANSPORT_ERROR
from sockjs.protocol import http

SRI = "sha384-svdnwiXBL+Js+yUneJSRFy24NgGiOfDM/vkQl/vCeVrcbYD6yW8EwPr1FnxTEZsR"
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


def events_named(logs: LogCapture, name: str) -> list[Any]:
    return [event for event in logs.events if event.get("sockjs_event") == name]


def origin_warnings(logs: LogCapture) -> list[Any]:
    return [
        event
        for event in logs.events
        if event.get("setting") == "allowed_origins" and event["log_level"] is LogLevel.warn
    ]


# -- finding 1: open origins and the JSONP gap ------------------------------------------


def test_every_origin_router_warns_once_when_made(logs: LogCapture) -> None:
    """One warning per router that allows every origin, naming the setting to use."""
    server = Server()
    Server(prefix="/other")
    warnings = origin_warnings(logs)
    assert [event["router"] for event in warnings] == ["/echo", "/other"]
    assert warnings[0]["log_namespace"] == NAMESPACE
    text = logs.text()
    assert "'allowed_origins'" in text and "'check_origin_http'" in text
    server.get("/info")
    server.open()
    assert len(origin_warnings(logs)) == 2  # at start-up only, never per request


@pytest.mark.parametrize("origins", [["https://app.example"], ["*"]])
def test_an_allow_list_stops_the_warning(logs: LogCapture, origins: list[str]) -> None:
    """A list, even an explicit ``["*"]``, is the operator's decision: no warning."""
    Server(settings={"allowed_origins": origins})
    assert origin_warnings(logs) == []


def strict_server(**settings: Any) -> tuple[Server, Any]:
    connection, events = recording()
    server = Server(
        connection,
        settings={
            "allowed_origins": ["https://app.example"],
            "check_origin_http": True,
            **settings,
        },
    )
    return server, events


def test_cross_site_script_without_origin_is_refused() -> None:
    """The JSONP gap: ``<script src=.../jsonp?c=steal>`` sends no Origin; 403, no data."""
    server, events = strict_server()
    sid = new_sid()
    owner = {"Origin": "https://app.example"}
    assert server.post(f"/000/{sid}/xhr", headers=owner).body == b"o\n"
    assert server.post(f"/000/{sid}/xhr_send", b'["secret"]', headers=owner).status == 204
    stolen = server.get(f"/000/{sid}/jsonp?c=steal", headers={"Sec-Fetch-Site": "cross-site"})
    assert (stolen.status, stolen.body) == (403, b"Unverified origin.")
    assert server.router.stats.dump()["errors_bad_origin"] == 1
    # The session was not touched: its owner still gets the message.
    assert server.post(f"/000/{sid}/xhr", headers=owner).body == b'a["secret"]\n'
    assert [name for name in events.names() if name == "message"] == ["message"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 200),  # old browsers and non-browser clients send neither header
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "same-site"}, 200),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"}, 200),
        ({"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}, 403),
    ],
)
def test_sec_fetch_site_without_origin(headers: dict[str, str], status: int) -> None:
    server, _ = strict_server()
    assert server.get(f"/000/{new_sid()}/jsonp?c=cb", headers=headers).status == status


def test_sec_fetch_site_is_ignored_without_check_origin_http() -> None:
    """The defaults (the protocol suites need them) are unchanged."""
    server = Server(settings={"allowed_origins": ["https://app.example"]})
    headers = {"Sec-Fetch-Site": "cross-site"}
    assert server.get(f"/000/{new_sid()}/jsonp?c=cb", headers=headers).status == 200


# -- finding 2: verify_ip for senders -----------------------------------------------------


def test_sender_from_another_ip_is_logged_and_counted(logs: LogCapture) -> None:
    """``transport_error`` ``ip_mismatch`` with status 403, ``errors_ip_mismatch``."""
    server = Server()
    sid = server.open()
    refused = server.post(f"/000/{sid}/xhr_send", b'["x"]', ip="10.0.0.9")
    assert (refused.status, refused.body) == (403, b"Session opened from another IP address.")
    assert refused.header("Content-Type") == http.TEXT_PLAIN
    (event,) = events_named(logs, TRANSPORT_ERROR)
    assert (event["kind"], event["status"], event["code"], event["ip"]) == (
        "ip_mismatch",
        403,
        None,
        "10.0.0.9",
    )
    assert server.router.stats.dump()["errors_ip_mismatch"] == 1
    assert server.post(f"/000/{sid}/xhr_send", b'["y"]').status == 204
    assert server.post(f"/000/{sid}/xhr").body == b'a["y"]\n'


# -- finding 3: the client address with xheaders=True -------------------------------------


def test_xheaders_do_not_bypass_trusted_proxies() -> None:
    """Cyclone's ``xheaders`` rewrites ``remote_ip`` from any client: we read the peer."""
    connection, events = recording()
    server = Server(connection, xheaders=True)
    spoof = {"X-Real-Ip": "203.0.113.5", "X-Forwarded-For": "203.0.113.6"}
    sid = new_sid()
    server.post(f"/000/{sid}/xhr", ip="10.0.0.1", headers=spoof)
    assert events.infos[0].ip == "10.0.0.1"
    # verify_ip compares peers: the spoofed header does not make a stranger the owner...
    stranger = server.post(f"/000/{sid}/xhr", ip="10.0.0.2", headers={"X-Real-Ip": "10.0.0.1"})
    assert stranger.body == b'c[2010,"Another connection still open"]\n'
    sent = server.post(f"/000/{sid}/xhr_send", b'["x"]', ip="10.0.0.2", headers=spoof)
    assert sent.status == 403
    # ...and does not lock the owner out.
    assert server.post(f"/000/{sid}/xhr_send", b'["y"]', ip="10.0.0.1", headers=spoof).status == 204


def test_xheaders_with_a_trusted_proxy() -> None:
    """From a trusted proxy, its headers name the client (the ``client_ip`` rule)."""
    connection, events = recording()
    server = Server(connection, settings={"trusted_proxies": ["10.0.0.0/8"]}, xheaders=True)
    server.post(f"/000/{new_sid()}/xhr", ip="10.0.0.1", headers={"X-Real-Ip": "203.0.113.5"})
    server.post(f"/000/{new_sid()}/xhr", ip="192.0.2.1", headers={"X-Real-Ip": "203.0.113.5"})
    assert [info.ip for info in events.infos] == ["203.0.113.5", "192.0.2.1"]


def test_xheaders_do_not_bypass_trusted_proxies_on_websockets() -> None:
    """The WebSocket endpoints take the address from the same function."""
    connection, events = recording()
    server = Server(connection, xheaders=True)
    client = server.client("10.0.0.7")
    client.request("GET", "/echo/websocket", headers={**UPGRADE, "X-Real-Ip": "203.0.113.5"})
    assert client.response().status == 101
    assert events.infos[0].ip == "10.0.0.7"
    client.abort()


def test_request_log_names_the_peer() -> None:
    """Cyclone's request log line shows the same address (not ``X-Real-Ip``)."""
    summaries: list[str] = []
    server = Server(
        xheaders=True, log_function=lambda handler: summaries.append(handler._request_summary())
    )
    server.request("GET", "/info", ip="10.0.0.3", headers={"X-Real-Ip": "203.0.113.5"})
    assert summaries == ["GET /echo/<info> (10.0.0.3)"]


# -- finding 4: reflected headers that cannot be written -------------------------------


EURO_ORIGIN = b"http://\xe2\x82\xac.example"


def raw_request(server: Server, method: str, path: str, *header_lines: bytes) -> Any:
    client = server.client()
    head = [f"{method} {server.prefix}{path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    head.extend(header_lines)
    if method == "POST":
        head.append(b"Content-Length: 0")
    client.send_raw(b"\r\n".join(head) + b"\r\n\r\n")
    (response,) = parse_responses(client.data)  # a whole, parsable HTTP response
    return response


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/info"), ("OPTIONS", "/info"), ("POST", "/000/{sid}/xhr"), ("OPTIONS", "/a/b/xhr")],
)
def test_utf8_origin_is_answered_as_absent(logs: LogCapture, method: str, path: str) -> None:
    server = Server()
    response = raw_request(server, method, path.format(sid=new_sid()), b"Origin: " + EURO_ORIGIN)
    assert response.status in (200, 204)
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Vary") is not None
    assert events_named(logs, INTERNAL_ERROR) == []
    assert logs.failures() == []


@pytest.mark.parametrize("value", [b"\xe4\xb8\xad", b"caf\xc3\xa9", b"a\x01b"])
def test_unwritable_request_headers_are_not_echoed(logs: LogCapture, value: bytes) -> None:
    server = Server()
    response = raw_request(
        server, "OPTIONS", "/a/b/xhr_send", b"Access-Control-Request-Headers: " + value
    )
    assert response.status == 204
    assert not response.has("Access-Control-Allow-Headers")
    assert logs.failures() == []


def test_a_head_that_cannot_be_encoded_gets_a_clean_500(
    logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: the head is encoded before anything is written."""
    monkeypatch.setattr(http, "cors", lambda *args, **kwargs: [("X-Bad", "\u20ac")])
    server = Server()
    response = raw_request(server, "GET", "/info")
    assert (response.status, response.body) == (500, b"500 - Internal Server Error")
    assert not response.has("X-Bad")
    assert response.header("Cache-Control") == http.NO_CACHE[0][1]  # decided before: kept
    (failure,) = logs.take_failures()
    assert failure["sockjs_event"] == INTERNAL_ERROR


# -- finding 5: Vary, cookie attributes, the integrity hash ----------------------------


def test_cors_answers_vary_on_origin(server: Server) -> None:
    headers = {"Origin": "https://a.example", "Access-Control-Request-Headers": "x-a"}
    sid = server.open()
    answers = {
        "info": server.get("/info", headers=headers),
        "xhr_send": server.post(f"/000/{sid}/xhr_send", b'["x"]', headers=headers),
        "xhr": server.post(f"/000/{sid}/xhr", headers=headers),
    }
    for name, response in answers.items():
        assert response.header_all("Vary") == ["Origin"], name
        assert response.header("Access-Control-Allow-Origin") == "https://a.example"
    preflight = server.request("OPTIONS", "/000/a/xhr", headers=headers)
    assert preflight.header_all("Vary") == ["Origin, Access-Control-Request-Headers"]
    assert not server.get("/").has("Vary")


def test_cookie_is_http_only(server: Server) -> None:
    sid = new_sid()
    response = server.post(f"/000/{sid}/xhr", headers={"Cookie": "JSESSIONID=abc"})
    assert response.header("Set-Cookie") == "JSESSIONID=abc; path=/; HttpOnly"


def test_iframe_integrity_is_opt_in() -> None:
    plain = Server().get("/iframe.html")
    assert b"integrity" not in plain.body
    hashed = Server(settings={"sockjs_url_integrity": SRI}).get("/iframe-1.6.1.html")
    assert hashed.status == 200
    assert f'integrity="{SRI}" crossorigin="anonymous"></script>'.encode() in hashed.body
    assert hashed.header("ETag") != plain.header("ETag")


# -- setting 6: jsonp_prefix -----------------------------------------------------------


def test_jsonp_prefix() -> None:
    server = Server(settings={"jsonp_prefix": True})
    sid = new_sid()
    assert server.get(f"/000/{sid}/jsonp?c=cb").body == b'/**/cb("o");\r\n'
    server.post(f"/000/{sid}/jsonp_send", b'["x"]')
    assert server.get(f"/000/{sid}/jsonp?c=cb").body == b'/**/cb("a[\\"x\\"]");\r\n'
    # htmlfile is not JSONP: unchanged.
    client = server.poll(new_sid(), "htmlfile", "?c=cb")
    assert b"/**/" not in client.response().body
    client.abort()


def test_jsonp_without_prefix_is_0_3_3(server: Server) -> None:
    assert server.get(f"/000/{new_sid()}/jsonp?c=cb").body == b'cb("o");\r\n'


# -- setting 7: the jsessionid callable ----------------------------------------------------


def test_jsessionid_callable_makes_the_cookie() -> None:
    seen: list[ConnectionInfo] = []

    def cookie(info: ConnectionInfo) -> str | None:
        seen.append(info)
        morsel = info.get_cookie("JSESSIONID")
        value = morsel.value if morsel is not None else "fresh"
        return f"JSESSIONID={value}; path=/; Secure; HttpOnly; SameSite=None"

    server = Server(settings={"jsessionid": cookie})
    sid = new_sid()
    response = server.post(f"/000/{sid}/xhr", ip="10.0.0.4", headers={"Cookie": "JSESSIONID=v1"})
    assert response.header_all("Set-Cookie") == [
        "JSESSIONID=v1; path=/; Secure; HttpOnly; SameSite=None"
    ]
    assert (seen[0].ip, seen[0].transport, seen[0].path) == ("10.0.0.4", "xhr", "/echo")
    preflight = server.request("OPTIONS", f"/000/{sid}/xhr_send")
    assert (
        preflight.header("Set-Cookie")
        == "JSESSIONID=fresh; path=/; Secure; HttpOnly; SameSite=None"
    )
    assert seen[-1].transport == "xhr_send"
    info = server.get("/info")
    assert json.loads(info.body)["cookie_needed"] is True
    assert not info.has("Set-Cookie")
    assert not server.get("/iframe.html").has("Set-Cookie")
    assert server.router.cookie_needed


def test_jsessionid_callable_may_decline() -> None:
    server = Server(settings={"jsessionid": lambda info: None})
    response = server.post(f"/000/{new_sid()}/xhr")
    assert response.body == b"o\n"
    assert not response.has("Set-Cookie")


@pytest.mark.parametrize(
    "cookie",
    [
        lambda info: 1 / 0,
        lambda info: b"JSESSIONID=x",
        lambda info: "JSESSIONID=x\r\nX-Evil: 1",
    ],
)
def test_a_failing_jsessionid_callable_is_logged_and_skipped(logs: LogCapture, cookie: Any) -> None:
    """An ``app_exception`` (hook ``jsessionid``); the request is served without a cookie."""
    server = Server(settings={"jsessionid": cookie})
    sid = new_sid()
    response = server.post(f"/000/{sid}/xhr")
    assert (response.status, response.body) == (200, b"o\n")
    assert not response.has("Set-Cookie")
    (failure,) = logs.take_failures()
    assert (failure["sockjs_event"], failure["hook"], failure["route"]) == (
        APP_EXCEPTION,
        "jsessionid",
        "xhr",
    )
    assert server.router.stats.dump()["errors_app_exception"] == 1
    assert server.post(f"/000/{sid}/xhr_send", b'["x"]').status == 204  # still serving
    logs.take_failures()


# -- setting 8: disabling the iframe page; who may frame it -----------------------------


@pytest.mark.parametrize("name", ["iframe.html", "iframe-1.6.1.html", "iframe-a.html?t=1"])
def test_disabled_iframe_is_404(name: str) -> None:
    server = Server(settings={"disabled_transports": ["iframe"]})
    response = server.get(f"/{name}")
    assert (response.status, response.body) == (404, NOT_FOUND)
    # Nothing else changes.
    assert json.loads(server.get("/info").body)["websocket"] is True
    assert server.post(f"/000/{new_sid()}/xhr").body == b"o\n"


@pytest.mark.parametrize(
    ("sources", "legacy"),
    [("'none'", "DENY"), ("'self'", "SAMEORIGIN"), ("https://app.example", None)],
)
def test_iframe_frame_ancestors(sources: str, legacy: str | None) -> None:
    server = Server(settings={"iframe_frame_ancestors": sources})
    page = server.get("/iframe.html")
    assert page.header("Content-Security-Policy") == f"frame-ancestors {sources}"
    assert page.header("X-Frame-Options") == legacy
    cached = server.get("/iframe.html", headers={"If-None-Match": page.header("ETag") or ""})
    assert cached.status == 304
    assert cached.header("Content-Security-Policy") == f"frame-ancestors {sources}"


def test_iframe_without_frame_ancestors_has_no_framing_headers(server: Server) -> None:
    page = server.get("/iframe.html")
    assert not page.has("Content-Security-Policy") and not page.has("X-Frame-Options")
