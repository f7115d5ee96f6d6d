"""Programs written for sockjs-cyclone 1.x run unchanged (examples/old_api/).

Each program in ``examples/old_api/`` uses the library the way the earlier
releases' examples did (module-level routers, ``self.broadcast``, a
``__init__(*args, **kwargs)`` override, ``router.stats.dump()``,
``proto.json_encode``, ``MultiplexConnection.create``...).  Here each one
runs as a subprocess on a free port (``PORT`` argument ``0``; the port is read
from Twisted's ``... starting on N`` log line, which these programs log to
stdout) and is exercised over real sockets with XHR polling, plus an
HTTP/1.0 ``xhr_streaming`` receiver where a client must go away while
messages keep flowing.  A traceback (or an unhandled error) anywhere in a
program's output fails its test.
"""

from __future__ import annotations

import http.client
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parent.parent
OLD_API = REPO_ROOT / "examples" / "old_api"
STARTUP_TIMEOUT = 30.0
# Per request: a poll is only made when something is queued or due within a
# second or two, so this is a hang guard (heartbeats come after 25 s).
HTTP_TIMEOUT = 40.0
# Upper bound on waits for something that happens once a second (date, stats).
TICK_WAIT = 20.0
STARTING = re.compile(r"starting on (\d+)")
BAD_OUTPUT = ("Traceback", "Unhandled")
TIME = re.compile(r"^\d\d:\d\d:\d\d$")


class Program:
    """One running example program and everything it printed."""

    def __init__(self, proc: subprocess.Popen[str], port: int, output: list[str]) -> None:
        self.proc = proc
        self.port = port
        self.output = output

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One request on a fresh connection: (status, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def assert_clean(self) -> None:
        """No traceback or unhandled error in the output so far."""
        printed = "".join(self.output)
        assert not any(bad in printed for bad in BAD_OUTPUT), printed


def _drain(stream: Any, sink: list[str], lines: queue.Queue[str]) -> None:
    # Read until EOF so the program never blocks on a full pipe.
    for line in iter(stream.readline, ""):
        sink.append(line)
        lines.put(line)
    stream.close()


@contextmanager
def running(name: str) -> Iterator[Program]:
    """Run ``examples/old_api/<name>.py 0``; stop it by PID; check its output."""
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, str(OLD_API / f"{name}.py"), "0"],
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
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while port is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(
                    f"{name}.py not listening after {STARTUP_TIMEOUT} s:\n{''.join(output)}"
                )
            match = STARTING.search(line)
            if match:
                port = int(match.group(1))
        program = Program(proc, port, output)
        yield program
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=10)
    program.assert_clean()


class XhrClient:
    """A SockJS session over XHR polling (``xhr`` + ``xhr_send``)."""

    def __init__(self, program: Program, prefix: str) -> None:
        self.program = program
        self.base = f"{prefix}/000/{uuid.uuid4().hex}"
        self.received: list[Any] = []

    def open(self) -> None:
        """The first poll: the open frame."""
        assert self.program.request("POST", self.base + "/xhr") == (200, b"o\n")

    def send(self, *messages: str) -> None:
        """One ``xhr_send``; the application has handled it when 204 arrives."""
        status, body = self.program.request(
            "POST", self.base + "/xhr_send", json.dumps(list(messages)).encode()
        )
        assert (status, body) == (204, b""), body

    def poll(self) -> list[Any]:
        """One poll; returns (and records) the messages of its frame."""
        status, body = self.program.request("POST", self.base + "/xhr")
        assert status == 200, body
        frame = body.decode()
        assert frame.endswith("\n"), frame
        if frame == "h\n":
            return []
        assert frame.startswith("a["), frame
        messages: list[Any] = json.loads(frame[1:])
        self.received.extend(messages)
        return messages

    def wait_for(self, *wanted: Any, polls: int = 5) -> None:
        """Poll until every message in ``wanted`` has arrived."""
        for _ in range(polls):
            if all(message in self.received for message in wanted):
                return
            self.poll()
        assert all(message in self.received for message in wanted), self.received

    def go_away(self) -> None:
        """Start a poll that parks, then drop its connection (PROTOCOL.md 6.8).

        Only call it with nothing queued, so that the poll really parks: the
        session then closes as soon as the server sees the socket close.
        """
        with socket.create_connection(("127.0.0.1", self.program.port), timeout=10) as sock:
            sock.sendall(
                f"POST {self.base}/xhr HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Length: 0\r\n\r\n".encode()
            )


class StreamingClient:
    """An HTTP/1.0 ``xhr_streaming`` receiver read frame by frame off a raw socket."""

    def __init__(self, program: Program, prefix: str) -> None:
        self.base = f"{prefix}/000/{uuid.uuid4().hex}"
        self.sock = socket.create_connection(("127.0.0.1", program.port), timeout=TICK_WAIT)
        self.sock.sendall(
            f"POST {self.base}/xhr_streaming HTTP/1.0\r\nContent-Length: 0\r\n\r\n".encode()
        )
        self._buffer = b""
        self._head_done = False
        self.frames: list[str] = []
        self.messages: list[Any] = []

    def wait_until(self, done: Callable[[list[Any]], bool]) -> None:
        """Read frames until ``done(messages)`` holds (bounded by ``TICK_WAIT``)."""
        deadline = time.monotonic() + TICK_WAIT
        while not done(self.messages):
            assert time.monotonic() < deadline, self.frames
            data = self.sock.recv(65536)
            assert data, f"stream ended; frames: {self.frames}"
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._head_done:
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            assert head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")), head
            self._head_done = True
            self._buffer = rest
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            frame = line.decode()
            if frame == "h" * 2048:  # the prelude
                continue
            self.frames.append(frame)
            if frame.startswith("a["):
                self.messages.extend(json.loads(frame[1:]))

    def close(self) -> None:
        """The client goes away in the middle of the stream."""
        self.sock.close()


