"""Security rules of the core (issues 18 and 19), with plain values.

Reflected headers that cannot be written (non-ASCII, control characters),
``Vary``, ``check_origin_http`` without ``Origin`` (``Sec-Fetch-Site``),
``verify_ip`` for senders, the ``JSESSIONID`` attributes and the ``jsessionid``
callable's value, ``jsonp_prefix``, the iframe page's integrity hash and
framing headers, and the settings that carry them.
"""

from __future__ import annotations

import json
import re

import pytest

from sockjs.protocol import admission, http, info, routing, transports
from sockjs.protocol.admission import Admission
from sockjs.protocol.errors import OriginRefused
from sockjs.protocol.options import DISABLEABLE, TRANSPORT_NAMES, Options, SettingsError
from sockjs.protocol.session import Session

#: sockjs-client 1.6.1's dist/sockjs.min.js (docs/settings.rst gives the same hash).
SOCKJS_161_SRI = "sha384-svdnwiXBL+Js+yUneJSRFy24NgGiOfDM/vkQl/vCeVrcbYD6yW8EwPr1FnxTEZsR"

# -- reflected headers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        (None, False),
        ("", True),
        ("http://example.com", True),
        ("a, b,\tc", True),
        ("~ !", True),
        ("http://\u20ac.example", False),  # UTF-8 decoded: not Latin-1 at all
        ("http://caf\u00e9.example", False),  # Latin-1, but not ASCII
        ("a\r\nSet-Cookie: x=1", False),
        ("a\x00b", False),
        ("a\x7fb", False),
    ],
)
def test_header_safe(value: str | None, safe: bool) -> None:
    assert http.header_safe(value) == (value if safe else None)


def test_cors_treats_unwritable_values_as_absent() -> None:
    """Finding 4: a UTF-8 Origin or request-headers list is answered as if absent."""
    headers = dict(http.cors("http://\u20ac.example", "X-\u4e2d"))
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Headers" not in headers
    headers = dict(http.cors("http://a\rb", "a\nb"))
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Headers" not in headers
    for name, value in http.cors("http://caf\u00e9.example", "\u00e9"):
        value.encode("ascii")
        assert name.isascii()


def test_cors_varies_on_origin() -> None:
    """Finding 5: the answer echoes Origin, so shared caches must key on it (4.1 item 5)."""
    assert dict(http.cors("http://a.example", None))["Vary"] == "Origin"
    assert dict(http.cors(None, "x"))["Vary"] == "Origin"
    preflight = http.cors("http://a.example", "x", preflight=True)
    assert dict(preflight)["Vary"] == "Origin, Access-Control-Request-Headers"
    assert [name for name, _ in preflight].count("Vary") == 1


# -- check_origin_http --------------------------------------------------------------------

ALLOWED = ("https://app.example",)


@pytest.mark.parametrize(
    ("origin", "fetch_site", "allowed", "refused"),
    [
        ("https://app.example", None, ALLOWED, False),
        ("https://app.example", "cross-site", ALLOWED, False),
        ("https://evil.example", None, ALLOWED, True),
        ("https://evil.example", "same-origin", ALLOWED, True),
        (None, None, ALLOWED, False),  # old browsers, non-browser clients
        (None, "same-origin", ALLOWED, False),
        (None, "same-site", ALLOWED, False),
        (None, "none", ALLOWED, False),  # typed in the address bar
        (None, "cross-site", ALLOWED, True),  # finding 1: <script src=.../jsonp?c=steal>
        (None, " Cross-Site ", ALLOWED, True),
        (None, "cross-site", None, False),  # no allow-list: every origin is allowed
        (None, "cross-site", ("*",), False),
        ("https://evil.example", "cross-site", ("*:*",), False),
    ],
)
def test_origin_refused(
    origin: str | None, fetch_site: str | None, allowed: tuple[str, ...] | None, refused: bool
) -> None:
    answer = http.origin_refused(origin, fetch_site, allowed)
    assert (answer is not None) == refused
    if answer is not None:
        assert isinstance(answer, OriginRefused)
        assert (answer.status, answer.body) == (403, "Unverified origin.")


def test_origin_refused_says_why() -> None:
    foreign = http.origin_refused("https://evil.example", None, ALLOWED)
    assert foreign is not None and "https://evil.example" in foreign.detail
    scripted = http.origin_refused(None, "cross-site", ALLOWED)
    assert scripted is not None and "Sec-Fetch-Site" in scripted.detail


