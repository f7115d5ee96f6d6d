"""``router.stats``: the old project's ``StatsCollector`` interface."""

from __future__ import annotations

from sockjs.cyclone._clock import Clock
from sockjs.protocol.stats import Stats


class StatsCollector:
    """Live counters of one router; :meth:`dump` returns a plain dict.

    Keys kept from the old sockjs-cyclone (same meaning): ``sessions_active``,
    ``connections_active``, ``connections_ps``, ``packets_sent_ps``,
    ``packets_recv_ps`` and ``transp_<name>``; totals (also per transport),
    bytes, heartbeats, expiries and ``errors_<kind>`` follow (the operations
    page of the docs lists them all). :mod:`sockjs.addons.metrics` serves
    the same counters to Prometheus.
    """

    def __init__(self, stats: Stats, clock: Clock) -> None:
        self.counters = stats
        self._clock = clock

    def dump(self) -> dict[str, float | int]:
        """Current statistics (rates over the last 10 seconds)."""
        return self.counters.dump(self._clock.seconds())