def _reopens(program: Program, base: str) -> bool:
    """Whether a poll on ``base`` starts a new session (the old one is gone)."""
    deadline = time.monotonic() + TICK_WAIT
    while time.monotonic() < deadline:
        status, body = program.request("POST", base + "/xhr")
        assert status == 200, body
        if body == b"o\n":
            return True
        # The server may not have seen the dropped socket yet: 2010 until it has.
        assert body.startswith(b'c[2010,"Another connection still open"]'), body
        time.sleep(0.1)
    return False


# -- chat -------------------------------------------------------------------------------


def test_chat_clients_see_messages_joins_and_leaves() -> None:
    with running("chat") as program:
        alice, bob = XhrClient(program, "/chat"), XhrClient(program, "/chat")
        alice.open()
        bob.open()
        alice.wait_for("Someone joined.")

        alice.send("hello from alice")
        bob.wait_for("hello from alice")
        alice.wait_for("hello from alice")
        bob.send("hi alice, bob here")
        alice.wait_for("hi alice, bob here")
        bob.wait_for("hi alice, bob here")
        # Everyone got every message once, in order (one broadcast each).
        assert alice.received == ["Someone joined.", "hello from alice", "hi alice, bob here"]
        assert bob.received == ["hello from alice", "hi alice, bob here"]

        bob.go_away()
        alice.wait_for("Someone left.")
        assert alice.received[-1] == "Someone left."


def test_chat_serves_its_other_handlers() -> None:
    with running("chat") as program:
        status, body = program.request("GET", "/")
        assert status == 200 and b"/chat" in body
        status, body = program.request("GET", "/chat/info")
        assert status == 200 and json.loads(body)["websocket"] is True


# -- date -------------------------------------------------------------------------------


def test_date_pushes_the_time_every_second_and_survives_the_client_leaving() -> None:
    with running("date") as program:
        stream = StreamingClient(program, "/timer")
        stream.wait_until(lambda messages: len(set(messages)) >= 2)
        assert stream.frames[0] == "o"
        assert all(TIME.match(message) for message in stream.messages), stream.messages

        stream.close()
        # Closed at once (6.8 (a)): the same id now opens a new session...
        assert _reopens(program, stream.base)
        # ...while the old connection's LoopingCall, never stopped, keeps
        # calling sendMessage on its closed session: ignored, no error.
        time.sleep(2.5)
        program.assert_clean()
        assert program.request("GET", "/timer/info")[0] == 200


def test_date_polling_client_gets_time_strings() -> None:
    with running("date") as program:
        client = XhrClient(program, "/timer")
        client.open()
        deadline = time.monotonic() + TICK_WAIT
        while len(set(client.received)) < 2:
            assert time.monotonic() < deadline, client.received
            client.poll()
        assert all(TIME.match(message) for message in client.received), client.received


# -- multiplex --------------------------------------------------------------------------


def test_multiplex_channels_answer() -> None:
    with running("multiplex") as program:
        client = XhrClient(program, "/multiplex")
        client.open()
        client.send("sub,ann")
        assert client.poll() == ["msg,ann,Ann says hi!"]
        client.send("msg,ann,hello, world")
        assert client.poll() == ["msg,ann,Ann nods: hello, world"]

        client.send("sub,bob", "msg,bob,tea?")
        assert client.poll() == ["msg,bob,Bob doesn't agree.", "msg,bob,Bob says no to: tea?"]

        client.send("sub,carl")
        assert client.poll() == ["msg,carl,Carl says goodbye!", "uns,carl"]

        # Unknown topics are ignored; after uns,ann only Bob is left to answer.
        client.send("msg,dave,x", "uns,ann", "msg,ann,still there?", "msg,bob,bye")
        assert client.poll() == ["msg,bob,Bob says no to: bye"]


# -- stats ------------------------------------------------------------------------------

OLD_KEYS = {
    "sessions_active",
    "connections_active",
    "connections_ps",
    "packets_sent_ps",
    "packets_recv_ps",
}


def _dumps(stream: StreamingClient) -> list[dict[str, Any]]:
    # Each message is the JSON text of a dump (proto.json_encode), sent as a string.
    dumps = [json.loads(message) for message in stream.messages]
    assert all(isinstance(dump, dict) for dump in dumps), dumps
    return dumps


def test_stats_connection_reports_the_broadcast_router() -> None:
    with running("stats") as program:
        stats = StreamingClient(program, "/statsconn")
        stats.wait_until(lambda messages: len(messages) >= 1)
        first = _dumps(stats)[0]
        assert set(first) >= OLD_KEYS, first
        assert first["sessions_active"] == 0
        assert all(isinstance(first[key], (int, float)) for key in OLD_KEYS), first

        ann, bob = XhrClient(program, "/broadcast"), XhrClient(program, "/broadcast")
        ann.open()
        bob.open()
        ann.send("one", "two", "three")
        bob.send("four")
        for client in (ann, bob):
            client.wait_for("one", "two", "three", "four")

        def moved(messages: list[Any]) -> bool:
            latest = _dumps(stats)[-1]
            return (
                latest["sessions_active"] == 2
                and latest.get("transp_xhr") == 2
                and latest["packets_recv_ps"] > 0
                and latest["packets_sent_ps"] > 0
                and latest["connections_ps"] > 0
            )

        # Rates cover complete seconds, so they move within a second or two.
        stats.wait_until(moved)
        assert set(_dumps(stats)[-1]) >= OLD_KEYS

        # The stats client goes away: its connectionLost stops its LoopingCall.
        stats.close()
        assert _reopens(program, stats.base)
        time.sleep(1.5)
        program.assert_clean()
