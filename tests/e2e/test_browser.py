"""The real sockjs-client 1.6.1 in headless Chromium against examples/test_server.py.

One cell per (transport, page origin), each forced with the client's
``transports`` option.  In every cell the page checks, on its own sockets:

* the transport the client actually used (``sock.transport``);
* /echo: the corpus of e2e_support.MESSAGES comes back in order, unchanged;
* /close: onclose gets 3000 "Go away!";
* /cookie_needed_echo: JSESSIONID is set on each session response and the
  primed value is echoed back (same origin; cross-site the browser decides);
* /heartbeat_echo: after 5 s idle (heartbeat 1 s, disconnect delay 2 s) the
  session still echoes.

Same origin: page at http://127.0.0.1:<port>/static/harness.html (served by
the SockJS test server).  Cross origin: page at http://localhost:<other
port>/harness.html from a separate static server.  Cells the client itself
does not offer are skipped with the client's reason (e2e_support tables).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MATRIX,
    NOT_APPLICABLE_BROWSER,
    TRANSPORTS,
    ServerProcess,
    StaticServer,
    format_report,
    missing,
    server_diagnosis,
    websocket_skip_reason,
)

pytestmark = pytest.mark.e2e

try:
    from e2e_browser import BrowserHost  # needs the pip package playwright
except ImportError as exc:  # pragma: no cover - depends on the machine
    if "playwright" not in str(exc):
        raise
    BrowserHost = None  # type: ignore[assignment,misc]

ORIGINS = ["same-origin", "cross-origin"]


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserHost]:
    """One headless Chromium (Debian's /usr/bin/chromium) for the whole module."""
    if BrowserHost is None:
        missing("pip package 'playwright' is not installed (pip install playwright)")
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        missing(f"{CHROMIUM} not found: apt-get install chromium (never a downloaded browser)")
    host = BrowserHost(CHROMIUM, CHROMIUM_ARGS)
    try:
        yield host
    finally:
        host.close()


def _page_url(origin: str, sockjs_server: ServerProcess, static: StaticServer) -> str:
    if origin == "same-origin":
        return f"{sockjs_server.base_url}/static/harness.html"
    return f"{static.base_url}/harness.html"


@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_transport(
    transport: str,
    origin: str,
    browser: BrowserHost,
    sockjs_server: ServerProcess,
    cross_origin_server: StaticServer,
    shots_dir: Path,
) -> None:
    """Every check of one (transport, origin) cell; see the module docstring."""
    key = ("chromium", transport, origin)
    if transport == "websocket":
        reason = websocket_skip_reason(sockjs_server.base_url)
        if reason:
            MATRIX[key] = "skip (no ws yet)"
            pytest.skip(reason)
    down = sockjs_server.health()
    if down:
        MATRIX[key] = "FAIL: server down"
        pytest.fail(f"{transport} / {origin}: not run, {down}", pytrace=False)
    log_offset = len(sockjs_server.output())
    page_url = _page_url(origin, sockjs_server, cross_origin_server)
    run = browser.run_cell(transport, origin, page_url, sockjs_server.base_url, shots_dir)
    title = f"{transport} / {origin} (page {page_url}, SockJS {sockjs_server.base_url})"
    if not run.enabled and not run.verdict.failures:
        na = NOT_APPLICABLE_BROWSER.get((transport, origin))
        if na and run.candidates == []:
            MATRIX[key] = "n/a"
            pytest.skip(
                f"not applicable: sockjs-client does not offer {transport} to a {origin} page: {na}"
            )
        open_step = run.steps.get("heartbeat_open")
        run.verdict.fail(
            "transport selection",
            f"sockjs-client did not enable {transport!r} for a {origin} page "
            f"(enabled: {run.candidates!r}; first socket: {open_step!r})",
        )
    if not run.verdict.failures:
        MATRIX[key] = "pass"
        if os.environ.get("SOCKJS_E2E_VERBOSE"):
            # What a passing cell saw (pytest -s shows it): notes, log and traffic.
            print(format_report(title, run.verdict, run.log, run.exchanges))
            print("\n".join(run.verdict.notes))
        return
    MATRIX[key] = "FAIL: " + ", ".join(s.split(":")[0] for s in run.verdict.failed_steps)[:40]
    extra = [
        (
            "server output during this cell",
            sockjs_server.output()[log_offset:][-6000:] or "(nothing)",
        ),
        ("page console", "\n".join(run.console[-150:]) or "(nothing)"),
    ]
    if run.screenshot:
        extra.insert(0, ("screenshot", str(run.screenshot)))
    diagnosis = server_diagnosis(sockjs_server)
    if diagnosis:
        extra.insert(0, ("TEST SERVER IS UNHEALTHY after this cell", diagnosis))
    # The page console already interleaves the harness log with browser messages.
    report = format_report(title, run.verdict, run.log[:1], run.exchanges, extra)
    report_path = shots_dir / f"{transport}--{origin}.txt"
    report_path.write_text(report, "utf-8")
    pytest.fail(f"{report}\n(report saved to {report_path})", pytrace=False)
