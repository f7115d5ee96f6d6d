"""Prometheus exposition of the routers' statistics (needs ``prometheus_client``).

Install the extra (``pip install sockjs-cyclone[metrics]``) and mount the
endpoint next to your routers::

    from sockjs.cyclone.metrics import metrics_urls

    echo = SockJSRouter(Echo, "/echo")
    chat = SockJSRouter(Chat, "/chat")
    app = cyclone.web.Application(
        echo.urls + chat.urls + metrics_urls(echo, chat, path="/metrics")
    )

Nothing is measured at scrape time that was not already counted: the
routers keep plain integers (:class:`sockjs.protocol.stats.Stats`) and
:class:`SockJSCollector` turns them into metric families when Prometheus
asks. Every sample has a ``router`` label (the router's prefix, ``"/"`` for
the root); the metric names are listed in :data:`METRIC_NAMES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

try:
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import CollectorRegistry
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sockjs.cyclone.metrics needs prometheus_client: pip install 'sockjs-cyclone[metrics]'"
    ) from error

import cyclone.web
from cyclone.web import URLSpec

from sockjs.protocol.options import TRANSPORT_NAMES

if TYPE_CHECKING:
    from sockjs.cyclone.router import SockJSRouter

__all__ = ["METRIC_NAMES", "MetricsHandler", "SockJSCollector", "metrics_urls"]

#: Transport name of raw WebSocket sessions (``<prefix>/websocket``) in stats.
RAW_WEBSOCKET = "rawwebsocket"

#: Every metric family the collector exposes (default namespace ``sockjs``),
#: as written in the text format: counters carry the ``_total`` suffix.
METRIC_NAMES = (
    "sockjs_sessions_active",
    "sockjs_sessions_opened_total",
    "sockjs_sessions_closed_total",
    "sockjs_sessions_expired_total",
    "sockjs_connections_active",
    "sockjs_connections_opened_total",
    "sockjs_messages_sent_total",
    "sockjs_messages_received_total",
    "sockjs_bytes_sent_total",
    "sockjs_bytes_received_total",
    "sockjs_heartbeats_sent_total",
    "sockjs_errors_total",
)


class SockJSCollector:
    """A ``prometheus_client`` collector reading the counters of ``routers``.

    Register it with any ``CollectorRegistry`` (``metrics_urls`` does it for
    you). ``namespace`` prefixes every metric name.
    """

    def __init__(self, routers: Iterable[SockJSRouter], namespace: str = "sockjs") -> None:
        self.routers = list(routers)
        self.namespace = namespace

    def describe(self) -> Iterator[Metric]:
        """The metric families without samples (lets registries detect name clashes)."""
        return iter(_Families(self.namespace).all())

    def collect(self) -> Iterator[Metric]:
        """The current value of every counter of every router."""
        f = _Families(self.namespace)
        for router in self.routers:
            label = router.prefix or "/"
            stats = router.stats.counters
            for transport in _transports(router, stats.opened_by_transport):
                labels = [label, transport]
                f.sessions_active.add_metric(labels, stats.by_transport.get(transport, 0))
                f.sessions_opened.add_metric(labels, stats.opened_by_transport.get(transport, 0))
                f.sessions_closed.add_metric(labels, stats.closed_by_transport.get(transport, 0))
            f.sessions_expired.add_metric([label], stats.sessions_expired)
            f.connections_active.add_metric([label], stats.connections_active)
            f.connections_opened.add_metric([label], stats.connections_opened)
            f.messages_sent.add_metric([label], stats.messages_sent)
            f.messages_received.add_metric([label], stats.messages_received)
            f.bytes_sent.add_metric([label], stats.bytes_sent)
            f.bytes_received.add_metric([label], stats.bytes_received)
            f.heartbeats_sent.add_metric([label], stats.heartbeats_sent)
            for kind, count in sorted(stats.errors.items()):
                f.errors.add_metric([label, kind], count)
        return iter(f.all())


class _Families:
    """One scrape's metric families, empty until the collector fills them."""

    def __init__(self, ns: str) -> None:
        def gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{ns}_{name}", doc, labels=["router", *labels])

        def counter(name: str, doc: str, *labels: str) -> CounterMetricFamily:
            return CounterMetricFamily(f"{ns}_{name}", doc, labels=["router", *labels])

        self.sessions_active = gauge("sessions_active", "Sessions open now.", "transport")
        self.sessions_opened = counter("sessions_opened", "Sessions opened.", "transport")
        self.sessions_closed = counter(
            "sessions_closed", "Sessions closed (either side, any reason).", "transport"
        )
        self.sessions_expired = counter(
            "sessions_expired", "Sessions closed after disconnect_delay without a receiver."
        )
        self.connections_active = gauge(
            "connections_active", "Receiving requests and WebSockets open now."
        )
        self.connections_opened = counter(
            "connections_opened", "Receiving requests and WebSockets started."
        )
        self.messages_sent = counter("messages_sent", "Messages queued for clients.")
        self.messages_received = counter("messages_received", "Messages received from clients.")
        self.bytes_sent = counter(
            "bytes_sent", "Bytes written to clients (HTTP heads and bodies, WebSocket frames)."
        )
        self.bytes_received = counter(
            "bytes_received", "Bytes received from clients (send bodies, WebSocket streams)."
        )
        self.heartbeats_sent = counter("heartbeats_sent", "Heartbeat frames written.")
        self.errors = counter(
            "errors", "Refused requests, protocol errors and limit hits, by kind.", "kind"
        )

    def all(self) -> list[Metric]:
        """Every family, in the order of :data:`METRIC_NAMES`."""
        return [
            self.sessions_active,
            self.sessions_opened,
            self.sessions_closed,
            self.sessions_expired,
            self.connections_active,
            self.connections_opened,
            self.messages_sent,
            self.messages_received,
            self.bytes_sent,
            self.bytes_received,
            self.heartbeats_sent,
            self.errors,
        ]


