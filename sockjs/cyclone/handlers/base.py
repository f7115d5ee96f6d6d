"""Base request handler: method dispatch, 404/405 and byte-exact responses.

Cyclone parses and routes the request; from there on we write status line,
headers and body ourselves. Cyclone's own response path adds headers the
SockJS suite forbids (``Content-Type`` on 405, ``Etag`` on GETs), and its
chunked encoding is broken on Python 3 (CYCLONE.md), so it is bypassed.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from twisted.internet.tcp import Server as _TCPServer

import cyclone.web
from sockjs.cyclone import logevents
from sockjs.protocol import http
from sockjs.protocol.errors import BodyTooLarge, PeerError
from sockjs.protocol.handshake import origin_allowed
from sockjs.protocol.limits import OriginRefused, TooManyMessages

if TYPE_CHECKING:
    from sockjs.cyclone._service import Service

NOT_FOUND_BODY = b"404 Error: Page not found\n"
_SERVER_HEADER = f"cyclone/{cyclone.version}"
_MAX_MESSAGES = "max_messages_per_request"


class SockJSHandler(cyclone.web.RequestHandler):  # type: ignore[misc]
    """Common base of every SockJS endpoint handler."""

    #: Methods this route answers; anything else gets 405 with ``Allow``.
    methods: tuple[str, ...] = ("GET",)
    #: Exact ``Allow`` value (PROTOCOL.md 2.2).
    allow: str = "GET"
    #: Route name used in logs instead of the request path.
    route_name: str = "greeting"
    #: Whether ``check_origin_http`` applies (CORS-capable routes: info and sessions).
    checks_origin: bool = False

    service: Service

    def __init__(self, application: Any, request: Any, **kwargs: Any) -> None:
        # Cyclone's __init__ also builds the template helpers (``ui``) and
        # default response headers with a formatted Date for every request;
        # our responses are written by hand and use neither, so only the
        # state Cyclone's Application and request log rely on is set here.
        self.application = application
        self.request = request
        self._headers_written = False
        self._finished = False
        self._auto_finish = True
        self._transforms = None
        self.path_args = None
        self.path_kwargs = None
        self._status_code = 200
        self._reason = "OK"
        request.connection.no_keep_alive = self.no_keep_alive
        self.initialize(**kwargs)

    def __getattr__(self, name: str) -> Any:
        # Cyclone's response state (header dicts, body buffer) is made only
        # if Cyclone's own response methods ever run: ours never use it.
        if name == "_headers":
            value: Any = {"Server": _SERVER_HEADER, "Content-Type": "text/html; charset=UTF-8"}
        elif name in ("_list_headers", "_write_buffer"):
            value = []
        else:
            raise AttributeError(name)
        setattr(self, name, value)
        return value

    @property
    def ui(self) -> Any:
        """Cyclone's template helpers, built only if something asks for them."""
        ui = cyclone.web.ObjectDict(
            (name, self._ui_method(method)) for name, method in self.application.ui_methods.items()
        )
        modules = cyclone.web.ObjectDict(
            (name, self._ui_module(name, module))
            for name, module in self.application.ui_modules.items()
        )
        ui["_modules"] = ui["modules"] = modules
        return ui

    def initialize(self, service: Service) -> None:
        """Called by Cyclone with the route's keyword arguments."""
        self.service = service
        self._response_started = False
        self._response_finished = False
        self._extra_headers: http.Headers = []

    # -- dispatch ---------------------------------------------------------------

    def _execute(self, transforms: Any, *args: str, **kwargs: str) -> None:
        # Replaces Cyclone's dispatcher: no XSRF, no prepare(), no send_error
        # HTML pages; each method returns when its response is written or parked.
        method = self.request.method
        if method not in self.methods:
            self.respond(405, [("Allow", self.allow)], b"", content_type=None)
            return
        options = self.service.options
        if options.disable_nagle:
            _set_no_delay(self.request.connection.transport)
        if self.checks_origin and options.check_origin_http:
            origin = self.header("Origin")
            if origin is not None and not origin_allowed(origin, options.allowed_origins):
                self.respond_error(OriginRefused(f"origin {origin[:100]!r} not allowed"))
                return
        try:
            getattr(self, method.lower())(*args)
        except PeerError as error:
            self.respond_error(error)
        except Exception:
            logevents.internal_error(self.service.prefix, self.route_name, method)
            if not self._response_started:
                self.respond(500, [], b"500 - Internal Server Error")
            elif not self._response_finished:
                self.fail_started_response()

    # -- request helpers ----------------------------------------------------------

    def header(self, name: str) -> str | None:
        """A request header's value, or ``None``."""
        value: str | None = self.request.headers.get(name)
        return value

    def now(self) -> float:
        """The service clock (the reactor's)."""
        return self.service.now()

    def add_header(self, name: str, value: str) -> None:  # noqa: D102 - Cyclone API
        self._extra_headers.append((name, value))

    def add_headers(self, headers: http.Headers) -> None:
        """Queue headers for the response about to be started."""
        self._extra_headers.extend(headers)

    def cors_headers(self) -> None:
        """Add the CORS block of PROTOCOL.md 4.1."""
        self.add_headers(
            http.cors(self.header("Origin"), self.header("Access-Control-Request-Headers"))
        )

    def session_headers(self) -> None:
        """No-cache profile, ``nosniff`` and, on ``jsessionid`` services, the cookie (4.3, 4.4)."""
        self.add_headers(http.NO_CACHE)
        self.add_headers(http.NOSNIFF)
        if self.service.options.jsessionid:
            self._extra_headers.append(http.jsessionid_cookie(self.header("Cookie")))

    # -- responses --------------------------------------------------------------

    def respond(
        self,
        status: int,
        headers: http.Headers,
        body: bytes,
        content_type: str | None = http.TEXT_PLAIN,
    ) -> None:
        """Write a complete response with ``Content-Length`` and finish it."""
        lines = [self._status_line(status)]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}\r\n")
        for name, value in (*self._extra_headers, *headers):
            lines.append(f"{name}: {value}\r\n")
        if status != 304 and not (status == 204 and not body):
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append(self._connection_header(streaming=False))
        lines.append("\r\n")
        self._response_started = True
        self._write("".join(lines).encode("latin-1") + body)
        self._finish_response()

    def respond_error(self, error: PeerError) -> None:
        """Answer a peer fault with the status and body it carries."""
        self.service.stats.error(error.kind)
        if self._response_started:
            self.fail_started_response()
            return
        prefix = self.service.prefix
        if isinstance(error, (BodyTooLarge, TooManyMessages)):
            limit = "max_request_body" if isinstance(error, BodyTooLarge) else _MAX_MESSAGES
            logevents.limit_hit(prefix, error.kind, limit, error.detail, status=error.status)
        else:
            method = self.request.method
            route = self.route_name
            logevents.request_rejected(
                prefix, route, method, error.status, error.kind, error.detail
            )
        self.respond(error.status, [], error.body.encode())

    def not_found(self, headers: http.Headers | None = None) -> None:
        """The SockJS 404 answer (PROTOCOL.md 4.6)."""
        self.respond(404, headers or [], NOT_FOUND_BODY)

    def fail_started_response(self) -> None:
        """An unexpected error after the head went out: end the response."""
        self.end_stream()

    def start_stream(self, content_type: str, prelude: bytes = b"") -> None:
        """Send the head of a streaming response (chunked on HTTP/1.1, raw on 1.0)."""
        lines = [self._status_line(200), f"Content-Type: {content_type}\r\n"]
        for name, value in self._extra_headers:
            lines.append(f"{name}: {value}\r\n")
        if self._http11:
            lines.append("Transfer-Encoding: chunked\r\n")
        lines.append(self._connection_header(streaming=True))
        lines.append("\r\n")
        self._response_started = True
        self._write("".join(lines).encode("latin-1"))
        if prelude:
            self.write_chunk(prelude)

    def write_chunk(self, data: bytes) -> None:
        """Write one HTTP chunk (one SockJS frame, or the prelude)."""
        if self._http11:
            self._write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self._write(data)

    def write_chunks(self, chunks: list[bytes]) -> None:
        """Write several chunks in one transport write (one chunk per frame)."""
        if self._http11:
            if len(chunks) == 1:  # the usual case: one frame
                data = chunks[0]
                self._write(b"%x\r\n%b\r\n" % (len(data), data))
            else:
                self._write(b"".join(b"%x\r\n%b\r\n" % (len(data), data) for data in chunks))
        else:
            self._write(b"".join(chunks))

    def end_stream(self) -> None:
        """Terminate a streaming response (zero chunk or, on HTTP/1.0, close)."""
        if self._response_finished:
            return
        if self._http11:
            self._write(b"0\r\n\r\n")
        self._finish_response()

    # -- internals --------------------------------------------------------------

    @property
    def _http11(self) -> bool:
        return bool(self.request.version == "HTTP/1.1")

    def _status_line(self, status: int) -> str:
        self._status_code = status
        # SockJSHTTPConnection must not write a refusal into a started response.
        self.request.sockjs_answering = True
        return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"

    def _connection_header(self, streaming: bool) -> str:
        # HTTP/1.0 clients get Connection: close and the socket is closed
        # after the response (PROTOCOL.md 4.7 (ii) and (iii)); this keeps
        # Cyclone's keep-alive rules for 1.0 out of the picture.
        if self._http11:
            if (self.header("Connection") or "").lower() == "close":
                self.request.connection.no_keep_alive = True
                return "Connection: close\r\n"
            return ""
        del streaming
        self.request.connection.no_keep_alive = True
        return "Connection: close\r\n"

    def _write(self, data: bytes) -> None:
        transport = self.request.connection.transport
        if transport is not None:
            self.service.stats.bytes_sent += len(data)
            write_now(transport, data)

    def _finish_response(self) -> None:
        if self._response_finished:
            return
        self._response_finished = True
        self._finished = True
        connection = self.request.connection
        if connection._request is self.request:
            self.request.finish()
        self._log()
        self.on_response_finished()

    def on_response_finished(self) -> None:
        """Hook for subclasses: the response is complete."""

    def _request_summary(self) -> str:
        # Cyclone logs this for every request. Server and session ids act as
        # bearer tokens, so the log names the service and the route only.
        request = self.request
        return f"{request.method} {self.service.prefix}/<{self.route_name}> ({request.remote_ip})"

    def get_status(self) -> int:
        """Status of the response (used by Cyclone's request log)."""
        return getattr(self, "_status_code", 200)


