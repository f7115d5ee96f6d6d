"""Fixtures for black-box integration tests against ``examples/test_server.py``.

The server runs as a separate process on 127.0.0.1 with a free port; tests
talk to it over real sockets with :mod:`tests.integration.rawhttp`.  At
teardown the server's output is scanned: an unhandled exception anywhere in
the server fails the session even if every HTTP answer looked right.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .rawhttp import new_session_id, request

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = REPO_ROOT / "examples" / "test_server.py"
STARTUP_TIMEOUT = 15.0
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")
# Output fragments that mean the server hit an exception it did not handle.
_BAD_OUTPUT = ("Unhandled", "Traceback")
_EOF = "\0eof"  # queued when the server's stdout closes (the process died)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``integration`` marker (keeps ``--strict-markers`` happy)."""
    config.addinivalue_line(
        "markers", "integration: black-box tests against examples/test_server.py over sockets"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected from this directory as ``integration``."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


class ServerProcess:
    """A running ``examples/test_server.py`` process and everything it printed."""

    def __init__(self, proc: subprocess.Popen[str], port: int, url: str) -> None:
        self.proc = proc
        self.port = port
        self.url = url
        self.output: list[str] = []
        self._readers: list[threading.Thread] = []

    def collected_output(self) -> str:
        """All stdout and stderr lines seen so far."""
        return "".join(self.output)


def _pump(stream: Any, sink: list[str], lines: queue.Queue[str] | None) -> None:
    # Drain a pipe until EOF so the server never blocks on a full pipe buffer.
    for line in iter(stream.readline, ""):
        sink.append(line)
        if lines is not None:
            lines.put(line)
    if lines is not None:
        lines.put(_EOF)
    stream.close()


def start_server(*extra_args: str) -> ServerProcess:
    """Start the test server on a free port and wait for its ``listening`` line."""
    if not SERVER_SCRIPT.exists():
        pytest.fail(f"{SERVER_SCRIPT} does not exist yet")
    # The repository root goes on sys.path so that ``sockjs`` imports from the
    # work tree even when the package is not installed into the interpreter.
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath)
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--port", "0", "--test-endpoints", *extra_args],
        cwd=str(REPO_ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
    )
    output: list[str] = []
    stdout_lines: queue.Queue[str] = queue.Queue()
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, output, stdout_lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, output, None), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while True:
            line = stdout_lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line == _EOF:
                raise queue.Empty
            match = _LISTENING.search(line)
            if match:
                break
    except queue.Empty:
        proc.kill()
        proc.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=5)
        pytest.fail(
            f"test server exited or printed no 'listening on' line within "
            f"{STARTUP_TIMEOUT} s (exit code {proc.returncode}); output:\n{''.join(output)}",
            pytrace=False,
        )
    server = ServerProcess(proc, int(match.group(2)), match.group(1))
    server.output = output
    server._readers = readers
    return server


def stop_server(server: ServerProcess) -> str:
    """Terminate the server by PID, wait for it, and return everything it printed."""
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=10)
    for reader in server._readers:
        reader.join(timeout=5)
    return server.collected_output()


def check_output(text: str) -> None:
    """Fail when the server's output shows an unhandled exception."""
    bad = [frag for frag in _BAD_OUTPUT if frag in text]
    if bad:
        pytest.fail(f"test server output contains {bad}:\n{text}", pytrace=False)


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    """The shared test server (default options), started once per test session."""
    srv = start_server()
    yield srv
    check_output(stop_server(srv))


@pytest.fixture(scope="session")
def server_factory() -> Iterator[Callable[..., ServerProcess]]:
    """Start extra servers with custom command-line arguments (stopped at session end)."""
    started: list[ServerProcess] = []

    def factory(*extra_args: str) -> ServerProcess:
        srv = start_server(*extra_args)
        started.append(srv)
        return srv

    yield factory
    texts = [stop_server(srv) for srv in started]
    check_output("".join(texts))


@pytest.fixture
def sid() -> str:
    """A fresh session id."""
    return new_session_id()


@pytest.fixture
def server_state(server: ServerProcess) -> Callable[[], dict[str, Any]]:
    """Return a function that fetches ``/_test/state`` as parsed JSON.

    Shape: ``{"sessions": {"/echo": n, ...}, "delayed_calls": n}``.
    """

    def fetch() -> dict[str, Any]:
        resp = request(server.port, "GET", "/_test/state")
        assert resp.status == 200, resp
        state: dict[str, Any] = json.loads(resp.body)
        return state

    return fetch
