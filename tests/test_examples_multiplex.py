"""Smoke test of examples/multiplex: the page, its local libraries and the channels.

The server runs in a subprocess on 127.0.0.1 with a free port; one XHR
polling session opens the ann and carl channels over real sockets
(websocket-multiplex frames as in PROTOCOL.md 9.4).
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER = REPO_ROOT / "examples" / "multiplex" / "server.py"
NODE_MODULES = REPO_ROOT / "node_modules"
SOCKJS_CLIENT = NODE_MODULES / "sockjs-client" / "dist" / "sockjs.min.js"
MULTIPLEX_CLIENT = NODE_MODULES / "websocket-multiplex" / "multiplex_client.js"
STARTUP_TIMEOUT = 30.0
# Per request; every poll below is made when its answer is already queued.
HTTP_TIMEOUT = 10.0
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class Server:
    """The running example and what it printed."""

    def __init__(self, port: int, output: list[str]) -> None:
        self.port = port
        self.output = output

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, str, bytes]:
        """One request on a fresh connection: (status, content type, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Content-Type", ""), resp.read()
        finally:
            conn.close()


def _drain(stream: Any, sink: list[str], lines: queue.Queue[str]) -> None:
    # Read until EOF so that the server never blocks on a full pipe.
    for line in iter(stream.readline, ""):
        sink.append(line)
        lines.put(line)
    stream.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """Start examples/multiplex/server.py on a free port; stop it by PID afterwards."""
    for path in (SOCKJS_CLIENT, MULTIPLEX_CLIENT):
        if not path.is_file():
            pytest.fail(f"{path} is missing: run scripts/bootstrap.sh (make test does)")
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath),
    )
    output: list[str] = []
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_drain, args=(proc.stdout, output, lines), daemon=True)
    reader.start()
    try:
        port = None
        while port is None:
            try:
                match = LISTENING.search(lines.get(timeout=STARTUP_TIMEOUT))
            except queue.Empty:
                pytest.fail(f"server not listening after {STARTUP_TIMEOUT} s:\n{''.join(output)}")
            if match:
                port = int(match.group(1))
        yield Server(port, output)
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


class Session:
    """An XHR-polling SockJS session on /multiplex."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.base = f"/multiplex/000/{uuid.uuid4().hex}"

    def open(self) -> None:
        status, _, body = self.server.request("POST", self.base + "/xhr")
        assert (status, body) == (200, b"o\n")

    def send(self, *messages: str) -> None:
        payload = json.dumps(list(messages)).encode()
        status, _, body = self.server.request("POST", self.base + "/xhr_send", payload)
        assert (status, body) == (204, b""), body

    def poll(self) -> list[str]:
        status, _, body = self.server.request("POST", self.base + "/xhr")
        assert status == 200
        frame = body.decode()
        assert frame.startswith("a[") and frame.endswith("\n"), frame
        messages: list[str] = json.loads(frame[1:])
        return messages


def test_page_loads_both_libraries_locally(server: Server) -> None:
    status, ctype, body = server.request("GET", "/")
    assert status == 200
    assert ctype.startswith("text/html")
    assert b'<script src="/static/sockjs.min.js">' in body
    assert b'<script src="/static/multiplex_client.js">' in body
    assert b"new WebSocketMultiplex(" in body


@pytest.mark.parametrize(
    ("url", "path"),
    [("/static/sockjs.min.js", SOCKJS_CLIENT), ("/static/multiplex_client.js", MULTIPLEX_CLIENT)],
)
def test_client_libraries_are_served_from_node_modules(
    server: Server, url: str, path: Path
) -> None:
    status, ctype, body = server.request("GET", url)
    assert status == 200
    assert "javascript" in ctype
    assert body == path.read_bytes()


def test_iframe_page_loads_the_local_client(server: Server) -> None:
    status, _, body = server.request("GET", "/multiplex/iframe.html")
    assert status == 200
    assert b"/static/sockjs.min.js" in body


def test_channels_over_xhr_polling(server: Server) -> None:
    session = Session(server)
    session.open()

    session.send("sub,ann")
    assert session.poll() == ["msg,ann,Ann says hi!"]
    # The payload keeps its comma.
    session.send("msg,ann,hello, world")
    assert session.poll() == ["msg,ann,Ann nods: hello, world"]

    session.send("sub,bob", "msg,bob,coffee?")
    assert session.poll() == ["msg,bob,Bob doesn't agree.", "msg,bob,Bob says no to: coffee?"]

    # Carl closes his channel: the page is told with uns,carl...
    session.send("sub,carl")
    assert session.poll() == ["msg,carl,Carl says goodbye!", "uns,carl"]

    # ...and the session and the other channels go on.
    session.send("msg,carl,wait!", "msg,dave,unknown topic", "msg,ann,still here?")
    assert session.poll() == ["msg,ann,Ann nods: still here?"]
