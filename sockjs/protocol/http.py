"""Header policy shared by every HTTP transport (PROTOCOL.md section 4).

Pure functions from request values to header lists, so the exact strings the
0.3.3 suite compares live in one place.

Every request value echoed into a response header passes :func:`header_safe`
first: a value with a non-ASCII or control character is treated as absent,
so that a client cannot break the response head (a UTF-8 ``Origin`` cannot
be written as an HTTP/1.1 header) or split it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sockjs.protocol.errors import OriginRefused
from sockjs.protocol.handshake import origin_allowed

Headers = list[tuple[str, str]]

ONE_YEAR = 31536000

TEXT_PLAIN = "text/plain; charset=UTF-8"
TEXT_HTML = "text/html; charset=UTF-8"
JAVASCRIPT = "application/javascript; charset=UTF-8"
JSON = "application/json; charset=UTF-8"
EVENT_STREAM = "text/event-stream; charset=UTF-8"

NO_CACHE: Headers = [("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")]

#: Session responses carry client data (echoed messages, a callback name):
#: browsers must take them for their declared type, never sniff them as HTML.
NOSNIFF: Headers = [("X-Content-Type-Options", "nosniff")]


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp: float) -> str:
    """RFC 1123 date in GMT, independent of the process locale."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} GMT"
    )


def header_safe(value: str | None) -> str | None:
    """``value`` if it may be echoed into a header (visible ASCII, spaces, tabs), else ``None``."""
    if value is None or not all(" " <= ch <= "~" or ch == "\t" for ch in value):
        return None
    return value


def cache_for(now: float, seconds: int = ONE_YEAR) -> Headers:
    """Long-cache profile (4.3): preflights, iframe page, disabled WebSocket 404s."""
    return [
        ("Cache-Control", f"public, max-age={seconds}"),
        ("Expires", http_date(now + seconds)),
    ]


def cors(origin: str | None, request_headers: str | None, *, preflight: bool = False) -> Headers:
    """CORS block of 4.1: echo the origin (``*`` for none or ``null``).

    ``Vary`` names what the answer was computed from (4.1 item 5), so that a
    shared cache never hands one origin's answer to another; a preflight,
    cached for a year, also depends on ``Access-Control-Request-Headers``.
    Values that :func:`header_safe` refuses count as absent.
    """
    origin = header_safe(origin)
    request_headers = header_safe(request_headers)
    allow_origin = "*" if not origin or origin == "null" else origin
    headers: Headers = [
        ("Access-Control-Allow-Origin", allow_origin),
        ("Access-Control-Allow-Credentials", "true"),
    ]
    if request_headers:
        headers.append(("Access-Control-Allow-Headers", request_headers))
    vary = "Origin, Access-Control-Request-Headers" if preflight else "Origin"
    headers.append(("Vary", vary))
    return headers


def origin_refused(
    origin: str | None, fetch_site: str | None, allowed: Sequence[str] | None
) -> OriginRefused | None:
    """``check_origin_http``: whether a request must be refused (403), and why.

    A request with an ``Origin`` the allow-list refuses is refused. A request
    without ``Origin`` passes (same-origin GETs, non-browser clients, old
    browsers), unless its ``Sec-Fetch-Site`` says ``cross-site``: that is
    what a browser sends for a script tag another site put in its page (the
    JSONP transport), which carries no ``Origin``. ``same-site`` requests
    without ``Origin`` pass: the browser does not say which origin made them.
    """
    if origin is not None:
        if origin_allowed(origin, allowed):
            return None
        return OriginRefused(f"origin {origin[:100]!r} not allowed")
    if (fetch_site or "").strip().lower() != "cross-site" or origin_allowed(None, allowed):
        return None
    return OriginRefused("a cross-site request without Origin (Sec-Fetch-Site: cross-site)")


def preflight(now: float, methods: str) -> Headers:
    """Headers of a 204 preflight besides CORS (4.2)."""
    return [
        *cache_for(now),
        ("Access-Control-Max-Age", str(ONE_YEAR)),
        ("Access-Control-Allow-Methods", methods),
    ]


def jsessionid_value(cookie_header: str | None) -> str:
    """The ``JSESSIONID`` the client sent, or ``dummy`` (4.4)."""
    if cookie_header:
        for piece in cookie_header.split(";"):
            name, sep, value = piece.partition("=")
            if sep and name.strip() == "JSESSIONID":
                return value.strip()
    return "dummy"


def jsessionid_cookie(cookie_header: str | None) -> tuple[str, str]:
    """The ``Set-Cookie`` header for a ``jsessionid=True`` service (4.4).

    ``JSESSIONID=<value>; path=/; HttpOnly``: the suite reads the first two
    attributes only, and no script needs the cookie (it is for the load
    balancer). A value that is not a plain cookie token (it came from the
    client) is replaced by ``dummy`` so it cannot inject header syntax.
    """
    value = jsessionid_value(cookie_header)
    if not value or not all(33 <= ord(ch) <= 126 and ch not in '",;\\' for ch in value):
        value = "dummy"
    return ("Set-Cookie", f"JSESSIONID={value}; path=/; HttpOnly")


def custom_cookie(value: object) -> tuple[str, str] | None:
    """The ``Set-Cookie`` header for what a ``jsessionid`` callable returned.

    ``None`` means no cookie. Anything but a non-empty string that
    :func:`header_safe` accepts raises :class:`ValueError`: the callable is
    application code, and its mistake must not break (or split) the response.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"jsessionid callable returned {type(value).__name__}, not str or None")
    if not value.strip() or header_safe(value) is None:
        raise ValueError(f"jsessionid callable returned an unusable header value {value[:100]!r}")
    return ("Set-Cookie", value)


def frame_ancestors(sources: str | None) -> Headers:
    """``iframe_frame_ancestors``: who may frame the iframe page.

    ``Content-Security-Policy: frame-ancestors <sources>``, plus the
    ``X-Frame-Options`` older browsers read where one exists: ``DENY`` for
    ``'none'``, ``SAMEORIGIN`` for ``'self'``. Other source lists have no
    ``X-Frame-Options`` equivalent (``ALLOW-FROM`` is obsolete and ignored by
    current browsers), so they get the CSP header only.
    """
    if sources is None:
        return []
    headers: Headers = [("Content-Security-Policy", f"frame-ancestors {sources}")]
    legacy = {"'none'": "DENY", "'self'": "SAMEORIGIN"}.get(sources.strip().lower())
    if legacy is not None:
        headers.append(("X-Frame-Options", legacy))
    return headers
