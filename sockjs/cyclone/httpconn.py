"""A hardened HTTP connection for Cyclone applications that serve SockJS.

Cyclone 1.3's ``HTTPConnection`` buffers any body before a handler runs,
drops ``Transfer-Encoding: chunked`` bodies silently, has no limit on header
count or on how slowly a client may send, and parses a pipelined request
while the previous one is still parked. Opt in with one line::

    app = cyclone.web.Application(router.urls)
    app.protocol = sockjs.cyclone.SockJSHTTPConnection

What it adds:

* ``413`` decided from ``Content-Length`` *before* the body is read, using
  the ``max_request_body`` of the SockJS route the path belongs to (other
  routes: the application setting ``max_body_size``, unlimited by default);
* chunked request bodies decoded (and cut off at the same limit);
* ``431`` past :attr:`SockJSHTTPConnection.max_header_bytes` or
  :attr:`~SockJSHTTPConnection.max_headers` header lines;
* ``408`` and a closed socket when a request's head and body take longer
  than :attr:`~SockJSHTTPConnection.request_timeout` seconds (slowloris);
* a second request sent on the same connection waits until the first one's
  response is finished, so a parked long-poll is never overwritten.

Without it, a plain ``cyclone.web.Application`` still gets every SockJS
answer right; oversize bodies are refused with 413 only after Cyclone has
buffered them, and chunked bodies are rejected by the handlers as empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from tempfile import TemporaryFile
from typing import Any

from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from cyclone.escape import parse_qs_bytes
from cyclone.httpserver import HTTPConnection, HTTPRequest
from cyclone.httputil import HTTPHeaders, parse_multipart_form_data
from sockjs.cyclone import logevents
from sockjs.cyclone._clock import DelayedCall

_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
}


class SockJSHTTPConnection(HTTPConnection):  # type: ignore[misc]
    """``cyclone.httpserver.HTTPConnection`` with request limits enforced early."""

    #: Total bytes of one request head (request line and headers).
    max_header_bytes = 65536
    #: Header lines in one request.
    max_headers = 100
    #: Seconds a client may take to send one request's head and body.
    request_timeout = 30.0
    #: Bytes a client may pipeline while a response is still pending.
    max_pipelined_bytes = 65536

    # Set by Cyclone's HTTPConnection / Twisted's LineReceiver (untyped).
    content_length: int | None
    _buffer: bytes
    _busyReceiving: bool  # noqa: N815 - LineReceiver's name
    _contentbuffer: Any

    def connectionMade(self) -> None:
        """Start with the limits armed (Twisted API)."""
        super().connectionMade()
        self.request_callback = self._dispatch
        self._head_bytes = 0
        self._head_lines = 0
        self._timeout: DelayedCall | None = None
        self._chunked: _ChunkedBody | None = None
        self._taken_over = False
        self._refused = False

    # -- head -------------------------------------------------------------------------

    def lineReceived(self, line: bytes) -> None:
        """Count head bytes and lines before Cyclone parses them."""
        if self._refused:
            return
        if not self._headersbuffer and not line:
            return  # tolerate blank lines between requests (RFC 9112 2.2)
        if not self._headersbuffer:
            self._arm_timeout()
        self._head_bytes += len(line) + 2
        if line:  # the request line and header lines; not the blank end line
            self._head_lines += 1
        if self._head_bytes > self.max_header_bytes or self._head_lines > self.max_headers + 1:
            limit = (
                "max_header_bytes" if self._head_bytes > self.max_header_bytes else "max_headers"
            )
            self._refuse(431, "request head too large", "head_too_large", limit)
            return
        if not line:
            self._head_bytes = 0
            self._head_lines = 0
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        """A header line over ``MAX_LENGTH``: 431."""
        self._refuse(431, "header line too long", "head_too_large", "max_header_bytes")

    def _on_headers(self, data: bytes) -> None:
        # Replaces Cyclone's parser: the head is parsed once, validated, and
        # the body limit is decided before a single body byte is read.
        head = _parse_head(data)
        if head is None:
            self._refuse(400, "malformed request line or headers", "bad_request")
            return
        method, uri, version, headers = head
        path = uri.split("?", 1)[0]
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        declared = headers.get("Content-Length", "0").strip()
        # RFC 9110 8.6: digits only (int() would also take "+10" or "1_0").
        length = int(declared) if _DIGITS.fullmatch(declared) else -1
        # No body: no limit can refuse it (SockJS limits are >= 1), so the
        # scan of the routes in _body_limit is skipped.
        needs_limit = length or chunked or self._negative_app_limit()
        limit = self._body_limit(path) if needs_limit else None
        if length < 0 or (chunked and "Content-Length" in headers):
            self._refuse(400, "invalid body framing", "bad_request", path=path)
            return
        if limit is not None and length > limit:
            reason = f"body of {length} bytes over the {limit} limit"
            self._refuse(413, reason, "body_too_large", "max_request_body", path=path)
            return
        self._request = HTTPRequest(
            connection=self,
            method=method,
            uri=uri,
            version=version,
            headers=headers,
            remote_ip=self._remote_ip,
        )
        if chunked:
            self._chunked = _ChunkedBody(limit)
            self.setRawMode()
            return
        if length:
            if headers.get("Expect", "").lower() == "100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            # Large bodies spill to disk as in Cyclone; the file is dropped (and
            # closed) with the buffer once the body has been read.
            self._contentbuffer = BytesIO() if length < 100000 else TemporaryFile()  # noqa: SIM115
            self.content_length = length
            self.setRawMode()
            return
        self._cancel_timeout()
        self.request_callback(self._request)

    def _on_request_body(self, data: bytes) -> None:
        # Cyclone's version raises out of dataReceived on a form body that is
        # not UTF-8 (no answer at all); here the handler gets the raw body and
        # answers it (jsonp_send: 500 "Broken JSON encoding.").
        request = self._request
        request.body = data
        if request.method in ("POST", "PATCH", "PUT"):
            try:
                _parse_form(request, data)
            except ValueError:  # includes UnicodeDecodeError
                prefix = self._router_of(request.path)
                detail = "form body is not UTF-8"
                logevents.transport_error(prefix, "undecodable_form", detail, ip=self._remote_ip)
        self.request_callback(request)

    def _body_limit(self, path: str) -> int | None:
        service = self._service_for(path)
        if service is not None:
            return int(service.options.max_request_body)
        limit = self.factory.settings.get("max_body_size")
        return int(limit) if limit is not None else None

    def _negative_app_limit(self) -> bool:
        limit = self.factory.settings.get("max_body_size")
        return limit is not None and int(limit) < 0

    def _service_for(self, path: str) -> Any:
        """The SockJS service (router state) serving ``path``, if any."""
        for _host, specs in getattr(self.factory, "handlers", []):
            for spec in specs:
                if spec.regex.match(path):
                    service = spec.kwargs.get("service")
                    if service is not None:
                        return service
                    break
        return None

    def _router_of(self, path: str) -> str | None:
        service = self._service_for(path)
        return None if service is None else str(service.prefix)

    # -- bodies ---------------------------------------------------------------------------

    def rawDataReceived(self, data: bytes) -> None:
        """Body bytes: chunked decoding, or the WebSocket once taken over."""
        if self._refused:
            return
        if self._taken_over:
            self._on_raw(data)
            return
        chunked = self._chunked
        if chunked is None:
            buffer = self._contentbuffer
            super().rawDataReceived(data)
            if self.content_length is None:
                # Body complete: Cyclone drops its buffer without closing it
                # (a leaked temporary file for large bodies).
                self._cancel_timeout()
                if buffer is not None:
                    buffer.close()
            return
        try:
            rest = chunked.feed(data)
        except _BodyError as error:
            self._chunked = None
            if error.status == 413:
                self._refuse(413, error.reason, "body_too_large", "max_request_body")
            else:
                self._refuse(error.status, error.reason, "bad_request")
            return
        if rest is None:
            return
        self._chunked = None
        self._cancel_timeout()
        self.setLineMode()
        self._on_request_body(chunked.body())
        if rest:
            self.dataReceived(rest)

    # -- one request at a time ------------------------------------------------------------

    def _dispatch(self, request: HTTPRequest) -> None:
        self.factory(request)
        if self._request is request and not self._taken_over:
            # The response is parked (long-poll, stream): hold further bytes
            # without pausing the socket, so a client going away is still seen.
            self.paused = True

    def dataReceived(self, data: bytes) -> None:
        """Bound what a client may pipeline while a response is parked."""
        if self._refused:
            return
        holding = self.paused and not self._taken_over
        if holding and len(self._buffer) + len(data) > self.max_pipelined_bytes:
            # A parked poll has written nothing yet: the 413 is its answer. A
            # started stream cannot be interrupted by another response: just close.
            started = getattr(self._request, "sockjs_answering", False)
            self._refuse(
                413,
                "too much pipelined data",
                "pipelined_too_much",
                "max_pipelined_bytes",
                answer=not started,
            )
            return
        if (
            self.line_mode
            and not self._buffer
            and not self._headersbuffer
            and not self.paused
            and not self._busyReceiving
            and not data.startswith(b"\r\n")
        ):
            end = data.find(b"\r\n\r\n")
            if (
                end > 0
                and end <= self.MAX_LENGTH
                and end + 4 <= self.max_header_bytes
                and data.count(b"\r\n", 0, end + 2) <= self.max_headers + 1
            ):
                self._whole_head(data, end)
                return
        super().dataReceived(data)

    def _whole_head(self, data: bytes, end: int) -> None:
        # A read that starts with a whole request head within the limits (the
        # usual case): what LineReceiver and lineReceived() would do line by
        # line, at once. The request timer is only armed if a body is still
        # expected afterwards: a request answered at once never needs it.
        self._buffer = data[end + 4 :]  # the body or the next request
        self._busyReceiving = True
        try:
            self._on_headers(data[: end + 2])
        finally:
            self._busyReceiving = False
        transport = self.transport
        if transport is not None and transport.disconnecting:
            return
        LineReceiver.dataReceived(self, b"")  # type: ignore[no-untyped-call]  # the rest
        if (
            (self._chunked is not None or self.content_length is not None)
            and not self._refused
            and not self._taken_over
        ):
            self._arm_timeout()

    def _finish_request(self) -> None:
        super()._finish_request()
        if self.paused and not self._taken_over and self.transport is not None:
            self.paused = False
            if not self.transport.disconnecting:  # resume the held pipelined bytes
                self.dataReceived(b"")

    # -- taking over the socket (WebSocket) -----------------------------------------------

    def take_over(self, on_raw: Callable[[bytes], None]) -> bytes:
        """Hand every further byte to ``on_raw``; returns bytes already buffered."""
        self._taken_over = True
        self._cancel_timeout()
        self._on_raw = on_raw
        # Straight from the transport to on_raw: no HTTP parsing is left to do
        # (and it is the hot path of every WebSocket message).
        self.dataReceived = on_raw  # type: ignore[method-assign,assignment]
        self.paused = False
        buffered = self._buffer
        self._buffer = b""
        self.setRawMode()
        return bytes(buffered)

    # -- failures ------------------------------------------------------------------------

    def connectionLost(self, reason: Failure) -> None:
        """Cancel the request timer and drop a half-received body."""
        self._cancel_timeout()
        # A client gone mid-body leaves Cyclone's buffer (maybe a temporary
        # file) behind; so does a chunked body being decoded.
        buffer, self._contentbuffer = self._contentbuffer, None
        if buffer is not None:
            buffer.close()
        self._chunked = None
        super().connectionLost(reason)

    def _arm_timeout(self) -> None:
        if self._timeout is None:
            clock = self._clock()
            self._timeout = clock.callLater(self.request_timeout, self._timed_out)

    def _cancel_timeout(self) -> None:
        timeout, self._timeout = self._timeout, None
        if timeout is not None and timeout.active():
            timeout.cancel()

    def _timed_out(self) -> None:
        self._timeout = None
        self._refuse(408, "request not received in time", "request_timeout", "request_timeout")

    def _clock(self) -> Any:
        clock = getattr(self.factory, "sockjs_clock", None)
        if clock is None:
            from twisted.internet import reactor as clock
        return clock

    def _refuse(
        self,
        status: int,
        reason: str,
        kind: str,
        limit: str | None = None,
        path: str | None = None,
        answer: bool = True,
    ) -> None:
        # Counted and logged for the router the request belongs to, when known
        # (the path of the request being read or, for pipelined bytes, parked).
        request = self._request
        if path is None and request is not None:
            path = request.path
        service = self._service_for(path) if path is not None else None
        prefix = None
        if service is not None:
            service.stats.error(kind)
            prefix = service.prefix
        ip = self._remote_ip
        if limit is None:
            logevents.transport_error(prefix, kind, reason, status=status, ip=ip)
        else:
            logevents.limit_hit(prefix, kind, limit, reason, status=status, ip=ip)
        self._cancel_timeout()
        body = reason.encode() + b"\n"
        if self.transport is not None and not self.transport.disconnecting:
            if answer:
                self.transport.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (status, _REASONS[status].encode(), len(body), body)
                )
            self.transport.loseConnection()
        self._refused = True  # ignore whatever else arrives


#: Seconds a client gets to read what is still queued for it once the server
#: closed its connection, before the connection is aborted.
CLOSE_TIMEOUT = 10.0


def abort_if_stuck(transport: Any, clock: Any, timeout: float = CLOSE_TIMEOUT) -> Any:
    """Call right after ``loseConnection``: abort in ``timeout`` s if bytes are still queued.

    Twisted closes a connection only once its write buffer is flushed, so a
    client that stopped reading (a slow consumer that was just closed) would
    keep the socket and the buffer forever. Returns the timer (``None`` when
    nothing is queued); the caller cancels it when the connection is lost.
    """
    if getattr(transport, "dataBuffer", b"") or getattr(transport, "_tempDataLen", 0):
        return clock.callLater(timeout, transport.abortConnection)
    return None


def _queued_bytes(transport: Any) -> int:
    # Twisted's FileDescriptor keeps unsent bytes in dataBuffer (from
    # offset on) and in _tempDataBuffer (_tempDataLen bytes).
    buffered = getattr(transport, "dataBuffer", b"")
    return len(buffered) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)


class DrainWatchdog:
    """Aborts a connection whose queued bytes stop draining; see :func:`abort_if_not_draining`."""

    def __init__(self, transport: Any, clock: Any, timeout: float) -> None:
        self._transport = transport
        self._clock = clock
        self._timeout = timeout
        self._last = _queued_bytes(transport)
        self._producer = getattr(transport, "producer", None)
        self._timer: Any = clock.callLater(timeout, self._check)

    def _check(self) -> None:
        transport = self._transport
        queued = _queued_bytes(transport)
        if queued == 0 or getattr(transport, "producer", None) is not self._producer:
            # Drained, or a new streaming response holds the connection: the
            # client asked for more, so it read what was queued (HTTP/1.1
            # clients wait for a response before the next request). What is
            # queued now is that response's, under its own back-pressure.
            self._timer = None
        elif queued >= self._last:  # nothing read for a whole period
            self._timer = None
            self._transport.abortConnection()
        else:
            self._last = queued
            self._timer = self._clock.callLater(self._timeout, self._check)

    def cancel(self) -> None:
        """Stop watching (the connection is gone)."""
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()


def abort_if_not_draining(
    transport: Any, clock: Any, timeout: float = CLOSE_TIMEOUT
) -> DrainWatchdog | None:
    """Abort ``transport`` if its queued bytes do not shrink for ``timeout`` s.

    For a connection kept open (keep-alive) after a response whose last bytes
    are still queued: a client still reading is left alone however slow, one
    that stopped reading altogether does not keep the socket and the buffer
    forever. ``None`` when nothing is queued; the caller cancels the watchdog
    when the connection is lost.
    """
    if transport is None or _queued_bytes(transport) == 0:
        return None
    return DrainWatchdog(transport, clock, timeout)


def watch_loss(connection: Any, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` when the TCP connection is lost; returns an unwatch function.

    Cyclone's ``notifyFinish`` also fires when *another* request on the same
    connection finishes (plain Cyclone answers pipelined requests at once),
    which a parked long-poll must not take for the client going away.
    """
    watchers: list[Callable[[], None]] | None = getattr(connection, "_sockjs_loss_watchers", None)
    if watchers is None:
        watchers = []
        original = connection.connectionLost
        registered = watchers

        def connection_lost(reason: Failure) -> None:
            try:
                original(reason)
            finally:
                for watcher in list(registered):
                    watcher()

        # Instance attribute: Twisted looks connectionLost up on the protocol.
        connection.connectionLost = connection_lost
        connection._sockjs_loss_watchers = watchers
    watchers.append(callback)
    active = watchers

    def unwatch() -> None:
        if callback in active:
            active.remove(callback)

    return unwatch


