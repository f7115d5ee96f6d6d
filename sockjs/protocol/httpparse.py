"""The pieces of an HTTP/1.x request (RFC 9112), parsed without I/O.

The events and settings of :class:`sockjs.protocol.http1.RequestReader`
are defined here (and re-exported there). The request line and field
lines are checked strictly, a ``Content-Length``
must be digits only, and a chunked request body is decoded incrementally by
:class:`ChunkedBody`, which refuses what it cannot accept with a
:class:`BodyError` carrying the status to answer. The request as a whole
(head, body framing, limits, timing) is read by
:class:`sockjs.protocol.http1.RequestReader`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Protocol

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"/[\x21-\x7e]*")
_ABSOLUTE = re.compile(rb"https?://[^/?#\s]+(/[\x21-\x7e]*)?", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]+")
_VERSION = re.compile(rb"HTTP/1\.[01]")
#: The usual field line, checked in one step (unambiguous: linear).
_ASCII_FIELD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e]*")
#: A field value: visible ASCII, spaces, tabs and bytes >= 0x80 (RFC 9110 5.5).
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
#: Decoded, these end a line for ``str.splitlines``: refused in a value (no splitting).
_UNICODE_BREAKS = re.compile("[\x80-\x9f\u2028\u2029]")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
#: Longest chunk-size line (with extensions, without its CRLF) accepted.
MAX_CHUNK_LINE = 1024


_PHRASES = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
}
#: Sent before reading a body whose client asked ``Expect: 100-continue``.
CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class Limits(Protocol):
    """The settings a reader reads when it needs them; see :class:`Settings`."""

    @property
    def max_header_bytes(self) -> int:  # noqa: D102
        ...

    @property
    def max_headers(self) -> int:  # noqa: D102
        ...

    @property
    def max_line_bytes(self) -> int:  # noqa: D102
        ...

    @property
    def max_pipelined_bytes(self) -> int:  # noqa: D102
        ...

    @property
    def request_timeout(self) -> float:  # noqa: D102
        ...

    @property
    def idle_timeout(self) -> float:  # noqa: D102
        ...

    @property
    def keepalive_timeout(self) -> float:  # noqa: D102
        ...


@dataclass(frozen=True, slots=True)
class Settings:
    """Plain :class:`Limits` values; the defaults are the adapter's."""

    #: Bytes of one request head (request line, header lines, blank line).
    max_header_bytes: int = 65536
    #: Header lines of one request head (trailer lines of a chunked body too).
    max_headers: int = 100
    #: Bytes of one head line, without its CRLF.
    max_line_bytes: int = 16384
    #: Bytes held while a response is pending.
    max_pipelined_bytes: int = 65536
    #: Seconds for a request's head and body, from its first byte (408 past it).
    request_timeout: float = 30.0
    #: Seconds from the connection's start to its first complete request head.
    idle_timeout: float = 75.0
    #: Seconds from a finished response to the first byte of the next request.
    keepalive_timeout: float = 75.0


DEFAULTS: Final = Settings()


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A request line and its header fields; its body (if any) follows."""

    method: str
    #: The request target (origin-form; an absolute-form target reduced to it).
    target: str
    version: str
    #: ``(name, value)`` pairs in order, names as sent.
    headers: tuple[tuple[str, str], ...]
    #: Bytes of a ``Content-Length`` body (0 when chunked or bodiless).
    content_length: int = 0
    chunked: bool = False
    #: Write :data:`CONTINUE` now: the client waits for it before its body.
    expect_continue: bool = False

    @property
    def path(self) -> str:
        """The target without its query."""
        return self.target.partition("?")[0]


@dataclass(frozen=True, slots=True)
class Body:
    """Bytes of the current request's body (decoded, for a chunked body)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfRequest:
    """The current request is complete: answer it."""


#: The one :class:`EndOfRequest` event.
END: Final = EndOfRequest()


@dataclass(frozen=True, slots=True)
class Refusal:
    """The connection ends: answer :attr:`status` (if any), then close.

    ``kind`` is the stats counter, ``limit`` the setting that was hit (or
    ``None`` for a malformed request or an idle connection), ``path`` the
    path of the request concerned when its request line was read (for a
    keep-alive timeout, the previous request's).
    """

    status: int | None
    reason: str
    kind: str
    limit: str | None = None
    path: str | None = None

    def answer(self) -> bytes:
        """The HTTP response to write before closing (empty without a status)."""
        if self.status is None:
            return b""
        body = self.reason.encode() + b"\n"
        return b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=UTF-8\r\n" % (
            self.status,
            _PHRASES[self.status].encode(),
        ) + b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)


Event = RequestHead | Body | EndOfRequest | Refusal


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
        or not _TOKEN.fullmatch(parts[0])
        or not _TARGET.fullmatch(parts[1])
        or not _VERSION.fullmatch(parts[2])
    ):
        return None
    method, target, version = (part.decode("ascii") for part in parts)
    return method, target, version


def parse_field_line(line: bytes) -> tuple[str, str] | None:
    """``(name, value)`` of one header field line (without its CRLF), or ``None``.

    The name must be a token followed at once by ``:`` (RFC 9112 5.1: no
    whitespace before the colon); the value loses its surrounding spaces and
    tabs, may not hold control characters (RFC 9110 5.5: CR, LF and NUL
    are dangerous) and must decode as UTF-8, without C1 controls or Unicode
    line separators (a value split by whoever reads it later would smuggle
    a header line in). A line starting with a space or a tab, an obsolete
    line folding (RFC 9112 5.2), is refused like any other malformed line.
    """
    # No regular expression with backtracking here: a line is up to 16 KiB.
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):
        return None
    value = value.strip(b" \t")
    if not _FIELD_VALUE.fullmatch(value):
        return None
    if value.isascii():
        return name.decode("ascii"), value.decode("ascii")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _UNICODE_BREAKS.search(text):
        return None
    return name.decode("ascii"), text


