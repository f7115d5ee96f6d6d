"""A hardened HTTP connection for Cyclone applications that serve SockJS.

Cyclone 1.3's ``HTTPConnection`` buffers any body before a handler runs,
drops chunked bodies, and limits neither header count nor slow clients.
Opt in with ``app.protocol = sockjs.cyclone.SockJSHTTPConnection``;
docs/deployment.rst lists what it adds. The decisions are
:class:`sockjs.protocol.http1.RequestReader`'s; this class moves bytes,
builds Cyclone's ``HTTPRequest``, keeps one timer per connection and calls
the application.
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
from sockjs.cyclone._clock import Clock, cancel
from sockjs.cyclone._service import Service
from sockjs.cyclone._telemetry import Telemetry
from sockjs.protocol.http1 import CONTINUE, DEFAULTS, END, Body, Refusal, RequestHead, RequestReader
from sockjs.protocol.stats import Stats

#: Bodies of this many bytes or more are kept in a temporary file, as Cyclone does.
SPOOL_BYTES = 100000


class SockJSHTTPConnection(HTTPConnection):  # type: ignore[misc]
    """``cyclone.httpserver.HTTPConnection`` with request limits enforced early."""

    #: Total bytes of one request head (request line and headers).
    max_header_bytes = DEFAULTS.max_header_bytes
    #: Header lines in one request.
    max_headers = DEFAULTS.max_headers
    #: Bytes of one line of a request head, without its CRLF.
    max_line_bytes = DEFAULTS.max_line_bytes
    #: Seconds a client may take to send one request's head and body.
    request_timeout = DEFAULTS.request_timeout
    #: Seconds a new connection may take to send its first complete request head.
    idle_timeout = DEFAULTS.idle_timeout
    #: Seconds a connection may stay silent after a response, before its next request.
    keepalive_timeout = DEFAULTS.keepalive_timeout
    #: Bytes a client may pipeline while a response is still pending.
    max_pipelined_bytes = DEFAULTS.max_pipelined_bytes

    # Set by Cyclone's HTTPConnection (untyped); the body being received.
    _contentbuffer: Any

    def connectionMade(self) -> None:
        """Start reading requests, with the idle timer armed (Twisted API)."""
        super().connectionMade()
        self._reactor = self._clock()
        self._reader = RequestReader(self, self._body_limit, self._reactor.seconds())
        self._timer: Any = None  # a DelayedCall
        self._armed_for: float | None = None
        self._busy = False
        setattr(self, _twisted.LOSS_WATCHERS, [])  # see connectionLost
        self._sync_timer()

    def dataReceived(self, data: bytes) -> None:
        """Bytes from the client: to the reader, whose events are acted on."""
        reader = self._reader
        self._busy = True
        try:
            events = reader.feed(data, self._reactor.seconds())
            while events:
                for event in events:
                    if isinstance(event, RequestHead):
                        self._start(event)
                    elif event is END:
                        self._dispatch()
                    elif isinstance(event, Body):
                        self._receive(event.data)
                    else:
                        assert isinstance(event, Refusal)
                        self._refuse(event)
                # A request answered at once lets the reader go on with the next one.
                events = reader.feed(b"", self._reactor.seconds())
        finally:
            self._busy = False
        self._sync_timer()

    # -- requests -----------------------------------------------------------------------

    def _start(self, head: RequestHead) -> None:
        headers = HTTPHeaders()
        for name, value in head.headers:
            headers.add(name, value)
        self._request = HTTPRequest(
            connection=self,
            method=head.method,
            uri=head.target,
            version=head.version,
            headers=headers,
            remote_ip=self._remote_ip,
        )
        if head.expect_continue:
            self.transport.write(CONTINUE)
        if head.chunked or head.content_length:
            self._contentbuffer = BytesIO()

    def _receive(self, data: bytes) -> None:
        buffer = self._contentbuffer
        if isinstance(buffer, BytesIO) and buffer.tell() + len(data) >= SPOOL_BYTES:
            # Large bodies go to disk, as in Cyclone; the file is closed with the body.
            spool = TemporaryFile()  # noqa: SIM115
            spool.write(buffer.getvalue())
            buffer.close()
            self._contentbuffer = buffer = spool
        buffer.write(data)

    def _dispatch(self) -> None:
        request = self._request
        buffer, self._contentbuffer = self._contentbuffer, None
        if buffer is not None:
            buffer.seek(0)
            request.body = buffer.read()
            buffer.close()
            # Cyclone's version raises out of dataReceived on a form body that
            # is not UTF-8 (no answer at all); here the handler gets the raw
            # body and answers it (jsonp_send: 500 "Broken JSON encoding.").
            try:
                _parse_form(request)
            except ValueError:  # includes UnicodeDecodeError
                prefix = self._telemetry(request.path).prefix
                detail = "form body is not UTF-8"
                logevents.transport_error(prefix, "undecodable_form", detail, ip=self._remote_ip)
        self.factory(request)

    def _finish_request(self) -> None:
        super()._finish_request()
        transport = self.transport
        if transport is None or transport.disconnecting:
            self._reader.detach()  # nothing more is read from a closing connection
            self._sync_timer()
            return
        self._reader.response_done(self._reactor.seconds())
        if not self._busy:  # else dataReceived goes on with the held bytes itself
            self.dataReceived(b"")

    def _body_limit(self, path: str) -> int | None:
        service = self._service_for(path)
        if service is not None:
            return int(service.options.max_request_body)
        limit = self.factory.settings.get("max_body_size")
        return int(limit) if limit is not None else None

    def _service_for(self, path: str) -> Service | None:
        """The SockJS service (router state) serving ``path``, if any."""
        for _host, specs in getattr(self.factory, "handlers", []):
            for spec in specs:
                if spec.regex.match(path):
                    service = spec.kwargs.get("service")
                    return service if isinstance(service, Service) else None
        return None

    def _telemetry(self, path: str | None) -> Telemetry:
        """Counts and logs for the router of ``path``; logs only when there is none."""
        service = self._service_for(path) if path is not None else None
        return service.telemetry if service is not None else Telemetry(None, Stats())

    # -- taking over the socket (WebSocket) -----------------------------------------------

    def take_over(self, on_raw: Callable[[bytes], None]) -> bytes:
        """Hand every further byte to ``on_raw``; returns bytes already buffered."""
        buffered = self._reader.detach()
        self._sync_timer()
        # Straight from the transport to on_raw from now on: no HTTP parsing
        # is left to do (and it is the hot path of every WebSocket message).
        _twisted.route_bytes(self, on_raw)
        return buffered

    # -- timer and failures ---------------------------------------------------------------

    def connectionLost(self, reason: Failure) -> None:
        """Cancel the timer, drop a half-received body, tell the loss watchers."""
        self._reader.detach()
        self._sync_timer()
        self._drop_body()
        try:
            super().connectionLost(reason)
        finally:
            _twisted.connection_lost(self)  # parked polls and streams (watch_loss)

    def _drop_body(self) -> None:
        # A body being received may sit in a temporary file: close it now.
        buffer, self._contentbuffer = self._contentbuffer, None
        if buffer is not None:
            buffer.close()

    def _sync_timer(self) -> None:
        """The one timer fires no later than the reader's deadline, lazily.

        A timer armed earlier stays (it finds nothing due and is armed again):
        a keep-alive connection answered at once arms nothing per request. With
        no deadline (a parked poll, a stream) it goes, not to hold memory meanwhile.
        """
        deadline, armed = self._reader.next_deadline(), self._armed_for
        if deadline is not None and armed is not None and armed <= deadline:
            return
        cancel(self._timer)
        self._timer, self._armed_for = None, deadline
        if deadline is not None:
            delay = max(0.0, deadline - self._reactor.seconds())
            self._timer = self._reactor.callLater(delay, self._timed_out)

    def _timed_out(self) -> None:
        # The call fired for _armed_for: that is "now" for the reader.
        now = max(self._reactor.seconds(), self._armed_for or 0.0)
        self._timer = self._armed_for = None
        refusal = self._reader.handle_timer(now)
        if refusal is not None:
            self._refuse(refusal)
        self._sync_timer()

    def _clock(self) -> Clock:
        clock: Clock | None = getattr(self.factory, "sockjs_clock", None)
        if clock is None:
            from twisted.internet import reactor

            clock = reactor
        return clock

    def _refuse(self, refusal: Refusal) -> None:
        # Counted for the router of the request concerned (the one being read,
        # the parked one for pipelined bytes, the last one after a keep-alive).
        self._telemetry(refusal.path).fault(
            refusal.kind,
            refusal.reason,
            limit=refusal.limit,
            status=refusal.status,
            ip=self._remote_ip,
        )
        self._drop_body()
        transport = self.transport
        if transport is not None and not transport.disconnecting:
            # A started response (a stream) cannot be interrupted by another one.
            answer = refusal.answer()
            if answer and not getattr(self._request, "sockjs_answering", False):
                transport.write(answer)
            transport.loseConnection()


def take_over(connection: Any, on_raw: Callable[[bytes], None]) -> bytes:
    """Route a connection's further bytes to ``on_raw`` (after a 101 answer).

    Works with :class:`SockJSHTTPConnection` and with Cyclone's plain
    ``HTTPConnection``. Returns bytes the HTTP parser had already buffered.
    """
    if isinstance(connection, SockJSHTTPConnection):
        return connection.take_over(on_raw)
    connection.content_length = None
    return _twisted.take_raw(connection, on_raw)


def _parse_form(request: HTTPRequest) -> None:
    """Fill ``request.arguments``/``files`` from the body the way Cyclone does, strictly."""
    content_type = request.headers.get("Content-Type", "")
    if request.method not in ("POST", "PATCH", "PUT"):
        return
    if content_type.startswith("application/x-www-form-urlencoded"):
        for name, values in parse_qs_bytes(request.body.decode("utf-8")).items():
            kept = [value for value in values if value]
            if kept:
                request.arguments.setdefault(name, []).extend(kept)
    elif content_type.startswith("multipart/form-data"):
        for field in content_type.split(";"):
            key, _, value = field.strip().partition("=")
            if key == "boundary" and value:
                parse_multipart_form_data(
                    value.encode(), request.body, request.arguments, request.files
                )
                break
