"""The real sockjs-client 1.6.1 in Chromium against services with security settings.

examples/test_server.py mounts the harness's services (/echo, /close,
/cookie_needed_echo, /heartbeat_echo) again under /jsonp_prefix (JSONP
answers start with ``/**/``) and under /no_iframe (the iframe page is
disabled).  Each cell is a cell of test_browser.py, with the same checks,
run against one of those bases:

* /jsonp_prefix: ``jsonp-polling`` from both origins, since sockjs-client
  must run the prefixed scripts;
* /no_iframe: the transports a cross-origin page falls back to without the
  iframe page (``xhr-streaming``, ``xhr-polling``, ``jsonp-polling``) and
  ``htmlfile``, which frames its own URL, not the iframe page.
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
    ServerProcess,
    StaticServer,
    format_report,
    missing,
)

pytestmark = pytest.mark.e2e

try:
    from e2e_browser import BrowserHost  # needs the pip package playwright
except ImportError as exc:  # pragma: no cover - depends on the machine
    if "playwright" not in str(exc):
        raise
    BrowserHost = None  # type: ignore[assignment,misc]

CELLS = [
    ("jsonp_prefix", "jsonp-polling", "same-origin"),
    ("jsonp_prefix", "jsonp-polling", "cross-origin"),
    ("no_iframe", "xhr-streaming", "cross-origin"),
    ("no_iframe", "xhr-polling", "cross-origin"),
    ("no_iframe", "jsonp-polling", "cross-origin"),
    ("no_iframe", "htmlfile", "same-origin"),
]


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


@pytest.mark.parametrize(("variant", "transport", "origin"), CELLS)
def test_variant(
    variant: str,
    transport: str,
    origin: str,
    browser: BrowserHost,
    sockjs_server: ServerProcess,
    cross_origin_server: StaticServer,
    shots_dir: Path,
) -> None:
    """One cell of test_browser.py against the services under ``/<variant>``."""
    key = ("chromium", f"{transport} [{variant}]", origin)
    down = sockjs_server.health()
    if down:
        MATRIX[key] = "FAIL: server down"
        pytest.fail(f"{variant} {transport} / {origin}: not run, {down}", pytrace=False)
    log_offset = len(sockjs_server.output())
    if origin == "same-origin":
        page_url = f"{sockjs_server.base_url}/static/harness.html"
    else:
        page_url = f"{cross_origin_server.base_url}/harness.html"
    base = f"{sockjs_server.base_url}/{variant}"
    run = browser.run_cell(transport, origin, page_url, base, shots_dir)
    if not run.enabled and not run.verdict.failures:
        run.verdict.fail(
            "transport selection",
            f"sockjs-client did not enable {transport!r} (enabled: {run.candidates!r})",
        )
    if run.enabled and not any(f"/{variant}/echo/" in ex.url for ex in run.exchanges):
        run.verdict.fail("base", f"no request of the cell went to {base}/echo")
    if not run.verdict.failures:
        MATRIX[key] = "pass"
        return
    MATRIX[key] = "FAIL: " + ", ".join(s.split(":")[0] for s in run.verdict.failed_steps)[:40]
    title = f"{transport} / {origin} against {base} (page {page_url})"
    extra = [
        ("server output during this cell", sockjs_server.output()[log_offset:][-6000:] or "-"),
        ("page console", "\n".join(run.console[-150:]) or "(nothing)"),
    ]
    report = format_report(title, run.verdict, run.log[:1], run.exchanges, extra)
    pytest.fail(report, pytrace=False)
