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

from collections.abc import Callable
from io import BytesIO
from tempfile import TemporaryFile
from typing import Any

from twisted.python.failure import Failure

from cyclone.escape import parse_qs_bytes
from cyclone.httpserver import HTTPConnection, HTTPRequest
from cyclone.httputil import HTTPHeaders, parse_multipart_form_data
from sockjs.cyclone import _twisted, logevents
from sockjs.cyclone._clock import DelayedCall
from sockjs.cyclone._service import Service
from sockjs.protocol.httpparse import BodyError, ChunkedBody, content_length, parse_request_line

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

    # Set by Cyclone's HTTPConnection (untyped).
    content_length: int | None
    _contentbuffer: Any

    def connectionMade(self) -> None:
        """Start with the limits armed (Twisted API)."""
        super().connectionMade()
        self.request_callback = self._dispatch
        self._head_bytes = 0
        self._head_lines = 0
        self._timeout: DelayedCall | None = None
        self._chunked: ChunkedBody | None = None
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
        declared = content_length(headers.get("Content-Length", "0"))
        length = -1 if declared is None else declared
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
            self._chunked = ChunkedBody(limit)
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

    def _service_for(self, path: str) -> Service | None:
        """The SockJS service (router state) serving ``path``, if any."""
        for _host, specs in getattr(self.factory, "handlers", []):
            for spec in specs:
                if spec.regex.match(path):
                    service = spec.kwargs.get("service")
                    return service if isinstance(service, Service) else None
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
        except BodyError as error:
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
        if holding and _twisted.line_buffer_size(self) + len(data) > self.max_pipelined_bytes:
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
            and not self._headersbuffer
            and not self.paused
            and not data.startswith(b"\r\n")
            and not _twisted.is_receiving(self)
            and not _twisted.line_buffer_size(self)
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
        _twisted.set_line_buffer(self, data[end + 4 :])  # the body or the next request
        _twisted.as_parser_step(self, lambda: self._on_headers(data[: end + 2]))
        transport = self.transport
        if transport is not None and transport.disconnecting:
            return
        _twisted.resume_parsing(self)  # the rest
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
        self.paused = False
        buffered = _twisted.take_raw(self, on_raw)
        # Straight from the transport to on_raw from now on: no HTTP parsing
        # is left to do (and it is the hot path of every WebSocket message).
        _twisted.route_bytes(self, on_raw)
        return buffered

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
        ip = self._remote_ip
        if service is not None:
            service.telemetry.fault(kind, reason, limit=limit, status=status, ip=ip)
        elif limit is None:
            logevents.transport_error(None, kind, reason, status=status, ip=ip)
        else:
            logevents.limit_hit(None, kind, limit, reason, status=status, ip=ip)
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


def take_over(connection: Any, on_raw: Callable[[bytes], None]) -> bytes:
    """Route a connection's further bytes to ``on_raw`` (after a 101 answer).

    Works with :class:`SockJSHTTPConnection` and with Cyclone's plain
    ``HTTPConnection``. Returns bytes the HTTP parser had already buffered.
    """
    if isinstance(connection, SockJSHTTPConnection):
        return connection.take_over(on_raw)
    connection.content_length = None
    return _twisted.take_raw(connection, on_raw)


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
    request_line = parse_request_line(data[:eol])
    if request_line is None:
        return None
    try:
        headers = HTTPHeaders.parse(data[eol:].decode("utf-8"))
    # ValueError includes UnicodeDecodeError; Cyclone raises KeyError for a
    # continuation line (obs-fold) before any header (found by tests/fuzz).
    except (ValueError, KeyError):
        return None
    return (*request_line, headers)