#: Largest write :func:`write_now` may send straight to the socket.
DIRECT_WRITE_MAX = 16384
#: Bytes held for one connection while corked before they are sent anyway
#: (Twisted's own buffer limit: past it, back-pressure applies as usual).
CORK_MAX = 65536

_cork_depth = 0
#: Connections with writes held by the current cork.
_held: list[Any] = []


def cork() -> None:
    """Hold small writes until the matching :func:`uncork`.

    Used while one network read that completed several messages is
    processed: what they make the server write to each connection then
    leaves in one system call instead of one per message. The bytes and
    their order are unchanged; calls nest.
    """
    global _cork_depth
    _cork_depth += 1


def uncork() -> None:
    """Send what was held since the outermost :func:`cork`, one write per connection."""
    global _cork_depth
    _cork_depth -= 1
    if _cork_depth or not _held:
        return
    held = _held[:]
    _held.clear()
    for transport in held:
        _release(transport)


def write_now(transport: Any, data: bytes) -> None:
    """``transport.write(data)``, sent to the socket at once when nothing is queued.

    Twisted queues every write until its next pass over the descriptors:
    one epoll change to watch for writability, a ``doWrite`` call, one epoll
    change to stop watching. On a plain TCP connection with an empty buffer
    the bytes can go out right away instead; whatever the kernel does not
    take is queued the usual way, so ordering, back-pressure and error
    handling stay Twisted's. Only small writes take this path: for large
    ones the saving is negligible, and a burst of them keeps reaching
    Twisted's buffer (and pausing the producer) as soon as it did before.

    Between :func:`cork` and :func:`uncork` such writes are held instead:
    appended to Twisted's own buffer, so any other write to the connection
    (through Twisted or here) stays behind them, and sent at ``uncork``.
    """
    if _cork_depth:
        if getattr(transport, "_sockjs_held", False):
            transport._tempDataBuffer.append(data)
            transport._tempDataLen += len(data)
            if transport._tempDataLen > CORK_MAX:
                _held.remove(transport)
                _release(transport)
            return
        if len(data) <= DIRECT_WRITE_MAX and _can_send(transport):
            transport._tempDataBuffer.append(data)
            transport._tempDataLen += len(data)
            transport._sockjs_held = True
            _held.append(transport)
            return
    elif len(data) <= DIRECT_WRITE_MAX and _can_send(transport):
        _send(transport, data)
        return
    transport.write(data)


