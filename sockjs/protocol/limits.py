"""Limits that protect a service as a whole, and how their refusals look.

Transport-level limits (body size, queued bytes, WebSocket message size)
live with the transports; this module holds the ones that are about
sessions and requests in general:

* :class:`SessionLimiter` admits new sessions under ``max_sessions`` and
  ``max_sessions_per_ip`` (settings of :class:`~sockjs.protocol.options.Options`);
* :func:`check_message_count` enforces ``max_messages_per_request``;
* the close frames and HTTP errors that tell a client it was refused.

A refused *session* gets a close frame where the open frame would have been
(``c[1013,"Too many sessions"]``): sockjs-client reports it as a close event
with that code, and nothing was allocated for it. 1013 is RFC 6455's "Try
Again Later".
"""

from __future__ import annotations

from collections.abc import Hashable, Sized

from sockjs.protocol.errors import PeerError

#: ``(code, reason)`` closing a WebSocket session whose message carried too many messages.
TOO_MANY_MESSAGES_CLOSE = (1009, "Too many messages in one frame")
#: ``(code, reason)`` of a new session refused by ``max_sessions``.
TOO_MANY_SESSIONS = (1013, "Too many sessions")
#: ``(code, reason)`` of a new session refused by ``max_sessions_per_ip``.
TOO_MANY_SESSIONS_FROM_IP = (1013, "Too many sessions from this address")
#: ``(code, reason)`` of every session when the server shuts down (RFC 6455 "going away").
GOING_AWAY = (1001, "Server going away")

Refusal = tuple[int, str]


class TooManyMessages(PeerError):
    """A send request carrying more than ``max_messages_per_request`` messages."""

    status = 413
    body = "Too many messages in one request."
    kind = "too_many_messages"


class OriginRefused(PeerError):
    """An HTTP request whose ``Origin`` is not in ``allowed_origins`` (``check_origin_http``)."""

    status = 403
    body = "Unverified origin."
    kind = "bad_origin"


def check_message_count(messages: Sized, limit: int) -> None:
    """Raise :class:`TooManyMessages` when ``messages`` holds more than ``limit`` items."""
    if len(messages) > limit:
        raise TooManyMessages(f"{len(messages)} messages in one request, limit {limit}")


class SessionLimiter:
    """Counts open sessions, overall and per client address.

    ``refusal(ip)`` says whether one more session from ``ip`` would exceed a
    limit; ``add(key, ip)`` records an admitted session under any hashable
    ``key`` (the adapter uses its session object) and ``release(key)`` ends
    it. Releasing twice, or a key never added, is harmless, so every close
    path may call it.
    """

    __slots__ = ("_by_ip", "_ips", "max_per_ip", "max_sessions")

    def __init__(self, max_sessions: int | None, max_per_ip: int | None) -> None:
        self.max_sessions = max_sessions
        self.max_per_ip = max_per_ip
        self._ips: dict[Hashable, str] = {}
        self._by_ip: dict[str, int] = {}

    def refusal(self, ip: str) -> Refusal | None:
        """The close frame refusing one more session from ``ip``, or ``None`` to admit it."""
        if self.max_sessions is not None and len(self._ips) >= self.max_sessions:
            return TOO_MANY_SESSIONS
        if self.max_per_ip is not None and self._by_ip.get(ip, 0) >= self.max_per_ip:
            return TOO_MANY_SESSIONS_FROM_IP
        return None

    def add(self, key: Hashable, ip: str) -> None:
        """Count the session ``key``, opened from ``ip`` (once per key)."""
        if key in self._ips:
            return
        self._ips[key] = ip
        self._by_ip[ip] = self._by_ip.get(ip, 0) + 1

    def release(self, key: Hashable) -> None:
        """The session ``key`` is gone (no effect if it was not counted)."""
        ip = self._ips.pop(key, None)
        if ip is None:
            return
        left = self._by_ip[ip] - 1
        if left:
            self._by_ip[ip] = left
        else:
            del self._by_ip[ip]  # keeps the table as small as the set of clients

    def count(self, ip: str | None = None) -> int:
        """Sessions counted overall, or from ``ip``."""
        if ip is None:
            return len(self._ips)
        return self._by_ip.get(ip, 0)
