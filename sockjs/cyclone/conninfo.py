"""What the application learns about the client when a session opens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http.cookies import Morsel, SimpleCookie
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sockjs.protocol.clientip import client_ip, normalize_ip

__all__ = ["ConnectionInfo", "from_request", "normalize_ip", "request_ip"]


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


def request_ip(request: Any, trusted_proxies: Sequence[IPv4Network | IPv6Network]) -> str:
    """The client's address for a Cyclone request: the one place the adapter reads it.

    It starts from the TCP peer of the request's connection, never from
    ``request.remote_ip``: with ``xheaders=True`` Cyclone has already
    replaced that with any client's ``X-Real-Ip``. ``X-Forwarded-For`` and
    ``X-Real-IP`` are then believed only when the peer is one of
    ``trusted_proxies`` (:func:`sockjs.protocol.clientip.client_ip`). A UNIX
    socket peer reads ``unix:<socket path>``, as Cyclone writes it.
    """
    transport = request.connection.transport
    if transport is None:  # the connection is gone: no peer to name
        return ""
    host = getattr(transport.getPeer(), "host", None)
    if not isinstance(host, str):
        name = getattr(transport.getHost(), "name", None) or b""
        host = "unix:" + (name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name))
    return client_ip(host, request.headers, trusted_proxies)


def from_request(
    request: Any,
    prefix: str,
    trusted_proxies: Sequence[IPv4Network | IPv6Network],
    transport: str = "",
) -> ConnectionInfo:
    """Capture a Cyclone request for the application (no ids, see ConnectionInfo).

    The address is :func:`request_ip`'s: proxy headers count only when the
    peer is one of ``trusted_proxies``.
    """
    headers = dict(request.headers.items())
    ip = request_ip(request, trusted_proxies)
    return ConnectionInfo(
        ip=ip,
        cookies=request.cookies,
        arguments=request.arguments,
        headers=headers,
        path=prefix,
        transport=transport,
    )
