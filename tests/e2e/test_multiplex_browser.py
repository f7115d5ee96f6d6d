"""The websocket-multiplex client in headless Chromium against examples/multiplex/server.py.

The example server runs as it ships (``--port 0``), with its own page and the
two client libraries it serves from ``node_modules``.  For each transport
(websocket, xhr-streaming, xhr-polling, forced through sockjs-client's
``transports`` option) two cells:

* ``test_example_page`` (same origin): the example's own ``index.html``
  (``/?transport=<name>``) driven through its UI.  Ann, Bob and Carl greet,
  Carl's channel closes, and typing ``hello, world`` to Ann and a message to
  Bob gets their answers.
* ``test_channels`` (cross origin): ``pages/multiplex_harness.html`` from a
  separate static server loads the libraries from the example server and
  uses ``new WebSocketMultiplex(sock)`` / ``multiplexer.channel(name)``
  directly.  On top of the above it closes Ann from the client, checks that
  the server dropped her channel (a later ``msg,ann,...`` gets no answer) and
  that Bob still answers on the same session, then closes the session.

Both check the transport the client used (``sock.transport``) and that the
browser's traffic to ``/multiplex`` is that transport's and no other.
Browser launch, traffic recording, screenshots and failure reports come from
e2e_browser / e2e_support.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CLIENT_TIMEOUT_MS,
    CLOSE_TIMEOUT_MS,
    MATRIX,
    NODE_MODULES,
    OPEN_TIMEOUT_MS,
    REPO_ROOT,
    Exchange,
    ServerProcess,
    StaticServer,
    Verdict,
    judge_open,
    missing,
    start_listening,
)

pytestmark = pytest.mark.e2e

try:
    # Needs the pip package playwright.
    from e2e_browser import PAGE_LOAD_TIMEOUT_S, BrowserHost, CellRun, failure_report
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import Page
except ImportError as exc:  # pragma: no cover - depends on the machine
    if "playwright" not in str(exc):
        raise
    BrowserHost = None  # type: ignore[assignment,misc]

EXAMPLE = REPO_ROOT / "examples" / "multiplex" / "server.py"
# examples/multiplex/server.py serves these from the repository's node_modules.
MULTIPLEX_CLIENT = NODE_MODULES / "websocket-multiplex" / "multiplex_client.js"
TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling"]
ENV = "chromium multiplex"  # column label in conftest's matrix

# Bounds of single waits (healthy runs take a fraction of a second per step).
STEP_TIMEOUT_MS = 10_000
HARNESS_TIMEOUT_S = 90.0  # > the sum of multiplex_harness.js's own bounds

ANN_TEXT = "hello, world"  # the comma must survive the payload split
BOB_TEXT = "tea, coffee, or both?"
BOB_AGAIN_TEXT = "are you still there, Bob?"
AFTER_CLOSE_TEXT = "anyone, Ann?"

GREETINGS = {"ann": "Ann says hi!", "bob": "Bob doesn't agree.", "carl": "Carl says goodbye!"}


def ann_reply(text: str) -> str:
    """What the example's Ann answers to ``text``."""
    return f"Ann nods: {text}"


def bob_reply(text: str) -> str:
    """What the example's Bob answers to ``text``."""
    return f"Bob says no to: {text}"


# ---------------------------------------------------------------- fixtures --


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserHost]:
    """One headless Chromium (Debian's /usr/bin/chromium) for this module."""
    if BrowserHost is None:
        missing("pip package 'playwright' is not installed (pip install playwright)")
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        missing(f"{CHROMIUM} not found: apt-get install chromium (never a downloaded browser)")
    host = BrowserHost(CHROMIUM, CHROMIUM_ARGS)
    try:
        yield host
    finally:
        host.close()


@pytest.fixture(scope="module")
def multiplex_server(static_dir: Path, e2e_tmp: Path) -> Iterator[ServerProcess]:
    """``examples/multiplex/server.py --port 0``, stopped by PID after the module."""
    # static_dir: the same check of the npm sockjs-client as the other e2e tests.
    if not MULTIPLEX_CLIENT.is_file():
        missing(f"npm websocket-multiplex is not installed ({MULTIPLEX_CLIENT} missing): npm ci")
    cmd = [sys.executable, "-X", "faulthandler", str(EXAMPLE), "--port", "0"]
    try:
        server = start_listening(
            cmd, e2e_tmp / "multiplex_server.log", "multiplex example server", "/multiplex/info"
        )
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()
    output = server.output()
    bad = [frag for frag in ("Traceback", "Unhandled") if frag in output]
    if bad:
        pytest.fail(
            f"multiplex server output contains {bad} (log {server.log_path}):\n{output}",
            pytrace=False,
        )


