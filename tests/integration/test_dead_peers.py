"""A client that vanishes without closing, over a real network (issue 16).

The test makes two network namespaces joined by a veth pair, with addresses
that exist only inside them, runs examples/test_server.py in one and
tests/integration/vanishing_client.py in the other, and then removes the
client's address: the client's kernel silently drops everything from then
on (no FIN, no RST). With ``--heartbeat-delay 2`` both sessions (a
WebSocket and an xhr_streaming one) must be gone within 20 s: the WebSocket
through its unanswered ping (``ping_timeout``), the HTTP stream through
``TCP_USER_TIMEOUT`` on its unacknowledged heartbeat.

Making namespaces needs root (CI runs as root); anywhere else the test is
skipped with the reason, never passed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER = REPO_ROOT / "examples" / "test_server.py"
CLIENT = Path(__file__).resolve().parent / "vanishing_client.py"
PORT = 8081
#: Issue 16: with heartbeat_delay 2 s, both sessions gone within this bound.
BOUND = 20.0
#: ``SOCKJS_DEAD_PEER_DEFAULTS=1`` measures the default settings instead
#: (heartbeat_delay 25 s; docs/operations.rst has both figures): slow, not in CI.
DEFAULTS = os.environ.get("SOCKJS_DEAD_PEER_DEFAULTS") == "1"


@dataclass
class Net:
    """Two namespaces and the addresses of their ends of the veth pair."""

    server_ns: str
    client_ns: str
    client_dev: str
    server_ip: str
    client_ip: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


@pytest.fixture
def net() -> Iterator[Net]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs as root): dead-peer test not run")
    tag = f"{os.getpid() % 100000}"
    made = Net(f"sjs-srv-{tag}", f"sjs-cli-{tag}", f"sjsc{tag}", "10.231.7.1", "10.231.7.2")
    server_dev = f"sjss{tag}"
    try:
        _ip("netns", "add", made.server_ns)
        _ip("netns", "add", made.client_ns)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        for ns in (made.server_ns, made.client_ns):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)
        detail = getattr(error, "stderr", "") or str(error)
        pytest.skip(f"cannot make network namespaces here ({detail.strip()}): not run")
    try:
        _ip("link", "add", server_dev, "type", "veth", "peer", "name", made.client_dev)
        _ip("link", "set", server_dev, "netns", made.server_ns)
        _ip("link", "set", made.client_dev, "netns", made.client_ns)
        for ns, dev, address in (
            (made.server_ns, server_dev, made.server_ip),
            (made.client_ns, made.client_dev, made.client_ip),
        ):
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield made
    finally:
        for ns in (made.server_ns, made.client_ns):  # the veth pair goes with them
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)


def _in_ns(ns: str, *command: str, **kwargs: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **kwargs,  # type: ignore[call-overload]
    )


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 20.0) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return
    raise AssertionError(f"no {marker!r} from {proc.args}: {''.join(seen)[-2000:]}")


def _echo_sessions(net: Net) -> int:
    """Sessions alive on the server's /echo (asked from inside its namespace)."""
    script = (
        "import json, urllib.request;"
        f"print(json.load(urllib.request.urlopen('http://{net.server_ip}:{PORT}/_test/state',"
        " timeout=5))['sessions']['/echo'])"
    )
    out = subprocess.run(
        ["ip", "netns", "exec", net.server_ns, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return int(json.loads(out.stdout))


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()  # by PID: our own child
    proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def test_a_vanished_client_loses_both_sessions_within_the_bound(net: Net) -> None:
    server = _in_ns(
        net.server_ns,
        sys.executable,
        str(SERVER),
        "--host",
        net.server_ip,
        "--port",
        str(PORT),
        "--test-endpoints",
        *([] if DEFAULTS else ["--heartbeat-delay", "2"]),
    )
    bound = 25 + 10 + 5 if DEFAULTS else BOUND  # heartbeat + ping_timeout + a margin
    client = None
    try:
        _wait_for(server, "listening on")
        client = _in_ns(
            net.client_ns,
            sys.executable,
            str(CLIENT),
            net.server_ip,
            str(PORT),
            stdin=subprocess.PIPE,
        )
        _wait_for(client, "ready")
        assert _echo_sessions(net) == 2
        _ip("-n", net.client_ns, "addr", "del", f"{net.client_ip}/24", "dev", net.client_dev)
        vanished = time.monotonic()
        while _echo_sessions(net) and time.monotonic() - vanished < bound + 10:
            time.sleep(0.5)
        elapsed = time.monotonic() - vanished
        print(f"\nboth sessions gone {elapsed:.1f} s after the client vanished")
        assert _echo_sessions(net) == 0
        assert elapsed <= bound
    finally:
        if client is not None:
            _stop(client)
        _stop(server)
