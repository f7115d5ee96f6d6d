"""SockJS clients for the cluster tests: WebSocket and xhr_streaming, through HAProxy.

Both kinds are synchronous and bounded in time: every wait has a deadline.
``served_by`` is the backend HAProxy chose (its ``X-Served-By`` header).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 10.0


class Closed(Exception):
    """The server (or the proxy) ended the connection."""


def new_path(prefix: str, transport: str, server_id: str | None = None) -> str:
    """``<prefix>/<server_id>/<session_id>/<transport>`` with fresh random ids."""
    server = server_id or str(100 + secrets.randbelow(900))
    return f"{prefix}/{server}/{secrets.token_hex(6)}/{transport}"


def parse_frames(text: str) -> tuple[list[Any], bool]:
    """Messages carried by one SockJS frame, and whether it was a close frame."""
    if text.startswith("a"):
        return list(json.loads(text[1:])), False
    if text.startswith("c"):
        return [], True
    return [], False  # "o", "h"


class WsClient:
    """A SockJS session over WebSocket."""

    def __init__(self, base_url: str, prefix: str) -> None:
        self.path = new_path(prefix, "websocket")
        url = base_url.replace("http://", "ws://", 1) + self.path
        # connect() is a context manager (websockets >= 17 warns otherwise).
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(
                url,
                compression=None,
                proxy=None,
                open_timeout=TIMEOUT,
                close_timeout=2,
                ping_interval=None,
            )
        )
        self.served_by = self.ws.response.headers.get("X-Served-By", "")
        self.received: list[Any] = []
        frame = self.ws.recv(timeout=TIMEOUT)
        if frame != "o":
            raise AssertionError(f"expected the open frame, got {frame!r}")

    def send(self, *messages: Any) -> None:
        """Send messages (one SockJS frame)."""
        self.ws.send(json.dumps(list(messages)))

    def poll(self, timeout: float) -> bool:
        """Read one frame (waiting up to ``timeout``); False if none came."""
        try:
            frame = self.ws.recv(timeout=max(timeout, 0.001))
        except TimeoutError:
            return False
        except ConnectionClosed as error:
            raise Closed(str(error)) from error
        messages, closed = parse_frames(str(frame))
        self.received.extend(messages)
        if closed:
            raise Closed(str(frame))
        return True

    def close(self) -> None:
        """Close the WebSocket."""
        self._stack.close()


class XhrStreamingClient:
    """A SockJS session over xhr_streaming (receiving) + xhr_send (sending)."""

    def __init__(self, base_url: str, prefix: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.session_path = new_path(prefix, "").rstrip("/")
        self.sock = socket.create_connection((self.host, self.port), timeout=TIMEOUT)
        try:
            self._start()
        except BaseException:
            self.sock.close()
            raise

    def _start(self) -> None:
        self.sock.sendall(
            f"POST {self.session_path}/xhr_streaming HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        self._raw = b""
        self._body = b""
        self._eof = False
        head = self._read_until(b"\r\n\r\n")
        status, *header_lines = head.decode("latin-1").split("\r\n")
        if " 200 " not in status + " ":
            raise AssertionError(f"xhr_streaming answered {status!r}")
        headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        lowered = {key.lower(): value for key, value in headers.items()}
        self.served_by = lowered.get("x-served-by", "")
        self._chunked = "chunked" in lowered.get("transfer-encoding", "")
        self.received: list[Any] = []
        self._opened = False
        self._parse()  # what came with the response head
        deadline = time.monotonic() + TIMEOUT
        while not self._opened:
            if not self.poll(deadline - time.monotonic()) and time.monotonic() > deadline:
                raise AssertionError("no open frame on xhr_streaming")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._raw:
            data = self.sock.recv(65536)
            if not data:
                raise Closed("connection closed before the response head")
            self._raw += data
        head, self._raw = self._raw.split(marker, 1)
        return head

    def _dechunk(self) -> None:
        if not self._chunked:
            self._body += self._raw
            self._raw = b""
            return
        while b"\r\n" in self._raw:
            size_line, rest = self._raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                self._eof = True
                self._raw = b""
                return
            if len(rest) < size + 2:
                return
            self._body += rest[:size]
            self._raw = rest[size + 2 :]

    def poll(self, timeout: float) -> bool:
        """Read what arrives within ``timeout``; False if nothing did."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError as error:
            raise Closed(str(error)) from error
        if not data:
            raise Closed("end of the xhr_streaming response")
        self._raw += data
        self._parse()
        return True

    def _parse(self) -> None:
        self._dechunk()
        *frames, self._body = self._body.split(b"\n")
        for frame in frames:
            text = frame.decode("utf-8")
            if text == "o":
                self._opened = True
            messages, closed = parse_frames(text)
            self.received.extend(messages)
            if closed:
                raise Closed(text)
        if self._eof:
            raise Closed("end of the xhr_streaming response")

    def send(self, *messages: Any) -> None:
        """Send messages with one xhr_send request (through the same proxy)."""
        status, _ = http_request(
            f"http://{self.host}:{self.port}",
            "POST",
            f"{self.session_path}/xhr_send",
            json.dumps(list(messages)).encode(),
        )
        if status != 204:
            raise AssertionError(f"xhr_send answered {status}")

    def close(self) -> None:
        """Drop the streaming response."""
        self.sock.close()


Client = WsClient | XhrStreamingClient


def connect_on(
    factory: Callable[[str, str], Client], base_url: str, prefix: str, backend: str
) -> Client:
    """A client whose session HAProxy put on ``backend`` (drawing server ids until it does)."""
    for _ in range(60):
        client = factory(base_url, prefix)
        if client.served_by == backend:
            return client
        client.close()
    raise AssertionError(f"60 sessions and none on {backend}")


def wait_for(
    client: Client, predicate: Callable[[list[Any]], bool], timeout: float = TIMEOUT
) -> list[Any]:
    """Read until ``predicate(client.received)`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate(client.received):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; received so far: {client.received!r}")
        client.poll(min(remaining, 0.5))
    return client.received


def drain(client: Client, seconds: float) -> list[Any]:
    """Read whatever arrives during ``seconds`` (for "nothing else came" checks)."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        client.poll(remaining)
    return client.received


def wait_closed(client: Client, timeout: float = TIMEOUT) -> None:
    """Wait until the connection ends; fail if it is still open after ``timeout``."""
    deadline = time.monotonic() + timeout
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            client.poll(remaining)
    except Closed:
        return
    raise AssertionError("the connection is still open")


def http_request(
    base_url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    """One HTTP/1.0 request; the status and the (lower-cased) headers, body in ``_body``."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"{method} {path} HTTP/1.0", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        name, _, value = line.partition(": ")
        found[name.lower()] = value
    found["_body"] = payload.decode("utf-8", "replace")
    return int(status_line.split()[1]), found
