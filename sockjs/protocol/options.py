"""Service settings: names, units (seconds) and defaults of the old sockjs-cyclone.

:class:`Options` is frozen and validated on construction, so a typo in a
setting key or a negative delay fails loudly at start-up instead of turning
into odd behaviour under load.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Client library the iframe page loads unless ``sockjs_url`` is set.
DEFAULT_SOCKJS_URL = "https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js"

#: Transports ``disabled_transports`` can switch off (also the metrics' transport labels).
TRANSPORT_NAMES = frozenset(
    {"websocket", "xhr", "xhr_streaming", "jsonp", "eventsource", "htmlfile"}
)

#: Names ``disabled_transports`` accepts: the transports, and ``iframe`` (the iframe page).
DISABLEABLE = TRANSPORT_NAMES | {"iframe"}

MIB = 1024 * 1024

#: A ``jsessionid`` callable: given the request's details (a
#: :class:`~sockjs.cyclone.conninfo.ConnectionInfo`), the whole ``Set-Cookie``
#: value, or ``None`` for no cookie.
CookieFactory = Callable[[Any], str | None]

#: One or more Subresource Integrity hashes (``sha384-<base64>``), space-separated.
_INTEGRITY_RE = re.compile(
    r"sha(256|384|512)-[A-Za-z0-9+/]+={0,2}( +sha(256|384|512)-[A-Za-z0-9+/]+={0,2})*"
)


class SettingsError(ValueError):
    """A setting has an unknown name, a wrong type or an out-of-range value."""


@dataclass(frozen=True, slots=True)
class Options:
    """Validated settings of one SockJS service (times in seconds, sizes in bytes)."""

    #: Accepted for compatibility only: expiry is exact (one timer at the next deadline).
    session_check_interval: float = 1.0
    #: How long a session survives with no receiving request attached.
    disconnect_delay: float = 5.0
    #: Interval of ``h`` frames on an attached receiver.
    heartbeat_delay: float = 25.0
    #: Receiving transports that are switched off (404 on their URLs).
    disabled_transports: frozenset[str] = frozenset()
    #: URL of sockjs-client that the iframe page loads.
    sockjs_url: str = DEFAULT_SOCKJS_URL
    #: Bytes of frames one streaming response may carry before it is ended.
    response_limit: int = 131072
    #: Emit the ``JSESSIONID`` cookie (sticky load balancing) and report ``cookie_needed``;
    #: a callable makes the whole ``Set-Cookie`` value itself (a ``CookieFactory``).
    jsessionid: bool | CookieFactory = True
    #: Kept for compatibility: frames are always written as soon as they exist.
    immediate_flush: bool = True
    #: Set ``TCP_NODELAY`` on client connections.
    disable_nagle: bool = True
    #: Refuse a receiving request from another IP than the session's first one.
    verify_ip: bool = True
    #: Largest request body accepted by ``xhr_send``/``jsonp_send`` (413 beyond).
    max_request_body: int = MIB
    #: Frames waiting for a slow or absent receiver beyond which the session is closed.
    max_queued_bytes: int = MIB
    #: Largest WebSocket message accepted (close 1009 beyond).
    max_message_size: int = MIB
    #: Origins allowed to open WebSockets; ``None`` allows every origin.
    allowed_origins: tuple[str, ...] | None = None
    #: Proxies (addresses or CIDR blocks) whose ``X-Forwarded-For``/``X-Real-IP`` is believed.
    trusted_proxies: tuple[str, ...] = ()
    #: Messages one send request or WebSocket message may carry (413 / close 1009 beyond).
    max_messages_per_request: int = 1000
    #: Sessions open at once on this service (new ones are refused with 1013 beyond).
    max_sessions: int | None = 100_000
    #: Sessions open at once from one client address; ``None`` means no limit.
    max_sessions_per_ip: int | None = None
    #: Apply ``allowed_origins`` to the HTTP transports too (403 for other origins).
    check_origin_http: bool = False
    # -- dead peers and WebSocket limits (docs/settings.rst, "Dead peers") --
    #: Seconds a WebSocket peer has to answer the ping sent with each heartbeat
    #: (or to send anything at all) before it counts as gone; ``None``: no pings.
    ping_timeout: float | None = 10.0
    #: Seconds data sent to a client may stay unacknowledged before the kernel
    #: ends the connection (Linux ``TCP_USER_TIMEOUT``); ``None``: the system's.
    tcp_user_timeout: float | None = 10.0
    #: Seconds a connection may be idle before TCP keepalive probes start;
    #: ``None``: no keepalive.
    tcp_keepalive: float | None = 30.0
    #: Frames one fragmented WebSocket message may take (close 1009 beyond).
    max_message_fragments: int = 1024
    #: Seconds a fragmented WebSocket message may take to complete (close 1008 beyond).
    message_timeout: float = 30.0
    #: The raw ``/websocket`` endpoint passes binary messages both ways (as ``bytes``).
    raw_binary: bool = False
    #: Start JSONP responses with ``/**/`` (the "Rosetta Flash" mitigation).
    jsonp_prefix: bool = False
    #: Subresource Integrity hash the iframe page gives its ``sockjs_url`` script.
    sockjs_url_integrity: str | None = None
    #: ``frame-ancestors`` sources of the iframe page (CSP and ``X-Frame-Options``).
    iframe_frame_ancestors: str | None = None

    def __post_init__(self) -> None:
        for name in (
            "disconnect_delay",
            "heartbeat_delay",
            "session_check_interval",
            "message_timeout",
            "ping_timeout",
            "tcp_user_timeout",
            "tcp_keepalive",
        ):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise SettingsError(f"setting {name!r} must be > 0 seconds, got {value!r}")
        for name in ("response_limit", "max_request_body", "max_queued_bytes", "max_message_size"):
            value = getattr(self, name)
            if value < 1:
                raise SettingsError(f"setting {name!r} must be >= 1 byte, got {value!r}")
        for name in (
            "max_messages_per_request",
            "max_sessions",
            "max_sessions_per_ip",
            "max_message_fragments",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise SettingsError(f"setting {name!r} must be >= 1, got {value!r}")
        unknown = set(self.disabled_transports) - DISABLEABLE
        if unknown:
            raise SettingsError(
                f"setting 'disabled_transports' names unknown transports {sorted(unknown)}; "
                f"known: {sorted(DISABLEABLE)}"
            )
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(
                    f"setting 'trusted_proxies' has an invalid address or network {entry!r}"
                ) from None
        url = self.sockjs_url
        if '"' in url or not (url.startswith(("/", "http"))):
            raise SettingsError(
                "setting 'sockjs_url' must start with '/' or 'http' and contain no '\"', "
                f"got {url!r}"
            )
        self._check_page_settings()

    def _check_page_settings(self) -> None:
        # Both end up in the iframe page or its headers: only plain ASCII.
        integrity = self.sockjs_url_integrity
        if integrity is not None and not _INTEGRITY_RE.fullmatch(integrity):
            raise SettingsError(
                "setting 'sockjs_url_integrity' must be a Subresource Integrity hash such as "
                f"'sha384-<base64>', got {integrity!r}"
            )
        ancestors = self.iframe_frame_ancestors
        if ancestors is not None and (
            not ancestors.strip() or any(ch in ";," or not " " <= ch <= "~" for ch in ancestors)
        ):
            raise SettingsError(
                "setting 'iframe_frame_ancestors' must be a CSP source list such as "
                f"\"'self' https://example.com\" (no ';' or ','), got {ancestors!r}"
            )

    def __getitem__(self, key: str) -> Any:
        """Read a setting by name, as the old project's settings dict allowed."""
        if key not in _KINDS:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Read a setting by name, or ``default`` for an unknown name."""
        return getattr(self, key) if key in _KINDS else default

    @property
    def websocket_enabled(self) -> bool:
        """Whether both WebSocket endpoints are served."""
        return "websocket" not in self.disabled_transports

    @property
    def cookie_needed(self) -> bool:
        """Whether session responses set a cookie (``/info``'s ``cookie_needed``)."""
        return self.jsessionid is not False

    @classmethod
    def from_settings(cls, user_settings: Mapping[str, Any] | None = None) -> Options:
        """Build options from a user dict, checking every key, type and range."""
        values: dict[str, Any] = {}
        for key, value in (user_settings or {}).items():
            kind = _KINDS.get(key)
            if kind is None:
                raise SettingsError(f"unknown setting {key!r}; known settings: {sorted(_KINDS)}")
            values[key] = _coerce(key, value, kind)
        return cls(**values)


_KINDS: dict[str, str] = {
    "session_check_interval": "seconds",
    "disconnect_delay": "seconds",
    "heartbeat_delay": "seconds",
    "disabled_transports": "names",
    "sockjs_url": "str",
    "response_limit": "int",
    "jsessionid": "cookie",
    "immediate_flush": "bool",
    "disable_nagle": "bool",
    "verify_ip": "bool",
    "max_request_body": "int",
    "max_queued_bytes": "int",
    "max_message_size": "int",
    "allowed_origins": "origins",
    "trusted_proxies": "addresses",
    "max_messages_per_request": "count",
    "max_sessions": "limit",
    "max_sessions_per_ip": "limit",
    "check_origin_http": "bool",
    "ping_timeout": "seconds?",
    "tcp_user_timeout": "seconds?",
    "tcp_keepalive": "seconds?",
    "max_message_fragments": "count",
    "message_timeout": "seconds",
    "raw_binary": "bool",
    "jsonp_prefix": "bool",
    "sockjs_url_integrity": "optional_str",
    "iframe_frame_ancestors": "optional_str",
}


def _coerce(key: str, value: Any, kind: str) -> Any:
    def wrong(expected: str) -> SettingsError:
        return SettingsError(f"setting {key!r} must be {expected}, got {value!r}")

    if kind in ("seconds", "seconds?"):
        if kind == "seconds?" and value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number of seconds" if kind == "seconds" else "None or seconds")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer number of bytes")
        return value
    if kind in ("count", "limit"):
        if kind == "limit" and value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer" if kind == "count" else "None or an integer")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong("True or False")
        return value
    if kind == "str" or (kind == "optional_str" and value is not None):
        if not isinstance(value, str):
            raise wrong("a string" if kind == "str" else "None or a string")
        return value
    if kind == "optional_str":
        return None
    if kind == "cookie":
        if not isinstance(value, bool) and not callable(value):
            raise wrong("True, False or a callable returning the Set-Cookie value")
        return value
    if kind == "names":
        if isinstance(value, str) or not isinstance(value, (Sequence, set, frozenset)):
            raise wrong("a list of transport names")
        if not all(isinstance(name, str) for name in value):
            raise wrong("a list of transport names")
        return frozenset(value)
    if kind == "addresses":
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise wrong("a list of addresses or networks")
        if not all(isinstance(entry, str) for entry in value):
            raise wrong("a list of addresses or networks")
        return tuple(value)
    # "origins": None (allow all) or a list of origin patterns.
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise wrong("None or a list of origins")
    if not all(isinstance(origin, str) for origin in value):
        raise wrong("None or a list of origins")
    return tuple(value)


def replace(options: Options, **changes: Any) -> Options:
    """Return a copy of ``options`` with ``changes`` applied (and validated)."""
    return dataclasses.replace(options, **changes)
