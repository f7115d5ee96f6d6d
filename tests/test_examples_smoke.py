"""Smoke test of examples/chat: the page, the local sockjs-client and a chat.

The chat server runs in a subprocess on 127.0.0.1 with a free port; two XHR
polling sessions join and exchange a message over real sockets.
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
CHAT_SERVER = REPO_ROOT / "examples" / "chat" / "server.py"
CLIENT_FILE = REPO_ROOT / "node_modules" / "sockjs-client" / "dist" / "sockjs.min.js"
STARTUP_TIMEOUT = 30.0
# Per request.  Nothing here should wait for a heartbeat: every poll is made
# only when the server already has something queued for it.
HTTP_TIMEOUT = 10.0
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class Chat:
    """The running chat server and what it printed."""

    def __init__(self, proc: subprocess.Popen[str], port: int, output: list[str]) -> None:
        self.proc = proc
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
def chat() -> Iterator[Chat]:
    """Start examples/chat/server.py on a free port; stop it by PID afterwards."""
    if not CLIENT_FILE.is_file():
        pytest.fail(f"{CLIENT_FILE} is missing: run scripts/bootstrap.sh (make test does)")
    proc = subprocess.Popen(
        [sys.executable, str(CHAT_SERVER), "--host", "127.0.0.1", "--port", "0"],
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
        port = None
        while port is None:
            try:
                match = LISTENING.search(lines.get(timeout=STARTUP_TIMEOUT))
            except queue.Empty:
                pytest.fail(
                    f"chat server not listening after {STARTUP_TIMEOUT} s:\n{''.join(output)}"
                )
            if match:
                port = int(match.group(1))
        yield Chat(proc, port, output)
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
    """An XHR-polling SockJS session on /chat."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.base = f"/chat/000/{uuid.uuid4().hex}"
        self.received: list[dict[str, Any]] = []

    def open(self) -> None:
        """First poll: the open frame."""
        status, _, body = self.chat.request("POST", self.base + "/xhr")
        assert (status, body) == (200, b"o\n")

    def send(self, event: dict[str, Any]) -> None:
        """xhr_send one JSON event; the server has handled it when 204 arrives."""
        payload = json.dumps([json.dumps(event)]).encode()
        status, _, body = self.chat.request("POST", self.base + "/xhr_send", payload)
        assert (status, body) == (204, b""), body

    def wait_for(self, wanted: dict[str, Any]) -> None:
        """Poll until ``wanted`` has arrived (it is queued already, so few polls)."""
        for _ in range(3):
            if wanted in self.received:
                return
            status, _, body = self.chat.request("POST", self.base + "/xhr")
            assert status == 200
            frame = body.decode()
            assert frame.startswith("a[") and frame.endswith("\n"), frame
            self.received.extend(json.loads(text) for text in json.loads(frame[1:]))
        assert wanted in self.received, self.received


def test_page_is_served(chat: Chat) -> None:
    status, ctype, body = chat.request("GET", "/")
    assert status == 200
    assert ctype.startswith("text/html")
    assert b'<script src="/static/sockjs.min.js">' in body


def test_sockjs_client_is_served_locally(chat: Chat) -> None:
    status, ctype, body = chat.request("GET", "/static/sockjs.min.js")
    assert status == 200
    assert "javascript" in ctype
    assert body == CLIENT_FILE.read_bytes()


def test_iframe_page_loads_the_local_client(chat: Chat) -> None:
    status, _, body = chat.request("GET", "/chat/iframe.html")
    assert status == 200
    assert b"/static/sockjs.min.js" in body
    assert b"cdn" not in body.lower()


def test_two_sessions_chat(chat: Chat) -> None:
    alice, bob = Session(chat), Session(chat)
    alice.open()
    bob.open()

    alice.send({"type": "join", "name": "alice"})
    alice.wait_for({"type": "welcome", "name": "alice", "participants": []})
    bob.send({"type": "join", "name": "bob"})
    bob.wait_for({"type": "welcome", "name": "bob", "participants": ["alice"]})
    alice.wait_for({"type": "joined", "name": "bob"})

    alice.send({"type": "say", "text": "hello, bob"})
    bob.wait_for({"type": "message", "name": "alice", "text": "hello, bob"})
    # The sender sees its own message too (one broadcast to everyone).
    alice.wait_for({"type": "message", "name": "alice", "text": "hello, bob"})
