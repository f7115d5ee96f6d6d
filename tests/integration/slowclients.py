"""Raw-socket clients and process probes for the robustness tests.

No client library here on purpose: these clients must be able to stop
reading (a tiny receive buffer, nothing read), send malformed bytes and
see exactly what the server wrote. Every blocking call has a timeout.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import struct
import threading
import time
from pathlib import Path

KEY = base64.b64encode(b"0123456789abcdef").decode()


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")  # pragma: no cover - not Linux


class RssSampler:
    """Samples a process's RSS in a thread; ``peak`` is the largest value seen."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def connect(port: int, rcvbuf: int | None = None, timeout: float = 10.0) -> socket.socket:
    """A TCP connection to 127.0.0.1; ``rcvbuf`` shrinks the receive window first."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def recv_until(sock: socket.socket, marker: bytes, limit: int = 1 << 20) -> tuple[bytes, bytes]:
    """Read until ``marker``; returns (data up to and including it, what followed)."""
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before {marker!r}: {data[:200]!r}")
        data += chunk
        if len(data) > limit:
            raise ValueError(f"no {marker!r} in the first {limit} bytes")
    end = data.index(marker) + len(marker)
    return data[:end], data[end:]


def upgrade_request(path: str, port: int, extra: str = "") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n"
    ).encode()


def client_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    mask_key: bytes | None = None,
) -> bytes:
    """One client frame, as a browser would send it (or deliberately not)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload)
    bit = 0x80 if mask else 0
    if size < 126:
        head = struct.pack("!BB", first, bit | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, bit | 127, size)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class FrameReader:
    """Parses server frames (never masked) from a socket."""

    def __init__(self, sock: socket.socket, pending: bytes = b"") -> None:
        self.sock = sock
        self.buffer = bytearray(pending)
        self.eof = False

    def _need(self, size: int, deadline: float) -> bool:
        while len(self.buffer) < size:
            if self.eof:
                return False
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(1 << 20)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self.eof = True
                return False
            self.buffer += chunk
        return True

    def frame(self, timeout: float = 10.0) -> tuple[int, bytes] | None:
        """The next ``(opcode, payload)``, or ``None`` at end of stream."""
        deadline = time.monotonic() + timeout
        if not self._need(2, deadline):
            return None
        first, second = self.buffer[0], self.buffer[1]
        size, offset = second & 0x7F, 2
        if size == 126:
            if not self._need(4, deadline):
                return None
            size, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif size == 127:
            if not self._need(10, deadline):
                return None
            size, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
        if not self._need(offset + size, deadline):
            return None
        payload = bytes(self.buffer[offset : offset + size])
        del self.buffer[: offset + size]
        return first & 0x0F, payload

    def until_close(self, timeout: float = 30.0) -> tuple[list[str], tuple[int, str] | None]:
        """Text messages up to the Close frame, and the Close's (code, reason)."""
        deadline = time.monotonic() + timeout
        texts: list[str] = []
        while time.monotonic() < deadline:
            frame = self.frame(max(0.01, deadline - time.monotonic()))
            if frame is None:
                return texts, None
            opcode, payload = frame
            if opcode == 0x1:
                texts.append(payload.decode())
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return texts, (code, payload[2:].decode())
        raise TimeoutError("no Close frame in time")


def open_websocket(port: int, path: str, rcvbuf: int | None = None) -> tuple[socket.socket, bytes]:
    """Handshake on a raw socket; returns the socket and bytes received after the head."""
    sock = connect(port, rcvbuf)
    sock.sendall(upgrade_request(path, port))
    head, rest = recv_until(sock, b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101 "):
        raise ConnectionError(f"upgrade refused: {head[:200]!r}")
    return sock, rest
