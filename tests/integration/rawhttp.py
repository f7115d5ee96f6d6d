"""A tiny raw-socket HTTP/1.x client for byte-exact integration tests.

Real HTTP client libraries hide exactly what these tests have to look at:
header spelling and order, chunk boundaries, whether the server closed the
socket, whether a response arrived at all.  This client writes the request
bytes itself and parses the answer by hand, keeping everything it saw.

Every blocking operation is bounded by the connection timeout, so a test can
never hang on a misbehaving server; a timeout surfaces as ``TimeoutError``.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
import uuid
from collections import deque
from types import TracebackType
from typing import Self

HeaderArg = list[tuple[str, str]] | dict[str, str] | None

_CRLF = b"\r\n"
# Statuses that never carry a body, whatever the headers say (RFC 9112 6.3).
_BODYLESS = {204, 304}


def new_session_id() -> str:
    """Return a fresh random session id (uuid4 hex, 32 characters)."""
    return uuid.uuid4().hex


class Response:
    """One parsed HTTP response, as it appeared on the wire."""

    def __init__(self) -> None:
        self.status: int = 0
        self.reason: str = ""
        self.version: str = ""
        self.headers: list[tuple[str, str]] = []
        self.body: bytes = b""
        self.chunks: list[bytes] | None = None
        self.raw_head: bytes = b""
        # Method of the request this answers: a HEAD response has no body.
        self.request_method: str = "GET"

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Return every value of header ``name`` (case-insensitive), in wire order."""
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    def has_header(self, name: str) -> bool:
        """Tell whether header ``name`` is present at all (even if empty)."""
        return self.header(name) is not None

    @property
    def is_chunked(self) -> bool:
        """True when the response uses ``Transfer-Encoding: chunked``."""
        te = self.header("Transfer-Encoding")
        return te is not None and "chunked" in te.lower()

    def __repr__(self) -> str:
        return (
            f"<Response {self.version} {self.status} {self.reason!r} "
            f"headers={self.headers!r} body={self.body[:200]!r}>"
        )


