"""Drive one (transport, origin) cell in headless Chromium through Playwright.

One browser per test module, owned by :class:`BrowserHost`: Playwright's
asyncio API runs on an event loop in a helper thread, and each test waits for
its cell with a hard timeout.  (Playwright calls such as reading a response's
raw headers can wait forever when the iframe that made the request has been
removed; with the async API every such wait is bounded.)

Every cell gets a fresh browser context (own cookie jar) and one page.  The
page runs ``E2E.runCell`` from harness.js; this module records what the page
printed and every HTTP exchange the browser made, then hands the
observations to :func:`e2e_support.judge_cell`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import secrets
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from e2e_support import (
    CLIENT_TIMEOUT_MS,
    CLOSE_TIMEOUT_MS,
    ECHO_TIMEOUT_MS,
    IDLE_MS,
    MESSAGES,
    OPEN_TIMEOUT_MS,
    Exchange,
    ServerProcess,
    Verdict,
    format_report,
    judge_cell,
    server_diagnosis,
)
from playwright.async_api import Browser, Page, Playwright, Request, Response, async_playwright
from playwright.async_api import Error as PlaywrightError

T = TypeVar("T")

# The harness bounds each step (see e2e_support); a healthy cell takes about
# IDLE_MS plus a second.  These bounds only catch a wedged browser or page.
PAGE_LOAD_TIMEOUT_S = 20.0
RUN_CELL_TIMEOUT_S = 90.0  # > 4 opens + echo + close bounds of harness.js
HEADERS_TIMEOUT_S = 5.0
CELL_TIMEOUT_S = 150.0  # the test thread gives up on the whole cell after this
COOKIE_PATH = "/cookie_needed_echo/"


@dataclass
class CellRun:
    """Everything observed while running one cell."""

    transport: str
    origin: str
    page_url: str
    enabled: bool = False
    candidates: list[str] | None = None
    steps: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    verdict: Verdict = field(default_factory=Verdict)
    screenshot: Path | None = None
    seed: str = ""


class BrowserHost:
    """A Playwright-driven Chromium on an event loop in a helper thread."""

    def __init__(self, executable: Path, args: list[str]) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_quiet_target_closed)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="e2e-playwright", daemon=True
        )
        self._thread.start()
        self._pw: Playwright | None = None
        self.browser: Browser | None = None
        try:
            self.call(self._start(executable, args), timeout=60)
        except BaseException:
            self.close()
            raise

    async def _start(self, executable: Path, args: list[str]) -> None:
        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(
            executable_path=str(executable),
            headless=True,
            args=args,
            # Playwright owns the Chromium process and ends it by PID on close().
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
            timeout=60_000,
        )

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the browser's loop and wait at most ``timeout`` seconds."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    @property
    def version(self) -> str:
        """Chromium's version string."""
        return self.browser.version if self.browser else "?"

    async def _stop(self) -> None:
        if self.browser is not None:
            await self.browser.close()
        if self._pw is not None:
            await self._pw.stop()

    def close(self) -> None:
        """Close Chromium (by Playwright, PID-based) and stop the loop thread."""
        if self._loop.is_running():
            with contextlib.suppress(concurrent.futures.TimeoutError, PlaywrightError):
                self.call(self._stop(), timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    def run_cell(
        self, transport: str, origin: str, page_url: str, sockjs_base: str, shots_dir: Path
    ) -> CellRun:
        """Run one cell; never waits longer than CELL_TIMEOUT_S."""
        run = CellRun(transport, origin, page_url, seed=f"e2e-{secrets.token_hex(6)}")
        try:
            self.call(
                _run_cell(self._require_browser(), run, sockjs_base, shots_dir),
                timeout=CELL_TIMEOUT_S,
            )
        except concurrent.futures.TimeoutError:
            run.verdict.fail(
                "cell",
                f"the cell did not finish within {CELL_TIMEOUT_S:.0f} s "
                "(browser or Playwright wedged)",
            )
        return run

    def run_page(
        self,
        run: CellRun,
        drive: PageDriver,
        judge: CellJudge,
        screenshot: Path,
        timeout: float = CELL_TIMEOUT_S,
    ) -> CellRun:
        """Like :meth:`run_cell`, for any page: ``drive`` fills ``run``, ``judge`` decides.

        ``drive`` runs on a fresh browser context and page, with the console and
        the HTTP traffic recorded into ``run``; it must bound its own waits.
        ``judge`` is called only when ``drive`` recorded no failure.  A failed
        run leaves a full-page screenshot at ``screenshot`` (verdict written
        into the page's ``#status``).  Never waits longer than ``timeout``.
        """
        try:
            self.call(
                _run_page(self._require_browser(), run, drive, judge, screenshot),
                timeout=timeout,
            )
        except concurrent.futures.TimeoutError:
            run.verdict.fail(
                "cell",
                f"the cell did not finish within {timeout:.0f} s (browser or Playwright wedged)",
            )
        return run

    def _require_browser(self) -> Browser:
        if self.browser is None:
            raise RuntimeError("browser is not running")
        return self.browser


#: Fills a :class:`CellRun` from a page (see :meth:`BrowserHost.run_page`).
PageDriver = Callable[[Page, CellRun], Awaitable[None]]
#: Judges a :class:`CellRun` that ``PageDriver`` filled.
CellJudge = Callable[[CellRun], Verdict]


def _quiet_target_closed(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Playwright fetches raw headers in tasks of its own; those of requests we
    # stopped waiting for fail with "Target ... has been closed" when the context closes.
    # That is expected here; anything else goes to asyncio's default handler.
    exc = context.get("exception")
    if isinstance(exc, PlaywrightError) and "has been closed" in str(exc):
        return
    loop.default_exception_handler(context)


class _NetworkRecorder:
    """Every request/response of a page (including its iframes), in order.

    Raw headers (Cookie, Set-Cookie) are fetched as soon as each event arrives,
    while the frame that made the request still exists, each fetch bounded.
    """

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        self.responses: dict[int, Response] = {}
        self.failures: dict[int, str] = {}
        self.websockets: list[str] = []
        self.frame_urls: dict[int, tuple[str, bool]] = {}
        self._request_headers: dict[int, asyncio.Task[dict[str, str]]] = {}
        self._response_headers: dict[int, asyncio.Task[dict[str, str]]] = {}
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_failed)
        page.on("websocket", lambda ws: self.websockets.append(ws.url))

    def _on_request(self, req: Request) -> None:
        self.requests.append(req)
        frame = req.frame
        self.frame_urls[id(req)] = (frame.url, frame.parent_frame is not None)
        self._request_headers[id(req)] = asyncio.ensure_future(_bounded(req.all_headers()))

    def _on_response(self, resp: Response) -> None:
        key = id(resp.request)
        self.responses[key] = resp
        self._response_headers[key] = asyncio.ensure_future(_bounded(resp.all_headers()))

    def _on_failed(self, req: Request) -> None:
        self.failures[id(req)] = req.failure or "failed"

    async def exchanges(self) -> list[Exchange]:
        """The recorded traffic as :class:`Exchange` rows."""
        tasks = [*self._request_headers.values(), *self._response_headers.values()]
        # Only the cookie checks need raw headers, and only of answered requests;
        # for the rest (report only) take what has arrived.  Some never arrive
        # (aborted requests, requests of removed iframes).
        needed = [
            task
            for req in self.requests
            if COOKIE_PATH in req.url and id(req) in self.responses
            for task in (self._request_headers.get(id(req)), self._response_headers.get(id(req)))
            if task is not None
        ]
        if needed:
            await asyncio.wait(needed, timeout=HEADERS_TIMEOUT_S)
        out: list[Exchange] = []
        for req in self.requests:
            key = id(req)
            ex = Exchange(req.method, req.url)
            ex.request_cookie = _header(self._request_headers.get(key), "cookie")
            resp = self.responses.get(key)
            if resp is not None:
                ex.status = resp.status
                task = self._response_headers.get(key)
                ex.set_cookie = _header(task, "set-cookie")
                if task is not None and not _usable(task):
                    ex.note = "raw response headers unavailable"
            ex.error = self.failures.get(key)
            frame_url, in_iframe = self.frame_urls.get(key, ("", False))
            if in_iframe:
                where = f"iframe {frame_url[:70]}" if frame_url else "iframe"
                ex.note = (ex.note + " " if ex.note else "") + f"({where})"
            out.append(ex)
        for task in tasks:
            task.cancel()
        out.extend(Exchange("WEBSOCKET", url) for url in self.websockets)
        return out


async def _bounded(coro: Coroutine[Any, Any, dict[str, str]]) -> dict[str, str]:
    return await asyncio.wait_for(coro, HEADERS_TIMEOUT_S * 4)


def _usable(task: asyncio.Task[dict[str, str]]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


def _header(task: asyncio.Task[dict[str, str]] | None, name: str) -> str | None:
    if task is None or not _usable(task):
        return None
    return task.result().get(name)


async def _run_cell(browser: Browser, run: CellRun, sockjs_base: str, shots_dir: Path) -> None:
    context = await browser.new_context()
    try:
        # Prime the jar of the SockJS server's host with a value the server cannot
        # guess: an echoed JSESSIONID=<seed> proves it honours the cookie.
        await context.add_cookies(
            [{"name": "JSESSIONID", "value": run.seed, "url": sockjs_base + "/"}]
        )
        page = await context.new_page()
        page.on("console", lambda m: run.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: run.console.append(f"[pageerror] {e}"))
        net = _NetworkRecorder(page)
        try:
            await _drive(page, run, sockjs_base)
        except PlaywrightError as exc:
            run.verdict.fail("page", f"Playwright error: {exc}")
        run.exchanges = await net.exchanges()
        if run.enabled and not run.verdict.failures:
            run.verdict = judge_cell(
                run.steps,
                run.transport,
                run.exchanges,
                run.seed,
                cookie_must_flow=run.origin == "same-origin",
            )
        if run.verdict.failures:
            await _show_failure(page, run)
            run.screenshot = shots_dir / f"{run.transport}--{run.origin}.png"
            try:
                await page.screenshot(path=str(run.screenshot), full_page=True, timeout=15_000)
            except PlaywrightError as exc:
                run.console.append(f"[harness] screenshot failed: {exc}")
                run.screenshot = None
    finally:
        try:
            await asyncio.wait_for(context.close(), 20)
        except (TimeoutError, PlaywrightError) as exc:
            run.console.append(f"[harness] closing the browser context failed: {exc!r}")


async def _run_page(
    browser: Browser, run: CellRun, drive: PageDriver, judge: CellJudge, screenshot: Path
) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        page.on("console", lambda m: run.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: run.console.append(f"[pageerror] {e}"))
        net = _NetworkRecorder(page)
        try:
            await drive(page, run)
        except PlaywrightError as exc:
            run.verdict.fail("page", f"Playwright error: {exc}")
        run.exchanges = await net.exchanges()
        if not run.verdict.failures:
            run.verdict = judge(run)
        if run.verdict.failures:
            await _show_failure(page, run)
            try:
                await page.screenshot(path=str(screenshot), full_page=True, timeout=15_000)
                run.screenshot = screenshot
            except PlaywrightError as exc:
                run.console.append(f"[harness] screenshot failed: {exc}")
    finally:
        try:
            await asyncio.wait_for(context.close(), 20)
        except (TimeoutError, PlaywrightError) as exc:
            run.console.append(f"[harness] closing the browser context failed: {exc!r}")


def failure_report(
    title: str,
    run: CellRun,
    server: ServerProcess,
    log_offset: int,
    report_path: Path,
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """The report of a failed browser run, also written to ``report_path``.

    Verdict, ``extra`` sections, the server's output since ``log_offset``, the
    page console, ``run.log`` and the HTTP traffic; the screenshot's path and
    the server's health (stacks if it is wedged) come first when relevant.
    """
    sections = [
        *extra,
        ("server output during this cell", server.output()[log_offset:][-6000:] or "(nothing)"),
        ("page console", "\n".join(run.console[-150:]) or "(nothing)"),
    ]
    if run.screenshot:
        sections.insert(0, ("screenshot", str(run.screenshot)))
    diagnosis = server_diagnosis(server)
    if diagnosis:
        sections.insert(0, (f"{server.name.upper()} IS UNHEALTHY after this cell", diagnosis))
    report = format_report(title, run.verdict, run.log, run.exchanges, sections)
    report_path.write_text(report, "utf-8")
    return report


async def _drive(page: Page, run: CellRun, sockjs_base: str) -> None:
    await page.goto(run.page_url, wait_until="load", timeout=PAGE_LOAD_TIMEOUT_S * 1000)
    loaded = await page.evaluate(
        "() => typeof window.E2E === 'object' && typeof SockJS === 'function'"
    )
    if not loaded:
        run.verdict.fail(
            "page load",
            f"harness.js or sockjs.min.js did not load (see the console); page {run.page_url}",
        )
        return
    agent = await page.evaluate(
        "() => 'sockjs-client ' + SockJS.version + ' in ' + navigator.userAgent"
    )
    run.log.append(agent)
    cfg = {
        "base": sockjs_base,
        "transport": run.transport,
        "messages": [text for _, text in MESSAGES],
        "idleMs": IDLE_MS,
        "openTimeoutMs": OPEN_TIMEOUT_MS,
        "echoTimeoutMs": ECHO_TIMEOUT_MS,
        "closeTimeoutMs": CLOSE_TIMEOUT_MS,
        "clientTimeoutMs": CLIENT_TIMEOUT_MS,
        "sidPrefix": "e2e",
    }
    try:
        result = await asyncio.wait_for(
            page.evaluate("cfg => window.E2E.runCell(cfg)", cfg), RUN_CELL_TIMEOUT_S
        )
    except TimeoutError:
        run.verdict.fail(
            "cell",
            f"E2E.runCell did not finish within {RUN_CELL_TIMEOUT_S:.0f} s "
            "although every step in it is bounded (see the page console)",
        )
        return
    run.enabled = bool(result["enabled"])
    run.candidates = result["candidates"]
    run.steps = result["steps"]
    run.log.extend(result["log"])


async def _show_failure(page: Page, run: CellRun) -> None:
    # Put the verdict at the top of the page so that the screenshot explains itself.
    text = f"FAILED {run.transport} / {run.origin}: " + "; ".join(
        f"[{step}] {msg[:200]}" for step, msg in run.verdict.failures[:6]
    )
    # On failure the screenshot is still worth trying.
    with contextlib.suppress(TimeoutError, PlaywrightError):
        await asyncio.wait_for(
            page.evaluate(
                "t => { const s = document.getElementById('status');"
                " if (s) { s.textContent = t; s.style.color = '#b00'; } }",
                text,
            ),
            10,
        )
