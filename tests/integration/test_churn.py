"""Session churn: many sessions opened and closed over every transport.

20,000 sessions (100,000 with ``SOCKJS_LONG=1``) go through ``/echo`` of a
fresh ``examples/test_server.py``, 48 at a time over loopback, driven by
``churn_client.py`` in its own process: each one opens, echoes a message
where its transport allows it on one connection, and ends the way its
transport ends (WebSocket Close, or the client dropping its receiving
request, PROTOCOL.md 6.8).

Afterwards the registry must be empty (``GET /_test/state``), no delayed
call may remain beyond the idle server's, and the server's RSS at the end
must be within 10 % of its RSS at the halfway mark (past warm-up): memory
that grows with the number of sessions *ever* opened is a leak.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ServerProcess, check_output, start_server, stop_server
from .rawhttp import request
from .slowclients import rss_bytes

LONG = os.environ.get("SOCKJS_LONG") == "1"
SESSIONS = 100_000 if LONG else 20_000
CLIENT = Path(__file__).with_name("churn_client.py")

pytestmark = pytest.mark.slow


def _untraced_env() -> dict[str, str]:
    # ``make test`` measures subprocesses through this variable. Neither the
    # client nor this server needs it: tracing would double the server's CPU
    # time, and this test is about leaks (every path it takes is covered elsewhere).
    return {k: v for k, v in os.environ.items() if k != "COVERAGE_PROCESS_CONFIG"}


@pytest.fixture
def churn_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
    server = start_server()
    yield server
    check_output(stop_server(server))


def _state(port: int) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(request(port, "GET", "/_test/state").body)
    return state


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.timeout(1800 if LONG else 300)
def test_churn_leaves_nothing_behind(churn_server: ServerProcess) -> None:
    port, pid = churn_server.port, churn_server.proc.pid
    baseline_calls = _state(port)["delayed_calls"]
    rss_start = rss_bytes(pid)
    cpu_before = _cpu_seconds(pid)

    client = subprocess.run(
        [sys.executable, str(CLIENT), str(port), str(pid), str(SESSIONS)],
        capture_output=True,
        text=True,
        timeout=1500 if LONG else 240,
        env=_untraced_env(),
        check=False,
    )
    assert client.returncode == 0, client.stderr[-3000:]
    result = json.loads(client.stdout)
    assert sum(result["done"].values()) == SESSIONS
    server_cpu = _cpu_seconds(pid) - cpu_before

    # Every session ended; closed ones are forgotten after disconnect_delay at most.
    deadline = time.monotonic() + 20
    state = _state(port)
    while any(state["sessions"].values()) and time.monotonic() < deadline:
        time.sleep(0.2)
        state = _state(port)
    assert not any(state["sessions"].values()), state
    assert state["delayed_calls"] <= baseline_calls, state

    rss_half, rss_end = result["rss_half"], rss_bytes(pid)
    growth = (rss_end - rss_half) / rss_half
    print(
        f"\nchurn: {SESSIONS} sessions {result['done']} in {result['elapsed']:.1f} s "
        f"({SESSIONS / result['elapsed']:.0f}/s, 48 at a time); server CPU {server_cpu:.1f} s; "
        f"RSS start {rss_start / 2**20:.1f} MiB, half {rss_half / 2**20:.1f} MiB, "
        f"end {rss_end / 2**20:.1f} MiB ({growth:+.1%}); "
        f"delayed calls {baseline_calls} -> {state['delayed_calls']}"
    )
    assert growth < 0.10, (rss_half, rss_end)
