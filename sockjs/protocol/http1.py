"""Reading HTTP/1.x requests from a connection's bytes (RFC 9112), sans I/O.

A :class:`RequestReader` is fed what the socket receives and returns
events: a :class:`RequestHead`, :class:`Body` data, :data:`END` once the
request is complete, or a :class:`Refusal` (then nothing more). It holds
bytes after a complete request (up to ``max_pipelined_bytes``) until
:meth:`~RequestReader.response_done`: a parked long-poll is never
overtaken. It accepts, strictly: empty
lines before a request (RFC 9112 2.2); lines ended by CRLF; a request line
``METHOD target HTTP/1.0|1.1`` (an absolute-form target is read as its
path); header names that are tokens followed at once by ``:``, values
without control characters that decode as UTF-8 (obsolete line folding,
a line starting with a space or tab, is refused with 400 as RFC 9112 5.2
allows); a body framed by one ``Content-Length`` or, in HTTP/1.1, by
``Transfer-Encoding: chunked``, never both.

A refusal carries the status to answer (400, 408, 413, 431, or none: just
close), a reason, a stats ``kind`` and the limit hit. :class:`Limits` are
read when needed (settings may change under a live connection). Which
limit a request breaks depends only on its bytes, however they are split.

Time comes in as ``now``; :meth:`~RequestReader.next_deadline` says when
to call :meth:`~RequestReader.handle_timer`: ``idle_timeout`` from the
start for a first complete head, ``keepalive_timeout`` from a finished
response to the next request (then close without an answer),
``request_timeout`` from a request's first byte to its end (408); none
while a response is pending. The ``body_limit`` callable (path -> limit or
``None``) is asked once per request that has a body.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sockjs.protocol.httpparse import (
    CONTINUE,
    DEFAULTS,
    END,
    Body,
    BodyError,
    ChunkedBody,
    EndOfRequest,
    Event,
    Limits,
    Refusal,
    RequestHead,
    Settings,
    content_length,
    parse_field_line,
    parse_fields,
    parse_request_line,
)

__all__ = ["CONTINUE", "DEFAULTS", "END", "Body", "EndOfRequest", "Event", "Limits"]
__all__ += ["Refusal", "RequestHead", "RequestReader", "Settings"]

_BLANK_LINES = re.compile(rb"(?:\r\n)*")
_WAITING, _HEAD, _BODY, _CHUNKED, _PENDING, _CLOSED = range(6)


class RequestReader:
    """Requests of one connection, from its bytes; see the module docstring."""

    __slots__ = (
        "_body_limit",
        "_buffer",
        "_chunked",
        "_connected",
        "_fields",
        "_first",
        "_head_size",
        "_limits",
        "_path",
        "_pos",
        "_remaining",
        "_request_line",
        "_scan",
        "_since",
        "_state",
    )

    def __init__(self, limits: Limits, body_limit: Callable[[str], int | None], now: float) -> None:
        self._limits = limits
        self._body_limit = body_limit
        self._state = _WAITING
        self._buffer = bytearray()
        self._pos = 0  # bytes of _buffer already consumed
        self._scan = 0  # where to look for the next LF
        self._first = True  # no complete head yet: idle_timeout applies
        self._connected = now
        self._since = now  # start of the current request, or of the wait for one
        self._path: str | None = None
        self._head_size = 0
        self._request_line: tuple[str, str, str] | None = None
        self._fields: list[tuple[str, str]] = []
        self._remaining = 0
        self._chunked: ChunkedBody | None = None

    # -- input -------------------------------------------------------------------------

    def feed(self, data: bytes, now: float) -> list[Event]:
        """Consume received bytes (``b""`` to read what was held); return the events."""
        state = self._state
        if state == _CLOSED or not (data or self._buffer):
            return []  # closed, or nothing new and nothing held (the usual b"")
        self._buffer += data
        if state == _PENDING:
            held = len(self._buffer) - self._pos
            if held <= self._limits.max_pipelined_bytes:
                return []
            reason = "too much pipelined data"
            return [self._refuse(413, reason, "pipelined_too_much", "max_pipelined_bytes")]
        events: list[Event] = []
        while self._step(events, now):
            pass
        if self._pos:
            del self._buffer[: self._pos]
            self._scan = max(0, self._scan - self._pos)
            self._pos = 0
        return events

    def response_done(self, now: float) -> None:
        """The response to the last request is finished; then ``feed(b"", now)``."""
        if self._state == _PENDING:
            self._state = _WAITING
            self._since = now

    def detach(self) -> bytes:
        """Stop reading (the socket is taken over or closing); return the bytes held."""
        held = bytes(self._buffer[self._pos :])
        self._close()
        return held

    # -- time --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must be called, or ``None`` (no deadline)."""
        state = self._state
        limits = self._limits
        if state == _WAITING:
            wait = limits.idle_timeout if self._first else limits.keepalive_timeout
            return self._since + wait
        if state in (_HEAD, _BODY, _CHUNKED):
            deadline = self._since + limits.request_timeout
            if self._first:
                deadline = min(deadline, self._connected + limits.idle_timeout)
            return deadline
        return None

    def handle_timer(self, now: float) -> Refusal | None:
        """The timer fired at ``now``: a :class:`Refusal` once a deadline has passed."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return None
        if self._state == _WAITING:
            if self._first:
                return self._refuse(None, "no request received", "idle_timeout")
            return self._refuse(None, "no new request received", "keepalive_timeout")
        if self._first and deadline < self._since + self._limits.request_timeout:
            return self._refuse(408, "no complete request in time", "idle_timeout", "idle_timeout")
        return self._refuse(
            408, "request not received in time", "request_timeout", "request_timeout"
        )

    # -- parsing -----------------------------------------------------------------------

    def _step(self, events: list[Event], now: float) -> bool:
        """Read what the state allows; ``True`` to go on with the next state."""
        state = self._state
        if state == _WAITING:
            buffer = self._buffer
            match = _BLANK_LINES.match(buffer, self._pos)
            assert match is not None  # the pattern matches the empty string
            pos = self._pos = match.end()
            left = len(buffer) - pos
            if not left or (left == 1 and buffer[pos] == 0x0D):
                return False  # maybe one more empty line
            self._state = _HEAD
            self._since = now
            self._path = self._request_line = None
            self._head_size = 0
            self._fields = []
            self._scan = pos
            return True
        if state == _HEAD:
            return self._read_head(events)
        if state == _BODY:
            return self._read_body(events)
        if state == _CHUNKED:
            return self._read_chunked(events)
        return False

    def _read_head(self, events: list[Event]) -> bool:
        lines = self._whole_head() if self._request_line is None else None
        if lines is not None:  # the usual case: the whole head in one read
            refusal = self._line(lines[0])
            if refusal is None:
                fields = parse_fields(lines[1:])
                if isinstance(fields, list):
                    self._fields = fields
                    return self._start_body(events)
                refusal = self._line(lines[1 + fields])  # the malformed one
            assert refusal is not None
            events.append(refusal)
            return False
        buffer = self._buffer
        while True:
            start = self._pos
            newline = buffer.find(b"\n", self._scan)
            if newline < 0:
                self._scan = len(buffer)
                refusal = self._oversize(len(buffer) - start, complete=False)
                if refusal is not None:
                    events.append(refusal)
                return False
            self._scan = self._pos = newline + 1
            refusal = self._oversize(newline - start, complete=True)
            if refusal is None:
                if newline == start or buffer[newline - 1] != 0x0D:
                    refusal = self._refuse(400, "head line not ended by CRLF", "bad_request")
                elif newline - start == 1:  # the blank line: the head is complete
                    return self._start_body(events)
                else:
                    refusal = self._line(bytes(buffer[start : newline - 1]))
            if refusal is not None:
                events.append(refusal)
                return False

    def _whole_head(self) -> list[bytes] | None:
        """The lines of a head all there and within the limits, else ``None``."""
        buffer = self._buffer
        start = self._pos
        if self._scan != start:
            return None  # looked for already, when its first bytes came
        end = buffer.find(b"\r\n\r\n", start)
        limits = self._limits
        if end < 0 or end + 4 - start > limits.max_header_bytes:
            return None
        lines = bytes(buffer[start:end]).split(b"\r\n")
        if (
            len(lines) > limits.max_headers + 1
            or max(map(len, lines)) > limits.max_line_bytes
            or buffer.count(b"\n", start, end) != len(lines) - 1
        ):
            return None  # line by line: which limit or bare LF comes first
        self._pos = self._scan = end + 4
        return lines

    def _oversize(self, length: int, complete: bool) -> Refusal | None:
        """A line of ``length`` bytes before its LF (CR included) over a limit.

        The limit passed at the earliest byte of the line wins: its byte
        ``max_line_bytes + 1``, or the one making the head too large.
        """
        limits = self._limits
        longest = limits.max_line_bytes + 1
        room = limits.max_header_bytes - self._head_size
        line_over = length > longest
        head_over = length + complete > room
        if not (line_over or head_over):
            if complete:
                self._head_size += length + 1
            return None
        if line_over and (not head_over or longest <= room):
            reason = "header line too long"
        else:
            reason = "request head too large"
        return self._refuse(431, reason, "head_too_large", "max_header_bytes")

    def _line(self, line: bytes) -> Refusal | None:
        """One head line (CRLF excluded, not blank): the request line or a field."""
        if self._request_line is None:
            request_line = parse_request_line(line)
            if request_line is None:
                return self._refuse(400, "malformed request line", "bad_request")
            self._request_line = request_line
            self._path = request_line[1].partition("?")[0]
            return None
        if len(self._fields) >= self._limits.max_headers:
            return self._refuse(431, "request head too large", "head_too_large", "max_headers")
        field = parse_field_line(line)
        if field is None:
            return self._refuse(400, "malformed header line", "bad_request")
        self._fields.append(field)
        return None

    def _start_body(self, events: list[Event]) -> bool:
        """The head is complete: decide the body's framing and limit."""
        assert self._request_line is not None  # a head starts with its request line
        method, target, version = self._request_line
        headers = tuple(self._fields)
        framing = _framing(headers, version)
        if isinstance(framing, str):
            events.append(self._refuse(400, framing, "bad_request"))
            return False
        length, chunked, expect = framing
        self._first = False
        limit = self._body_limit(target.partition("?")[0]) if length or chunked else None
        if limit is not None and length > limit:
            reason = f"body of {length} bytes over the {limit} limit"
            events.append(self._refuse(413, reason, "body_too_large", "max_request_body"))
            return False
        events.append(RequestHead(method, target, version, headers, length, chunked, expect))
        self._fields = []
        if chunked:
            limits = self._limits
            self._chunked = ChunkedBody(limit, limits.max_header_bytes, limits.max_headers)
            self._state = _CHUNKED
        elif length:
            self._remaining = length
            self._state = _BODY
        else:
            self._end(events)
        return True

    def _read_body(self, events: list[Event]) -> bool:
        start = self._pos
        take = min(self._remaining, len(self._buffer) - start)
        if take:
            events.append(Body(bytes(self._buffer[start : start + take])))
            self._pos = start + take
            self._remaining -= take
        if self._remaining:
            return False
        self._end(events)
        return False

    def _read_chunked(self, events: list[Event]) -> bool:
        decoder = self._chunked
        assert decoder is not None
        try:
            rest = decoder.feed(bytes(self._buffer[self._pos :]))
        except BodyError as error:
            kind = {400: "bad_request", 413: "body_too_large"}.get(error.status, "head_too_large")
            events.append(self._refuse(error.status, error.reason, kind, error.limit))
            return False
        data = decoder.take()
        if data:
            events.append(Body(data))
        self._pos = len(self._buffer) - len(rest or b"")
        if rest is not None:
            self._chunked = None
            self._end(events)
        return False

    def _end(self, events: list[Event]) -> None:
        events.append(END)
        self._state = _PENDING
        self._scan = self._pos

    # -- helpers -----------------------------------------------------------------------

    def _refuse(
        self, status: int | None, reason: str, kind: str, limit: str | None = None
    ) -> Refusal:
        refusal = Refusal(status, reason, kind, limit, self._path)
        self._close()
        return refusal

    def _close(self) -> None:
        self._state = _CLOSED
        self._buffer = bytearray()
        self._pos = self._scan = 0
        self._chunked = None
        self._fields = []


def _framing(headers: tuple[tuple[str, str], ...], version: str) -> tuple[int, bool, bool] | str:
    """``(content_length, chunked, expect_continue)`` of a request, or why it is refused.

    ``Expect: 100-continue`` counts for a request with a body, in HTTP/1.1
    only (RFC 9110 10.1.1).
    """
    lengths: list[str] = []
    codings: list[str] = []
    expect = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            lengths.append(value)
        elif lowered == "transfer-encoding":
            codings.append(value)
        elif lowered == "expect":
            expect = expect or value.lower() == "100-continue"
    expect = expect and version == "HTTP/1.1"
    if codings:
        if lengths:
            return "both Content-Length and Transfer-Encoding"
        if version != "HTTP/1.1":
            return "Transfer-Encoding in an HTTP/1.0 request"
        if ",".join(codings).strip().lower() != "chunked":
            return "unsupported transfer coding"
        return 0, True, expect
    if len(lengths) > 1:
        return "more than one Content-Length"
    length = content_length(lengths[0]) if lengths else 0
    if length is None:
        return "invalid Content-Length"
    return length, False, expect and length > 0
