"""WebSocket opening handshake checks and the RFC 6455 answer (PROTOCOL.md 7.8-7.10).

Pure functions over plain values: the adapter passes the request method and
headers, gets back either the handshake variant to perform or a
:class:`HandshakeError` carrying the exact HTTP answer to send.

Checks run in the order of PROTOCOL.md 7.8: method, ``Upgrade``,
``Connection``, origin allow-list, then the variant (7.10) and its own
headers.  The raw ``/websocket`` endpoint (7.9) additionally accepts only
``Sec-WebSocket-Version`` 8 and 13.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sockjs.protocol import hixie76

__all__ = [
    "BAD_CONNECTION",
    "BAD_UPGRADE",
    "HYBI_VERSIONS",
    "ORIGIN_REJECTED_STATUS",
    "RAW_ONLY_RFC6455",
    "RAW_VERSIONS",
    "UNVERIFIED_ORIGIN",
    "WEBSOCKET_GUID",
    "HandshakeError",
    "HandshakeKind",
    "accept_key",
    "hybi_response",
    "hybi_response_headers",
    "is_valid_key",
    "origin_allowed",
    "request_origin",
    "validate_upgrade",
]

#: RFC 6455 section 1.3: appended to the client key before hashing.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: ``Sec-WebSocket-Version`` values answered with a hybi/RFC 6455 handshake (7.10).
HYBI_VERSIONS = frozenset({"7", "8", "13"})
#: Versions the raw ``/websocket`` endpoint accepts (7.9, checklist 125).
RAW_VERSIONS = frozenset({"8", "13"})

BAD_UPGRADE = 'Can "Upgrade" only to "WebSocket".'
BAD_CONNECTION = '"Connection" must be "Upgrade".'
UNVERIFIED_ORIGIN = "Unverified origin."
RAW_ONLY_RFC6455 = "Only supported WebSocket protocol is RFC 6455."
UNSUPPORTED_VERSION = "Unsupported WebSocket version."
HIXIE75_UNSUPPORTED = "Hixie-75 WebSocket handshakes are not supported."
BAD_KEY = "Missing or invalid Sec-WebSocket-Key."

#: Status of a handshake whose origin fails the allow-list (7.8 check 3).
#: sockjs-node 0.3.3 answered 400 ``Unverified origin.`` (PROTOCOL.md 10.1
#: item 21); the project decided on 403, which says what happened: the
#: request was understood and refused.  The body text is unchanged.
ORIGIN_REJECTED_STATUS = 403

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class HandshakeKind(enum.Enum):
    """Which opening handshake the client asked for (PROTOCOL.md 7.10)."""

    #: ``Sec-WebSocket-Version`` 7, 8 or 13: RFC 6455 framing for all three.
    HYBI = "hybi"
    #: ``Sec-WebSocket-Key1``/``Key2`` plus 8 bytes of key3 after the headers.
    HIXIE76 = "hixie-76"


@dataclass(frozen=True, slots=True)
class HandshakeError:
    """A refused upgrade: the HTTP answer to send instead of ``101``."""

    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()


_METHOD_NOT_ALLOWED = HandshakeError(405, "", (("Allow", "GET"),))


def validate_upgrade(
    method: str,
    headers: Mapping[str, str],
    *,
    raw: bool,
    origins: Sequence[str] | None = None,
) -> HandshakeKind | HandshakeError:
    """Check an upgrade request and pick the handshake variant.

    ``headers`` may be any mapping; names are matched case-insensitively.
    ``raw`` selects the rules of the raw ``/websocket`` endpoint (7.9).
    ``origins`` is the allow-list of :func:`origin_allowed` (``None``: all).

    Checklist 110 (no ``Upgrade: websocket`` -> 400 with :data:`BAD_UPGRADE`),
    111 (``Connection`` without the ``upgrade`` token -> 400), 112 and 113
    (versions 7, 8, 13, also with ``Connection: keep-alive, Upgrade``), 125
    (raw endpoint: only versions 8 and 13, else 400 :data:`RAW_ONLY_RFC6455`).
    """
    if method != "GET":
        return _METHOD_NOT_ALLOWED
    lowered = {name.lower(): value for name, value in headers.items()}
    if lowered.get("upgrade", "").strip().lower() != "websocket":
        return HandshakeError(400, BAD_UPGRADE)
    tokens = [token.strip() for token in lowered.get("connection", "").lower().split(",")]
    if "upgrade" not in tokens:
        return HandshakeError(400, BAD_CONNECTION)
    if not origin_allowed(request_origin(lowered), origins):
        return HandshakeError(ORIGIN_REJECTED_STATUS, UNVERIFIED_ORIGIN)
    version = lowered.get("sec-websocket-version")
    if raw:
        if version is None or version.strip() not in RAW_VERSIONS:
            return HandshakeError(400, RAW_ONLY_RFC6455, (("Sec-WebSocket-Version", "13, 8"),))
    elif version is None:
        return _select_hixie(lowered)
    elif version.strip() not in HYBI_VERSIONS:
        return HandshakeError(400, UNSUPPORTED_VERSION, (("Sec-WebSocket-Version", "13, 8, 7"),))
    if not is_valid_key(lowered.get("sec-websocket-key", "")):
        return HandshakeError(400, BAD_KEY)
    return HandshakeKind.HYBI


def _select_hixie(lowered: Mapping[str, str]) -> HandshakeKind | HandshakeError:
    """Hixie-76 when both numeric keys are present and valid; hixie-75 is refused."""
    key1 = lowered.get("sec-websocket-key1")
    key2 = lowered.get("sec-websocket-key2")
    if key1 is None or key2 is None:
        return HandshakeError(400, HIXIE75_UNSUPPORTED)
    try:
        # Validate before the 101 goes out: the answer is computed only after
        # key3 arrives, when refusing with a status line is no longer possible.
        hixie76.key_number(key1)
        hixie76.key_number(key2)
    except hixie76.Hixie76Error as exc:
        return HandshakeError(400, str(exc))
    return HandshakeKind.HIXIE76


def request_origin(headers: Mapping[str, str]) -> str | None:
    """The origin a handshake request declares, or ``None``.

    Hybi-07/08 clients send ``Sec-WebSocket-Origin``; RFC 6455 and hixie
    clients send ``Origin`` (7.10).  Either is accepted, preferring the one
    the announced version uses.  Header names are matched case-insensitively.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    version = lowered.get("sec-websocket-version", "").strip()
    if version in ("7", "8"):
        order = ("sec-websocket-origin", "origin")
    else:
        order = ("origin", "sec-websocket-origin")
    for name in order:
        value = lowered.get(name)
        if value is not None:
            return value.strip()
    return None


