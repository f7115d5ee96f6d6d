"""The SockJS route table (PROTOCOL.md 2.2), independent of any web framework.

Patterns are relative to the service prefix and anchored at both ends by
the adapter; every route takes one optional trailing slash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: One path segment of a server or session id: no '/' and no '.' (2.3).
SEGMENT = r"([^/.]+)"
_SESSION = f"/{SEGMENT}/{SEGMENT}"


@dataclass(frozen=True, slots=True)
class Route:
    """One row of the route table."""

    name: str
    pattern: str
    methods: tuple[str, ...]

    @property
    def allow(self) -> str:
        """The ``Allow`` header a wrong method gets (methods in table order)."""
        return ", ".join(self.methods)


ROUTES: tuple[Route, ...] = (
    Route("greeting", "", ("GET",)),
    Route("iframe", r"/iframe[0-9a-z._\-]*\.html", ("GET",)),
    Route("info", "/info", ("OPTIONS", "GET")),
    Route("raw_websocket", "/websocket", ("GET",)),
    Route("xhr", f"{_SESSION}/xhr", ("POST", "OPTIONS")),
    Route("xhr_send", f"{_SESSION}/xhr_send", ("POST", "OPTIONS")),
    Route("xhr_streaming", f"{_SESSION}/xhr_streaming", ("POST", "OPTIONS")),
    Route("jsonp", f"{_SESSION}/jsonp", ("GET",)),
    Route("jsonp_send", f"{_SESSION}/jsonp_send", ("POST",)),
    Route("eventsource", f"{_SESSION}/eventsource", ("GET",)),
    Route("htmlfile", f"{_SESSION}/htmlfile", ("GET",)),
    Route("websocket", f"{_SESSION}/websocket", ("GET",)),
)

#: Which ``disabled_transports`` name switches each route off (``iframe``:
#: the page sockjs-client's iframe-based transports load).
ROUTE_TRANSPORT = {
    "iframe": "iframe",
    "raw_websocket": "websocket",
    "websocket": "websocket",
    "xhr": "xhr",
    "xhr_streaming": "xhr_streaming",
    "jsonp": "jsonp",
    "jsonp_send": "jsonp",
    "eventsource": "eventsource",
    "htmlfile": "htmlfile",
}


def normalize_prefix(prefix: str) -> str:
    """``'/echo/'`` -> ``'/echo'``; ``''`` and ``'/'`` -> ``''``."""
    prefix = prefix.rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return prefix


def full_pattern(prefix: str, route: Route) -> str:
    """Anchored regular expression for ``route`` under ``prefix``."""
    return "^" + re.escape(prefix) + route.pattern + "/?$"


def catch_all_pattern(prefix: str) -> str:
    """Everything else under the prefix belongs to SockJS and gets 404 (2.1)."""
    return "^" + re.escape(prefix) + "/.*$"
