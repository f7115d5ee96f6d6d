"""The real sockjs-client 1.6.1 under Node against examples/test_server.py.

``node/client.js`` runs the checks of harness.js for every transport at once
(concurrently, one process, bounded) and prints one JSON line; each test here
judges one transport with the same rules as the browser cells
(:func:`e2e_support.judge_cell`).  Under Node the client has no DOM, so only
websocket (faye-websocket), xhr-streaming, eventsource (npm ``eventsource``)
and xhr-polling are offered; the rest are skipped with the client's reason.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    CLIENT_TIMEOUT_MS,
    CLOSE_TIMEOUT_MS,
    ECHO_TIMEOUT_MS,
    IDLE_MS,
    MATRIX,
    MESSAGES,
    NODE,
    NODE_DIR,
    NOT_APPLICABLE_NODE,
    OPEN_TIMEOUT_MS,
    PAGES_DIR,
    SOCKJS_CLIENT_DIR,
    TRANSPORTS,
    Exchange,
    ServerProcess,
    Verdict,
    client_problem,
    format_report,
    judge_cell,
    missing,
    server_diagnosis,
    websocket_skip_reason,
)

pytestmark = pytest.mark.e2e

OVERALL_TIMEOUT_MS = 60_000


class NodeRun:
    """The parsed output of one ``node client.js`` run."""

    def __init__(self, data: dict[str, Any], stderr: str, seed: str, server_log: str) -> None:
        self.node = data.get("node")
        self.client = data.get("client")
        self.cells: dict[str, Any] = data.get("cells") or {}
        self.exchanges = [
            Exchange(
                ex["method"],
                ex["url"],
                status=ex.get("status"),
                request_cookie=ex.get("requestCookie"),
                set_cookie=ex.get("setCookie"),
                error=ex.get("error"),
            )
            for ex in data.get("exchanges") or []
        ]
        self.stderr = stderr
        self.seed = seed
        self.server_log = server_log


@pytest.fixture(scope="module")
def node_run(sockjs_server: ServerProcess) -> NodeRun:
    """Run every transport under Node once for the module."""
    if shutil.which(NODE) is None:
        missing("node is not installed (apt-get install nodejs)")
    problem = client_problem()
    if problem:
        missing(problem)
    seed = f"e2e-node-{secrets.token_hex(6)}"
    cfg = {
        "clientDir": str(SOCKJS_CLIENT_DIR),
        "harness": str(PAGES_DIR / "harness.js"),
        "base": sockjs_server.base_url,
        "transports": TRANSPORTS,
        "messages": [text for _, text in MESSAGES],
        "idleMs": IDLE_MS,
        "openTimeoutMs": OPEN_TIMEOUT_MS,
        "echoTimeoutMs": ECHO_TIMEOUT_MS,
        "closeTimeoutMs": CLOSE_TIMEOUT_MS,
        "clientTimeoutMs": CLIENT_TIMEOUT_MS,
        "cookieSeed": seed,
        "overallTimeoutMs": OVERALL_TIMEOUT_MS,
    }
    down = sockjs_server.health()
    if down:
        pytest.fail(f"node run not started: {down}", pytrace=False)
    log_offset = len(sockjs_server.output())
    try:
        proc = subprocess.run(
            [NODE, str(NODE_DIR / "client.js"), json.dumps(cfg)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=OVERALL_TIMEOUT_MS / 1000 + 30,
            check=False,
            # Inherits the environment: DEBUG=sockjs-client:* shows the client's own trace.
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run kills the child by PID
        pytest.fail(f"node client.js did not finish: {exc}", pytrace=False)
    # split("\n"), not splitlines(): the JSON holds raw U+2028/U+2029 (valid JSON),
    # which splitlines() would treat as line ends.
    lines = [line for line in proc.stdout.split("\n") if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        pytest.fail(
            f"node client.js failed (exit {proc.returncode}).\nstdout:\n{proc.stdout[-4000:]}\n"
            f"stderr:\n{proc.stderr[-8000:]}",
            pytrace=False,
        )
    return NodeRun(json.loads(lines[-1]), proc.stderr, seed, sockjs_server.output()[log_offset:])


def _cell_exchanges(run: NodeRun, cell: dict[str, Any]) -> list[Exchange]:
    sids = [
        step["sid"]
        for step in (cell.get("steps") or {}).values()
        if isinstance(step, dict) and step.get("sid")
    ]
    # /info requests carry no session id; they are kept (from every cell) because
    # a failed /info is what the client reports as "Cannot connect to server".
    return [
        ex
        for ex in run.exchanges
        if ex.url.endswith("/info") or any(f"/{sid}/" in ex.url for sid in sids)
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_node_transport(
    transport: str, node_run: NodeRun, sockjs_server: ServerProcess, e2e_tmp: Path
) -> None:
    """Every check of one transport with sockjs-client running under Node."""
    key = ("node", transport, "")
    cell = node_run.cells.get(transport)
    title = f"node {node_run.node} / sockjs-client {node_run.client} / {transport}"
    if cell is None:
        MATRIX[key] = "FAIL: no result"
        pytest.fail(
            f"{title}: client.js reported nothing for this transport (overall timeout?)."
            f"\nstderr:\n{node_run.stderr[-8000:]}",
            pytrace=False,
        )
    if transport == "websocket":
        reason = websocket_skip_reason(sockjs_server.base_url)
        if reason:
            MATRIX[key] = "skip (no ws yet)"
            pytest.skip(reason)
    candidates = cell.get("candidates")
    steps = cell.get("steps") or {}
    exchanges = _cell_exchanges(node_run, cell)
    if not cell.get("enabled"):
        na = NOT_APPLICABLE_NODE.get(transport)
        if na and candidates == []:
            MATRIX[key] = "n/a"
            pytest.skip(
                f"not applicable: sockjs-client under Node does not offer {transport}: {na}"
            )
        verdict_failures = [
            (
                "transport selection",
                f"sockjs-client under Node did not enable {transport!r} "
                f"(enabled: {candidates!r}; first socket: "
                f"{steps.get('heartbeat_open')!r})",
            )
        ]
    elif cell.get("crashed"):
        verdict_failures = [("harness", f"runCell threw: {cell['crashed']}")]
    else:
        verdict = judge_cell(
            steps, transport, node_run.exchanges, node_run.seed, cookie_must_flow=True
        )
        verdict_failures = verdict.failures
    if not verdict_failures:
        MATRIX[key] = "pass"
        return
    verdict = Verdict(failures=verdict_failures)
    MATRIX[key] = "FAIL: " + ", ".join(s.split(":")[0] for s in verdict.failed_steps)[:40]
    extra = [("server output during the node run", node_run.server_log[-6000:] or "(nothing)")]
    diagnosis = server_diagnosis(sockjs_server)
    if diagnosis:
        extra.insert(0, ("TEST SERVER IS UNHEALTHY after the node run", diagnosis))
    report = format_report(title, verdict, cell.get("log") or [], exchanges, extra)
    path = e2e_tmp / f"node--{transport}.txt"
    path.write_text(report, "utf-8")
    pytest.fail(f"{report}\n(report saved to {path})", pytrace=False)