# ------------------------------------------------------------------ judging --

_SESSION_URL = re.compile(r"/multiplex/[^/?#]+/[^/?#]+/([a-z_]+)(?:[?#]|$)")
# The session URL suffixes (PROTOCOL.md 2.2) each forced transport may use.
_OWN_SUFFIXES = {
    "websocket": {"websocket"},
    "xhr-streaming": {"xhr_streaming", "xhr_send"},
    "xhr-polling": {"xhr", "xhr_send"},
}
_RECEIVING_SUFFIX = {
    "websocket": "websocket",
    "xhr-streaming": "xhr_streaming",
    "xhr-polling": "xhr",
}


def judge_traffic(v: Verdict, transport: str, exchanges: Sequence[Exchange]) -> None:
    """The browser talked to /multiplex sessions with ``transport`` only."""
    used = [(m.group(1), ex) for ex in exchanges if (m := _SESSION_URL.search(ex.url))]
    step = "traffic"
    suffixes = {suffix for suffix, _ in used}
    v.check(
        _RECEIVING_SUFFIX[transport] in suffixes,
        step,
        f"no {_RECEIVING_SUFFIX[transport]!r} request to a /multiplex session was seen",
    )
    foreign = [ex.line() for suffix, ex in used if suffix not in _OWN_SUFFIXES[transport]]
    v.check(
        not foreign,
        step,
        f"session requests of another transport than {transport}:\n    " + "\n    ".join(foreign),
    )


def _expect(v: Verdict, step: str, got: Any, expected: Any) -> bool:
    return v.check(got == expected, step, f"expected {expected!r}, got {got!r}")


def judge_channels(run: CellRun) -> Verdict:
    """Every check of the harness page (see the module docstring)."""
    v = Verdict()
    steps = run.steps
    load = steps.get("load") or {}
    if not v.check(
        bool(load.get("sockjs")) and load.get("multiplex") is True and not load.get("errors"),
        "load libraries",
        f"the client libraries did not load from the example server: {load!r}",
    ):
        return v
    if not judge_open(v, "open /multiplex", steps.get("open"), run.transport):
        return v
    ch: dict[str, dict[str, Any]] = run.steps.get("channels") or {}
    ann, bob, carl = (ch.get(name) or {} for name in ("ann", "bob", "carl"))
    frames: list[str] = run.steps.get("frames") or []
    not_done = [
        name
        for name, step in steps.items()
        if isinstance(step, dict) and step.get("complete") is False
    ]
    if not_done:
        v.notes.append(f"waits that did not complete: {not_done}")

    for name, rec in (("ann", ann), ("bob", bob), ("carl", carl)):
        v.check(rec.get("opened") is True, f"{name}: open", f"channel never opened: {rec!r}")
        _expect(v, f"{name}: greeting", rec.get("messages", [])[:1], [GREETINGS[name]])
    _expect(v, "carl: closes after his greeting", carl.get("messages"), [GREETINGS["carl"]])
    _expect(v, "carl: closes after his greeting", carl.get("closes"), 1)
    _expect(v, "carl: closes after his greeting", carl.get("messagesAtClose"), 1)

    _expect(v, "ann: reply", ann.get("messages", [])[1:2], [ann_reply(ANN_TEXT)])
    _expect(v, "bob: reply", bob.get("messages", [])[1:2], [bob_reply(BOB_TEXT)])

    _expect(v, "ann: client close", ann.get("closes"), 1)
    _expect(v, "ann: nothing after close", ann.get("messages", [])[2:], [])
    before = (steps.get("annClose") or {}).get("framesBefore", len(frames))
    # After `uns,ann` the server ignores `msg,ann,...`: the only frame is Bob's.
    _expect(
        v,
        "after ann's close: ann ignored, bob answers",
        frames[before:],
        [f"msg,bob,{bob_reply(BOB_AGAIN_TEXT)}"],
    )
    _expect(
        v, "bob: reply after ann's close", bob.get("messages", [])[2:], [bob_reply(BOB_AGAIN_TEXT)]
    )
    after = steps.get("afterClose") or {}
    v.check(
        after.get("readyState") == 1,
        "session open after the channel closes",
        f"the SockJS session was not open after ann and carl closed: {after!r}, "
        f"session close {steps.get('session', {}).get('close')!r}",
    )
    end = steps.get("end") or {}
    v.check(
        (end.get("close") or {}).get("code") == 1000,
        "session: client close",
        f"sock.close() did not end in onclose code 1000: {end!r}",
    )
    judge_traffic(v, run.transport, run.exchanges)
    return v


