"""The client's address, honouring proxy headers only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalize_ip(ip: str) -> str:
    """Compare IPv4-mapped IPv6 addresses (``::ffff:1.2.3.4``) as IPv4."""
    if ip.lower().startswith("::ffff:") and "." in ip:
        return ip[7:]
    return ip


def parse_networks(entries: Sequence[str]) -> tuple[_Network, ...]:
    """Parse ``trusted_proxies`` entries (addresses or CIDR blocks)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(ip: str, networks: Sequence[_Network]) -> bool:
    try:
        address = ipaddress.ip_address(normalize_ip(ip))
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_ip(peer: str, headers: Mapping[str, str], trusted: Sequence[_Network]) -> str:
    """The address to show the application and to use for ``verify_ip``.

    ``X-Forwarded-For`` is read right to left, skipping trusted proxies; the
    first untrusted hop is the client. ``X-Real-IP`` is used when there is no
    ``X-Forwarded-For``. A peer that is not a trusted proxy is taken as is,
    whatever headers it sends (they could be spoofed).
    """
    peer = normalize_ip(peer)
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded = headers.get("X-Forwarded-For")
    if forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _trusted(hop, trusted):
                return _valid_or(normalize_ip(hop), peer)
        return _valid_or(normalize_ip(hops[0]), peer) if hops else peer
    real = headers.get("X-Real-IP")
    if real:
        return _valid_or(normalize_ip(real.strip()), peer)
    return peer


def _valid_or(candidate: str, fallback: str) -> str:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return fallback
    return candidate
