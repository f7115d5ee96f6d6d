"""The Prometheus endpoint (sockjs.cyclone.metrics), in memory under a Clock.

Scrapes go through a real ``cyclone.web.Application`` as HTTP bytes (see
``helpers``) and are parsed with ``prometheus_client``'s own parsers, the
text format and OpenMetrics, so what a Prometheus server would read is what
is checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cyclone.web
import helpers
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from sockjs.cyclone import SockJSRouter
from sockjs.cyclone.metrics import METRIC_NAMES, MetricsHandler, SockJSCollector, metrics_urls

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.rst"
ALL_TRANSPORTS = {
    "websocket",
    "rawwebsocket",
    "xhr",
    "xhr_streaming",
    "jsonp",
    "eventsource",
    "htmlfile",
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def mount(server: helpers.Server, *extra: SockJSRouter, **kwargs: Any) -> None:
    """Serve the metrics of ``server.router`` (and ``extra``) at ``/metrics``."""
    routers = (server.router, *extra)
    # The metrics and the extra routers first: a router at the root claims
    # every path under "/".
    urls = metrics_urls(*routers, **kwargs)
    urls += [spec for router in (*extra, server.router) for spec in router.urls]
    server.app = cyclone.web.Application(urls)


def scrape(server: helpers.Server, path: str = "/metrics", **kwargs: Any) -> helpers.Response:
    """One GET on a fresh connection; the response must be complete."""
    client = server.client()
    client.request("GET", path, **kwargs)
    response = client.response()
    assert response.status == 200, response
    return response


def samples(text: str) -> Samples:
    """Every sample of a text-format scrape: (name, sorted labels) -> value."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 if absent, as Prometheus treats a missing counter)."""
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metric_names_are_the_documented_ones(server: helpers.Server) -> None:
    mount(server)
    response = scrape(server)
    assert response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    families = list(text_string_to_metric_families(response.body.decode()))
    names = [family.name + ("_total" if family.type == "counter" else "") for family in families]
    assert names == list(METRIC_NAMES)
    docs = DOCS.read_text(encoding="utf-8")
    for name in METRIC_NAMES:
        assert f"``{name}``" in docs, name
    types = {family.name: family.type for family in families}
    assert types["sockjs_sessions_active"] == "gauge"
    assert types["sockjs_connections_active"] == "gauge"
    assert types["sockjs_errors"] == "counter"


def test_every_transport_has_a_series_from_the_start(server: helpers.Server) -> None:
    mount(server)
    found = samples(scrape(server).body.decode())
    for name in ("sockjs_sessions_active", "sockjs_sessions_opened_total"):
        transports = {dict(labels)["transport"] for (sample, labels) in found if sample == name}
        assert transports == ALL_TRANSPORTS
    assert value(found, "sockjs_messages_sent_total", router="/echo") == 0
    assert not [key for key in found if key[0] == "sockjs_errors_total"]


def test_disabled_transports_have_no_series() -> None:
    server = helpers.Server(settings={"disabled_transports": ["websocket", "jsonp"]})
    mount(server)
    found = samples(scrape(server).body.decode())
    transports = {
        dict(labels)["transport"]
        for (name, labels) in found
        if name == "sockjs_sessions_opened_total"
    }
    assert transports == ALL_TRANSPORTS - {"websocket", "rawwebsocket", "jsonp"}


def test_counters_follow_traffic(server: helpers.Server) -> None:
    mount(server)
    sid = server.open()
    assert server.send(sid, "a", "b").status == 204
    poll = server.poll(sid)
    assert poll.response().body == b'a["a","b"]\n'
    assert server.send("nobody", "x").status == 404
    assert server.send(sid, raw=b"[oops").status == 500
    found = samples(scrape(server).body.decode())
    echo = {"router": "/echo"}
    assert value(found, "sockjs_sessions_active", transport="xhr", **echo) == 1
    assert value(found, "sockjs_sessions_opened_total", transport="xhr", **echo) == 1
    assert value(found, "sockjs_sessions_closed_total", transport="xhr", **echo) == 0
    assert value(found, "sockjs_connections_opened_total", **echo) == 2
    assert value(found, "sockjs_connections_active", **echo) == 0
    assert value(found, "sockjs_messages_received_total", **echo) == 2
    assert value(found, "sockjs_messages_sent_total", **echo) == 2
    assert value(found, "sockjs_errors_total", kind="no_session", **echo) == 1
    assert value(found, "sockjs_errors_total", kind="bad_json", **echo) == 1
    # The bodies of the three sends.
    bodies = helpers.json_array(["a", "b"]) + helpers.json_array(["x"]) + b"[oops"
    assert value(found, "sockjs_bytes_received_total", **echo) == len(bodies)
    written = sum(len(client.data) for client in server.clients[:-1])
    assert value(found, "sockjs_bytes_sent_total", **echo) == written
    # The same numbers as dump(), which keeps its own key names.
    dump = server.router.stats.dump()
    assert dump["transp_xhr"] == 1
    assert dump["messages_received"] == 2
    assert dump["bytes_sent"] == written

    server.advance(server.options.disconnect_delay)
    found = samples(scrape(server).body.decode())
    assert value(found, "sockjs_sessions_active", transport="xhr", **echo) == 0
    assert value(found, "sockjs_sessions_closed_total", transport="xhr", **echo) == 1
    assert value(found, "sockjs_sessions_expired_total", **echo) == 1


