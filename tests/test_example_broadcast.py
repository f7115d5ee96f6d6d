"""Smoke test of examples/broadcast: the page, sockjs-client and the ticks.

The example runs in a subprocess on 127.0.0.1 (free port); two
``xhr_streaming`` clients over real sockets must both receive a tick.
Every wait is bounded; the server is stopped by PID.
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER = REPO_ROOT / "examples" / "broadcast" / "server.py"
CLIENT_FILE = REPO_ROOT / "node_modules" / "sockjs-client" / "dist" / "sockjs.min.js"
STARTUP_TIMEOUT = 30.0
# Ticks come every second; this only bounds a hang.
TICK_TIMEOUT = 15.0
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
FRAME = re.compile(rb"a\[(.*?)\]\n")


def _drain(stream: Any, sink: list[str], lines: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)
        lines.put(line)
    stream.close()


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """Start the example on a free port; stop it by PID afterwards."""
    if not CLIENT_FILE.is_file():
        pytest.fail(f"{CLIENT_FILE} is missing: run `npm ci` (make test does)")
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    output: list[str] = []
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_drain, args=(proc.stdout, output, lines), daemon=True)
    reader.start()
    try:
        found = None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while found is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"example not listening after {STARTUP_TIMEOUT} s:\n{''.join(output)}")
            match = LISTENING.search(line)
            if match:
                found = int(match.group(1))
        yield found
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=10)
    printed = "".join(output)
    assert "Traceback" not in printed and "Unhandled" not in printed, printed


def _get(port: int, path: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_page_and_client_library_are_served(port: int) -> None:
    status, body = _get(port, "/")
    assert status == 200
    assert b'src="/static/sockjs.min.js"' in body
    status, body = _get(port, "/static/sockjs.min.js")
    assert status == 200
    assert body == CLIENT_FILE.read_bytes()


class Stream:
    """An xhr_streaming receiver on /broadcast over a real socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TICK_TIMEOUT)
        path = f"/broadcast/000/{uuid.uuid4().hex}/xhr_streaming"
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        self.data = b""

    def next_messages(self, deadline: float) -> list[Any]:
        """Messages of the next ``a`` frame (the stream's frames are parsed in order)."""
        while True:
            match = FRAME.search(self.data)
            if match:
                self.data = self.data[match.end() :]
                return list(json.loads(b"[" + match.group(1) + b"]"))
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no message before the deadline; got {self.data[-300:]!r}"
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the stream"
            self.data += chunk

    def close(self) -> None:
        self.sock.close()


def test_two_streaming_clients_both_receive_a_tick(port: int) -> None:
    streams = [Stream(port), Stream(port)]
    try:
        deadline = time.monotonic() + TICK_TIMEOUT
        ticks: list[list[int]] = [[], []]
        for index, stream in enumerate(streams):
            while len(ticks[index]) < 2:
                for event in stream.next_messages(deadline):
                    if event.get("type") == "tick":
                        ticks[index].append(event["n"])
        # Both were subscribed before the second tick each saw: the same beat reached both.
        assert set(ticks[0]) & set(ticks[1])
        assert all(b == a + 1 for a, b in zip(ticks[0], ticks[0][1:], strict=False))
    finally:
        for stream in streams:
            stream.close()
