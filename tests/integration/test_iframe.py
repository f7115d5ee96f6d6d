"""The iframe page (PROTOCOL.md 5.3; checklist 11.B, items 16-27)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import pytest

from .rawhttp import RawHTTP, Response, content_type_is, request

if TYPE_CHECKING:
    from .conftest import ServerProcess

pytestmark = pytest.mark.integration

IFRAME_TEMPLATE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script>
    document.domain = document.domain;
    _sockjs_onload = function(){SockJS.bootstrap_iframe();};
  </script>
  <script src="{{ sockjs_url }}"></script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""

CUSTOM_SOCKJS_URL = "http://example.com/sockjs-0.3.4-test.min.js"
VALID_NAMES = [
    "iframe.html",
    "iframe-a.html",
    "iframe-.html",
    "iframe-0.1.2.html",
    "iframe-0.1.2abc-dirty.2144.html",
]
ONE_YEAR = 31536000


def expected_page(sockjs_url: str) -> str:
    """The 5.3 template with ``sockjs_url`` filled in."""
    return IFRAME_TEMPLATE.replace("{{ sockjs_url }}", sockjs_url)


def script_src(body: bytes) -> str:
    """The ``src`` of the page's external ``<script>`` tag."""
    match = re.search(rb'<script src="([^"]*)"></script>', body)
    assert match, body
    return match.group(1).decode("utf-8")


def max_age(cache_control: str | None) -> int:
    """The ``max-age`` directive of a Cache-Control value (-1 when absent)."""
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return int(match.group(1)) if match else -1


def get_iframe(port: int, path: str = "/echo/iframe.html") -> Response:
    """GET an iframe URL on a fresh connection."""
    return request(port, "GET", path)


@pytest.fixture(scope="module")
def custom_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A second server configured with a known ``--sockjs-url``."""
    return server_factory("--sockjs-url", CUSTOM_SOCKJS_URL)


def test_iframe_ok(server: ServerProcess) -> None:
    """Checklist 16: ``GET P/iframe.html`` -> 200, Content-Type ``text/html; charset=UTF-8``."""
    resp = get_iframe(server.port)
    assert resp.status == 200, resp
    assert content_type_is(resp, "text/html; charset=UTF-8"), resp.header("Content-Type")
    assert resp.body


@pytest.mark.parametrize("name", VALID_NAMES)
def test_iframe_name_variants(server: ServerProcess, name: str) -> None:
    """Checklist 17: ``iframe-a.html``, ``iframe-.html``, ``iframe-0.1.2.html``... -> same page."""
    reference = get_iframe(server.port)
    resp = get_iframe(server.port, f"/echo/{name}")
    assert resp.status == 200, resp
    assert content_type_is(resp, "text/html; charset=UTF-8")
    assert resp.body == reference.body


@pytest.mark.parametrize("name", VALID_NAMES)
def test_iframe_with_query(server: ServerProcess, name: str) -> None:
    """Checklist 18: the iframe URLs with ``?t=...`` queries -> 200 with the same page."""
    reference = get_iframe(server.port)
    resp = get_iframe(server.port, f"/echo/{name}?t=1234")
    assert resp.status == 200, resp
    assert resp.body == reference.body


@pytest.mark.parametrize(
    "name",
    ["iframe.htm", "iframe", "IFRAME.HTML", "IFRAME", "iframe.HTML", "iframe.xml", "iframe-/.html"],
)
def test_iframe_bad_names_404(server: ServerProcess, name: str) -> None:
    """Checklist 19: ``iframe.htm``, ``iframe``, ``IFRAME.HTML``, ... ``iframe-/.html`` -> 404."""
    resp = get_iframe(server.port, f"/echo/{name}")
    assert resp.status == 404, resp


def test_iframe_body_matches_template(custom_server: ServerProcess) -> None:
    """Checklist 20: the stripped body equals the 5.3 template with the configured URL."""
    resp = get_iframe(custom_server.port)
    assert resp.status == 200, resp
    assert resp.body.decode("utf-8").strip() == expected_page(CUSTOM_SOCKJS_URL)
    # The recommended form has nothing around the template at all.
    assert resp.body == expected_page(CUSTOM_SOCKJS_URL).encode("utf-8")


def test_iframe_default_body_matches_template(server: ServerProcess) -> None:
    """Checklist 20: with the default ``sockjs_url`` the page is the template as well."""
    resp = get_iframe(server.port)
    url = script_src(resp.body)
    assert resp.body.decode("utf-8").strip() == expected_page(url)


def test_iframe_sockjs_url_form(server: ServerProcess, custom_server: ServerProcess) -> None:
    """Checklist 21: the iframe's ``sockjs_url`` starts with ``/`` or ``http``."""
    for port in (server.port, custom_server.port):
        url = script_src(get_iframe(port).body)
        assert url.startswith(("/", "http")), url
        assert '"' not in url