class RawHTTP:
    """One TCP connection to ``host:port`` speaking hand-written HTTP/1.x."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.port = port
        self.host = host
        self.timeout = timeout
        self.sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._buf = bytearray()
        self._eof = False
        self._methods: deque[str] = deque()

    # -- context manager ---------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket (idempotent)."""
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- writing -------------------------------------------------------------

    def build_request(
        self,
        method: str,
        path: str,
        headers: HeaderArg = None,
        body: bytes = b"",
        version: str = "HTTP/1.1",
        content_length: bool = True,
    ) -> bytes:
        """Return the exact request bytes :meth:`send` would write."""
        items: list[tuple[str, str]]
        if headers is None:
            items = []
        elif isinstance(headers, dict):
            items = list(headers.items())
        else:
            items = list(headers)
        names = {k.lower() for k, _ in items}
        if "host" not in names:
            items.insert(0, ("Host", f"{self.host}:{self.port}"))
        wants_length = bool(body) or method.upper() == "POST"
        if content_length and wants_length and "content-length" not in names:
            items.append(("Content-Length", str(len(body))))
        head = f"{method} {path} {version}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in items)
        head += "\r\n"
        return head.encode("latin-1") + body

    def send(
        self,
        method: str,
        path: str,
        headers: HeaderArg = None,
        body: bytes = b"",
        version: str = "HTTP/1.1",
        content_length: bool = True,
    ) -> None:
        """Write one request.

        Adds ``Host`` unless given.  Adds ``Content-Length`` when the body is
        non-empty or the method is POST, unless ``content_length`` is False (then
        the header is never added) or the caller supplied one.
        """
        data = self.build_request(method, path, headers, body, version, content_length)
        self._methods.append(method.upper())
        self.sock.sendall(data)

    def send_raw(self, data: bytes) -> None:
        """Write arbitrary bytes to the socket."""
        self.sock.sendall(data)

    # -- low-level reading ---------------------------------------------------

    def _fill(self, deadline: float | None = None) -> bool:
        """Receive more bytes into the buffer; False on EOF.

        Raises TimeoutError when nothing arrives within the timeout.
        """
        if self._eof:
            return False
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline passed while reading")
            self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        finally:
            if deadline is not None:
                self.sock.settimeout(self.timeout)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def _read_line(self) -> bytes:
        """Read up to and including CRLF; return the line without it."""
        while True:
            idx = self._buf.find(_CRLF)
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[: idx + 2]
                return line
            if not self._fill():
                raise ConnectionError(
                    f"connection closed while reading a line; pending {bytes(self._buf)!r}"
                )

    def read_exact(self, n: int) -> bytes:
        """Read exactly ``n`` bytes (ConnectionError on early EOF)."""
        while len(self._buf) < n:
            if not self._fill():
                raise ConnectionError(
                    f"connection closed after {len(self._buf)} of {n} bytes: "
                    f"{bytes(self._buf)[:200]!r}"
                )
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def read_available(self, timeout: float = 0.2) -> bytes:
        """Return whatever arrives within ``timeout`` (maybe b""), without failing."""
        deadline = time.monotonic() + timeout
        while not self._eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                break
            self._fill()
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def read_until_close(self) -> bytes:
        """Read everything until the server closes the connection."""
        while self._fill():
            pass
        data = bytes(self._buf)
        self._buf.clear()
        return data

    @property
    def closed_by_peer(self) -> bool:
        """True once EOF from the server has been seen."""
        return self._eof

    # -- HTTP parsing --------------------------------------------------------

    def read_head(self) -> Response:
        """Read a status line and headers (not the body)."""
        while True:
            idx = self._buf.find(b"\r\n\r\n")
            if idx >= 0:
                break
            if not self._fill():
                raise ConnectionError(
                    f"connection closed before a full response head; got {bytes(self._buf)!r}"
                )
        raw = bytes(self._buf[: idx + 4])
        del self._buf[: idx + 4]
        resp = Response()
        resp.raw_head = raw
        if self._methods:
            resp.request_method = self._methods.popleft()
        lines = raw[:-4].split(b"\r\n")
        version, _, rest = lines[0].decode("latin-1").partition(" ")
        status, _, reason = rest.partition(" ")
        resp.version = version
        resp.status = int(status)
        resp.reason = reason
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            resp.headers.append((name, value.strip(" \t")))
        return resp

    def read_chunk(self) -> bytes:
        """Read one HTTP chunk; return its payload (b"" for the final zero chunk).

        For the final chunk, trailers and the closing blank line are consumed too.
        """
        size_line = self._read_line()
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError(f"bad chunk size line {size_line!r}") from None
        if size == 0:
            while self._read_line():
                pass
            return b""
        payload = self.read_exact(size)
        terminator = self.read_exact(2)
        if terminator != _CRLF:
            raise ValueError(f"chunk not terminated by CRLF: {terminator!r}")
        return payload

    def read_body(self, resp: Response) -> Response:
        """Read the body of ``resp`` according to its framing; return ``resp``."""
        if resp.request_method == "HEAD" or resp.status in _BODYLESS or 100 <= resp.status < 200:
            resp.body = b""
            return resp
        if resp.is_chunked:
            chunks: list[bytes] = []
            while True:
                chunk = self.read_chunk()
                if not chunk:
                    break
                chunks.append(chunk)
            resp.chunks = chunks
            resp.body = b"".join(chunks)
            return resp
        length = resp.header("Content-Length")
        if length is not None:
            resp.body = self.read_exact(int(length.strip()))
            return resp
        # No framing information: the body runs until the server closes.
        try:
            resp.body = self.read_until_close()
        except TimeoutError:
            raise TimeoutError(
                f"{resp.status} response has neither Content-Length nor chunked framing "
                f"and the server did not close the connection within {self.timeout} s: "
                f"{resp.raw_head!r}"
            ) from None
        return resp

    def read_response(self) -> Response:
        """Read a complete response (head and body)."""
        return self.read_body(self.read_head())

    # -- connection-state probes ---------------------------------------------

    def expect_closed(self, timeout: float = 2.0) -> bool:
        """True if the server closes the socket within ``timeout``.

        Any bytes arriving meanwhile are kept in the buffer (readable later).
        """
        deadline = time.monotonic() + timeout
        while not self._eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                return False
            self._fill()
        return True

    def expect_no_data(self, timeout: float = 1.0) -> bool:
        """True if nothing at all (no byte, no EOF) arrives within ``timeout``."""
        if self._buf or self._eof:
            return False
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return True
        self._fill()
        return False


def request(
    port: int,
    method: str,
    path: str,
    headers: HeaderArg = None,
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> Response:
    """Send one request on a fresh connection and return the full response."""
    with RawHTTP(port) as conn:
        conn.send(method, path, headers=headers, body=body, version=version)
        return conn.read_response()


# -- SockJS conveniences ------------------------------------------------------
# Small shared helpers for the integration tests; they only build requests and
# compare strings, so every assertion stays visible in the test itself.

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
"""The exact no-cache ``Cache-Control`` value (PROTOCOL.md 4.3)."""


def content_type_is(resp: Response, expected: str) -> bool:
    """Compare ``Content-Type`` the way PROTOCOL.md 4.5 does: spaces deleted, case kept."""
    actual = resp.header("Content-Type")
    return actual is not None and actual.replace(" ", "") == expected.replace(" ", "")


def xhr_poll(
    port: int,
    prefix: str,
    sid: str,
    server_id: str = "000",
    headers: HeaderArg = None,
) -> Response:
    """``POST <prefix>/<server_id>/<sid>/xhr`` on a fresh connection."""
    return request(port, "POST", f"{prefix}/{server_id}/{sid}/xhr", headers=headers)


def xhr_send(
    port: int,
    prefix: str,
    sid: str,
    payload: bytes,
    server_id: str = "000",
    headers: HeaderArg = None,
) -> Response:
    """``POST <prefix>/<server_id>/<sid>/xhr_send`` with ``payload`` on a fresh connection."""
    if headers is None:
        headers = [("Content-Type", "text/plain")]
    return request(
        port, "POST", f"{prefix}/{server_id}/{sid}/xhr_send", headers=headers, body=payload
    )
