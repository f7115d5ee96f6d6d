"""HTTP/1.x request parsing the hardened connection needs (RFC 9112), without I/O.

The request line is checked strictly, a ``Content-Length`` must be digits
only, and a chunked request body is decoded incrementally by
:class:`ChunkedBody`, which refuses what it cannot accept with a
:class:`BodyError` carrying the status to answer.
"""

from __future__ import annotations

import re

_METHOD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"/[\x21-\x7e]*")
_ABSOLUTE = re.compile(rb"https?://[^/?#\s]+(/[\x21-\x7e]*)?", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]+")
_VERSION = re.compile(rb"HTTP/1\.[01]")
#: Longest chunk-size line (with extensions) accepted.
MAX_CHUNK_LINE = 1024


def parse_request_line(line: bytes) -> tuple[str, str, str] | None:
    """``(method, target, version)`` of a request line, or ``None`` if it is not valid.

    Absolute-form targets (RFC 9112 3.2.2) are reduced to their path, which
    is what a server routes on.
    """
    parts = line.split(b" ")
    if len(parts) == 3:
        absolute = _ABSOLUTE.fullmatch(parts[1])
        if absolute is not None:
            parts[1] = absolute.group(1) or b"/"
    if (
        len(parts) != 3
        or not _METHOD.fullmatch(parts[0])
        or not _TARGET.fullmatch(parts[1])
        or not _VERSION.fullmatch(parts[2])
    ):
        return None
    method, target, version = (part.decode("ascii") for part in parts)
    return method, target, version


def content_length(value: str) -> int | None:
    """A ``Content-Length`` value as a number, or ``None`` when it is not digits only.

    RFC 9110 8.6: ``int()`` alone would also take ``+10`` or ``1_0``.
    """
    value = value.strip()
    return int(value) if _DIGITS.fullmatch(value) else None


class BodyError(Exception):
    """A request body the server refuses: :attr:`status` (400 or 413) and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ChunkedBody:
    """Incremental decoder of a chunked request body (RFC 9112 7.1).

    ``limit`` caps the decoded size (413 beyond); ``None`` means no cap.
    """

    __slots__ = ("_parts", "_pending", "_remaining", "_size", "_trailers", "limit")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._pending = b""
        self._parts: list[bytes] = []
        self._size = 0
        self._remaining: int | None = None  # bytes left in the current chunk
        self._trailers = False

    def body(self) -> bytes:
        """The decoded body (complete once :meth:`feed` returned bytes)."""
        return b"".join(self._parts)

    def feed(self, data: bytes) -> bytes | None:
        """Consume ``data``; return leftover bytes once the body is complete.

        Raises :class:`BodyError` for malformed framing (400) or a body over
        ``limit`` (413).
        """
        buffer = self._pending + data
        while True:
            if self._trailers:
                end = buffer.find(b"\r\n")
                if end < 0:
                    break
                line, buffer = buffer[:end], buffer[end + 2 :]
                if not line:
                    return buffer
                continue
            if self._remaining is None:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > MAX_CHUNK_LINE:
                        raise BodyError(400, "chunk size line too long")
                    break
                line, buffer = buffer[:end], buffer[end + 2 :]
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BodyError(400, "invalid chunk size") from None
                if size < 0:
                    raise BodyError(400, "invalid chunk size")
                if size == 0:
                    self._trailers = True
                    continue
                self._size += size
                if self.limit is not None and self._size > self.limit:
                    raise BodyError(413, f"chunked body over the {self.limit} limit")
                self._remaining = size
                continue
            if len(buffer) < self._remaining + 2:
                break
            self._parts.append(buffer[: self._remaining])
            if buffer[self._remaining : self._remaining + 2] != b"\r\n":
                raise BodyError(400, "chunk not followed by CRLF")
            buffer = buffer[self._remaining + 2 :]
            self._remaining = None
        self._pending = buffer
        return None
