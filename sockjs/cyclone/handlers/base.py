"""Base request handler: method dispatch, 404/405 and byte-exact responses.

Cyclone parses and routes the request; from there on we write status line,
headers and body ourselves. Cyclone's own response path adds headers the
SockJS suite forbids (``Content-Type`` on 405, ``Etag`` on GETs), and its
chunked encoding is broken on Python 3 (CYCLONE.md), so it is bypassed.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import cyclone.web
from sockjs.cyclone import logevents
from sockjs.cyclone._service import Service
from sockjs.cyclone._twisted import tune_socket, write_now
from sockjs.cyclone.conninfo import ConnectionInfo, from_request, request_ip
from sockjs.protocol import http
from sockjs.protocol.errors import BodyTooLarge, PeerError, TooManyMessages

NOT_FOUND_BODY = b"404 Error: Page not found\n"
_SERVER_HEADER = f"cyclone/{cyclone.version}"


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
        # Cyclone's __init__ also builds template helpers and default headers
        # for every request; ours are written by hand and need neither.
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
        self._client_ip: str | None = None
        #: Registered as the transport's streaming producer (receivers, WebSockets).
        self._producing = False
        #: Counted among the router's open connections.
        self._counted = False

    # -- dispatch ---------------------------------------------------------------

    def _execute(self, transforms: Any, *args: str, **kwargs: str) -> None:
        # Replaces Cyclone's dispatcher: no XSRF, no prepare(), no send_error
        # HTML pages; each method returns when its response is written or parked.
        method = self.request.method
        if method not in self.methods:
            self.respond(405, [("Allow", self.allow)], b"", content_type=None)
            return
        options = self.service.options
        tune_socket(self.request.connection.transport, options)
        if self.checks_origin and options.check_origin_http:
            refused = http.origin_refused(
                self.header("Origin"), self.header("Sec-Fetch-Site"), options.allowed_origins
            )
            if refused is not None:
                self.respond_error(refused)
                return
        try:
            getattr(self, method.lower())(*args)
        except PeerError as error:
            self.respond_error(error)
        except Exception:
            logevents.internal_error(self.service.prefix, self.route_name, method)
            if not self._response_started:
                # Headers already decided stay (PROTOCOL.md 4.6), but not one
                # that cannot be written: that may be the failure itself.
                self._extra_headers = [h for h in self._extra_headers if "".join(h).isascii()]
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

    def client_address(self) -> str:
        """The client's address (the TCP peer, or a trusted proxy's word for it), found once."""
        ip = self._client_ip
        if ip is None:
            ip = self._client_ip = request_ip(self.request, self.service.trusted_proxies)
        return ip

    def connection_info(self) -> ConnectionInfo:
        """Client details of this request, as the application sees them."""
        return from_request(
            self.request, self.service.prefix, self.client_address(), self.route_name
        )

    def add_header(self, name: str, value: str) -> None:  # noqa: D102 - Cyclone API
        self._extra_headers.append((name, value))

    def add_headers(self, headers: http.Headers) -> None:
        """Queue headers for the response about to be started."""
        self._extra_headers.extend(headers)

    def cors_headers(self, preflight: bool = False) -> None:
        """Add the CORS block of PROTOCOL.md 4.1."""
        origin = self.header("Origin")
        request_headers = self.header("Access-Control-Request-Headers")
        self.add_headers(http.cors(origin, request_headers, preflight=preflight))

    def session_headers(self) -> None:
        """No-cache profile, ``nosniff`` and, on ``jsessionid`` services, the cookie (4.3, 4.4)."""
        self.add_headers(http.NO_CACHE)
        self.add_headers(http.NOSNIFF)
        self.cookie_header()

    def cookie_header(self) -> None:
        """The ``jsessionid`` cookie (4.4): the default one, or the callable's.

        A callable that raises or returns something unusable is the
        application's fault: an ``app_exception`` event (hook ``jsessionid``),
        and this response goes out without a cookie.
        """
        setting = self.service.options.jsessionid
        if setting is False:
            return
        if not callable(setting):
            self._extra_headers.append(http.jsessionid_cookie(self.header("Cookie")))
            return
        try:
            header = http.custom_cookie(setting(self.connection_info()))
        except Exception:
            self.service.telemetry.app_exception("jsessionid", route=self.route_name)
            return
        if header is not None:
            self._extra_headers.append(header)

    def preflight(self, methods: str) -> None:
        """Answer an OPTIONS preflight (PROTOCOL.md 4.2); touches no session."""
        self.cors_headers(preflight=True)
        self.cookie_header()
        self.respond(204, http.preflight(self.now(), methods), b"", content_type=None)

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
        lines.append(self._connection_header())
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")  # may raise: nothing is written yet
        self._response_started = True
        self._write(head + body)
        self._finish_response()

    def respond_error(self, error: PeerError) -> None:
        """Answer a peer fault with the status and body it carries."""
        limit = None
        if isinstance(error, BodyTooLarge):
            limit = "max_request_body"
        elif isinstance(error, TooManyMessages):
            limit = "max_messages_per_request"
        self.service.telemetry.rejected(error, self.route_name, self.request.method, limit)
        if self._response_started:
            self.fail_started_response()
            return
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
        lines.append(self._connection_header())
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")  # may raise: nothing is written yet
        self._response_started = True
        self._write(head)
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

    def _connection_header(self) -> str:
        # HTTP/1.0 clients get Connection: close and the socket is closed
        # after the response (PROTOCOL.md 4.7 (ii) and (iii)); this keeps
        # Cyclone's keep-alive rules for 1.0 out of the picture.
        if self._http11:
            if (self.header("Connection") or "").lower() == "close":
                self.request.connection.no_keep_alive = True
                return "Connection: close\r\n"
            return ""
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

    # -- long-lived responses: counting, back-pressure ---------------------------------

    @property
    def transport(self) -> Any:
        """The TCP transport this response is written to."""
        return self.request.connection.transport

    def _count(self) -> None:
        self._counted = True
        self.service.stats.connection_opened(self.now())

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.service.stats.connection_closed()

    def _unregister(self) -> None:
        if self._producing:
            self._producing = False
            transport = self.request.connection.transport
            if transport is not None and getattr(transport, "producer", None) is self:
                transport.unregisterProducer()

    def _request_summary(self) -> str:
        # Cyclone logs this for every request. Server and session ids act as
        # bearer tokens, so the log names the service and the route only.
        request = self.request
        return (
            f"{request.method} {self.service.prefix}/<{self.route_name}> ({self.client_address()})"
        )

    def get_status(self) -> int:
        """Status of the response (used by Cyclone's request log)."""
        return getattr(self, "_status_code", 200)


class NotFoundHandler(SockJSHandler):
    """Everything under the prefix that no route claims (PROTOCOL.md 2.1)."""

    methods = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
    route_name = "unknown"

    def _execute(self, transforms: Any, *args: str, **kwargs: str) -> None:
        self.not_found()
