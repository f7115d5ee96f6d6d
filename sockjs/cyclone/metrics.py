"""Prometheus exposition, at its 2.0 path; it lives in :mod:`sockjs.addons.metrics`."""

from sockjs.addons.metrics import (
    METRIC_NAMES,
    RAW_WEBSOCKET,
    MetricsHandler,
    SockJSCollector,
    metrics_urls,
)

__all__ = ["METRIC_NAMES", "RAW_WEBSOCKET", "MetricsHandler", "SockJSCollector", "metrics_urls"]
