"""Greeting, ``/info`` and the iframe page (PROTOCOL.md section 5)."""

from __future__ import annotations

import secrets

from sockjs.cyclone.handlers.base import SockJSHandler
from sockjs.protocol import http
from sockjs.protocol.info import GREETING, info_body


class GreetingHandler(SockJSHandler):
    """``GET <prefix>`` and ``GET <prefix>/``."""

    def get(self) -> None:
        """Answer ``Welcome to SockJS!``."""
        self.respond(200, [], GREETING)


class InfoHandler(SockJSHandler):
    """``GET``/``OPTIONS <prefix>/info``."""

    methods = ("OPTIONS", "GET")
    allow = "OPTIONS, GET"
    route_name = "info"
    checks_origin = True

    def get(self) -> None:
        """Capabilities and fresh entropy (no cookie even on jsessionid services)."""
        self.cors_headers()
        self.add_headers(http.NO_CACHE)
        body = info_body(self.service.options, secrets.randbits(32))
        self.respond(200, [], body, content_type=http.JSON)

    def options(self) -> None:
        """Preflight for ``/info``."""
        self.preflight("OPTIONS, GET")


class IframeHandler(SockJSHandler):
    """``GET <prefix>/iframe*.html``: the page iframe-based transports load."""

    route_name = "iframe"

    def get(self) -> None:
        """Serve the page, or 304 when the client's ETag matches.

        The page's framing headers (``iframe_frame_ancestors``) go on both.
        """
        page = self.service.iframe_page
        headers = [*http.cache_for(self.now()), *page.headers]
        if page.matches(self.header("If-None-Match")):
            self.respond(304, headers, b"", content_type=None)
            return
        self.respond(200, [*headers, ("ETag", page.etag)], page.body, content_type=http.TEXT_HTML)