def _can_send(transport: Any) -> bool:
    """A plain TCP connection, open, with nothing queued in Twisted's buffer."""
    return bool(
        type(transport) is _TCPServer
        and not transport.TLS
        and not transport._tempDataLen
        and not transport.dataBuffer
        and transport.connected
        and not transport.disconnecting
        and not transport._aborting
    )


def _send(transport: Any, data: bytes) -> None:
    """Send what the socket takes now; Twisted queues the rest."""
    try:
        sent = transport.socket.send(data)
    except OSError:
        sent = 0  # EAGAIN, or an error Twisted's doWrite will report
    if sent != len(data):
        transport.write(data[sent:] if sent else data)


def _release(transport: Any) -> None:
    """Send a connection's held bytes (and whatever was written behind them)."""
    transport._sockjs_held = False
    if (
        transport.dataBuffer
        or transport.disconnecting
        or transport._aborting
        or not transport.connected
    ):
        # Twisted flushes its buffer itself (after loseConnection(), it then
        # closes); an aborted or lost connection drops it, as Twisted would.
        if transport.connected and not transport._aborting:
            transport.startWriting()
        return
    buffered = transport._tempDataBuffer
    data = buffered[0] if len(buffered) == 1 else b"".join(buffered)
    transport._tempDataBuffer = []
    transport._tempDataLen = 0
    _send(transport, data)


def _set_no_delay(transport: Any) -> None:
    # Once per connection, not per request: it is a system call.
    if getattr(transport, "_sockjs_no_delay", False):
        return
    set_no_delay = getattr(transport, "setTcpNoDelay", None)
    if set_no_delay is not None:
        with contextlib.suppress(OSError):  # not a TCP socket (UNIX sockets)
            set_no_delay(True)
        with contextlib.suppress(AttributeError):  # a transport with __slots__
            transport._sockjs_no_delay = True


class NotFoundHandler(SockJSHandler):
    """Everything under the prefix that no route claims (PROTOCOL.md 2.1)."""

    methods = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
    route_name = "unknown"

    def _execute(self, transforms: Any, *args: str, **kwargs: str) -> None:
        self.not_found()
