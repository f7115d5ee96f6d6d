"""Shared pieces of the end-to-end tests: processes, static files, expectations.

The e2e tests drive the real sockjs-client 1.6.1 (npm) against
``examples/test_server.py``, in headless Chromium (``test_browser.py``) and
under Node (``test_node_client.py``).  The JavaScript side only observes
(``pages/harness.js``); every judgement is made here, in Python, so the browser
and the Node runs are held to exactly the same expectations.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
PAGES_DIR = HERE / "pages"
NODE_DIR = HERE / "node"
SERVER_SCRIPT = REPO_ROOT / "examples" / "test_server.py"
NODE_MODULES = Path(os.environ.get("SOCKJS_E2E_NODE_MODULES", REPO_ROOT / "node_modules"))
SOCKJS_CLIENT_DIR = NODE_MODULES / "sockjs-client"
SOCKJS_CLIENT_VERSION = "1.6.1"
CHROMIUM = Path(os.environ.get("SOCKJS_E2E_CHROMIUM", "/usr/bin/chromium"))
NODE = shutil.which("node") or "node"

# Flags for CI (which runs as root, hence --no-sandbox).  Playwright refuses
# --user-data-dir in `args` and gives every launch() a fresh profile of its own
# (a mkdtemp "playwright_chromiumdev_profile-*" directory it deletes on close);
# it also adds --headless and, since chromiumSandbox defaults to False,
# --no-sandbox.  They are repeated here so the command line is explicit
# whatever Playwright's defaults become.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Per-step bounds (milliseconds, enforced inside harness.js).  They only bound
# a broken run: nothing asserts on how fast a step finished.
OPEN_TIMEOUT_MS = 12_000  # /info (the client's own limit is 8 s) + transport open
CLIENT_TIMEOUT_MS = 10_000  # sockjs-client `timeout` option, see harness.js
ECHO_TIMEOUT_MS = 15_000
CLOSE_TIMEOUT_MS = 8_000
IDLE_MS = 5_000  # /heartbeat_echo: heartbeat 1 s, disconnect delay 2 s
STARTUP_TIMEOUT_S = 20.0

# Every transport name sockjs-client 1.6.1 knows (lib/transport-list.js).
TRANSPORTS = [
    "websocket",
    "xhr-streaming",
    "xdr-streaming",
    "eventsource",
    "iframe-eventsource",
    "htmlfile",
    "iframe-htmlfile",
    "xhr-polling",
    "xdr-polling",
    "iframe-xhr-polling",
    "jsonp-polling",
]

# Why the client itself leaves a transport out (read from
# node_modules/sockjs-client/lib/transport/*.js `enabled()`).  A cell in this
# table is skipped only when the client really did leave the transport out;
# if it offers it after all, the cell runs like any other.
_XDR = "XDomainRequest exists only in IE 8-10; XDRObject.enabled is false here"
NOT_APPLICABLE_BROWSER = {
    ("xdr-streaming", "same-origin"): _XDR,
    ("xdr-streaming", "cross-origin"): _XDR,
    ("xdr-polling", "same-origin"): _XDR,
    ("xdr-polling", "cross-origin"): _XDR,
    ("htmlfile", "cross-origin"): (
        "HtmlFileTransport.enabled() requires info.sameOrigin: the htmlfile iframe calls "
        "parent.<callback>, which a frame of another origin cannot reach "
        "(cross-origin pages get the same receiver through iframe-htmlfile)"
    ),
}
_NO_DOM = "needs a DOM (global.document) to create script tags / iframes; Node has none"
NOT_APPLICABLE_NODE = {
    "xdr-streaming": _XDR,
    "xdr-polling": _XDR,
    "htmlfile": _NO_DOM,
    "iframe-eventsource": _NO_DOM,
    "iframe-htmlfile": _NO_DOM,
    "iframe-xhr-polling": _NO_DOM,
    "jsonp-polling": _NO_DOM,
}

# (client environment, transport, origin) -> outcome; conftest prints it as a
# matrix at the end of the run.
MATRIX: dict[tuple[str, str, str], str] = {}

# Session URL suffixes of the HTTP transports (PROTOCOL.md 2.2).
_SESSION_SUFFIXES = (
    "xhr",
    "xhr_send",
    "xhr_streaming",
    "jsonp",
    "jsonp_send",
    "eventsource",
    "htmlfile",
)


def _big_message(size: int = 64 * 1024) -> str:
    # Printable ASCII in a repeating, position-dependent pattern, so that a
    # dropped, duplicated or reordered chunk shows up as a mismatch.
    return "".join(chr(32 + (i * 7 + i // 95) % 95) for i in range(size))


# The echo corpus, in sending order: (label, text).
MESSAGES: list[tuple[str, str]] = [
    ("ascii", "Hello, SockJS!"),
    ("printable ASCII", "".join(chr(c) for c in range(32, 127))),
    ("empty string", ""),
    ("non-ASCII", "zażółć gęślą jaźń · Ελληνικά · Русский · 日本語 · עברית · ÿ€"),
    ("astral plane", "emoji 😀🎉 music 𝄞 cjk-ext-b 𠜎 flag 🏳️‍🌈"),
    ("JSON-looking", '{"a": [1, 2.5, "x"], "b": null, "c": {"d": true}}'),
    ("JSON frame-looking", 'a["not a frame"]'),
    ("</script>", "before </script><script>alert('x')</script> <!-- after"),
    ("controls and separators", "tab\t lf\n cr\r nul\x00 \u2028 \u2029 \\ \" '"),
    ("64 KiB", _big_message()),
]


# --------------------------------------------------------------- processes --


@dataclass
class ServerProcess:
    """A server on a free port, stopped by PID: ``examples/test_server.py`` or an example."""

    proc: subprocess.Popen[bytes]
    base_url: str
    port: int
    log_path: Path
    #: What :meth:`health` asks for: any ``<prefix>/info`` of the server.
    info_path: str = "/echo/info"
    #: How reports name the process.
    name: str = "test server"

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return self.log_path.read_text("utf-8", errors="replace")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def health(self) -> str | None:
        """None while the server runs and answers ``GET <info_path>``, else why not."""
        if self.proc.poll() is not None:
            return f"{self.name} is not running (exit code {self.proc.returncode})"
        try:
            with urllib.request.urlopen(f"{self.base_url}{self.info_path}", timeout=3) as resp:
                resp.read()
        except OSError as exc:
            return (
                f"{self.name} (pid {self.proc.pid}) did not answer GET {self.info_path} within 3 s "
                f"({exc!r}); it has used {self.cpu_seconds():.1f} s of CPU so far"
            )
        return None

    def dump_stacks(self) -> str:
        """Make a wedged server print every thread's stack, and return that output.

        The default command runs Python with ``-X faulthandler``, which prints
        all tracebacks on SIGABRT.  SIGABRT also ends the process: only call
        this once the server no longer answers, so the rest of the run fails
        fast instead of waiting on a dead server.
        """
        before = len(self.output())
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGABRT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.output()[before:] or "(no stack dump: is the server run with -X faulthandler?)"

    def stop(self) -> None:
        """Terminate the process by its PID; kill it if it lingers."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def server_diagnosis(server: ServerProcess) -> str | None:
    """After a failure: None if the server is healthy, else what is wrong with it.

    A server that runs but does not answer is asked for its stacks (which ends
    it, see :meth:`ServerProcess.dump_stacks`).
    """
    problem = server.health()
    if problem is None:
        return None
    if server.proc.poll() is None:
        problem += "\nstacks of the wedged server (SIGABRT + faulthandler):\n"
        problem += server.dump_stacks()[-12000:]
    return problem