def judge_example_page(run: CellRun) -> Verdict:
    """Every check of the example's own page (see the module docstring)."""
    v = Verdict()
    snap = run.steps.get("final") or {}
    waits = run.steps.get("waits") or {}
    timed_out = [name for name, ok in waits.items() if not ok]
    if timed_out:
        v.notes.append(f"waits that timed out: {timed_out}")
    _expect(v, "status (transport)", snap.get("status"), f"connected ({run.transport})")
    channels = snap.get("channels") or {}
    expected = {
        "ann": ("open", [GREETINGS["ann"], f"you: {ANN_TEXT}", ann_reply(ANN_TEXT)]),
        "bob": ("open", [GREETINGS["bob"], f"you: {BOB_TEXT}", bob_reply(BOB_TEXT)]),
        "carl": ("closed", [GREETINGS["carl"], "channel closed"]),
    }
    for name, (state, lines) in expected.items():
        box = channels.get(name) or {}
        _expect(v, f"{name}: messages shown", box.get("lines"), lines)
        _expect(v, f"{name}: channel state", box.get("state"), state)
    judge_traffic(v, run.transport, run.exchanges)
    if v.failures and timed_out:
        v.fail("waits", f"timed out waiting for: {timed_out}")
    return v


# ------------------------------------------------------------------ driving --


async def _drive_harness(page: Page, run: CellRun, base: str) -> None:
    await page.goto(run.page_url, wait_until="load", timeout=PAGE_LOAD_TIMEOUT_S * 1000)
    if not await page.evaluate("() => typeof window.MUX === 'object'"):
        run.verdict.fail("page load", f"multiplex_harness.js did not load; page {run.page_url}")
        return
    run.log.append(await page.evaluate("() => navigator.userAgent"))
    cfg = {
        "base": base,
        "transport": run.transport,
        "openTimeoutMs": OPEN_TIMEOUT_MS,
        "stepTimeoutMs": STEP_TIMEOUT_MS,
        "closeTimeoutMs": CLOSE_TIMEOUT_MS,
        "clientTimeoutMs": CLIENT_TIMEOUT_MS,
        "annText": ANN_TEXT,
        "bobText": BOB_TEXT,
        "afterCloseText": AFTER_CLOSE_TEXT,
        "bobAgainText": BOB_AGAIN_TEXT,
    }
    try:
        result = await asyncio.wait_for(
            page.evaluate("cfg => window.MUX.run(cfg)", cfg), HARNESS_TIMEOUT_S
        )
    except TimeoutError:
        run.verdict.fail(
            "cell",
            f"MUX.run did not finish within {HARNESS_TIMEOUT_S:.0f} s although every "
            "wait in it is bounded (see the page console)",
        )
        return
    run.enabled = True
    run.steps = {
        **result["steps"],
        "channels": result["channels"],
        "frames": result["frames"],
        "session": result["session"],
    }


# The example page sets no `timeout` on its SockJS: the client then gives a
# transport about a second to open, which a loaded machine can miss.  Give it
# the harness's bound instead, so the test does not depend on speed; the page
# is otherwise untouched.
_CLIENT_TIMEOUT_INIT = """timeout => {
  let wrapped;
  Object.defineProperty(window, 'SockJS', {
    configurable: true,
    get: () => wrapped,
    set: Real => {
      const Patched = function (url, protocols, options) {
        return new Real(url, protocols, Object.assign({timeout: timeout}, options));
      };
      Object.assign(Patched, Real);
      Patched.prototype = Real.prototype;
      wrapped = Patched;
    },
  });
}"""

_SNAPSHOT = """() => {
  const status = document.getElementById('status');
  const channels = {};
  for (const box of document.querySelectorAll('#channels section')) {
    channels[box.id.replace(/^channel-/, '')] = {
      state: box.querySelector('h2 small').textContent,
      lines: Array.from(box.querySelectorAll('ul.log li'), li => li.textContent),
    };
  }
  return {status: status && status.textContent, statusClass: status && status.className, channels};
}"""

# True when the page is connected and every channel box has its minimum
# number of lines, or once the connection is lost (then judge what is there).
_LINES_AT_LEAST = """want => {
  const status = document.getElementById('status');
  if (status && status.className === 'offline') return true;
  if (!status || status.className !== 'online') return false;
  return Object.entries(want).every(([name, n]) => {
    const box = document.getElementById('channel-' + name);
    return box && box.querySelectorAll('ul.log li').length >= n;
  });
}"""


