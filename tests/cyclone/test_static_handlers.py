"""Greeting, ``/info`` and the iframe page through Cyclone (PROTOCOL.md section 5)."""

from __future__ import annotations

import hashlib
import json

import pytest
from helpers import JSON, NO_CACHE, TEXT_HTML, TEXT_PLAIN, Server

from sockjs.protocol.options import DEFAULT_SOCKJS_URL

IFRAME_TEMPLATE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script>
    document.domain = document.domain;
    _sockjs_onload = function(){SockJS.bootstrap_iframe();};
  </script>
  <script src="URL"></script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""


def iframe_body(url: str) -> bytes:
    return IFRAME_TEMPLATE.replace("URL", url).encode()


# ---------------------------------------------------------------------------
# Greeting
# ---------------------------------------------------------------------------


def test_greeting_has_no_cache_or_cors_headers(server: Server) -> None:
    """PROTOCOL.md 5.1: greeting carries neither cache profile nor CORS."""
    response = server.get("/")
    assert (response.status, response.body) == (200, b"Welcome to SockJS!\n")
    assert response.header("Content-Type") == TEXT_PLAIN
    for name in ("Cache-Control", "Expires", "Access-Control-Allow-Origin", "Set-Cookie"):
        assert not response.has(name), name


# ---------------------------------------------------------------------------
# Info
# ---------------------------------------------------------------------------


def test_info(server: Server) -> None:
    """Checklist 28-34: JSON with exactly the four members, no-cache, CORS."""
    response = server.get("/info")
    assert response.status == 200
    assert response.header("Content-Type") == JSON
    assert response.header("Cache-Control") == NO_CACHE
    assert not response.has("Expires")
    assert not response.has("Last-Modified")
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Access-Control-Allow-Credentials") == "true"
    assert not response.has("Set-Cookie")
    info = json.loads(response.body)
    assert set(info) == {"websocket", "origins", "cookie_needed", "entropy"}
    assert info["websocket"] is True
    assert info["cookie_needed"] is True  # jsessionid defaults to on
    assert info["origins"] == ["*:*"]
    assert isinstance(info["entropy"], int)
    assert 0 <= info["entropy"] <= 2**32 - 1
    assert response.header("Content-Length") == str(len(response.body))


def test_info_entropy_changes(server: Server) -> None:
    """Checklist 35: two calls -> different entropy (a 2**-32 chance of a false alarm)."""
    first = json.loads(server.get("/info").body)["entropy"]
    second = json.loads(server.get("/info").body)["entropy"]
    assert first != second


def test_info_reflects_settings() -> None:
    """Checklist 32, 36, 37: websocket false when disabled; cookie_needed follows jsessionid."""
    server = Server(settings={"disabled_transports": ["websocket"], "jsessionid": False})
    info = json.loads(server.get("/info").body)
    assert info["websocket"] is False
    assert info["cookie_needed"] is False
    cookie_server = Server(settings={"jsessionid": True})
    response = cookie_server.get("/info", headers={"Cookie": "JSESSIONID=abc"})
    assert json.loads(response.body)["cookie_needed"] is True
    assert not response.has("Set-Cookie")


def test_info_cors_echoes_origin(server: Server) -> None:
    """PROTOCOL.md 4.1 on GET /info."""
    response = server.get(
        "/info", headers={"Origin": "http://a.example", "Access-Control-Request-Headers": "x-a"}
    )
    assert response.header("Access-Control-Allow-Origin") == "http://a.example"
    assert response.header("Access-Control-Allow-Headers") == "x-a"


def test_info_preflight(server: Server) -> None:
    """Checklist 38-40: OPTIONS /info -> 204 preflight with OPTIONS, GET."""
    response = server.request("OPTIONS", "/info", headers={"Origin": "null"})
    assert response.status == 204
    assert response.body == b""
    assert response.header("Access-Control-Allow-Methods") == "OPTIONS, GET"
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert int(response.header("Access-Control-Max-Age") or 0) > 1000000


# ---------------------------------------------------------------------------
# Iframe page
# ---------------------------------------------------------------------------


def test_iframe(server: Server) -> None:
    """Checklist 16, 20-24, 27: the page, long-cache profile, strong ETag."""
    response = server.get("/iframe.html")
    assert response.status == 200
    assert response.header("Content-Type") == TEXT_HTML
    assert response.body == iframe_body(DEFAULT_SOCKJS_URL)
    assert response.header("Cache-Control") == "public, max-age=31536000"
    assert response.header("Expires") == "Fri, 01 Jan 1971 00:00:00 GMT"
    assert response.header("ETag") == '"' + hashlib.md5(response.body).hexdigest() + '"'
    assert not response.has("Last-Modified")
    assert not response.has("Set-Cookie")
    assert not response.has("Access-Control-Allow-Origin")
    assert server.get("/iframe.html").header("ETag") == response.header("ETag")


@pytest.mark.parametrize(
    "name",
    [
        "iframe-a.html",
        "iframe-.html",
        "iframe-0.1.2.html",
        "iframe-0.1.2abc-dirty.2144.html",
        "iframe.html?t=1234",
        "iframe-a.html?t=1",
    ],
)
def test_iframe_variants(server: Server, name: str) -> None:
    """Checklist 17, 18: every variant serves the same page."""
    response = server.get(f"/{name}")
    assert response.status == 200
    assert response.body == iframe_body(DEFAULT_SOCKJS_URL)


@pytest.mark.parametrize(
    "name",
    ["iframe.htm", "iframe", "IFRAME.HTML", "IFRAME", "iframe.HTML", "iframe.xml", "iframe-/.html"],
)
def test_iframe_lookalikes_are_404(server: Server, name: str) -> None:
    """Checklist 19."""
    assert server.get(f"/{name}").status == 404


def test_iframe_uses_configured_sockjs_url() -> None:
    """Checklist 20, 21: the configured URL is inserted verbatim."""
    server = Server(settings={"sockjs_url": "/static/sockjs-0.3.4.min.js"})
    response = server.get("/iframe.html")
    assert response.body == iframe_body("/static/sockjs-0.3.4.min.js")
    assert response.header("ETag") == '"' + hashlib.md5(response.body).hexdigest() + '"'


def test_iframe_conditional_get(server: Server) -> None:
    """Checklist 25, 26: a matching If-None-Match -> 304 without body or Content-Type."""
    etag = server.get("/iframe.html").header("ETag")
    assert etag
    client = server.client()
    client.get("/echo/iframe.html", headers={"If-None-Match": etag})
    client.get("/echo/iframe.html", headers={"If-None-Match": '"other"'})
    not_modified, full = client.responses()
    assert not_modified.status == 304
    assert not_modified.body == b""
    assert not not_modified.has("Content-Type")
    assert not not_modified.has("Content-Length")
    assert not_modified.header("Cache-Control") == "public, max-age=31536000"
    assert not_modified.has("Expires")
    assert full.status == 200
    assert full.body == iframe_body(DEFAULT_SOCKJS_URL)
