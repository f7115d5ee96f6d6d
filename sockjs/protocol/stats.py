"""Counters and per-second rates of one service, with time passed in.

Rates are kept in per-second buckets rotated when an event (or a read)
arrives in a later second, so no periodic timer is needed: an idle router
schedules nothing. Everything else is a plain integer that the adapter
bumps on its hot paths; readers (``dump()``, the Prometheus collector in
``sockjs.cyclone.metrics``) do the work at read time. ``dump()`` keeps the
old sockjs-cyclone key names.
"""

from __future__ import annotations

from collections import deque


class MovingRate:
    """Average events per second over the last ``window`` complete seconds."""

    __slots__ = ("_current", "_history", "_second", "window")

    def __init__(self, window: int = 10) -> None:
        self.window = window
        self._second: int | None = None
        self._current = 0
        self._history: deque[int] = deque(maxlen=window)

    def add(self, count: int, now: float) -> None:
        """Record ``count`` events at time ``now``."""
        if int(now) != self._second:  # a later second (or the first event)
            self._rotate(now)
        self._current += count

    def rate(self, now: float) -> float:
        """Events per second over the complete seconds of the window."""
        self._rotate(now)
        if not self._history:
            return 0.0
        return sum(self._history) / len(self._history)

    def _rotate(self, now: float) -> None:
        second = int(now)
        if self._second is None:
            self._second = second
            return
        elapsed = second - self._second
        if elapsed <= 0:
            return
        self._history.append(self._current)
        # Seconds with no event at all still count as zeros.
        for _ in range(min(elapsed - 1, self.window)):
            self._history.append(0)
        self._current = 0
        self._second = second


class Stats:
    """What a router has been doing: sessions, connections, messages, errors."""

    def __init__(self) -> None:
        self.sessions_active = 0
        self.sessions_opened = 0
        self.sessions_closed = 0
        self.sessions_expired = 0
        self.connections_active = 0
        self.connections_opened = 0
        self.messages_sent = 0
        self.messages_received = 0
        self.heartbeats_sent = 0
        #: Bytes written to clients (HTTP heads and bodies, WebSocket frames).
        self.bytes_sent = 0
        #: Bytes received from clients (send request bodies, WebSocket stream bytes).
        self.bytes_received = 0
        #: Sessions open now, by transport name.
        self.by_transport: dict[str, int] = {}
        #: Sessions ever opened / closed, by transport name.
        self.opened_by_transport: dict[str, int] = {}
        self.closed_by_transport: dict[str, int] = {}
        #: Refused requests, protocol errors and limit hits, by kind.
        self.errors: dict[str, int] = {}
        self._connections = MovingRate()
        self._sent = MovingRate()
        self._received = MovingRate()

    # -- events -------------------------------------------------------------------------

    def session_opened(self, transport: str) -> None:
        """A session sent its open frame over ``transport``."""
        self.sessions_active += 1
        self.sessions_opened += 1
        self.by_transport[transport] = self.by_transport.get(transport, 0) + 1
        self.opened_by_transport[transport] = self.opened_by_transport.get(transport, 0) + 1

    def session_closed(self, transport: str, expired: bool = False) -> None:
        """A session that was opened over ``transport`` ended."""
        self.sessions_active -= 1
        self.sessions_closed += 1
        if expired:
            self.sessions_expired += 1
        self.by_transport[transport] = self.by_transport.get(transport, 1) - 1
        self.closed_by_transport[transport] = self.closed_by_transport.get(transport, 0) + 1

    def connection_opened(self, now: float) -> None:
        """A receiving request or WebSocket started."""
        self.connections_active += 1
        self.connections_opened += 1
        self._connections.add(1, now)

    def connection_closed(self) -> None:
        """A receiving request or WebSocket ended."""
        self.connections_active -= 1

    def sent(self, count: int, now: float) -> None:
        """``count`` messages were queued for clients."""
        self.messages_sent += count
        self._sent.add(count, now)

    def received(self, count: int, now: float) -> None:
        """``count`` messages arrived from a client."""
        self.messages_received += count
        self._received.add(count, now)

    def heartbeat(self) -> None:
        """An ``h`` frame was written."""
        self.heartbeats_sent += 1

    def error(self, kind: str) -> None:
        """A request was refused or failed (``bad_json``, ``no_session``, ...)."""
        self.errors[kind] = self.errors.get(kind, 0) + 1

    # -- reading ------------------------------------------------------------------------

    def dump(self, now: float) -> dict[str, float | int]:
        """A plain dict; the first keys are the old project's, with its meaning."""
        data: dict[str, float | int] = {
            "sessions_active": self.sessions_active,
            "connections_active": self.connections_active,
            "connections_ps": self._connections.rate(now),
            "packets_sent_ps": self._sent.rate(now),
            "packets_recv_ps": self._received.rate(now),
        }
        for transport, count in sorted(self.by_transport.items()):
            data["transp_" + transport] = count
        data.update(
            sessions_opened=self.sessions_opened,
            sessions_closed=self.sessions_closed,
            sessions_expired=self.sessions_expired,
            connections_opened=self.connections_opened,
            messages_sent=self.messages_sent,
            messages_received=self.messages_received,
            heartbeats_sent=self.heartbeats_sent,
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
        )
        for transport, count in sorted(self.opened_by_transport.items()):
            data["sessions_opened_" + transport] = count
        for transport, count in sorted(self.closed_by_transport.items()):
            data["sessions_closed_" + transport] = count
        for kind, count in sorted(self.errors.items()):
            data["errors_" + kind] = count
        return data
