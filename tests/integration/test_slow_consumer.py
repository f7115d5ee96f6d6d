"""Slow consumers: clients that stop reading while the server sends 100 MB each.

``/firehose`` (examples/test_server.py) answers a message ``n`` with 2**n
``x`` characters and never ends a stream for ``response_limit``. A
WebSocket client and an xhr_streaming client ask it for 400 messages of
256 KiB (100 MiB) each and then stop reading, with a tiny receive window.
The server must not buffer what they do not read: once a session's queue
passes ``max_queued_bytes`` (1 MiB, the default) it is closed with
``c[1013,"Slow consumer: too many queued bytes"]``, and the server's
resident memory stays under a bound derived from that limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import ServerProcess, check_output, start_server, stop_server
from .rawhttp import new_session_id, request
from .slowclients import FrameReader, RssSampler, client_frame, connect, open_websocket, recv_until

MIB = 1024 * 1024
MAX_QUEUED = MIB  # the default max_queued_bytes
MESSAGE = 1 << 18  # /firehose answers "18" with 2**18 characters
REQUESTED = 400  # messages of 256 KiB: 100 MiB per client
SLOW_CONSUMER = 'c[1013,"Slow consumer: too many queued bytes"]'
LOG_LINE = "Limit max_queued_bytes reached on /firehose"
#: What one slow session may hold at most: its queue, the message being
#: queued when the limit is passed, and the transport's buffer (Twisted pauses
#: the producer past 64 KiB, but one write of a whole message lands first),
#: each also as the encoded frame. Four times that covers both sessions and
#: transient copies; 16 MiB covers the allocator keeping freed arenas.
BOUND = 2 * 4 * (MAX_QUEUED + 2 * MESSAGE) + 16 * MIB


@pytest.fixture
def firehose() -> Iterator[ServerProcess]:
    server = start_server()
    yield server
    check_output(stop_server(server))


def _stats(server: ServerProcess) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(request(server.port, "GET", "/_test/state").body)
    return state


def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        time.sleep(0.05)


def _read_chunked_stream(sock: Any, pending: bytes, timeout: float = 60.0) -> list[bytes]:
    """Every chunk of a chunked body, up to the terminating one."""
    data = bytearray(pending)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        line_end = data.find(b"\r\n")
        if line_end >= 0:
            size = int(bytes(data[:line_end]), 16)
            if size == 0:
                return chunks
            if len(data) >= line_end + 2 + size + 2:
                chunks.append(bytes(data[line_end + 2 : line_end + 2 + size]))
                del data[: line_end + 2 + size + 2]
                continue
        if time.monotonic() > deadline:
            raise TimeoutError("stream did not end")
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        more = sock.recv(1 << 20)
        if not more:
            raise ConnectionError("stream closed before its end")
        data += more


def test_slow_websocket_and_xhr_streaming_clients_are_cut_off(firehose: ServerProcess) -> None:
    baseline = _stats(firehose)
    ask = json.dumps(["18"] * REQUESTED).encode()

    # A WebSocket client that asks for 100 MiB and stops reading.
    ws, rest = open_websocket(firehose.port, f"/firehose/000/{new_session_id()}/websocket", 4096)
    reader = FrameReader(ws, rest)
    assert reader.frame() == (0x1, b"o")

    # An xhr_streaming client that does the same.
    sid = new_session_id()
    stream = connect(firehose.port, rcvbuf=4096)
    stream.sendall(
        f"POST /firehose/000/{sid}/xhr_streaming HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode()
    )
    head, pending = recv_until(stream, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    # The prelude and the open frame: read them, then read nothing more.
    prelude_and_open = b"801\r\n" + b"h" * 2048 + b"\n\r\n" + b"2\r\no\n\r\n"
    while len(pending) < len(prelude_and_open):
        pending += stream.recv(65536)
    assert pending.startswith(prelude_and_open)
    pending = pending[len(prelude_and_open) :]

    with RssSampler(firehose.proc.pid) as rss:
        start_rss = rss.peak
        ws.sendall(client_frame(0x1, ask))
        sent = request(
            firehose.port,
            "POST",
            f"/firehose/000/{sid}/xhr_send",
            headers={"Content-Type": "text/plain"},
            body=ask,
        )
        assert sent.status == 204
        # Both sessions end, each with a log line naming the limit; the
        # WebSocket one also leaves the registry at once.
        _wait_for(lambda: firehose.collected_output().count(LOG_LINE) >= 2)
        _wait_for(lambda: _stats(firehose)["sessions"]["/firehose"] <= 1)
        time.sleep(0.5)  # let any memory the server would wrongly use show up
    growth = rss.peak - start_rss
    assert rss.peak - start_rss < BOUND, (
        f"server RSS grew by {growth / MIB:.1f} MiB (bound {BOUND / MIB:.1f} MiB)"
    )

    # Reading again, each client finds the documented close at the end.
    texts, close = reader.until_close(timeout=60)
    assert texts[-1] == SLOW_CONSUMER
    assert close is not None and close[0] == 1000
    delivered = sum(len(t) for t in texts[:-1])
    assert delivered < 100 * MIB / 4, f"{delivered} bytes delivered"
    ws.close()

    chunks = _read_chunked_stream(stream, pending)
    assert chunks[-1] == (SLOW_CONSUMER + "\n").encode()
    assert sum(len(c) for c in chunks) < 100 * MIB / 4
    stream.close()

    # The streaming session keeps its close frame for the next receiver (6.7).
    replay = connect(firehose.port)
    replay.sendall(
        f"POST /firehose/000/{sid}/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    )
    recv_until(replay, (SLOW_CONSUMER + "\n").encode())
    replay.close()
    print(
        f"\nslow consumers: RSS {start_rss / MIB:.1f} MiB -> peak {rss.peak / MIB:.1f} MiB "
        f"(+{growth / MIB:.1f} MiB, bound +{BOUND / MIB:.1f} MiB); "
        f"delivered {delivered / MIB:.1f} MiB of 100 MiB on the WebSocket; "
        f"baseline sessions {baseline['sessions'].get('/firehose')}"
    )
