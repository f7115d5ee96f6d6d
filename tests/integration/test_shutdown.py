"""Graceful shutdown of a real ``examples/test_server.py`` process on SIGTERM.

The server installs ``sockjs.cyclone.shutdown`` as a "before shutdown"
trigger (``--grace`` seconds). A WebSocket and an xhr_streaming client that
are connected when SIGTERM arrives must both receive
``c[1001,"Server going away"]`` (the WebSocket also a Close frame 1001), and
the process must exit within the grace period.
"""

from __future__ import annotations

import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .conftest import ServerProcess, check_output, start_server, stop_server
from .rawhttp import RawHTTP, new_session_id

GOING_AWAY = 'c[1001,"Server going away"]'
#: Beyond the grace period: interpreter start-up is not part of it, but
#: process teardown is. Generous, as the machine is shared (never a speed test).
SLACK = 15.0


def _open_stream(port: int) -> RawHTTP:
    conn = RawHTTP(port, timeout=10.0)
    conn.send("POST", f"/echo/000/{new_session_id()}/xhr_streaming")
    head = conn.read_head()
    assert head.status == 200
    assert conn.read_chunk() == b"h" * 2048 + b"\n"
    assert conn.read_chunk() == b"o\n"
    return conn


def test_sigterm_closes_every_session_with_1001_and_exits_within_grace() -> None:
    grace = 5.0
    server = start_server("--grace", str(grace))
    try:
        with connect(
            f"ws://127.0.0.1:{server.port}/echo/000/{new_session_id()}/websocket",
            proxy=None,
            open_timeout=10,
            close_timeout=10,
            ping_interval=None,
        ) as ws:
            elapsed = _sigterm_with_clients(server, ws, grace)
        # Both clients were told at once: no reason to wait for the grace period.
        assert elapsed < grace + SLACK
    finally:
        output = stop_server(server)
    assert "Received SIGTERM" in output
    check_output(output)


def _sigterm_with_clients(server: ServerProcess, ws: ClientConnection, grace: float) -> float:
    assert ws.recv(timeout=10) == "o"
    stream = _open_stream(server.port)

    started = time.monotonic()
    server.proc.terminate()  # SIGTERM

    assert ws.recv(timeout=10) == GOING_AWAY
    try:
        ws.recv(timeout=10)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        assert (closed.rcvd.code, closed.rcvd.reason) == (1001, "Server going away")
    else:  # pragma: no cover - the server must close after the c frame
        raise AssertionError("the WebSocket stayed open after its close frame")
    assert stream.read_chunk() == (GOING_AWAY + "\n").encode()
    assert stream.read_chunk() == b""  # the stream ended
    stream.close()

    server.proc.wait(timeout=grace + SLACK)
    assert server.proc.returncode == 0
    return time.monotonic() - started


def test_sigterm_waits_for_polling_clients_at_most_the_grace_period() -> None:
    """A polling session gets its close frame on its next poll; a silent one is not waited for."""
    grace = 2.0
    server = start_server("--grace", str(grace))
    try:
        polling, silent = new_session_id(), new_session_id()
        with RawHTTP(server.port) as conn:
            conn.send("POST", f"/echo/000/{silent}/xhr")
            assert conn.read_response().body == b"o\n"
        # The polling client keeps its connection alive, as browsers do: the
        # listening port is closed at once on SIGTERM.
        keep_alive = RawHTTP(server.port, timeout=10.0)
        keep_alive.send("POST", f"/echo/000/{polling}/xhr")
        assert keep_alive.read_response().body == b"o\n"
        started = time.monotonic()
        server.proc.terminate()
        time.sleep(0.3)  # let the server start its shutdown
        keep_alive.send("POST", f"/echo/000/{polling}/xhr")
        assert keep_alive.read_response().body == (GOING_AWAY + "\n").encode()
        keep_alive.close()
        server.proc.wait(timeout=grace + SLACK)
        elapsed = time.monotonic() - started
        assert server.proc.returncode == 0
        assert elapsed < grace + SLACK
    finally:
        output = stop_server(server)
    assert "shutdown_grace_expired" in output  # the silent session was not told
    check_output(output)