# -- verify_ip for senders ------------------------------------------------------------


def test_admit_sender_checks_the_address() -> None:
    """Finding 2: one rule in admission, a status answer (senders carry no frames)."""
    doors = Admission(Options())
    session = Session("s", Options(), 0.0, ip="10.0.0.1")
    assert doors.admit_sender(session, "10.0.0.1") is None
    refusal = doors.admit_sender(session, "10.0.0.2")
    assert refusal is admission.SENDER_IP_MISMATCH
    assert refusal.kind == "ip_mismatch" and refusal.close is None
    assert refusal.status == 403 and refusal.reported
    assert refusal.detail == "Session opened from another IP address."
    assert Admission(Options(verify_ip=False)).admit_sender(session, "10.0.0.2") is None


# -- cookies -----------------------------------------------------------------------------


def test_default_cookie_is_http_only_after_path() -> None:
    """Finding 5: HttpOnly comes after ``path=/``, which the suite reads second (4.4)."""
    _, value = http.jsessionid_cookie("JSESSIONID=abc")
    assert value == "JSESSIONID=abc; path=/; HttpOnly"
    first, second, *rest = value.split(";")
    assert (first.strip(), second.strip().lower(), rest) == (
        "JSESSIONID=abc",
        "path=/",
        [" HttpOnly"],
    )


def test_custom_cookie() -> None:
    """Setting 7: the callable's value, validated before it becomes a header."""
    assert http.custom_cookie(None) is None
    value = "JSESSIONID=x; path=/; Secure; SameSite=None"
    assert http.custom_cookie(value) == ("Set-Cookie", value)
    for bad in (b"JSESSIONID=x", 3, "", "  ", "a=1\r\nX-Evil: 1", "a=\u20ac"):
        with pytest.raises(ValueError, match="jsessionid callable returned"):
            http.custom_cookie(bad)


def test_cookie_needed() -> None:
    """Setting 7: ``/info`` says ``cookie_needed`` for a callable too."""

    def cookie(request: object) -> str | None:
        return None

    assert Options().cookie_needed
    assert not Options(jsessionid=False).cookie_needed
    assert Options(jsessionid=cookie).cookie_needed
    body = json.loads(info.info_body(Options(jsessionid=cookie), 1))
    assert body["cookie_needed"] is True
    assert json.loads(info.info_body(Options(jsessionid=False), 1))["cookie_needed"] is False


# -- jsonp_prefix ------------------------------------------------------------------------


def test_jsonp_prefix() -> None:
    """jsonp_prefix: /**/ before the callback; off, the 0.3.3 body."""
    assert transports.jsonp("cb").wrap("o") == b'cb("o");\r\n'
    assert transports.jsonp("cb", prefixed=True).wrap("o") == b'/**/cb("o");\r\n'


# -- the iframe page ---------------------------------------------------------------------


def test_iframe_page_without_integrity_is_the_template() -> None:
    """The 0.3.3 suite compares the body: the default page does not change."""
    page = info.IframePage("/static/sockjs.js")
    assert b'  <script src="/static/sockjs.js"></script>\n' in page.body
    assert b"integrity" not in page.body
    assert page.headers == []
    assert info.IframePage.for_options(Options(sockjs_url="/static/sockjs.js")).body == page.body


def test_iframe_page_with_integrity() -> None:
    """Finding 5: ``sockjs_url_integrity`` adds ``integrity`` and ``crossorigin``."""
    page = info.IframePage.for_options(Options(sockjs_url_integrity=SOCKJS_161_SRI))
    tag = (
        f'  <script src="{Options().sockjs_url}" integrity="{SOCKJS_161_SRI}" '
        'crossorigin="anonymous"></script>\n'
    )
    assert tag.encode() in page.body
    plain = info.IframePage(Options().sockjs_url)
    assert page.body.replace(tag.encode(), b"") == plain.body.replace(
        f'  <script src="{Options().sockjs_url}"></script>\n'.encode(), b""
    )
    assert page.etag != plain.etag
    assert re.fullmatch(r'"[0-9a-f]{32}"', page.etag)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (None, []),
        ("'none'", [("X-Frame-Options", "DENY")]),
        ("'NONE'", [("X-Frame-Options", "DENY")]),
        ("'self'", [("X-Frame-Options", "SAMEORIGIN")]),
        ("'self' https://app.example", []),
        ("https://*.example.com", []),
    ],
)
def test_frame_ancestors(sources: str | None, expected: list[tuple[str, str]]) -> None:
    """Setting 8: CSP always; X-Frame-Options only where it has an equivalent."""
    headers = http.frame_ancestors(sources)
    if sources is None:
        assert headers == []
        return
    assert headers[0] == ("Content-Security-Policy", f"frame-ancestors {sources}")
    assert headers[1:] == expected
    page = info.IframePage.for_options(Options(iframe_frame_ancestors=sources))
    assert page.headers == headers