async def _drive_example_page(page: Page, run: CellRun) -> None:
    await page.add_init_script(script=f"({_CLIENT_TIMEOUT_INIT})({CLIENT_TIMEOUT_MS})")
    await page.goto(run.page_url, wait_until="load", timeout=PAGE_LOAD_TIMEOUT_S * 1000)
    run.enabled = True
    waits: dict[str, bool] = {}
    run.steps["waits"] = waits

    async def wait_lines(name: str, want: dict[str, int], timeout_ms: int) -> bool:
        try:
            await page.wait_for_function(_LINES_AT_LEAST, arg=want, timeout=timeout_ms)
            waits[name] = True
        except PlaywrightError:  # includes Playwright's TimeoutError
            waits[name] = False
        run.steps[name] = await page.evaluate(_SNAPSHOT)
        return waits[name]

    # Greetings: one line each, plus Carl's "channel closed".
    if await wait_lines(
        "greetings", {"ann": 1, "bob": 1, "carl": 2}, OPEN_TIMEOUT_MS + STEP_TIMEOUT_MS
    ):
        for name, text, lines in (("ann", ANN_TEXT, 3), ("bob", BOB_TEXT, 3)):
            await page.fill(f"#channel-{name} input", text, timeout=STEP_TIMEOUT_MS)
            await page.click(f"#channel-{name} button", timeout=STEP_TIMEOUT_MS)
            # "you: <text>" and the answer.
            await wait_lines(f"{name} reply", {name: lines}, STEP_TIMEOUT_MS)
    run.steps["final"] = await page.evaluate(_SNAPSHOT)


# -------------------------------------------------------------------- tests --


def _finish(
    run: CellRun,
    key: tuple[str, str, str],
    title: str,
    server: ServerProcess,
    log_offset: int,
    shot_stem: Path,
) -> None:
    if not run.verdict.failures:
        MATRIX[key] = "pass"
        if os.environ.get("SOCKJS_E2E_VERBOSE"):
            print(title, run.steps, *run.verdict.notes, sep="\n")
        return
    MATRIX[key] = "FAIL: " + ", ".join(s.split(":")[0] for s in run.verdict.failed_steps)[:40]
    extra = [("notes", "\n".join(run.verdict.notes))] if run.verdict.notes else []
    if "frames" in run.steps:
        extra.append(("SockJS frames received", "\n".join(map(repr, run.steps["frames"]))))
    report_path = shot_stem.with_suffix(".txt")
    report = failure_report(title, run, server, log_offset, report_path, extra)
    pytest.fail(f"{report}\n(report saved to {report_path})", pytrace=False)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_example_page(
    transport: str, browser: BrowserHost, multiplex_server: ServerProcess, shots_dir: Path
) -> None:
    """The example's own page, same origin, driven through its UI."""
    key = (ENV, transport, "same-origin")
    _require_healthy(multiplex_server, key)
    page_url = f"{multiplex_server.base_url}/?transport={transport}"
    run = CellRun(transport, "same-origin", page_url)
    stem = shots_dir / f"multiplex-example-page--{transport}"
    log_offset = len(multiplex_server.output())
    browser.run_page(run, _drive_example_page, judge_example_page, stem.with_suffix(".png"))
    title = f"multiplex example page / {transport} (page {page_url})"
    _finish(run, key, title, multiplex_server, log_offset, stem)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_channels(
    transport: str,
    browser: BrowserHost,
    multiplex_server: ServerProcess,
    cross_origin_server: StaticServer,
    shots_dir: Path,
) -> None:
    """ann, bob and carl through ``WebSocketMultiplex``, cross origin, incl. a client close."""
    key = (ENV, transport, "cross-origin")
    _require_healthy(multiplex_server, key)
    page_url = f"{cross_origin_server.base_url}/multiplex_harness.html"
    run = CellRun(transport, "cross-origin", page_url)
    stem = shots_dir / f"multiplex-channels--{transport}"
    log_offset = len(multiplex_server.output())
    base = multiplex_server.base_url

    async def drive(page: Page, run: CellRun) -> None:
        await _drive_harness(page, run, base)

    browser.run_page(run, drive, judge_channels, stem.with_suffix(".png"))
    title = f"multiplex channels / {transport} (page {page_url}, server {base})"
    _finish(run, key, title, multiplex_server, log_offset, stem)


def _require_healthy(server: ServerProcess, key: tuple[str, str, str]) -> None:
    down = server.health()
    if down:
        MATRIX[key] = "FAIL: server down"
        pytest.fail(f"{key[1]}: not run, {down}", pytrace=False)
