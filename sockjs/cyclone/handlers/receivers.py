"""Receiving transports: xhr, xhr_streaming, jsonp, eventsource, htmlfile.

A receiver answers at once or parks until the session has a frame for it,
watching its connection: a client that goes away closes the session at
once (PROTOCOL.md 6.8 (a)), leaving no stale receiver to cause a 2010.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from sockjs.cyclone._clock import cancel
from sockjs.cyclone._session import SessionHandle
from sockjs.cyclone._twisted import abort_if_not_draining, abort_if_stuck, watch_loss
from sockjs.cyclone.handlers.base import SockJSHandler
from sockjs.protocol import http, session, transports
from sockjs.protocol.admission import Refusal
from sockjs.protocol.session import Output
from sockjs.protocol.transports import Wire


def _nothing() -> None:
    pass


@implementer(IPushProducer)
class ReceiverHandler(SockJSHandler):
    """Common behaviour of the receiving transports."""

    content_type = http.JAVASCRIPT
    #: Whether the transport sends the CORS block (xhr family only, 4.1).
    cross_origin = False
    checks_origin = True

    def initialize(self, service: Any) -> None:
        """Cyclone calls this with the route's keyword arguments."""
        super().initialize(service)
        self.wire: Wire = transports.XHR
        self._handle: SessionHandle | None = None
        #: The client's socket is full (the transport paused us).
        self._stalled = False
        self._unwatch: Callable[[], None] = _nothing

    def transport_headers(self) -> None:
        """CORS (xhr family), no-cache and cookie: also on this route's errors."""
        if self.cross_origin:
            self.cors_headers()
        self.session_headers()

    def receive(self, session_id: str, wire: Wire) -> None:
        """Attach this request to ``session_id`` as its receiver."""
        self.wire = wire
        self.service.attach(self, session_id, wire, self.client_address(), self.connection_info)

    # -- called by the service and the session glue ---------------------------------

    def refuse(self, refusal: Refusal) -> None:
        """No session for this request (admission): its close frame, or a status."""
        if refusal.close is None:
            self.respond(refusal.status, [], refusal.detail.encode())
            return
        self.begin(None)
        self.write_output(session.refusal(self.wire, refusal.close))

    def begin(self, handle: SessionHandle | None) -> None:
        """Start the response; streaming ones send their head and prelude now."""
        self._handle = handle
        self._count()
        if self.wire.streaming:
            self.start_stream(self.content_type, self.wire.prelude)

    def write_output(self, output: Output) -> None:
        """Write what the core produced for this receiver."""
        if self._response_finished:
            return
        if not self.wire.streaming:
            if output.end:
                self.respond(200, [], b"".join(output.chunks), content_type=self.content_type)
            else:
                self._park()
            return
        if output.chunks:
            self.write_chunks(output.chunks)
        if not output.end:
            self._park()
            return
        connection = self.request.connection
        if output.drop_connection and self._stalled:
            # The client stopped reading: it would not read another response
            # either, so the connection goes too, aborted if the client never
            # reads what is queued.
            connection.no_keep_alive = True
            self.end_stream()
            timer = abort_if_stuck(connection.transport, self.service.reactor)
            if timer is not None:
                watch_loss(connection, lambda: cancel(timer))
            return
        self.end_stream()
        if self._stalled:
            # A normal end (response_limit, a close frame) while the client is
            # still reading a large write: the connection stays open, since
            # closing a keep-alive connection after a complete response races
            # the client's next request on it ("socket hang up"). It is
            # aborted only if the client stops reading.
            watchdog = abort_if_not_draining(connection.transport, self.service.reactor)
            if watchdog is not None:
                watch_loss(connection, watchdog.cancel)

    def abort_response(self) -> None:
        """The server is going away: end the response without a frame."""
        if self.wire.streaming:
            self.end_stream()
        elif not self._response_finished:
            self.request.connection.transport.loseConnection()
            self._response_finished = True

    # -- parking ----------------------------------------------------------------------

    def _park(self) -> None:
        if self._producing:
            return
        self._producing = True
        connection = self.request.connection
        self._unwatch = watch_loss(connection, self._connection_lost)
        if self.wire.streaming and connection.transport is not None:
            # Back-pressure: a client that stops reading pauses us instead of
            # growing the transport's buffer without bound.
            connection.transport.registerProducer(self, True)

    def fail_started_response(self) -> None:
        """End the response and drop the session like a client abort (6.8)."""
        super().fail_started_response()
        if self._handle is not None:
            self._handle.receiver_lost(self)

    def _connection_lost(self) -> None:
        if self._response_finished:
            return
        self._response_finished = True
        self._unregister()
        self._uncount()
        if self._handle is not None:
            self._handle.receiver_lost(self)

    def on_response_finished(self) -> None:
        """Release the transport's producer slot and stop watching the socket."""
        self._unregister()
        self._uncount()
        self._unwatch()

    # -- IPushProducer ----------------------------------------------------------------

    def pauseProducing(self) -> None:
        """The client's socket is full: queue frames in the session."""
        self._stalled = True
        if self._handle is not None:
            self._handle.pause(self)

    def resumeProducing(self) -> None:
        """The client reads again: write what queued."""
        self._stalled = False
        if self._handle is not None:
            self._handle.resume(self)

    def stopProducing(self) -> None:
        """The connection is going away (connectionLost follows)."""


