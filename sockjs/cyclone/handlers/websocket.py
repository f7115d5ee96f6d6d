"""WebSocket endpoints (placeholder until the WebSocket transports land)."""

from __future__ import annotations

from typing import Any

from sockjs.cyclone.handlers.base import SockJSHandler
from sockjs.protocol import http


class DisabledWebSocketHandler(SockJSHandler):
    """WebSockets switched off: 404 with the long-cache profile (PROTOCOL.md 7.8)."""

    route_name = "websocket"

    def _execute(self, transforms: Any, *args: str, **kwargs: str) -> None:
        if self.request.method != "GET":
            self.respond(405, [("Allow", "GET")], b"", content_type=None)
            return
        self.not_found(http.cache_for(self.now()))


class WebSocketHandler(DisabledWebSocketHandler):
    """``GET .../websocket`` (not served yet)."""


class RawWebSocketHandler(DisabledWebSocketHandler):
    """``GET <prefix>/websocket`` (not served yet)."""