def take_over_connection(connection: Any, on_raw: Callable[[bytes], None]) -> bytes:
    """Route a connection's further bytes to ``on_raw`` (after a 101 answer).

    Works with :class:`SockJSHTTPConnection` and with Cyclone's plain
    ``HTTPConnection``. Returns bytes the HTTP parser had already buffered.
    """
    if isinstance(connection, SockJSHTTPConnection):
        return connection.take_over(on_raw)
    connection.rawDataReceived = on_raw
    connection.content_length = None
    buffered = bytes(connection._buffer)
    connection._buffer = b""
    connection.setRawMode()
    return buffered


class _BodyError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _ChunkedBody:
    """Incremental decoder of a chunked request body (RFC 9112 7.1)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._pending = b""
        self._parts: list[bytes] = []
        self._size = 0
        self._remaining: int | None = None  # bytes left in the current chunk
        self._trailers = False

    def body(self) -> bytes:
        return b"".join(self._parts)

    def feed(self, data: bytes) -> bytes | None:
        """Consume ``data``; return leftover bytes once the body is complete."""
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
                    if len(buffer) > 1024:
                        raise _BodyError(400, "chunk size line too long")
                    break
                line, buffer = buffer[:end], buffer[end + 2 :]
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _BodyError(400, "invalid chunk size") from None
                if size < 0:
                    raise _BodyError(400, "invalid chunk size")
                if size == 0:
                    self._trailers = True
                    continue
                self._size += size
                if self.limit is not None and self._size > self.limit:
                    raise _BodyError(413, f"chunked body over the {self.limit} limit")
                self._remaining = size
                continue
            if len(buffer) < self._remaining + 2:
                break
            self._parts.append(buffer[: self._remaining])
            if buffer[self._remaining : self._remaining + 2] != b"\r\n":
                raise _BodyError(400, "chunk not followed by CRLF")
            buffer = buffer[self._remaining + 2 :]
            self._remaining = None
        self._pending = buffer
        return None


_METHOD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"/[\x21-\x7e]*")
_ABSOLUTE = re.compile(rb"https?://[^/?#\s]+(/[\x21-\x7e]*)?", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]+")
_VERSION = re.compile(rb"HTTP/1\.[01]")


def _parse_form(request: HTTPRequest, data: bytes) -> None:
    """Fill ``request.arguments``/``files`` the way Cyclone does, strictly."""
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        for name, values in parse_qs_bytes(data.decode("utf-8")).items():
            kept = [value for value in values if value]
            if kept:
                request.arguments.setdefault(name, []).extend(kept)
    elif content_type.startswith("multipart/form-data"):
        for field in content_type.split(";"):
            key, _, value = field.strip().partition("=")
            if key == "boundary" and value:
                parse_multipart_form_data(value.encode(), data, request.arguments, request.files)
                break


def _parse_head(data: bytes) -> tuple[str, str, str, HTTPHeaders] | None:
    """Request line and headers, or ``None`` when they are not valid HTTP/1.x."""
    eol = data.find(b"\r\n")
    if eol < 0:
        eol = len(data)
    parts = data[:eol].split(b" ")
    if len(parts) == 3:
        # Absolute-form targets (RFC 9112 3.2.2) are routed on their path.
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
    try:
        headers = HTTPHeaders.parse(data[eol:].decode("utf-8"))
    # ValueError includes UnicodeDecodeError; Cyclone raises KeyError for a
    # continuation line (obs-fold) before any header (found by tests/fuzz).
    except (ValueError, KeyError):
        return None
    method, uri, version = (part.decode("ascii") for part in parts)
    return method, uri, version, headers
