"""One router's counters and log events, kept together.

Every fault is counted in the router's :class:`~sockjs.protocol.stats.Stats`
(``errors_<kind>``) and logged as one event (:mod:`sockjs.cyclone.logevents`)
through :class:`Telemetry`, so no caller does one and forgets the other.
Hot-path counters (messages, bytes) are bumped on ``stats`` directly.
"""

from __future__ import annotations

from twisted.python.failure import Failure

from sockjs.cyclone import logevents
from sockjs.protocol import closing
from sockjs.protocol.admission import Refusal
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.errors import PeerError
from sockjs.protocol.stats import Stats
from sockjs.protocol.websocket import Fault


class Telemetry:
    """Counts and logs for the router serving ``prefix`` (``None``: not known)."""

    __slots__ = ("prefix", "stats")

    def __init__(self, prefix: str | None, stats: Stats) -> None:
        self.prefix = prefix
        self.stats = stats

    def fault(
        self,
        kind: str,
        detail: str,
        *,
        limit: str | None = None,
        code: int | None = None,
        status: int | None = None,
        ip: str | None = None,
    ) -> None:
        """A client fault or a limit hit: ``errors_<kind>`` and one log event."""
        self.stats.error(kind)
        if limit is not None:
            logevents.limit_hit(self.prefix, kind, limit, detail, code=code, status=status, ip=ip)
        else:
            logevents.transport_error(self.prefix, kind, detail, code=code, status=status, ip=ip)

    def websocket_fault(self, fault: Fault, close: CloseInfo) -> None:
        """A WebSocket closed for a client fault (once per connection, never per message)."""
        self.fault(fault.kind, fault.detail, limit=fault.limit, code=close.code)

    def refused(self, refusal: Refusal, ip: str) -> None:
        """A request that admission refused (a limit, a conflict, ``verify_ip``).

        Shutdowns are not faults and are not reported. The event carries the
        close code sent, or the HTTP status when the answer was a status.
        """
        if refusal.reported:
            close = refusal.close
            code, status = (close.code, None) if close is not None else (None, refusal.status)
            self.fault(
                refusal.kind, refusal.detail, limit=refusal.limit, code=code, status=status, ip=ip
            )

    def rejected(self, error: PeerError, route: str, method: str, limit: str | None) -> None:
        """A request answered with an error status (bad JSON, unknown session, too large...)."""
        self.stats.error(error.kind)
        if limit is not None:
            logevents.limit_hit(self.prefix, error.kind, limit, error.detail, status=error.status)
        else:
            logevents.request_rejected(
                self.prefix or "", route, method, error.status, error.kind, error.detail
            )

    def slow_consumer(self, max_queued_bytes: int) -> None:
        """A connection closed with 1013 because its client stopped reading."""
        self.fault(
            "slow_consumer",
            f"over {max_queued_bytes} bytes queued for a client not reading",
            limit="max_queued_bytes",
            code=closing.SLOW_CONSUMER.code,
        )

    def dead_peer(self, close: CloseInfo) -> None:
        """A WebSocket peer answered neither a ping nor anything else (``ping_timeout``)."""
        self.fault("dead_peer", close.reason, code=close.code)

    def app_exception(self, hook: str, failure: Failure | None = None, **fields: object) -> None:
        """An application hook raised (or its Deferred failed)."""
        self.stats.error("app_exception")
        logevents.app_exception(self.prefix, hook, failure, **fields)

    def session_opened(self, transport: str, ip: str) -> None:
        """A session sent its open frame over ``transport``."""
        self.stats.session_opened(transport)
        logevents.session_opened(self.prefix or "", transport, ip)

    def session_closed(self, transport: str, close: CloseInfo) -> None:
        """A session that was opened over ``transport`` ended."""
        self.stats.session_closed(transport)
        logevents.session_closed(
            self.prefix or "", transport, close.code, close.reason, str(close.initiator)
        )
