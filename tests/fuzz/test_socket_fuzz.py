"""Socket-level fuzzing of ``examples/test_server.py`` over 127.0.0.1.

At least 10,000 malformed or truncated HTTP requests and WebSocket frame
sequences (``fuzz_cases.generate``, fixed seed) go to a fresh server, 16
connections at a time. Each answer is judged as it arrives:

* no malformed upgrade is answered ``101`` (hixie-76 excepted: its ``101``
  precedes key3 by design);
* no client-caused request gets a 5xx other than the protocol's own 500
  answers (PROTOCOL.md 4.6), and every answer is well-formed HTTP;
* every WebSocket protocol violation (unmasked client frames, reserved bits
  or opcodes, fragmented or oversized control frames, bad close payloads) is
  refused with Close 1002, invalid UTF-8 with 1007, binary data with 1003,
  broken SockJS framing with 3000;
* nothing hangs: every connection is answered or closed in time.

Afterwards the server must still answer correctly, a SockJS WebSocket and a
raw WebSocket opened before the fuzzing must still echo, the server must
not have logged an unhandled exception, and its RSS must have grown by less
than 32 MiB.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fuzz_cases import PROTOCOL_500_BODIES, Case, acceptable_upgrade, frame, generate
from integration.conftest import ServerProcess, check_output, start_server, stop_server
from integration.rawhttp import request
from integration.slowclients import FrameReader, connect, open_websocket, rss_bytes

SEED = int(os.environ.get("SOCKJS_FUZZ_SEED", "20260525"))
HTTP_CASES = 7_000
WS_CASES = 3_000
WORKERS = 16
DEADLINE = 15.0  # per connection: answered or closed by then, or it hangs
MIB = 1024 * 1024

_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})[^\r\n]*\r\n")


@pytest.fixture
def target() -> Iterator[ServerProcess]:
    server = start_server()
    yield server
    check_output(stop_server(server))


# -- reading what the server wrote ---------------------------------------------------------


def _read_all(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """Everything until EOF; the flag is False if the deadline passed first."""
    data = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(data), False
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            return bytes(data), False
        except OSError:  # reset: the server closed with data unread
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk


def parse_responses(data: bytes) -> tuple[list[tuple[int, bytes]], str | None]:
    """``(status, body)`` of each complete response, and what was wrong, if anything."""
    responses: list[tuple[int, bytes]] = []
    while data:
        match = _STATUS.match(data)
        if match is None:
            return responses, f"not an HTTP response: {data[:80]!r}"
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return responses, None  # cut short by the close: judged on what came
        status = int(match.group(1))
        headers = {}
        for line in data[match.end() : end].split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        rest = data[end + 4 :]
        if status == 101:
            responses.append((status, b""))
            return responses, None
        if 100 <= status < 200 or status in (204, 304):
            responses.append((status, b""))
            data = rest
            continue
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body = bytearray()
            while True:
                line_end = rest.find(b"\r\n")
                if line_end < 0:
                    responses.append((status, bytes(body)))
                    return responses, None
                size = int(rest[:line_end], 16)
                if size == 0:
                    rest = rest[line_end + 4 :]
                    break
                body += rest[line_end + 2 : line_end + 2 + size]
                rest = rest[line_end + 2 + size + 2 :]
            responses.append((status, bytes(body)))
            data = rest
        elif b"content-length" in headers:
            length = int(headers[b"content-length"])
            responses.append((status, rest[:length]))
            data = rest[length:]
        else:
            responses.append((status, rest))
            return responses, None
    return responses, None


# -- running cases ----------------------------------------------------------------------------


def run_http(port: int, case: Case, seen: Counter[str]) -> list[str]:
    problems: list[str] = []
    deadline = time.monotonic() + DEADLINE
    with connect(port) as sock:
        try:
            sock.sendall(case.data)
            sock.shutdown(socket.SHUT_WR)  # no more: answer what you have
        except OSError:
            pass  # the server refused early (431, 413...) and closed
        data, closed = _read_all(sock, deadline)
    if not closed:
        problems.append("neither answered nor closed in time")
    responses, anomaly = parse_responses(data)
    if anomaly:
        problems.append(anomaly)
    for status, body in responses:
        seen[str(status)] += 1
        if status == 101 and (case.malformed_upgrade or not acceptable_upgrade(case.data)):
            problems.append("malformed upgrade answered 101")
        if status >= 500 and not (status == 500 and body in PROTOCOL_500_BODIES):
            problems.append(f"{status} {body[:100]!r}")
    if not responses:
        seen["closed without answer"] += 1
    return problems


def run_ws(port: int, case: Case, seen: Counter[str]) -> list[str]:
    sock, rest = open_websocket(port, case.path)
    with sock:
        reader = FrameReader(sock, rest)
        if case.path != "/echo/websocket" and reader.frame() != (0x1, b"o"):
            return ["no open frame"]
        try:
            sock.sendall(case.frames)
            if case.expect_close is None:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            texts, close = reader.until_close(timeout=DEADLINE)
        except TimeoutError:
            return ["no Close and no EOF in time"]
    code = close[0] if close else None
    seen[f"close {code}"] += 1
    if case.expect_close is None:
        return []
    problems = []
    if code not in case.expect_close:
        problems.append(f"closed with {code}, expected one of {sorted(case.expect_close)}")
    if case.expect_text is not None and case.expect_text not in texts:
        problems.append(f"no {case.expect_text!r} before the Close: {texts[-3:]}")
    return problems


def run_hixie(port: int, case: Case, seen: Counter[str]) -> list[str]:
    with connect(port) as sock:
        sock.sendall(case.data)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 16:
            chunk = sock.recv(4096)
            if not chunk:
                return ["hixie-76 handshake not answered"]
            data += chunk
        if not data.startswith(b"HTTP/1.1 101 "):
            return [f"valid hixie-76 handshake refused: {data[:80]!r}"]
        try:
            sock.sendall(case.frames)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        tail, closed = _read_all(sock, time.monotonic() + DEADLINE)
    seen["hixie"] += 1
    if not closed:
        return ["hixie-76 connection neither closed nor answered in time"]
    violation = case.tag in ("hixie_bad_lead", "hixie_length_frame", "hixie_bad_utf8")
    if violation and not tail.endswith(b"\xff\x00"):
        return [f"hixie-76 violation not closed with 0xFF 0x00: {tail[-20:]!r}"]
    return []


def run_case(port: int, case: Case, seen: Counter[str]) -> list[str]:
    runner = {"http": run_http, "ws": run_ws, "hixie": run_hixie}[case.family]
    try:
        problems = runner(port, case, seen)
    except (OSError, ValueError) as error:  # refused connection, reset, bad frame...
        problems = [f"client error {error!r}"]
    return [f"#{case.number} {case.tag}: {problem}" for problem in problems]


# -- the test ------------------------------------------------------------------------------------


def _still_echoes(reader: FrameReader, sock: socket.socket, sockjs: bool) -> None:
    message = b'["still here"]' if sockjs else b"still here"
    sock.sendall(frame(0x1, message))
    expected = b'a["still here"]' if sockjs else b"still here"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = reader.frame(timeout=10)
        assert got is not None, "the session opened before the fuzzing was closed"
        if got == (0x1, b"h"):
            continue  # a heartbeat
        assert got == (0x1, expected), got
        return
    raise AssertionError("no echo")


def _sessions(port: int) -> int:
    state = json.loads(request(port, "GET", "/_test/state").body)
    return int(sum(state["sessions"].values()))


def test_socket_fuzzing(target: ServerProcess) -> None:
    port, pid = target.port, target.proc.pid
    cases = generate(SEED, HTTP_CASES, WS_CASES)
    assert len(cases) >= HTTP_CASES + WS_CASES >= 10_000

    # Sessions that must survive the storm.
    sockjs_sock, rest = open_websocket(port, "/echo/000/survivor/websocket")
    sockjs_reader = FrameReader(sockjs_sock, rest)
    assert sockjs_reader.frame() == (0x1, b"o")
    raw_sock, raw_rest = open_websocket(port, "/echo/websocket")
    raw_reader = FrameReader(raw_sock, raw_rest)

    # Warm-up (imports, caches, allocator arenas), then the baseline.
    warm = generate(SEED + 1, 300, 100)
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda c: run_case(port, c, Counter()), warm))
    rss_before = rss_bytes(pid)

    seen: Counter[str] = Counter()
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda c: run_case(port, c, seen), cases))
    elapsed = time.monotonic() - started
    problems = [problem for found in results for problem in found]
    assert not problems, f"{len(problems)} problems, first ones:\n" + "\n".join(problems[:25])

    # The server still answers correctly ...
    greeting = request(port, "GET", "/echo")
    assert (greeting.status, greeting.body) == (200, b"Welcome to SockJS!\n")
    assert request(port, "GET", "/echo/info").status == 200
    sid = f"after{random.Random(SEED).randrange(10**9)}"
    assert request(port, "POST", f"/echo/000/{sid}/xhr").body == b"o\n"
    sent = request(port, "POST", f"/echo/000/{sid}/xhr_send", body=b'["after"]')
    assert sent.status == 204
    assert request(port, "POST", f"/echo/000/{sid}/xhr").body == b'a["after"]\n'
    # ... and the sessions opened before the fuzzing still echo.
    _still_echoes(sockjs_reader, sockjs_sock, sockjs=True)
    _still_echoes(raw_reader, raw_sock, sockjs=False)
    sockjs_sock.close()
    raw_sock.close()

    # Sessions the fuzzing opened expire (disconnect_delay 5 s); memory stays bounded.
    deadline = time.monotonic() + 20
    while _sessions(port) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _sessions(port) == 0
    rss_after = rss_bytes(pid)
    growth = rss_after - rss_before
    output = target.collected_output()
    for needle in ("Unhandled", "Traceback"):
        assert needle not in output, output[output.find(needle) - 2000 : output.find(needle) + 2000]
    print(
        f"\nfuzz: {len(cases)} inputs (seed {SEED}) in {elapsed:.1f} s, {WORKERS} at a time; "
        f"answers {dict(sorted(seen.items()))}; RSS {rss_before / MIB:.1f} -> "
        f"{rss_after / MIB:.1f} MiB ({growth / MIB:+.1f} MiB)"
    )
    assert growth < 32 * MIB


def test_parse_responses_reads_what_the_fuzzer_sees() -> None:
    """The judge itself: framing by length, chunks, 1xx, 101 and garbage."""
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 17\r\n\r\nPayload expected."
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\no\n\r\n0\r\n\r\n"
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x01o"
    )
    responses, anomaly = parse_responses(data)
    assert anomaly is None
    assert responses == [(100, b""), (500, b"Payload expected."), (200, b"o\n"), (101, b"")]
    assert parse_responses(b"garbage")[1] is not None
    assert struct.pack("!H", 1002)
