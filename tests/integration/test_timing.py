"""Integration tests: heartbeats, expiry and session clean-up (PROTOCOL.md 6.5, 6.6, 6.10).

They use ``/heartbeat_echo`` (echo with heartbeat_delay 1 s and
disconnect_delay 2 s).  Waits are the spec's own; upper bounds are generous
and lower bounds only check that a timer did not fire far too early, so a
slow machine can make these tests slower but never makes them fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from .rawhttp import RawHTTP, Response, new_session_id, request

# Real timers of 1-2 s are waited out here.
pytestmark = pytest.mark.slow

PREFIX = "/heartbeat_echo"
HEARTBEAT = 1.0
DISCONNECT = 2.0
# Far beyond any timer in play: only a broken server reaches it.
PATIENCE = 10.0
PRELUDE = b"h" * 2048 + b"\n"

State = Callable[[], dict[str, Any]]


def _path(sid: str, transport: str) -> str:
    return f"{PREFIX}/000/{sid}/{transport}"


def poll(port: int, sid: str) -> Response:
    """One ``xhr`` poll on a fresh connection (patient enough for a heartbeat)."""
    with RawHTTP(port, timeout=PATIENCE) as conn:
        conn.send("POST", _path(sid, "xhr"))
        return conn.read_response()


def send(port: int, sid: str, body: bytes) -> Response:
    """One ``xhr_send`` on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr_send"), body=body)


def sessions(server_state: State) -> int:
    """Number of live sessions of ``/heartbeat_echo`` in the server registry."""
    count: int = server_state()["sessions"].get(PREFIX, 0)
    return count


