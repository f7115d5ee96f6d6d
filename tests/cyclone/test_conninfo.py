"""``ConnectionInfo``: what the application learns about the client.

ip, cookies, query arguments, headers and ``path`` (the prefix). Server and
session ids act as bearer tokens: they must reach neither the application
nor the logs.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import pytest
from helpers import LogCapture, Server, recording

from sockjs.cyclone import ConnectionInfo
from sockjs.cyclone.conninfo import normalize_ip

SERVER_ID = "srv4242"
SESSION_ID = "secret-session-7f3a"


def open_with(
    transport: str = "xhr", query: str = "", ip: str = "127.0.0.1", **kwargs: Any
) -> tuple[Server, ConnectionInfo]:
    conn_class, events = recording()
    server = Server(conn_class, "/svc")
    client = server.client(ip)
    method = "POST" if transport in ("xhr", "xhr_streaming") else "GET"
    client.request(method, f"/svc/{SERVER_ID}/{SESSION_ID}/{transport}{query}", **kwargs)
    assert client.response().status == 200
    (info,) = events.infos
    return server, info


def test_basic_fields() -> None:
    """ip, path (the prefix), transport; arguments and cookies empty."""
    _, info = open_with()
    assert info.ip == "127.0.0.1"
    assert info.path == "/svc"
    assert info.transport == "xhr"
    assert info.arguments == {}
    assert info.get_argument("c") is None
    assert info.get_cookie("JSESSIONID") is None
    assert repr(info) == "ConnectionInfo(ip='127.0.0.1', path='/svc', transport='xhr')"


def test_no_session_or_server_id_anywhere(logs: LogCapture) -> None:
    """Ids never reach the application (no field holds them) nor the log lines."""
    server, info = open_with(
        "jsonp", "?c=cb&x=1", headers={"Cookie": "a=b", "Referer": "http://page.example/"}
    )
    server.post(f"/{SERVER_ID}/{SESSION_ID}/xhr_send", b'["x"]')
    server.post(f"/{SERVER_ID}/{SESSION_ID}/xhr_send", b"[broken")
    server.get(f"/{SERVER_ID}/{SESSION_ID}/jsonp")  # 500: callback missing
    values = [getattr(info, name) for name in ConnectionInfo.__slots__]
    text = repr(values) + repr(info) + repr(dict(info.cookies))
    for secret in (SERVER_ID, SESSION_ID):
        assert secret not in text
        assert secret not in logs.text()
    assert "/svc/<jsonp>" in logs.text()


def test_ipv6_and_mapped_addresses() -> None:
    """IPv4-mapped IPv6 peers are reported as IPv4; plain IPv6 as is."""
    _, mapped = open_with(ip="::ffff:10.1.2.3")
    assert mapped.ip == "10.1.2.3"
    _, six = open_with(ip="2001:db8::1")
    assert six.ip == "2001:db8::1"


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:1.2.3.4", "1.2.3.4"),
        ("::ffff:abcd", "::ffff:abcd"),
        ("1.2.3.4", "1.2.3.4"),
        ("::1", "::1"),
    ],
)
def test_normalize_ip(ip: str, expected: str) -> None:
    """Only IPv4-mapped addresses in dotted form are rewritten."""
    assert normalize_ip(ip) == expected


def test_cookies() -> None:
    """Cookies of the opening request, as http.cookies Morsels."""
    _, info = open_with(headers={"Cookie": "JSESSIONID=abc; theme=dark"})
    assert isinstance(info.cookies, SimpleCookie)
    morsel = info.get_cookie("theme")
    assert morsel is not None and morsel.value == "dark"
    assert info.get_cookie("JSESSIONID").value == "abc"  # type: ignore[union-attr]
    assert info.get_cookie("missing") is None


def test_malformed_cookie_header_gives_no_cookies() -> None:
    """A Cookie header Cyclone cannot parse leaves the cookie jar empty, no error."""
    _, info = open_with(headers={"Cookie": 'a="unterminated; b=\x7f'})
    assert info.get_cookie("a") is None


def test_arguments() -> None:
    """Query arguments of the opening request; values decoded from UTF-8."""
    _, info = open_with("jsonp", "?c=cb&x=1&x=2&name=%C3%A9t%C3%A9&blank=")
    assert info.get_argument("c") == "cb"
    assert info.get_argument("x") == "1"
    assert info.get_argument("name") == "\u00e9t\u00e9"
    assert info.get_argument("blank") in ("", None)
    assert info.get_argument("missing") is None
    assert len(info.arguments["x"]) == 2


def test_arguments_given_as_text() -> None:
    """ConnectionInfo built by hand with str values works the same."""
    info = ConnectionInfo("1.2.3.4", SimpleCookie(), {"a": ["b"], "n": [3]}, {}, "/p")
    assert info.get_argument("a") == "b"
    assert info.get_argument("n") == "3"
    assert info.transport == ""


def test_headers_are_case_insensitive() -> None:
    """get_header finds a header whatever the spelling; missing -> None."""
    _, info = open_with("eventsource", headers={"X-Custom-Thing": "yes", "User-Agent": "pytest"})
    assert info.transport == "eventsource"
    assert info.get_header("X-Custom-Thing") == "yes"
    assert info.get_header("x-custom-thing") == "yes"
    assert info.get_header("USER-AGENT") == "pytest"
    assert info.get_header("Missing") is None
    assert isinstance(info.headers, dict)


def test_info_is_a_snapshot_of_the_opening_request() -> None:
    """Later requests of the same session do not change what the app was given."""
    conn_class, events = recording()
    server = Server(conn_class, "/svc")
    server.post("/0/s1/xhr", headers={"X-Step": "first"})
    server.post("/0/s1/xhr_send", b'["x"]', headers={"X-Step": "second"})
    server.post("/0/s1/xhr", headers={"X-Step": "third"})
    (info,) = events.infos
    assert info.get_header("X-Step") == "first"


def test_trusted_proxy_headers() -> None:
    """X-Forwarded-For is honoured only when the peer is a trusted proxy."""
    conn_class, events = recording()
    server = Server(conn_class, "/svc", settings={"trusted_proxies": ["10.0.0.0/8"]})
    forwarded = {"X-Forwarded-For": "203.0.113.7, 10.0.0.5"}
    server.post("/0/a/xhr", ip="10.0.0.1", headers=forwarded)
    server.post("/0/b/xhr", ip="198.51.100.1", headers=forwarded)
    server.post("/0/c/xhr", ip="10.0.0.1", headers={"X-Real-IP": "203.0.113.9"})
    assert [info.ip for info in events.infos] == ["203.0.113.7", "198.51.100.1", "203.0.113.9"]


def test_proxy_headers_are_ignored_without_trusted_proxies() -> None:
    """By default a spoofed X-Forwarded-For changes nothing."""
    _, info = open_with(headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "1.1.1.1"})
    assert info.ip == "127.0.0.1"