def server_command() -> list[str]:
    """The command that starts the SockJS test server.

    ``SOCKJS_E2E_SERVER_CMD`` (a shell-style string) replaces the default
    ``python -X faulthandler examples/test_server.py``; the harness appends ``--port 0
    --sockjs-url ... --static ...`` either way.  That lets the same tests run
    against another implementation of the test-server contract.
    """
    custom = os.environ.get("SOCKJS_E2E_SERVER_CMD")
    if custom:
        import shlex

        return shlex.split(custom)
    # -X faulthandler: on SIGABRT the server prints every thread's stack
    # (ServerProcess.dump_stacks), which is how a wedged server is reported.
    return [sys.executable, "-X", "faulthandler", str(SERVER_SCRIPT)]


_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


def start_server(static_dir: Path, log_path: Path) -> ServerProcess:
    """Start the test server serving ``static_dir`` at /static and wait until it listens."""
    cmd = [
        *server_command(),
        "--port",
        "0",
        # Relative: the iframe page (PROTOCOL.md 5.3) is served by the SockJS
        # server itself, so "/static/..." is the same file on the same origin.
        "--sockjs-url",
        "/static/sockjs.min.js",
        "--static",
        str(static_dir),
    ]
    return start_listening(cmd, log_path)


def start_listening(
    cmd: list[str], log_path: Path, name: str = "test server", info_path: str = "/echo/info"
) -> ServerProcess:
    """Run ``cmd`` (output to ``log_path``) until it prints ``listening on http://127.0.0.1:PORT``.

    Raises RuntimeError, with the command and its output, when the line does
    not come within STARTUP_TIMEOUT_S; the process is stopped by PID then.
    """
    log = log_path.open("wb")
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=str(REPO_ROOT),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    finally:
        log.close()  # the child holds its own copy of the descriptor
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        match = _LISTENING.search(log_path.read_text("utf-8", errors="replace"))
        if match:
            return ServerProcess(
                proc, match.group(1), int(match.group(2)), log_path, info_path, name
            )
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    server = ServerProcess(proc, "", 0, log_path, info_path, name)
    server.stop()
    raise RuntimeError(
        f"{name} did not print 'listening on http://127.0.0.1:PORT' within "
        f"{STARTUP_TIMEOUT_S:.0f} s (exit code {proc.returncode}).\n"
        f"command: {' '.join(cmd)}\noutput:\n{server.output()}"
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files for the cross-origin page; no logging to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        # The pages change between runs of a developer's session.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class StaticServer:
    """A tiny HTTP server (own thread) that serves a directory on 127.0.0.1.

    Pages are addressed as ``http://localhost:<port>/`` while the SockJS server
    is ``http://127.0.0.1:<port>``: a different host, so a different origin
    *and* a different site, which is what a real cross-domain deployment is.
    """

    def __init__(self, directory: Path) -> None:
        handler = partial(_QuietHandler, directory=str(directory))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://localhost:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="e2e-static", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def prepare_static_dir(target: Path) -> Path:
    """Copy the harness pages and the client's dist/sockjs.min.js into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for page in PAGES_DIR.iterdir():
        if page.is_file():
            shutil.copy(page, target / page.name)
    shutil.copy(SOCKJS_CLIENT_DIR / "dist" / "sockjs.min.js", target / "sockjs.min.js")
    return target


def missing(reason: str) -> NoReturn:
    """Skip for a missing tool, or fail when ``SOCKJS_E2E_REQUIRE=1`` (CI: no silent skips)."""
    import pytest

    if os.environ.get("SOCKJS_E2E_REQUIRE") == "1":
        pytest.fail(f"SOCKJS_E2E_REQUIRE=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def client_problem() -> str | None:
    """Why the npm sockjs-client cannot be used, or None when it is in place."""
    pkg = SOCKJS_CLIENT_DIR / "package.json"
    if not pkg.exists():
        return (
            f"npm sockjs-client is not installed ({pkg} missing); "
            f"run: npm install sockjs-client@{SOCKJS_CLIENT_VERSION}"
        )
    version = json.loads(pkg.read_text("utf-8")).get("version")
    if version != SOCKJS_CLIENT_VERSION:
        return f"{pkg} is version {version}, the e2e tests expect {SOCKJS_CLIENT_VERSION}"
    return None


def fetch_info(base_url: str, prefix: str) -> dict[str, Any]:
    """``GET <prefix>/info`` from the server, parsed."""
    with urllib.request.urlopen(f"{base_url}{prefix}/info", timeout=5) as resp:
        info: dict[str, Any] = json.loads(resp.read().decode("utf-8"))
    return info


def websocket_skip_reason(base_url: str) -> str | None:
    """A skip reason while the server does not offer WebSockets yet."""
    info = fetch_info(base_url, "/echo")
    if info.get("websocket") is False:
        return (
            "server's /echo/info reports websocket:false (WebSocket support not in the "
            "server yet); this cell runs by itself once /info says websocket:true"
        )
    return None


# ----------------------------------------------------------------- judging --


@dataclass
class Exchange:
    """One HTTP request/response pair as a client saw it (for cookies and reports)."""

    method: str
    url: str
    status: int | None = None
    request_cookie: str | None = None
    set_cookie: str | None = None
    error: str | None = None
    note: str = ""

    def line(self) -> str:
        """One-line summary for failure reports."""
        if self.method == "WEBSOCKET":
            return f"WEBSOCKET {self.url}"
        status = self.status if self.status is not None else (self.error or "no response")
        parts = [f"{self.method} {self.url} -> {status}"]
        if self.request_cookie:
            parts.append(f"Cookie: {self.request_cookie}")
        if self.set_cookie:
            parts.append(f"Set-Cookie: {self.set_cookie}")
        if self.note:
            parts.append(self.note)
        return " | ".join(parts)


@dataclass
class Verdict:
    """Failures found in one cell, each tagged with the step it belongs to."""

    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, step: str, message: str) -> None:
        """Record a failed check."""
        self.failures.append((step, message))

    def check(self, ok: bool, step: str, message: str) -> bool:
        """Record ``message`` as a failure of ``step`` unless ``ok``."""
        if not ok:
            self.fail(step, message)
        return ok

    @property
    def failed_steps(self) -> list[str]:
        """Names of the failed steps, in order, without repeats."""
        return list(dict.fromkeys(step for step, _ in self.failures))


def _describe_probe(probe: dict[str, Any] | None) -> str:
    if not probe:
        return "step did not run"
    keys = (
        "error",
        "candidates",
        "opened",
        "transport",
        "readyState",
        "close",
        "timedOut",
        "heartbeats",
        "messageCount",
    )
    return ", ".join(f"{k}={probe.get(k)!r}" for k in keys if k in probe)


def _first_difference(expected: str, got: str) -> str:
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return (
                f"first difference at index {i}: expected {expected[i : i + 12]!r}, "
                f"got {got[i : i + 12]!r}"
            )
    return f"lengths differ: expected {len(expected)}, got {len(got)}"


def judge_open(v: Verdict, step: str, probe: dict[str, Any] | None, transport: str) -> bool:
    """The socket opened, with exactly the forced transport."""
    if not v.check(
        bool(probe and probe.get("opened")), step, f"socket did not open: {_describe_probe(probe)}"
    ):
        return False
    assert probe is not None
    return v.check(
        probe.get("transport") == transport,
        step,
        f"client used transport {probe.get('transport')!r}, expected {transport!r}",
    )


def judge_echo(v: Verdict, steps: dict[str, Any], transport: str) -> None:
    """Every corpus message came back, in order, unchanged."""
    if not judge_open(v, "echo: open /echo", steps.get("echo_open"), transport):
        return
    echo = steps.get("echo") or {}
    received: list[str] = echo.get("received") or []
    for i, (label, text) in enumerate(MESSAGES):
        step = f"echo #{i + 1} ({label}, {len(text)} chars)"
        if i >= len(received):
            v.fail(
                step,
                f"no echo: only {len(received)} of {len(MESSAGES)} messages came back "
                f"(socket: {_describe_probe(echo)})",
            )
            break
        got = received[i]
        if got != text:
            others = [lbl for lbl, t in MESSAGES if t == got]
            hint = f" (that is the {others[0]!r} message: out of order)" if others else ""
            v.fail(
                step,
                f"echo differs{hint}: {_first_difference(text, got)}; "
                f"expected {text[:80]!r}, got {got[:80]!r}",
            )
    if len(received) > len(MESSAGES):
        v.fail(
            "echo: extra messages",
            f"{len(received) - len(MESSAGES)} unexpected extra "
            f"message(s): {[m[:40] for m in received[len(MESSAGES) :]]}",
        )
    after = steps.get("echo_client_close") or {}
    close = after.get("close") or {}
    v.check(
        close.get("code") == 1000,
        "echo: client close",
        f"sock.close() did not end in onclose code 1000: {_describe_probe(after)}",
    )


def judge_server_close(v: Verdict, steps: dict[str, Any], transport: str) -> None:
    """/close: open, then onclose with 3000 "Go away!"."""
    if not judge_open(v, "close: open /close", steps.get("close_open"), transport):
        return
    probe = steps.get("server_close") or {}
    close = probe.get("close")
    v.check(
        bool(close) and close.get("code") == 3000 and close.get("reason") == "Go away!",
        "close: server close reaches onclose",
        f"expected onclose code 3000 reason 'Go away!', got {close!r} ({_describe_probe(probe)})",
    )


def judge_heartbeat(v: Verdict, steps: dict[str, Any], transport: str) -> None:
    """/heartbeat_echo: after IDLE_MS without traffic the session still echoes."""
    if not judge_open(v, "heartbeat: open /heartbeat_echo", steps.get("heartbeat_open"), transport):
        return
    hb = steps.get("heartbeat") or {}
    step = f"heartbeat: echo after {IDLE_MS} ms idle"
    if hb.get("skipped") or hb.get("readyStateBeforeSend") != 1:
        v.fail(step, f"session did not survive the idle period: {_describe_probe(hb)}")
        return
    v.check(hb.get("idleMs", 0) >= IDLE_MS, step, f"idle only {hb.get('idleMs')} ms")
    # heartbeat_delay is 1 s and the session idled 5 s: at least one `h` frame
    # must have reached the client (a loose bound, it does not measure speed).
    v.check(
        hb.get("heartbeatsBeforeSend", 0) >= 1,
        step,
        f"no heartbeat frame reached the client in {hb.get('idleMs')} ms idle",
    )
    v.check(
        hb.get("received") == [hb.get("sent")],
        step,
        f"expected echo {[hb.get('sent')]!r}, got {hb.get('received')!r} ({_describe_probe(hb)})",
    )


_SET_COOKIE = re.compile(r"^\s*JSESSIONID=([^;]*);\s*path=/\s*(;|$)", re.IGNORECASE)
_COOKIE_VALUE = re.compile(r"(?:^|;)\s*JSESSIONID=([^;]*)")


def session_exchanges(exchanges: Iterable[Exchange], prefix: str, sid: str) -> list[Exchange]:
    """The HTTP exchanges that belong to session ``sid`` under ``prefix``."""
    pattern = re.compile(
        rf"{re.escape(prefix)}/[^/?#]+/{re.escape(sid)}/({'|'.join(_SESSION_SUFFIXES)})(\?|$)"
    )
    return [ex for ex in exchanges if pattern.search(ex.url)]


def judge_cookie(
    v: Verdict,
    steps: dict[str, Any],
    transport: str,
    exchanges: Sequence[Exchange],
    seed: str,
    cookie_must_flow: bool,
) -> None:
    """/cookie_needed_echo: JSESSIONID is set on every session response and echoed back.

    ``seed`` is the JSESSIONID value the client was primed with; when
    ``cookie_must_flow`` the client environment sends cookies to the server
    (same origin, Node), so at least one request must carry the seed and get
    it back in Set-Cookie.
    """
    if not judge_open(v, "cookie: open /cookie_needed_echo", steps.get("cookie_open"), transport):
        return
    probe = steps.get("cookie_echo") or {}
    v.check(
        probe.get("received") == probe.get("sent"),
        "cookie: echo",
        f"expected {probe.get('sent')!r}, got {probe.get('received')!r}",
    )
    if transport == "websocket":
        # PROTOCOL.md 4.4: WebSocket handshakes never carry Set-Cookie.
        return
    sid = (steps.get("cookie_open") or {}).get("sid", "")
    own = session_exchanges(exchanges, "/cookie_needed_echo", sid)
    step = "cookie: JSESSIONID"
    answered = [ex for ex in own if ex.status is not None]
    if not v.check(bool(answered), step, f"no HTTP exchange of session {sid!r} was captured"):
        return
    echoed_seed = 0
    for ex in answered:
        if ex.set_cookie is None:
            v.fail(step, f"response without Set-Cookie: {ex.line()}")
            continue
        match = _SET_COOKIE.match(ex.set_cookie)
        if not match:
            v.fail(step, f"Set-Cookie is not 'JSESSIONID=<value>; path=/': {ex.line()}")
            continue
        sent = _COOKIE_VALUE.search(ex.request_cookie or "")
        if sent and match.group(1) != sent.group(1):
            v.fail(step, f"request's JSESSIONID={sent.group(1)} not echoed: {ex.line()}")
        elif sent and sent.group(1) == seed:
            echoed_seed += 1
    if cookie_must_flow:
        v.check(
            echoed_seed > 0,
            step,
            f"no request carried JSESSIONID={seed} and got it back; exchanges:\n    "
            + "\n    ".join(ex.line() for ex in own),
        )
    else:
        v.notes.append(
            f"{echoed_seed} of {len(answered)} cookie-session request(s) carried "
            f"the primed JSESSIONID (the client environment decides)"
        )


def judge_cell(
    steps: dict[str, Any],
    transport: str,
    exchanges: Sequence[Exchange],
    seed: str,
    cookie_must_flow: bool,
) -> Verdict:
    """All checks of one (transport, origin) cell."""
    v = Verdict()
    judge_echo(v, steps, transport)
    judge_server_close(v, steps, transport)
    judge_cookie(v, steps, transport, exchanges, seed, cookie_must_flow)
    judge_heartbeat(v, steps, transport)
    return v


def format_report(
    title: str,
    verdict: Verdict,
    log_lines: Sequence[str] = (),
    exchanges: Sequence[Exchange] = (),
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """A failure report a person can act on: what failed, then the evidence."""
    out = [
        f"{title}: {len(verdict.failures)} failed check(s) in step(s) "
        f"{', '.join(verdict.failed_steps)}"
    ]
    for step, message in verdict.failures:
        out.append(f"  [{step}] {message}")
    for heading, body in extra:
        out.append(f"--- {heading} ---")
        out.append(body.rstrip())
    if log_lines:
        out.append("--- client log (harness.js / console) ---")
        out.extend(f"  {line}" for line in log_lines[-120:])
    if exchanges:
        out.append("--- HTTP exchanges seen by the client (last 60) ---")
        out.extend(f"  {ex.line()}" for ex in exchanges[-60:])
    return "\n".join(out)