def origin_allowed(origin: str | None, allowed: Sequence[str] | None) -> bool:
    """Whether ``origin`` passes the allow-list ``allowed`` (7.8 check 3).

    * ``None``, or a list containing ``"*"`` or ``"*:*"``, allows everything
      (even a request without an origin).
    * ``"scheme://host[:port]"`` matches that exact origin; a missing port
      means the scheme's default (80 for http/ws, 443 for https/wss).
    * ``"host:port"`` (the sockjs-node ``origins`` form) matches any scheme;
      either part may be ``*``; a missing port in the origin counts as the
      scheme's default port.  A bare ``"host"`` matches that host on any port.
    * A host written ``*.example.com`` matches every subdomain of
      ``example.com`` at any depth, but not ``example.com`` itself.

    Host names compare case-insensitively.  A missing, ``null`` or
    unparsable origin is refused by any other list.
    """
    if allowed is None or "*" in allowed or "*:*" in allowed:
        return True
    parsed = _parse_origin(origin)
    if parsed is None:
        return False
    return any(_pattern_matches(pattern, parsed) for pattern in allowed)


def _parse_origin(origin: str | None) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` of an origin; ``None`` when absent or unusable."""
    if not origin or origin == "null":
        return None
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname or not scheme:
        return None
    return scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS.get(scheme)


def _pattern_matches(pattern: str, origin: tuple[str, str, int | None]) -> bool:
    scheme, host, port = origin
    pattern = pattern.strip()
    if "://" in pattern:
        wanted = _parse_origin(pattern)
        if wanted is None:
            return False
        return wanted[0] == scheme and wanted[2] == port and _host_matches(wanted[1], host)
    pattern_host, sep, pattern_port = pattern.rpartition(":")
    if not sep or pattern_port.endswith("]"):
        # A bare host (or bracketed IPv6 address) matches it on any port.
        pattern_host, pattern_port = pattern, "*"
    port_ok = pattern_port == "*" or pattern_port == str(port)
    pattern_host = pattern_host.strip("[]").lower()
    return port_ok and (pattern_host == "*" or _host_matches(pattern_host, host))


def _host_matches(pattern_host: str, host: str) -> bool:
    if pattern_host.startswith("*."):
        return host.endswith(pattern_host[1:])
    return pattern_host == host


def is_valid_key(key: str) -> bool:
    """Whether ``key`` is a valid ``Sec-WebSocket-Key``: base64 of 16 bytes."""
    try:
        return len(base64.b64decode(key.strip().encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for ``key`` (RFC 6455 4.2.2, checklist 112).

    Raises :class:`ValueError` when ``key`` is not base64 of 16 bytes;
    :func:`validate_upgrade` has already answered such requests with 400.
    """
    if not is_valid_key(key):
        raise ValueError(f"invalid Sec-WebSocket-Key {key!r}")
    digest = hashlib.sha1((key.strip() + WEBSOCKET_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def hybi_response_headers(key: str, extensions_header: str | None) -> list[tuple[str, str]]:
    """Headers of the ``101`` answer to a hybi/RFC 6455 request (7.10).

    No ``Content-Length`` (checklist 112).  ``extensions_header`` is the
    negotiated ``Sec-WebSocket-Extensions`` value, if any.
    """
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if extensions_header:
        headers.append(("Sec-WebSocket-Extensions", extensions_header))
    return headers


def hybi_response(key: str, extensions_header: str | None = None) -> bytes:
    """The whole ``101 Switching Protocols`` head, ready to write to the socket."""
    lines = ["HTTP/1.1 101 Switching Protocols"]
    lines.extend(
        f"{name}: {value}" for name, value in hybi_response_headers(key, extensions_header)
    )
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