def test_iframe_long_cache(server: ServerProcess) -> None:
    """Checklist 22: ``Cache-Control`` contains ``public`` and ``max-age`` >= 1000000."""
    resp = get_iframe(server.port)
    cache_control = resp.header("Cache-Control")
    assert cache_control is not None, resp
    assert "public" in cache_control
    assert max_age(cache_control) >= 1000000, cache_control


def test_iframe_expires_etag_no_last_modified(server: ServerProcess) -> None:
    """Checklist 23: ``Expires`` (about a year ahead) and ``ETag`` present, no ``Last-Modified``."""
    resp = get_iframe(server.port)
    expires = resp.header("Expires")
    assert expires, resp
    assert resp.header("ETag"), resp
    assert not resp.has_header("Last-Modified"), resp
    # One year ahead per 4.3; a generous window keeps this independent of speed.
    ahead = parsedate_to_datetime(expires).timestamp() - time.time()
    assert ONE_YEAR - 86400 < ahead < ONE_YEAR + 86400, expires


def test_iframe_etag_stable(server: ServerProcess) -> None:
    """Checklist 24: two GETs (also of other iframe names) return the same non-empty ETag."""
    first = get_iframe(server.port).header("ETag")
    second = get_iframe(server.port).header("ETag")
    other = get_iframe(server.port, "/echo/iframe-0.1.2.html?t=9").header("ETag")
    assert first, first
    assert first == second == other
    # A strong validator is a quoted string without the weak ``W/`` prefix.
    assert first.startswith('"') and first.endswith('"') and len(first) > 2, first


def test_iframe_conditional_get_304(server: ServerProcess) -> None:
    """Checklist 25: ``If-None-Match: <ETag>`` -> 304, empty body, no Content-Type."""
    etag = get_iframe(server.port).header("ETag")
    assert etag
    with RawHTTP(server.port) as conn:
        conn.send("GET", "/echo/iframe.html", headers=[("If-None-Match", etag)])
        resp = conn.read_response()
        assert resp.status == 304, resp
        assert resp.body == b""
        assert not resp.has_header("Content-Type"), resp
        # A 304 must not be followed by stray body bytes on the connection.
        assert conn.read_available(0.2) == b""


def test_iframe_conditional_get_mismatch(server: ServerProcess) -> None:
    """Checklist 26: a different ``If-None-Match`` -> 200 with the page."""
    reference = get_iframe(server.port)
    for value in ('"0123abc"', "xyz"):
        resp = request(server.port, "GET", "/echo/iframe.html", headers=[("If-None-Match", value)])
        assert resp.status == 200, (value, resp)
        assert resp.body == reference.body


@pytest.mark.parametrize("prefix", ["/echo", "/cookie_needed_echo"])
def test_iframe_has_no_cookie_or_cors(server: ServerProcess, prefix: str) -> None:
    """Checklist 27: iframe responses (200 and 304) carry no ``Set-Cookie`` (nor CORS)."""
    headers = [("Cookie", "JSESSIONID=abcdef"), ("Origin", "http://example.com")]
    resp = request(server.port, "GET", f"{prefix}/iframe.html", headers=headers)
    assert resp.status == 200, resp
    assert not resp.has_header("Set-Cookie"), resp
    assert not resp.has_header("Access-Control-Allow-Origin"), resp
    etag = resp.header("ETag") or ""
    not_modified = request(
        server.port,
        "GET",
        f"{prefix}/iframe.html",
        headers=[*headers, ("If-None-Match", etag)],
    )
    assert not_modified.status == 304, not_modified
    assert not not_modified.has_header("Set-Cookie"), not_modified