class XhrPollingHandler(ReceiverHandler):
    """``POST .../xhr``: one frame per response (7.1)."""

    methods = ("POST", "OPTIONS")
    allow = "POST, OPTIONS"
    route_name = "xhr"
    cross_origin = True

    def post(self, server_id: str, session_id: str) -> None:
        """Poll for one frame."""
        self.transport_headers()
        self.receive(session_id, transports.XHR)

    def options(self, server_id: str, session_id: str) -> None:
        """Preflight."""
        self.preflight("OPTIONS, POST")


class XhrStreamingHandler(XhrPollingHandler):
    """``POST .../xhr_streaming``: frames until ``response_limit`` (7.2)."""

    route_name = "xhr_streaming"

    def post(self, server_id: str, session_id: str) -> None:
        """Stream frames."""
        self.transport_headers()
        self.receive(session_id, transports.XHR_STREAMING)


class JsonpHandler(ReceiverHandler):
    """``GET .../jsonp?c=callback``: one ``callback("frame");`` per response (7.4)."""

    route_name = "jsonp"

    def get(self, server_id: str, session_id: str) -> None:
        """Poll for one frame wrapped in the callback (after ``/**/`` with ``jsonp_prefix``)."""
        self.transport_headers()
        callback = transports.validate_callback(self._callback())
        self.receive(session_id, transports.jsonp(callback, self.service.options.jsonp_prefix))

    def _callback(self) -> str | None:
        for name in ("c", "callback"):
            values = self.request.arguments.get(name)
            if values and values[0]:
                value = values[0]
                return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        return None


class HtmlFileHandler(JsonpHandler):
    """``GET .../htmlfile?c=callback``: the "forever iframe" (7.7)."""

    route_name = "htmlfile"
    content_type = http.TEXT_HTML

    def get(self, server_id: str, session_id: str) -> None:
        """Stream script tags calling the parent's callback."""
        self.transport_headers()
        callback = transports.validate_callback(self._callback())
        self.receive(session_id, transports.htmlfile(callback))


class EventSourceHandler(ReceiverHandler):
    """``GET .../eventsource``: Server-Sent Events (7.6).

    sockjs-client 1.x opens EventSource cross-origin, so the CORS block is
    sent too; the 0.3.3 content type is kept.
    """

    route_name = "eventsource"
    content_type = http.EVENT_STREAM
    cross_origin = True

    def get(self, server_id: str, session_id: str) -> None:
        """Stream ``data:`` events."""
        self.transport_headers()
        self.receive(session_id, transports.EVENTSOURCE)
