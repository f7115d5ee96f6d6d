"""Filling :class:`ConnectionInfo` (a core value) from a Cyclone request."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sockjs.protocol.clientip import client_ip, normalize_ip
from sockjs.protocol.conninfo import ConnectionInfo

__all__ = ["ConnectionInfo", "from_request", "normalize_ip", "request_ip"]


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


def from_request(request: Any, prefix: str, ip: str, transport: str = "") -> ConnectionInfo:
    """Capture a Cyclone request for the application (no ids, see ConnectionInfo).

    ``ip`` is the client's address as :func:`request_ip` found it.
    """
    return ConnectionInfo(
        ip=ip,
        cookies=request.cookies,
        arguments=request.arguments,
        headers=dict(request.headers.items()),
        path=prefix,
        transport=transport,
    )