def parse_fields(lines: list[bytes]) -> list[tuple[str, str]] | int:
    """:func:`parse_field_line` of each line, or the index of the first malformed one."""
    fields = []
    for index, line in enumerate(lines):
        if _ASCII_FIELD.fullmatch(line):
            name, _, value = line.partition(b":")
            fields.append((name.decode("ascii"), value.strip(b" \t").decode("ascii")))
            continue
        field = parse_field_line(line)
        if field is None:
            return index
        fields.append(field)
    return fields


def content_length(value: str) -> int | None:
    """A ``Content-Length`` value as a number, or ``None`` when it is not digits only.

    RFC 9110 8.6: ``int()`` alone would also take ``+10`` or ``1_0``.
    """
    value = value.strip()
    return int(value) if _DIGITS.fullmatch(value) else None


class BodyError(Exception):
    """A request body the server refuses: :attr:`status` (400, 413 or 431) and why.

    :attr:`limit` names the limit that was hit (``None`` for malformed framing).
    """

    def __init__(self, status: int, reason: str, limit: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.limit = limit


# ChunkedBody states.
_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedBody:
    """Incremental decoder of a chunked request body (RFC 9112 7.1).

    ``limit`` caps the decoded size (413 beyond; ``None``: no cap). The
    trailer section is capped like a request head: ``max_trailer_bytes``
    bytes and ``max_trailers`` field lines (431 beyond); its fields are
    skipped. A chunk-size line longer than :data:`MAX_CHUNK_LINE` is a 400.

    Decoding is linear in the bytes fed, however they are split: chunk data
    is taken as it arrives, and only a partial size or trailer line is kept
    between two calls (never searched again).
    """

    __slots__ = (
        "_line",
        "_parts",
        "_remaining",
        "_size",
        "_state",
        "_trailer_bytes",
        "_trailers",
        "limit",
        "max_trailer_bytes",
        "max_trailers",
    )

    def __init__(
        self, limit: int | None, max_trailer_bytes: int = 65536, max_trailers: int = 100
    ) -> None:
        self.limit = limit
        self.max_trailer_bytes = max_trailer_bytes
        self.max_trailers = max_trailers
        self._state = _SIZE
        self._line = bytearray()  # the partial size or trailer line
        self._parts: list[bytes] = []
        self._size = 0
        self._remaining = 0  # bytes of the current chunk (or of its CRLF) still expected
        self._trailer_bytes = 0
        self._trailers = 0

    def body(self) -> bytes:
        """The decoded bytes not yet taken (the whole body once :meth:`feed` returned bytes)."""
        return b"".join(self._parts)

    def take(self) -> bytes:
        """The decoded bytes not yet taken; they are forgotten."""
        data = self.body()
        self._parts = []
        return data

    def feed(self, data: bytes) -> bytes | None:
        """Consume ``data``; return the bytes after the body once it is complete.

        Raises :class:`BodyError` for malformed framing (400), a body over
        ``limit`` (413) or a trailer section over its caps (431).
        """
        pos = 0
        end = len(data)
        while self._state != _DONE:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                if not take:
                    return None
                self._parts.append(data[pos : pos + take])
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _DATA_END
            elif state == _DATA_END:
                if pos == end:
                    return None
                # _remaining is 1 once the CR was seen.
                if data[pos] != (0x0A if self._remaining else 0x0D):
                    raise BodyError(400, "chunk not followed by CRLF")
                pos += 1
                if self._remaining:
                    self._remaining = 0
                    self._state = _SIZE
                else:
                    self._remaining = 1
            else:
                newline = data.find(b"\n", pos)
                if newline < 0:
                    self._line += data[pos:]
                    self._check_line(len(self._line), complete=False)
                    return None
                self._line += data[pos:newline]
                pos = newline + 1
                line, self._line = bytes(self._line), bytearray()
                self._check_line(len(line), complete=True)
                if not line.endswith(b"\r"):
                    raise BodyError(400, "chunked body line not ended by CRLF")
                if state == _SIZE:
                    self._size_line(line[:-1])
                elif len(line) == 1:
                    self._state = _DONE
        return data[pos:]

    def _check_line(self, length: int, complete: bool) -> None:
        """Refuse a line (``length`` bytes before its LF, CR included) over a cap."""
        if self._state == _SIZE:
            if length > MAX_CHUNK_LINE + 1:
                raise BodyError(400, "chunk size line too long")
            return
        total = self._trailer_bytes + length + complete
        if total > self.max_trailer_bytes:
            raise BodyError(431, "trailer section too large", "max_header_bytes")
        if complete:
            self._trailer_bytes = total
            if length > 1:  # a field line, not the blank line ending the section
                self._trailers += 1
                if self._trailers > self.max_trailers:
                    raise BodyError(431, "too many trailer fields", "max_headers")

    def _size_line(self, line: bytes) -> None:
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            raise BodyError(400, "invalid chunk size")
        size = int(match.group(1), 16)
        if not size:
            self._state = _TRAILER
            return
        self._size += size
        if self.limit is not None and self._size > self.limit:
            raise BodyError(413, f"chunked body over the {self.limit} limit", "max_request_body")
        self._remaining = size
        self._state = _DATA