def test_iframe_can_be_disabled() -> None:
    """Setting 8: ``iframe`` is a name of ``disabled_transports``, for the iframe route."""
    assert routing.ROUTE_TRANSPORT["iframe"] == "iframe"
    assert "iframe" in DISABLEABLE and "iframe" not in TRANSPORT_NAMES
    options = Options.from_settings({"disabled_transports": ["iframe", "jsonp"]})
    assert options.disabled_transports == {"iframe", "jsonp"}
    assert options.websocket_enabled


# -- the settings ------------------------------------------------------------------------


def test_new_settings_keep_the_0_3_3_behaviour_by_default() -> None:
    options = Options()
    assert options.jsonp_prefix is False
    assert options.sockjs_url_integrity is None
    assert options.iframe_frame_ancestors is None
    assert options.jsessionid is True


def test_new_settings_are_read() -> None:
    def cookie(request: object) -> str | None:
        return "a=b"

    options = Options.from_settings(
        {
            "jsonp_prefix": True,
            "sockjs_url_integrity": SOCKJS_161_SRI,
            "iframe_frame_ancestors": "'self'",
            "jsessionid": cookie,
        }
    )
    assert options.jsonp_prefix is True
    assert options.sockjs_url_integrity == SOCKJS_161_SRI
    assert options.iframe_frame_ancestors == "'self'"
    assert options.jsessionid is cookie
    assert options["jsessionid"] is cookie
    none = Options.from_settings({"sockjs_url_integrity": None, "iframe_frame_ancestors": None})
    assert none == Options()
    two = f"{SOCKJS_161_SRI} sha256-abc+/="
    assert Options.from_settings({"sockjs_url_integrity": two}).sockjs_url_integrity == two


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"jsonp_prefix": 1}, "'jsonp_prefix' must be True or False"),
        ({"jsonp_prefix": "yes"}, "'jsonp_prefix' must be True or False"),
        ({"jsessionid": "JSESSIONID=x"}, "'jsessionid' must be True, False or a callable"),
        ({"jsessionid": None}, "'jsessionid' must be True, False or a callable"),
        ({"sockjs_url_integrity": 3}, "'sockjs_url_integrity' must be None or a string"),
        ({"sockjs_url_integrity": "abc"}, "'sockjs_url_integrity' must be a Subresource"),
        ({"sockjs_url_integrity": "md5-abc"}, "'sockjs_url_integrity' must be a Subresource"),
        ({"sockjs_url_integrity": 'sha384-a"b'}, "'sockjs_url_integrity' must be a Subresource"),
        ({"sockjs_url_integrity": ""}, "'sockjs_url_integrity' must be a Subresource"),
        ({"iframe_frame_ancestors": ["'self'"]}, "'iframe_frame_ancestors' must be None or a"),
        ({"iframe_frame_ancestors": ""}, "'iframe_frame_ancestors' must be a CSP source list"),
        ({"iframe_frame_ancestors": "  "}, "'iframe_frame_ancestors' must be a CSP source"),
        ({"iframe_frame_ancestors": "'self'; script-src *"}, "must be a CSP source list"),
        ({"iframe_frame_ancestors": "a, b"}, "must be a CSP source list"),
        ({"iframe_frame_ancestors": "'self'\r\nX: y"}, "must be a CSP source list"),
        ({"iframe_frame_ancestors": "https://\u20ac.example"}, "must be a CSP source list"),
        ({"disabled_transports": ["iframes"]}, "unknown transports"),
    ],
)
def test_bad_new_settings_name_the_key(settings: dict[str, object], needle: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(needle)):
        Options.from_settings(settings)
