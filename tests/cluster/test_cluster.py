"""Several test servers behind HAProxy, sharing channels through a real Redis.

Each cluster is redis-server, two ``examples/test_server.py --redis``
processes (``app1``, ``app2``) and HAProxy with ``examples/cluster/haproxy.cfg``,
all on 127.0.0.1 (see conftest.py). Clients connect through HAProxy over
WebSocket and xhr_streaming; HAProxy's ``X-Served-By`` header tells which
process holds each session. The tests that kill a process or Redis get a
cluster of their own.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

from cluster_clients import (
    TIMEOUT,
    Client,
    WsClient,
    XhrStreamingClient,
    connect_on,
    drain,
    http_request,
    new_path,
    wait_closed,
    wait_for,
)

BACKENDS = ("app1", "app2")


@contextlib.contextmanager
def closing(*clients: Client) -> Iterator[None]:
    """Close every client at the end, whatever happened."""
    try:
        yield
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()


def containing(*expected: Any) -> Callable[[list[Any]], bool]:
    """A wait_for predicate: every one of ``expected`` has arrived."""
    return lambda got: all(item in got for item in expected)


def only(prefix: str, got: list[Any]) -> list[Any]:
    """The string messages of ``got`` that start with ``prefix``, in order."""
    return [item for item in got if isinstance(item, str) and item.startswith(prefix)]


def until_heard(sender: Client, receivers: list[Client], tag: str, channel: str = "") -> None:
    """Have ``sender`` publish ``<channel><tag>-<n>`` until every receiver heard one.

    A subscription reaches Redis a moment after the session subscribed (one
    round trip from its process), and pub/sub does not keep messages for
    late subscribers: tests that need every message wait for this first.
    """
    deadline = time.monotonic() + 3 * TIMEOUT
    waiting = list(receivers)
    n = 0
    while waiting:
        assert time.monotonic() < deadline, f"{tag}: not every process hears the channel"
        sender.send(f"{channel}{tag}-{n}")
        n += 1
        for receiver in waiting:
            drain(receiver, 0.1)
        waiting = [r for r in waiting if not only(f"{channel}{tag}-", r.received)]


def four_broadcast_clients(url: str) -> dict[str, Client]:
    """A WebSocket and an xhr_streaming client on /broadcast on each process."""
    clients: dict[str, Client] = {}
    with contextlib.ExitStack() as on_failure:
        on_failure.callback(lambda: [client.close() for client in clients.values()])
        for backend in BACKENDS:
            for kind, factory in (("ws", WsClient), ("xhr", XhrStreamingClient)):
                clients[f"{kind}-{backend}"] = connect_on(factory, url, "/broadcast", backend)
        on_failure.pop_all()  # all connected: the caller closes them
    return clients


# ---------------------------------------------------------------------------
# Channels shared by the processes
# ---------------------------------------------------------------------------


def test_broadcast_reaches_every_process_in_order(cluster: Any) -> None:
    clients = four_broadcast_clients(cluster.url)
    with closing(*clients.values()):
        assert {client.served_by for client in clients.values()} == set(BACKENDS)
        until_heard(clients["ws-app1"], list(clients.values()), "probe1")
        until_heard(clients["xhr-app2"], list(clients.values()), "probe2")
        sent = [f"one-{n}" for n in range(20)]
        clients["ws-app1"].send(*sent[:10])
        for message in sent[10:]:
            clients["ws-app1"].send(message)
        for name, client in clients.items():
            wait_for(client, lambda got: len(only("one-", got)) >= len(sent))
            assert only("one-", client.received) == sent, name

        # The other way: an xhr_send on app2 reaches the clients of app1.
        clients["xhr-app2"].send("two")
        for client in clients.values():
            wait_for(client, containing("two"))
        # Each message arrived exactly once (local delivery is not repeated
        # when Redis echoes a process's own message back).
        drain(clients["ws-app1"], 0.3)
        for name, client in clients.items():
            assert client.received.count("two") == 1, name
            assert len(client.received) == len(set(client.received)), name


def test_multiplex_channels_work_across_processes(cluster: Any) -> None:
    a = connect_on(WsClient, cluster.url, "/multiplex", "app1")
    b = connect_on(WsClient, cluster.url, "/multiplex", "app2")
    with closing(a, b):
        for client in (a, b):
            # Ann's greeting comes after the room subscription was handled.
            client.send("sub,room", "sub,ann")
            wait_for(client, containing("msg,ann,Ann says hi!"))
        until_heard(a, [b], "probe", channel="msg,room,")
        until_heard(b, [a], "probe", channel="msg,room,")
        a.send("msg,room,hello from app1")
        b.send("msg,room,hello from app2")
        for client in (a, b):
            wait_for(client, containing("msg,room,hello from app1", "msg,room,hello from app2"))
        # Plain channels stay local to their session.
        b.send("msg,ann,psst")
        wait_for(b, containing("msg,ann,Ann nods: psst"))
        # After uns, b hears nothing more from the room.
        b.send("uns,room", "msg,ann,done")
        wait_for(b, containing("msg,ann,Ann nods: done"))
        a.send("msg,room,after uns")
        wait_for(a, containing("msg,room,after uns"))
        drain(b, 0.5)
        assert "msg,room,after uns" not in b.received
        assert "msg,ann,Ann nods: psst" not in a.received


def test_a_session_stays_on_its_process(cluster: Any) -> None:
    path = new_path("/echo", "").rstrip("/")
    status, headers = http_request(cluster.url, "POST", f"{path}/xhr")
    assert (status, headers["_body"]) == (200, "o\n")
    owner = cluster.server(headers["x-served-by"])
    other = next(server for server in cluster.servers if server is not owner)
    other_url = f"http://127.0.0.1:{other.port}"

    # The wrong process has no such session: the normal SockJS answers.
    status, headers = http_request(other_url, "POST", f"{path}/xhr_send", b'["lost"]')
    assert status == 404
    status, headers = http_request(other_url, "POST", f"{path}/xhr")
    assert (status, headers["_body"]) == (200, "o\n")  # a new session there
    WsClient(other_url, "/echo").close()  # opens a session there too (no crash)

    # Through HAProxy every request of the session reaches its owner.
    status, headers = http_request(cluster.url, "POST", f"{path}/xhr_send", b'["kept"]')
    assert (status, headers["x-served-by"]) == (204, owner.name)
    status, headers = http_request(cluster.url, "POST", f"{path}/xhr")
    assert (status, headers["_body"], headers["x-served-by"]) == (200, 'a["kept"]\n', owner.name)
    assert all(server.alive() for server in cluster.servers)


def test_jsessionid_cookie_keeps_a_client_on_one_process(cluster: Any) -> None:
    status, headers = http_request(cluster.url, "POST", new_path("/cookie_needed_echo", "xhr"))
    assert status == 200
    backend = headers["x-served-by"]
    # HAProxy put its server name in front of the service's cookie.
    assert headers["set-cookie"].startswith(f"JSESSIONID={backend}~dummy")
    cookie = {"Cookie": f"JSESSIONID={backend}~dummy"}
    for _ in range(8):  # server ids that would hash anywhere
        status, headers = http_request(
            cluster.url, "POST", new_path("/cookie_needed_echo", "xhr"), headers=cookie
        )
        assert (status, headers["x-served-by"]) == (200, backend)
        # The prefix was stripped on the way in: the service saw "dummy".
        assert headers["set-cookie"].startswith(f"JSESSIONID={backend}~dummy;")


# ---------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------


def connect_through_proxy(factory: Any, url: str, prefix: str) -> Client:
    """Connect, retrying while HAProxy still tries a process that is gone."""
    deadline = time.monotonic() + 3 * TIMEOUT
    while True:
        try:
            return factory(url, prefix)  # type: ignore[no-any-return]
        except Exception:  # refused, 503, closed early: HAProxy has not caught up yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_killed_process_clients_reconnect_and_survivors_lose_nothing(
    start_cluster: Callable[[], Any],
) -> None:
    cluster = start_cluster()
    clients = four_broadcast_clients(cluster.url)
    with closing(*clients.values()):
        until_heard(clients["ws-app2"], list(clients.values()), "before")

        cluster.server("app1").stop(signal.SIGKILL)
        # Its clients see their connection end...
        wait_closed(clients["ws-app1"])
        wait_closed(clients["xhr-app1"])
        # ...while the survivors keep receiving, everything, in order.
        sent = [f"after-{n}" for n in range(15)]
        for message in sent:
            clients["ws-app2"].send(message)
        for name in ("ws-app2", "xhr-app2"):
            wait_for(clients[name], lambda got: "after-14" in got)
            assert only("after-", clients[name].received) == sent, name
            assert len(clients[name].received) == len(set(clients[name].received)), name

        # Reconnecting through HAProxy lands on the live process.
        again = [
            connect_through_proxy(WsClient, cluster.url, "/broadcast"),
            connect_through_proxy(XhrStreamingClient, cluster.url, "/broadcast"),
        ]
        with closing(*again):
            assert [client.served_by for client in again] == ["app2", "app2"]
            clients["xhr-app2"].send("welcome back")
            for client in [*again, clients["ws-app2"]]:
                wait_for(client, containing("welcome back"))
    assert cluster.server("app2").alive()


def test_redis_outage_keeps_local_delivery_and_recovers(
    start_cluster: Callable[[], Any],
) -> None:
    cluster = start_cluster()
    a = connect_on(WsClient, cluster.url, "/broadcast", "app1")
    b = connect_on(WsClient, cluster.url, "/broadcast", "app2")
    a_xhr = connect_on(XhrStreamingClient, cluster.url, "/broadcast", "app1")
    with closing(a, b, a_xhr):
        until_heard(a, [a, b, a_xhr], "up1")
        until_heard(b, [a, b, a_xhr], "up2")

        cluster.stop_redis()
        # Local delivery does not need Redis.
        a.send("local-a")
        b.send("local-b")
        wait_for(a, containing("local-a"))
        wait_for(a_xhr, containing("local-a"))
        wait_for(b, containing("local-b"))
        drain(a, 1.0)
        drain(b, 1.0)

        cluster.start_redis()
        # Cross-process delivery resumes once both processes reconnected
        # (and subscribed again): publish until a message gets across.
        until_heard(a, [b], "resumed1")
        until_heard(b, [a, a_xhr], "resumed2")
        a.send("final")
        for client in (a, b, a_xhr):
            wait_for(client, containing("final"))
        # What was published during the outage stayed local (not replayed).
        assert "local-a" not in b.received
        assert "local-b" not in a.received

    assert all(server.alive() for server in cluster.servers)
    for server in cluster.servers:
        output = server.output()
        assert "Lost redis://" in output, server.name
        assert "Reconnected to redis://" in output, server.name


def test_the_broadcast_example_cluster(start_cluster: Callable[..., Any]) -> None:
    """examples/cluster as its README runs it: the page, ticks and messages everywhere."""
    cluster = start_cluster(app="broadcast")
    status, headers = http_request(cluster.url, "GET", "/")
    assert status == 200 and "<html" in headers["_body"].lower()
    one = connect_on(WsClient, cluster.url, "/broadcast", "app1")
    two = connect_on(WsClient, cluster.url, "/broadcast", "app2")
    with closing(one, two):
        # Only app1 ticks; app2's page gets the ticks through Redis.
        for client in (one, two):
            wait_for(client, lambda got: any(m.get("type") == "tick" for m in got))
        deadline = time.monotonic() + 3 * TIMEOUT
        n = 0
        while not any(m.get("type") == "say" for m in one.received):
            assert time.monotonic() < deadline, "app2's page never reached app1's"
            two.send(f"hello {n}")
            n += 1
            drain(one, 0.2)


def test_the_run_script_config_scales_to_n_processes(cluster_run: Any) -> None:
    run, processes = cluster_run, 3
    config = run.render_haproxy_config(
        run.HAPROXY_TEMPLATE.read_text(encoding="utf-8"),
        9999,
        [(f"app{n}", 9000 + n) for n in range(1, processes + 1)],
    )
    servers = [line.split() for line in config.splitlines() if line.lstrip().startswith("server ")]
    assert servers == [
        ["server", f"app{n}", f"127.0.0.1:{9000 + n}", "cookie", f"app{n}"]
        for n in range(1, processes + 1)
    ]
    assert "    bind 127.0.0.1:9999" in config.splitlines()
