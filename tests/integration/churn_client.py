"""Session churn client, run as its own process by ``test_churn.py``.

    python churn_client.py PORT SERVER_PID COUNT [FIRST] [CONCURRENCY]

Opens COUNT sessions on ``/echo`` (session numbers FIRST... so that several
clients can share one run), many at a time, over a fixed mix of every
transport: each session opens, echoes one message where the transport
allows it on one connection, and ends the way its transport ends (WebSocket
Close, or the client dropping its receiving request, PROTOCOL.md 6.8).
At the halfway mark it samples the server's RSS. Prints one JSON object:
``{"done": {transport: n}, "elapsed": s, "rss_half": bytes}``.

Standard library only and outside the test process, so that neither
pytest nor coverage slows the client down: with two cores, the client's
speed bounds the churn rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

STEP_TIMEOUT = 15.0
MASK = b"\x01\x02\x03\x04"
KEY = "MDEyMzQ1Njc4OWFiY2RlZg=="

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def masked(opcode: int, payload: bytes) -> bytes:
    head = struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload))
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


async def _head(reader: Reader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        raise AssertionError(head[:100])
    return head


async def _response(reader: Reader) -> tuple[int, bytes]:
    """A Content-Length response (every non-streaming SockJS answer has one)."""
    head = await _head(reader)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return int(head[9:12]), await reader.readexactly(length)


async def _expect(reader: Reader, status: int, body: bytes | None = None) -> None:
    got_status, got_body = await _response(reader)
    if got_status != status or (body is not None and got_body != body):
        raise AssertionError((got_status, got_body, status, body))


async def _chunk(reader: Reader) -> bytes:
    size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
    return (await reader.readexactly(size + 2))[:-2]


def _post(path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


async def _close(writer: Writer) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def websocket(port: int, sid: str, raw: bool = False) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = "/echo/websocket" if raw else f"/echo/000/{sid}/websocket"
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await _head(reader)
    if not raw and await reader.readexactly(3) != b"\x81\x01o":
        raise AssertionError("no open frame")
    message, expected = (b"x", b"x") if raw else (b'["x"]', b'a["x"]')
    writer.write(masked(0x1, message))
    if await reader.readexactly(2 + len(expected)) != bytes([0x81, len(expected)]) + expected:
        raise AssertionError("no echo")
    writer.write(masked(0x8, b"\x03\xe8"))
    await reader.read(64)  # the server's Close
    await _close(writer)


async def polling(port: int, sid: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_post(f"/echo/000/{sid}/xhr"))
    await _expect(reader, 200, b"o\n")
    writer.write(_post(f"/echo/000/{sid}/xhr_send", b'["x"]'))  # keep-alive, as browsers
    await _expect(reader, 204)
    writer.write(_post(f"/echo/000/{sid}/xhr"))
    await _expect(reader, 200, b'a["x"]\n')
    writer.write(_post(f"/echo/000/{sid}/xhr"))  # parks; then the client goes away
    await asyncio.sleep(0)
    await _close(writer)


async def jsonp(port: int, sid: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_get(f"/echo/000/{sid}/jsonp?c=cb"))
    await _expect(reader, 200, b'cb("o");\r\n')
    form = "Content-Type: application/x-www-form-urlencoded\r\n"
    writer.write(_post(f"/echo/000/{sid}/jsonp_send", b"d=%5B%22x%22%5D", form))
    await _expect(reader, 200, b"ok")
    writer.write(_get(f"/echo/000/{sid}/jsonp?c=cb"))
    await _expect(reader, 200, b'cb("a[\\"x\\"]");\r\n')
    writer.write(_get(f"/echo/000/{sid}/jsonp?c=cb"))
    await asyncio.sleep(0)
    await _close(writer)


async def streaming(port: int, sid: str, transport: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if transport == "xhr_streaming":
        writer.write(_post(f"/echo/000/{sid}/xhr_streaming"))
    else:
        query = "?c=cb" if transport == "htmlfile" else ""
        writer.write(_get(f"/echo/000/{sid}/{transport}{query}"))
    await _head(reader)
    await _chunk(reader)  # prelude
    if b"o" not in await _chunk(reader):
        raise AssertionError("no open frame")
    await _close(writer)  # the stream's client goes away: the session ends now


Run = Callable[[int, str], Awaitable[None]]
MIX: list[tuple[str, Run]] = [
    ("websocket", websocket),
    ("xhr", polling),
    ("xhr_streaming", lambda port, sid: streaming(port, sid, "xhr_streaming")),
    ("rawwebsocket", lambda port, sid: websocket(port, sid, raw=True)),
    ("jsonp", jsonp),
    ("eventsource", lambda port, sid: streaming(port, sid, "eventsource")),
    ("websocket", websocket),
    ("htmlfile", lambda port, sid: streaming(port, sid, "htmlfile")),
]


async def churn(port: int, pid: int, count: int, first: int, concurrency: int) -> dict[str, object]:
    done: Counter[str] = Counter()
    numbers = iter(range(first, first + count))
    result: dict[str, object] = {}

    async def worker() -> None:
        for number in numbers:
            name, run = MIX[number % len(MIX)]
            await asyncio.wait_for(run(port, f"churn{number}"), STEP_TIMEOUT)
            done[name] += 1
            if sum(done.values()) == count // 2:
                result["rss_half"] = rss_bytes(pid)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result["elapsed"] = time.monotonic() - started
    result["done"] = dict(done)
    return result


def main(argv: list[str]) -> None:
    port, pid, count = int(argv[0]), int(argv[1]), int(argv[2])
    first = int(argv[3]) if len(argv) > 3 else 0
    concurrency = int(argv[4]) if len(argv) > 4 else 48
    print(json.dumps(asyncio.run(churn(port, pid, count, first, concurrency))), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