def _transports(router: SockJSRouter, seen: Iterable[str]) -> list[str]:
    # Every enabled transport appears (as 0 until used), so dashboards and
    # alerts see a series from the first scrape on.
    disabled = router.options.disabled_transports
    names = set(TRANSPORT_NAMES - disabled) | set(seen)
    if "websocket" not in disabled:
        names.add(RAW_WEBSOCKET)
    return sorted(names)


class MetricsHandler(cyclone.web.RequestHandler):  # type: ignore[misc]
    """``GET``: the metrics of ``registry`` in the format the scraper asks for.

    The Prometheus text format by default, OpenMetrics when the ``Accept``
    header asks for it; ``?name[]=...`` restricts the output to those
    metric names, as ``prometheus_client``'s own handlers do.
    """

    registry: CollectorRegistry

    def initialize(self, registry: CollectorRegistry) -> None:
        """Called by Cyclone with the route's keyword arguments."""
        self.registry = registry

    def get(self) -> None:
        """Serve one scrape."""
        encoder, content_type = choose_encoder(self.request.headers.get("Accept", ""))
        names = self.get_arguments("name[]")
        source: Any = self.registry.restricted_registry(names) if names else self.registry
        self.set_header("Content-Type", content_type)
        self.finish(encoder(source))


def metrics_urls(
    *routers: SockJSRouter,
    path: str = "/metrics",
    registry: CollectorRegistry | None = None,
    namespace: str = "sockjs",
) -> list[URLSpec]:
    """Cyclone URL specs serving the metrics of ``routers`` at ``path``.

    A new ``CollectorRegistry`` holding only the SockJS metrics is used unless
    ``registry`` is given: pass ``prometheus_client.REGISTRY`` to serve them
    together with the process and Python metrics (and anything else your
    application registers there). Call it once per registry: the same metric
    names registered twice are refused by ``prometheus_client``.
    """
    if registry is None:
        registry = CollectorRegistry()
    registry.register(SockJSCollector(routers, namespace))
    return [URLSpec("^" + re.escape(path) + "$", MetricsHandler, {"registry": registry})]