def test_heartbeats_are_counted() -> None:
    server = helpers.Server(settings={"heartbeat_delay": 1})
    mount(server)
    stream = server.poll(helpers.new_sid(), "xhr_streaming")
    server.advance(1)
    server.advance(1)
    assert stream.response().chunks is not None
    assert stream.response().chunks[-2:] == [b"h\n", b"h\n"]
    found = samples(scrape(server).body.decode())
    assert value(found, "sockjs_heartbeats_sent_total", router="/echo") == 2
    assert value(found, "sockjs_connections_active", router="/echo") == 1
    stream.abort()
    found = samples(scrape(server).body.decode())
    assert value(found, "sockjs_connections_active", router="/echo") == 0
    assert value(found, "sockjs_sessions_closed_total", router="/echo", transport="xhr_streaming")


def test_one_label_per_router_and_root_is_slash() -> None:
    server = helpers.Server(prefix="")
    other = SockJSRouter(helpers.Echo, "/other", reactor=server.clock)
    mount(server, other)
    client = server.client()
    client.post(f"/other/000/{helpers.new_sid()}/xhr")
    assert client.response().body == b"o\n"
    found = samples(scrape(server).body.decode())
    assert value(found, "sockjs_sessions_opened_total", router="/other", transport="xhr") == 1
    assert value(found, "sockjs_sessions_opened_total", router="/", transport="xhr") == 0
    other.stop()


def test_openmetrics_when_asked() -> None:
    server = helpers.Server()
    mount(server)
    server.open()
    accept = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    response = scrape(server, headers={"Accept": accept})
    content_type = response.header("Content-Type") or ""
    assert content_type.startswith("application/openmetrics-text")
    text = response.body.decode()
    assert text.endswith("# EOF\n")
    families = {family.name: family for family in openmetrics_families(text)}
    (opened,) = [
        s
        for s in families["sockjs_sessions_opened"].samples
        if s.labels == {"router": "/echo", "transport": "xhr"}
    ]
    assert opened.value == 1


def test_name_filter() -> None:
    server = helpers.Server()
    mount(server)
    response = scrape(server, "/metrics?name[]=sockjs_messages_sent_total")
    names = {name for name, _ in samples(response.body.decode())}
    assert names == {"sockjs_messages_sent_total"}


def test_other_paths_are_not_served() -> None:
    server = helpers.Server()
    mount(server, path="/internal/metrics")
    assert scrape(server, "/internal/metrics").body.startswith(b"# HELP sockjs_")
    client = server.client()
    client.get("/metrics")
    assert client.response().status == 404


def test_shared_registry_and_namespace() -> None:
    server = helpers.Server()
    registry = CollectorRegistry()
    mount(server, registry=registry, namespace="chat")
    names = {family.name for family in registry.collect()}
    assert "chat_sessions_active" in names
    # The same names twice in one registry are refused by prometheus_client.
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        metrics_urls(server.router, registry=registry, namespace="chat")
    found = samples(scrape(server).body.decode())
    assert ("chat_messages_sent_total", (("router", "/echo"),)) in found


def test_collector_reads_at_scrape_time() -> None:
    server = helpers.Server()
    collector = SockJSCollector([server.router])
    assert [family.samples for family in collector.describe()] == [[]] * len(METRIC_NAMES)
    before = {f.name: f for f in collector.collect()}["sockjs_messages_received"]
    sid = server.open()
    server.send(sid, "x")
    after = {f.name: f for f in collector.collect()}["sockjs_messages_received"]
    assert [s.value for s in before.samples] == [0]
    assert [s.value for s in after.samples] == [1]


def test_handler_is_a_plain_cyclone_handler() -> None:
    # Usable with any registry, e.g. in an application's own URL list.
    registry = CollectorRegistry()
    server = helpers.Server()
    server.app = cyclone.web.Application([(r"/m", MetricsHandler, {"registry": registry})])
    assert scrape(server, "/m").body == b""