def wait_for(predicate: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """Poll ``predicate`` every 0.1 s until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def test_idle_poll_gets_heartbeat(server: Any, sid: str) -> None:
    """Checklist 74: an idle xhr poll is answered ``h\\n`` after heartbeat_delay (1 s here)."""
    assert poll(server.port, sid).body == b"o\n"
    started = time.monotonic()
    resp = poll(server.port, sid)
    elapsed = time.monotonic() - started
    assert resp.status == 200
    assert resp.body == b"h\n"
    assert elapsed >= HEARTBEAT / 2, f"heartbeat after only {elapsed:.2f} s"
    # The heartbeat ended the poll normally; the session lives on.
    assert send(server.port, sid, b'["after-h"]').status == 204
    assert poll(server.port, sid).body == b'a["after-h"]\n'


def test_streaming_heartbeats_keep_session(server: Any) -> None:
    """Checklist 74 (streaming and jsonp forms, 6.5): idle receivers get heartbeats.

    A receiver attached for longer than disconnect_delay keeps its session
    alive: the disconnect timer only runs while no receiver is attached.
    """
    ids = {name: new_session_id() for name in ("xs", "es", "hf", "jp")}
    xs = RawHTTP(server.port, timeout=PATIENCE)
    es = RawHTTP(server.port, timeout=PATIENCE)
    hf = RawHTTP(server.port, timeout=PATIENCE)
    jp = RawHTTP(server.port, timeout=PATIENCE)
    try:
        xs.send("POST", _path(ids["xs"], "xhr_streaming"))
        es.send("GET", _path(ids["es"], "eventsource"))
        hf.send("GET", _path(ids["hf"], "htmlfile") + "?c=cb")
        opened = request(server.port, "GET", _path(ids["jp"], "jsonp") + "?c=cb")
        assert opened.body == b'cb("o");\r\n'
        jp.send("GET", _path(ids["jp"], "jsonp") + "?c=cb")
        started = time.monotonic()
        for conn in (xs, es, hf):
            assert conn.read_head().status == 200
        assert xs.read_chunk() == PRELUDE
        assert xs.read_chunk() == b"o\n"
        assert es.read_chunk() == b"\r\n"
        assert es.read_chunk() == b"data: o\r\n\r\n"
        assert len(hf.read_chunk()) > 1024
        assert hf.read_chunk() == b'<script>\np("o");\n</script>\r\n'

        assert jp.read_response().body == b'cb("h");\r\n'
        # Three heartbeats on each stream: attached well past disconnect_delay.
        for _ in range(3):
            assert xs.read_chunk() == b"h\n"
            assert es.read_chunk() == b"data: h\r\n\r\n"
            assert hf.read_chunk() == b'<script>\np("h");\n</script>\r\n'
        elapsed = time.monotonic() - started
        assert elapsed >= 3 * HEARTBEAT / 2, f"three heartbeats in {elapsed:.2f} s"

        assert send(server.port, ids["xs"], b'["alive"]').status == 204
        # A heartbeat may slip in before the echo; skip those.
        frame = xs.read_chunk()
        while frame == b"h\n":
            frame = xs.read_chunk()
        assert frame == b'a["alive"]\n'
    finally:
        for conn in (xs, es, hf, jp):
            conn.close()


def test_session_expires_after_disconnect_delay(server: Any, sid: str) -> None:
    """Checklist 134: no receiver for > disconnect_delay: session gone (404, then ``o``)."""
    assert poll(server.port, sid).body == b"o\n"
    detached_at = time.monotonic()
    # Still alive well within disconnect_delay (skipped only on a very slow run).
    resp = send(server.port, sid, b'["early"]')
    if time.monotonic() - detached_at < DISCONNECT / 2:
        assert resp.status == 204, "session expired before disconnect_delay"
    time.sleep(max(0.0, detached_at + DISCONNECT + 0.3 - time.monotonic()))

    def gone() -> bool:
        return send(server.port, sid, b'["late"]').status == 404

    assert wait_for(gone), "session still accepts sends long after disconnect_delay"
    # A new receiving request starts a brand-new session.
    assert poll(server.port, sid).body == b"o\n"


def test_session_kept_by_repolling(server: Any, sid: str) -> None:
    """Checklist 135: polling again within disconnect_delay keeps the session (no second ``o``)."""
    assert poll(server.port, sid).body == b"o\n"
    assert send(server.port, sid, b'["one"]').status == 204
    time.sleep(DISCONNECT * 0.6)
    assert poll(server.port, sid).body == b'a["one"]\n'
    repolled_at = time.monotonic()
    time.sleep(DISCONNECT * 0.6)
    # More than disconnect_delay since the session was created, less since the last poll.
    resp = send(server.port, sid, b'["two"]')
    if time.monotonic() - repolled_at < DISCONNECT * 0.9:
        assert resp.status == 204, "the re-poll did not restart the disconnect timer"
        assert poll(server.port, sid).body == b'a["two"]\n'


def test_registry_empties_after_sessions_end(server: Any, server_state: State) -> None:
    """Checklist 138: every ended session leaves the registry (on-close path runs, no leaks).

    Sessions end in three ways here: plain expiry after a poll, expiry after a
    heartbeat-answered poll, and a client abort of a streaming receiver.  The
    session count of /heartbeat_echo must return to 0 and no timer may
    outlive its session.
    """
    assert wait_for(lambda: sessions(server_state) == 0), "leftover sessions from earlier tests"
    baseline_calls = server_state()["delayed_calls"]

    expired, heartbeated, aborted = new_session_id(), new_session_id(), new_session_id()
    assert poll(server.port, expired).body == b"o\n"
    assert poll(server.port, heartbeated).body == b"o\n"
    assert poll(server.port, heartbeated).body == b"h\n"
    stream = RawHTTP(server.port)
    stream.send("POST", _path(aborted, "xhr_streaming"))
    assert stream.read_head().status == 200
    assert stream.read_chunk() == PRELUDE
    assert stream.read_chunk() == b"o\n"
    assert sessions(server_state) >= 2
    stream.close()

    assert wait_for(lambda: sessions(server_state) == 0), (
        f"/heartbeat_echo still has sessions: {server_state()}"
    )
    assert wait_for(lambda: server_state()["delayed_calls"] <= baseline_calls, 5.0), (
        f"timers left behind: baseline {baseline_calls}, now {server_state()}"
    )
    # The ids are free again: each gets a fresh session with its own ``o``.
    assert poll(server.port, expired).body == b"o\n"
    assert poll(server.port, aborted).body == b"o\n"
