"""The streams broker across real processes: nothing lost when Redis blinks.

The fault tests run two ``examples/test_server.py --redis-streams``
processes behind HAProxy, with redis-server writing an append-only file
with ``appendfsync always`` (so that a restart keeps what Redis
acknowledged). A WebSocket client on app1 publishes a numbered sequence on
/broadcast at 300 messages a second while Redis suffers a fault; the
client on app2 (through Redis) and the publisher itself (locally) must get
every message, in order, exactly once. Each test prints its tally as a
JSON line (``pytest -s`` shows them).

The loss tests drive single brokers in processes of their own
(``broker_probe.py``) with small settings: a buffer that overflows and a
retention that a stopped reader falls behind must be reported. The Redis
security tests run both brokers against a Redis with a password and one
with TLS.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_clients import TIMEOUT, WsClient, connect_on, drain, http_request, wait_for
from test_cluster import closing, containing, only, until_heard

AOF = ["--appendonly", "yes", "--appendfsync", "always"]
RATE = 300  # messages a second, as in the issue
PROBE = Path(__file__).resolve().parent / "broker_probe.py"


# ---------------------------------------------------------------------------
# A numbered sequence through a fault
# ---------------------------------------------------------------------------


def tally(got: list[str], count: int) -> dict[str, Any]:
    """What a client received of ``n-0`` ... ``n-<count-1>``."""
    numbers = [int(item[2:]) for item in got]
    return {
        "published": count,
        "received": len(set(numbers)),
        "in_order": numbers == sorted(numbers),
        "duplicates": len(numbers) - len(set(numbers)),
    }


def publish_through(cluster: Any, count: int, faults: dict[int, Callable[[], None]]) -> Any:
    """Publish ``n-0``... from app1 at RATE, running ``faults[n]`` before message n."""
    sender = connect_on(WsClient, cluster.url, "/broadcast", "app1")
    receiver = connect_on(WsClient, cluster.url, "/broadcast", "app2")
    with closing(sender, receiver):
        until_heard(sender, [receiver, sender], "probe")
        start = time.monotonic()
        for n in range(count):
            if n in faults:
                faults[n]()
            sender.send(f"n-{n}")
            time.sleep(max(0.0, start + (n + 1) / RATE - time.monotonic()))
        results = {}
        for name, client in (("app2 (via Redis)", receiver), ("app1 (local)", sender)):
            with contextlib.suppress(AssertionError):
                wait_for(client, lambda got: f"n-{count - 1}" in got, timeout=3 * TIMEOUT)
            drain(client, 0.5)  # anything more would be a copy
            results[name] = tally(only("n-", client.received), count)
    return results


def assert_lossless(fault: str, results: dict[str, Any], count: int) -> None:
    print(json.dumps({"fault": fault, **results}))
    for name, result in results.items():
        expected = {"published": count, "received": count, "in_order": True, "duplicates": 0}
        assert result == expected, name


@pytest.fixture
def streams_cluster(start_cluster: Callable[..., Any]) -> Iterator[Any]:
    cluster = start_cluster(broker="redis-streams", redis_args=AOF)
    yield cluster
    redis = cluster.redis
    if redis is not None and redis.alive():
        os.kill(redis.pid, signal.SIGCONT)  # whatever a failed test left stopped


def kill_every_client(cluster: Any) -> Callable[[], None]:
    return lambda: cluster.redis_command("CLIENT", "KILL", "TYPE", "normal")


def pause(cluster: Any, sig: int) -> Callable[[], None]:
    return lambda: os.kill(cluster.redis.pid, sig)


def test_every_redis_client_killed(streams_cluster: Any) -> None:
    kill = kill_every_client(streams_cluster)
    results = publish_through(streams_cluster, 1500, {300: kill, 700: kill, 1100: kill})
    assert_lossless("CLIENT KILL x3", results, 1500)
    for server in streams_cluster.servers:
        assert "Reconnected to redis://" in server.output(), server.name


def test_redis_paused(streams_cluster: Any) -> None:
    stop, go_on = pause(streams_cluster, signal.SIGSTOP), pause(streams_cluster, signal.SIGCONT)
    results = publish_through(streams_cluster, 1500, {300: stop, 300 + 2 * RATE: go_on})
    assert_lossless("SIGSTOP 2 s", results, 1500)


def test_redis_killed_and_restarted_from_its_aof(streams_cluster: Any) -> None:
    def kill() -> None:
        streams_cluster.stop_redis(signal.SIGKILL)

    results = publish_through(streams_cluster, 1500, {300: kill, 600: streams_cluster.start_redis})
    assert_lossless("SIGKILL, restart 1 s later", results, 1500)
    for server in streams_cluster.servers:
        assert "Lost redis://" in server.output(), server.name


def test_the_issue_scenario(streams_cluster: Any) -> None:
    """3,000 messages at 300/s through every fault of the issue, one after the other."""
    cluster = streams_cluster
    kill, stop, go_on = (
        kill_every_client(cluster),
        pause(cluster, signal.SIGSTOP),
        pause(cluster, signal.SIGCONT),
    )
    faults = {
        300: kill,
        600: kill,
        1000: stop,
        1600: go_on,
        2000: lambda: cluster.stop_redis(signal.SIGKILL),
        2300: cluster.start_redis,
    }
    assert_lossless("all of them", publish_through(cluster, 3000, faults), 3000)


# ---------------------------------------------------------------------------
# Losses are reported (single brokers in processes of their own)
# ---------------------------------------------------------------------------


class Probe:
    """``broker_probe.py`` in a process of its own; its events arrive on a queue."""

    def __init__(self, url: str, origin: str, *args: str, env: dict[str, str] | None = None):
        self.name = origin
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.got: list[Any] = []
        self.losses: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(PROBE), url, origin, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.log: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_log, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        self.log.extend(self.proc.stderr)

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT) -> Any:
        """Read events until one satisfies ``predicate``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"{self.name} timed out; got {self.got[-5:]}, losses {self.losses}; "
                    f"log:\n{''.join(self.log)}"
                ) from None
            if "got" in event:
                self.got.append(event["got"])
            if "loss" in event:
                self.losses.append(event["loss"])
            if predicate(event):
                return event

    def settle(self, seconds: float = 0.5) -> None:
        with contextlib.suppress(AssertionError):
            self.wait(lambda event: False, timeout=seconds)

    def counters(self) -> dict[str, int]:
        self.send("counters")
        return self.wait(lambda event: "counters" in event)["counters"]  # type: ignore[no-any-return]

    def wait_written(self) -> None:
        """Wait until Redis has confirmed everything the broker's buffer held."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            self.send("counters")
            if not self.wait(lambda event: "counters" in event)["buffered"]:
                return
            assert time.monotonic() < deadline, f"{self.name}'s buffer never emptied"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.send("stop")
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@pytest.fixture
def probes() -> Iterator[Callable[..., Probe]]:
    started: list[Probe] = []

    def start(*args: str, **kw: Any) -> Probe:
        probe = Probe(*args, **kw)
        started.append(probe)
        return probe

    yield start
    for probe in started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(probe.proc.pid, signal.SIGCONT)
        probe.stop()


def connected_pair(probes: Callable[..., Probe], url: str, *args: str) -> tuple[Probe, Probe]:
    """Two probes, A and B, connected, with B hearing A (its reader is in place)."""
    a, b = probes(url, "A", *args), probes(url, "B", *args)
    for probe in (a, b):
        probe.wait(lambda event: event.get("connected") is True)
    for n in range(50):
        a.send(f'publish "hello-{n}"')
        with contextlib.suppress(AssertionError):
            b.wait(lambda event: str(event.get("got", "")).startswith("hello"), timeout=0.2)
            return a, b
    raise AssertionError("B never heard A")


def test_a_buffer_overflow_is_reported(
    redis_only: Callable[..., Any], probes: Callable[..., Probe]
) -> None:
    redis = redis_only()
    a, b = connected_pair(probes, redis.redis_url, "--buffer-bytes", "200")
    os.kill(redis.redis.pid, signal.SIGSTOP)  # A's writes stay unconfirmed: the buffer fills
    try:
        a.send("publish-range m 30")
        a.wait(lambda event: "loss" in event)
        a.settle()
    finally:
        os.kill(redis.redis.pid, signal.SIGCONT)
    a.wait_written()  # else "after" could find the buffer still full
    a.send('publish "after"')
    b.wait(lambda event: event.get("got") == "after")
    b.settle()  # losses are reported after the deliveries of their round
    dropped = len(a.losses)
    kept = [item for item in b.got if item.startswith("m-")]
    print(json.dumps({"loss": "overflow", "published": 30, "kept": len(kept), "dropped": dropped}))
    assert 0 < dropped < 30 and kept == [f"m-{n}" for n in range(30 - dropped)]
    assert a.losses == [{"kind": "overflow", "count": 1, "channel": "ch"}] * dropped
    assert b.losses == [{"kind": "sequence_gap", "count": dropped, "channel": None}]
    assert a.counters()["redis_buffer_overflow"] == dropped
    assert b.counters()["redis_stream_gap"] == 1
    assert "buffer full: a message on 'ch' stayed in this process" in "".join(a.log)
    assert f"{dropped} message(s) of A never arrived" in "".join(b.log)


def test_a_reader_behind_the_retention_reports_the_gap(
    redis_only: Callable[..., Any], probes: Callable[..., Probe]
) -> None:
    redis = redis_only()
    a, b = connected_pair(probes, redis.redis_url, "--retention", "50")
    os.kill(b.proc.pid, signal.SIGSTOP)  # B reads nothing for a while
    try:
        a.send("publish-range r 1000")
        a.settle(1.0)
        assert a.counters()["redis_buffer_overflow"] == 0
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)
    b.wait(lambda event: event.get("got") == "r-999")
    b.settle()
    got = [int(item[2:]) for item in b.got if item.startswith("r-")]
    print(json.dumps({"loss": "retention", "published": 1000, "received": len(got)}))
    assert got == sorted(set(got)) and len(got) < 1000
    assert b.losses == [{"kind": "retention_gap", "count": 1000 - len(got), "channel": None}]
    assert "fell behind the stream's retention" in "".join(b.log)


# ---------------------------------------------------------------------------
# Redis security: AUTH, TLS, input that cannot be decoded
# ---------------------------------------------------------------------------


def shares_broadcast(cluster: Any) -> None:
    a = connect_on(WsClient, cluster.url, "/broadcast", "app1")
    b = connect_on(WsClient, cluster.url, "/broadcast", "app2")
    with closing(a, b):
        until_heard(a, [b], "one")
        until_heard(b, [a], "two")


@pytest.mark.parametrize("broker", ["redis", "redis-streams"])
def test_a_redis_with_a_password(
    broker: str, start_cluster: Callable[..., Any], probes: Callable[..., Probe]
) -> None:
    cluster = start_cluster(broker=broker, redis_password="s3cret pass/")
    assert cluster.redis_url.startswith("redis://:s3cret%20pass%2F@")
    shares_broadcast(cluster)
    # Without the password, Redis refuses the connections: logged, retried.
    wrong = cluster.redis_url.replace("s3cret%20pass%2F", "not-the-pass")
    probe = probes(wrong, "W", *(["--pubsub"] if broker == "redis" else []))
    deadline = time.monotonic() + TIMEOUT
    while "refused the" not in "".join(probe.log):
        assert time.monotonic() < deadline, "".join(probe.log)
        time.sleep(0.1)
    assert "WRONGPASS" in "".join(probe.log) and "not-the-pass" not in "".join(probe.log)


def make_certificates(directory: Path) -> dict[str, Path]:
    """A private CA and a certificate for localhost signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, issuer: str, key: Any, signer: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    files = {
        "ca": build("test CA", "test CA", ca_key, ca_key, True),
        "cert": build("localhost", "test CA", key, ca_key, False),
    }
    paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
    for name, cert in files.items():
        paths[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.mark.parametrize("broker", ["redis", "redis-streams"])
def test_a_redis_over_tls(
    broker: str,
    start_cluster: Callable[..., Any],
    probes: Callable[..., Probe],
    tmp_path: Path,
) -> None:
    certificates = make_certificates(tmp_path)
    cluster = start_cluster(broker=broker, redis_tls=certificates)
    assert cluster.redis_url.startswith("rediss://localhost:")
    shares_broadcast(cluster)
    for server in cluster.servers:
        assert f"Connected to rediss://localhost:{cluster.redis_tls_port}" in server.output()
    # A client that does not trust the private CA does not connect.
    env = {key: value for key, value in os.environ.items() if key != "SSL_CERT_FILE"}
    probe = probes(cluster.redis_url, "U", *(["--pubsub"] if broker == "redis" else []), env=env)
    deadline = time.monotonic() + TIMEOUT
    while "Cannot connect to rediss://" not in "".join(probe.log):
        assert time.monotonic() < deadline, "".join(probe.log)
        time.sleep(0.1)
    assert "certificate verify failed" in "".join(probe.log)


@pytest.mark.parametrize("broker", ["redis", "redis-streams"])
def test_undecodable_redis_input_is_counted_and_skipped(
    broker: str, start_cluster: Callable[..., Any]
) -> None:
    cluster = start_cluster(broker=broker)
    a = connect_on(WsClient, cluster.url, "/broadcast", "app1")
    b = connect_on(WsClient, cluster.url, "/broadcast", "app2")
    with closing(a, b):
        until_heard(a, [b], "before")
        deep = "[" * 100_000  # RecursionError in Python's JSON decoder
        if broker == "redis":
            cluster.redis_command("PUBLISH", "sockjs:broadcast", f"X {deep}")
        else:
            data = f"X 1 9 broadcast{deep}"
            cluster.redis_command("XADD", "sockjs:stream", "*", "d", data)
        a.send("next")
        wait_for(b, containing("next"))
    status, headers = http_request(f"http://127.0.0.1:{cluster.servers[1].port}", "GET", "/metrics")
    assert status == 200
    assert 'kind="redis_bad_message",router="/broadcast"} 1.0' in headers["_body"] or (
        'router="/broadcast",kind="redis_bad_message"} 1.0' in headers["_body"]
    )
