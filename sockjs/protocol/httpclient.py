"""The client's side of HTTP/1.1 (RFC 9112), as plain bytes: requests out, responses in.

What a test client needs to talk to the server over any byte pipe
(:mod:`sockjs.addons.testing` uses it over in-memory connections): the
bytes of a request, and a response read as it arrives, one piece per HTTP
chunk so that "one SockJS frame per chunk" stays visible.
"""

from __future__ import annotations

from collections.abc import Iterable


def request(
    method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes = b""
) -> bytes:
    """The bytes of one HTTP/1.1 request (``Host`` and ``Content-Length`` added when missing)."""
    headers = list(headers)
    names = {name.lower() for name, _ in headers}
    lines = [f"{method} {target} HTTP/1.1"]
    if "host" not in names:
        lines.append("Host: 127.0.0.1")
    lines.extend(f"{name}: {value}" for name, value in headers)
    if (body or method == "POST") and "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


class ResponseReader:
    """Incremental parser of one HTTP/1.1 response.

    :meth:`feed` returns the body as it completes: each HTTP chunk of a
    chunked response on its own, a ``Content-Length`` body whole, a body
    delimited by the end of the connection as it comes. After a ``101`` it
    stops; the bytes that followed the head are in :attr:`rest`.
    """

    __slots__ = ("_buffer", "_chunked", "_remaining", "complete", "headers", "rest", "status")

    def __init__(self) -> None:
        #: The status code, once the head was read (0 before).
        self.status = 0
        #: Header values by lower-case name (the last one of a repeated name).
        self.headers: dict[str, str] = {}
        #: The whole response was read.
        self.complete = False
        #: Bytes after a ``101`` head (the first frames of the new protocol).
        self.rest = b""
        self._buffer = b""
        self._chunked = False
        self._remaining: int | None = None  # bytes of the body still to come

    @property
    def upgraded(self) -> bool:
        """A ``101 Switching Protocols`` head was read."""
        return self.status == 101

    def feed(self, data: bytes) -> list[bytes]:
        """Consume ``data``; return the body pieces it completed."""
        self._buffer += data
        pieces: list[bytes] = []
        while not self.complete and not self.upgraded:
            if not self.status:
                if not self._read_head():
                    break
            elif self._chunked:
                if not self._read_chunk(pieces):
                    break
            elif self._remaining is None:  # delimited by the end of the connection
                if self._buffer:
                    pieces.append(self._buffer)
                    self._buffer = b""
                break
            elif len(self._buffer) >= self._remaining:
                body, self._buffer = self._buffer[: self._remaining], b""
                if body:
                    pieces.append(body)
                self.complete = True
            else:
                break
        return pieces

    def _read_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        status_line, *lines = self._buffer[:end].decode("latin-1").split("\r\n")
        self._buffer = self._buffer[end + 4 :]
        self.status = int(status_line.split(" ", 2)[1])
        for line in lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        if self.upgraded:
            self.rest, self._buffer = self._buffer, b""
        elif self.status in (204, 304):
            self.complete = True
        elif "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in self.headers:
            self._remaining = int(self.headers["content-length"])
        return True

    def _read_chunk(self, pieces: list[bytes]) -> bool:
        buffer = self._buffer
        end = buffer.find(b"\r\n")
        if end < 0:
            return False
        size = int(buffer[:end].split(b";", 1)[0], 16)
        start = end + 2
        if len(buffer) < start + size + 2:
            return False
        if size:
            pieces.append(buffer[start : start + size])
        else:
            self.complete = True  # a trailer-less last chunk: "0\r\n\r\n"
        self._buffer = buffer[start + size + 2 :]
        return True
