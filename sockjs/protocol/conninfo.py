"""What the application learns about the client when a session opens.

A plain value, like :class:`~sockjs.protocol.closing.CloseInfo`: the adapter
fills it from the request (``sockjs.cyclone.conninfo.from_request``) and the
application reads it in ``connectionMade(info)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import Morsel, SimpleCookie
from typing import Any

__all__ = ["ConnectionInfo"]


class ConnectionInfo:
    """Client details captured from the request that opened the session.

    ``path`` is the service path (the router prefix): server and session ids
    are bearer tokens and never reach the application.
    """

    __slots__ = ("arguments", "cookies", "headers", "ip", "path", "transport")

    def __init__(
        self,
        ip: str,
        cookies: SimpleCookie,
        arguments: Mapping[str, list[Any]],
        headers: Mapping[str, str],
        path: str,
        transport: str = "",
    ) -> None:
        self.ip = ip
        self.cookies = cookies
        self.arguments = dict(arguments)
        self.headers = dict(headers)
        self.path = path
        #: Name of the transport that opened the session (``xhr``, ``websocket``...).
        self.transport = transport

    def get_argument(self, name: str) -> str | None:
        """First value of a query argument, or ``None``."""
        values = self.arguments.get(name)
        if not values:
            return None
        value = values[0]
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def get_cookie(self, name: str) -> Morsel[str] | None:
        """A cookie as a :class:`http.cookies.Morsel` (as the old project), or ``None``."""
        return self.cookies.get(name)

    def get_header(self, name: str) -> str | None:
        """A request header (case-insensitive), or ``None``."""
        value = self.headers.get(name)
        if value is not None:
            return value
        lowered = name.lower()
        for key, candidate in self.headers.items():
            if key.lower() == lowered:
                return candidate
        return None

    def __repr__(self) -> str:
        return f"ConnectionInfo(ip={self.ip!r}, path={self.path!r}, transport={self.transport!r})"
