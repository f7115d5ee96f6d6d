"""The upgrade both WebSocket endpoints share: handshake, take-over, framing, back-pressure.

The handler checks the request (:func:`sockjs.protocol.handshake.validate_upgrade`),
writes the ``101`` head itself and takes the TCP connection over from
Cyclone's HTTP parser: from then on every byte goes to a stream
(:mod:`sockjs.cyclone.handlers.streams`). The endpoint classes
(:mod:`sockjs.cyclone.handlers.websocket`) say what messages mean;
:mod:`sockjs.protocol.websocket` decides what to do with each event.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from cyclone.httputil import HTTPHeaders
from sockjs.cyclone._clock import DelayedCall, cancel
from sockjs.cyclone._twisted import abort_if_stuck, cork, uncork
from sockjs.cyclone.conninfo import ConnectionInfo, from_request
from sockjs.cyclone.handlers.base import SockJSHandler
from sockjs.cyclone.handlers.streams import Stream, open_stream
from sockjs.cyclone.httpconn import take_over
from sockjs.protocol import closing, handshake, hixie76
from sockjs.protocol import websocket as rules
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.websocket import (
    BinaryMessage,
    CloseReceived,
    Event,
    Fail,
    ProtocolError,
    TextMessage,
)

#: Seconds a hixie-76 client may take to send key3 after the 101 head
#: (SockJSHTTPConnection's request_timeout when the application uses it).
HANDSHAKE_TIMEOUT = 30.0
#: What an open WebSocket's request keeps as headers (see _connection_info).
_NO_HEADERS = HTTPHeaders()


@implementer(IPushProducer)
class UpgradeHandler(SockJSHandler):
    """Handshake, connection take-over, framing and back-pressure of both endpoints.

    Subclasses say what opening, a text message and the end of the socket
    mean (:meth:`_open`, :meth:`_text_received`, :meth:`_socket_gone`). The
    handler is the transport's streaming producer, so a client that stops
    reading pauses it (:meth:`_on_pause`).
    """

    #: Rules of the raw endpoint (RFC 6455 versions 8 and 13 only, 7.9).
    raw = False

    def initialize(self, service: Any) -> None:
        """Cyclone calls this with the route's keyword arguments."""
        super().initialize(service)
        self._stream: Stream | None = None
        self._opened = False
        #: The socket is over for us (we closed it, or the client did).
        self._closed = False
        self._paused = False
        self._handshake_timer: DelayedCall | None = None
        #: Fails a fragmented message that takes longer than ``message_timeout``.
        self._message_timer: DelayedCall | None = None
        #: Aborts a closed connection whose client does not read what is queued.
        self._abort_timer: DelayedCall | None = None
        #: Bytes written since the client stopped reading (pongs included).
        self._queued = 0
        #: A ping is out: the next read answers it (only then is a read news to liveness).
        self._ping_out = False

    # -- handshake ------------------------------------------------------------------

    def upgrade(self) -> None:
        """Answer the upgrade request: an HTTP error, or ``101`` and the WebSocket."""
        service = self.service
        options = service.options
        request = self.request
        kind = handshake.validate_upgrade(
            request.method,
            dict(request.headers.items()),
            raw=self.raw,
            origins=options.allowed_origins,
        )
        if isinstance(kind, handshake.HandshakeError):
            self._refuse_upgrade(kind)
            return
        refusal = service.admission.admit(None, self.client_address())
        if refusal is not None and refusal.close is None:
            # A stopped service: no timer runs any more (no heartbeats).
            self.respond(refusal.status, [], refusal.detail.encode())
            return
        try:
            head, stream = open_stream(kind, request, options)
        except hixie76.Hixie76Error as error:  # a value the 101 head cannot echo
            self._refuse_upgrade(handshake.HandshakeError(400, str(error)))
            return
        self._stream = stream
        # The 101 head and what opening writes (the "o" frame) leave in one
        # system call (see _twisted.cork).
        cork()
        try:
            self._switch_protocols(head)
            try:
                self._take_over()
            except Exception:
                # The 101 is out: no HTTP answer is possible any more.
                self._end_socket(closing.INTERNAL_ERROR)
                raise
        finally:
            uncork()

    def _refuse_upgrade(self, error: handshake.HandshakeError) -> None:
        self.service.telemetry.fault("bad_upgrade", error.body, status=error.status)
        self.respond(error.status, list(error.headers), error.body.encode())

    def _switch_protocols(self, head: bytes) -> None:
        # Written straight to the transport (no Content-Length, nothing of
        # Cyclone's); the request is marked finished so nothing else answers it.
        self._status_code = 101
        self._response_started = True
        self._response_finished = True
        self._finished = True
        self._write(head)
        self._log()
        self._count()

    def _take_over(self) -> None:
        connection = self.request.connection
        # Hixie-76 key3 (or eager client frames) may already sit in the parser's buffer.
        buffered = take_over(connection, self._data_received)
        connection.notifyFinish().addBoth(self._connection_finished)
        transport = connection.transport
        if transport is not None and getattr(transport, "producer", None) is None:
            transport.registerProducer(self, True)
            self._producing = True
        stream = self._stream
        assert stream is not None
        if stream.ready:
            self._opened = True
            self._open()
        else:
            # A client that never sends key3 must not hold the socket forever.
            timeout = getattr(connection, "request_timeout", HANDSHAKE_TIMEOUT)
            self._handshake_timer = self.service.reactor.callLater(timeout, self._handshake_late)
        if buffered:
            self._data_received(buffered)

    def _handshake_late(self) -> None:
        self._handshake_timer = None
        self.service.telemetry.fault("handshake_timeout", "hixie-76 key3 not received in time")
        self._drop()

    def _cancel_timers(self) -> None:
        """The socket is over: no handshake, message or liveness deadline is left."""
        cancel(self._handshake_timer)
        cancel(self._message_timer)
        self._handshake_timer = self._message_timer = None

    def _connection_info(self, transport: str) -> ConnectionInfo:
        request = self.request
        info = from_request(request, self.service.prefix, self.client_address(), transport)
        # The socket is ours and ``info`` has its own copy of what the
        # application may read: the parsed request need not live as long as
        # the WebSocket does (its headers are most of an idle session's memory).
        request.headers = _NO_HEADERS
        request.arguments = {}
        return info

    # -- incoming -------------------------------------------------------------------

    def _data_received(self, data: bytes) -> None:
        stream = self._stream
        if self._closed or stream is None:
            return  # a message after the close is ignored
        self.service.stats.bytes_received += len(data)
        events = stream.receive(data)
        answer = stream.data_to_send()  # pongs, answers to Close, the hixie-76 answer
        if answer:
            self._write(answer)
            if self._paused:
                self._count_queued(len(answer))
        if not self._opened and stream.ready:
            self._opened = True
            cancel(self._handshake_timer)
            self._handshake_timer = None
            self._open()
        elif self._ping_out:
            self._ping_out = False
            self._alive()  # the peer is there, whatever it sent
        if len(events) > 1:
            # One read, several messages: what they make the server write to
            # each connection leaves in one system call (see _twisted.cork).
            cork()
            try:
                self._dispatch(events)
            finally:
                uncork()
        elif events:
            self._dispatch(events)
        if stream.closed:
            if not self._closed:  # pragma: no cover - an event said so
                self._end_socket(closing.INTERRUPTED)
        elif stream.in_message != (self._message_timer is not None):
            self._watch_message(stream.in_message)

    def _watch_message(self, started: bool) -> None:
        """A fragmented message must complete within ``message_timeout`` (a bounded cost)."""
        if started:
            delay = self.service.options.message_timeout
            self._message_timer = self.service.reactor.callLater(delay, self._message_late)
        else:
            cancel(self._message_timer)
            self._message_timer = None

    def _message_late(self) -> None:
        self._message_timer = None
        self.fail(rules.message_timeout())

    def _count_queued(self, size: int) -> None:
        """Bound what piles up for a client that does not read (a ping flood's pongs too)."""
        self._queued += size
        limit = self.service.options.max_queued_bytes
        if self._queued > limit and not self._closed:
            self._slow_consumer()

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if self._closed:
                return  # e.g. the application closed on an earlier message
            if type(event) is TextMessage:
                self._text_received(event.text)
            elif type(event) is BinaryMessage:
                self._binary_received(event.data)
            elif type(event) is CloseReceived:
                # The stream answered the client's Close; the connection is over.
                self._end_socket(closing.by_client(event.code, event.reason))
            else:
                assert type(event) is ProtocolError
                # The stream has sent its Close (1002, 1007, 1009...).
                close, fault = rules.protocol_error(event)
                self.service.telemetry.websocket_fault(fault, close)
                self._end_socket(close)

    def _binary_received(self, data: bytes) -> None:
        del data
        refusal = rules.binary_message()
        assert refusal is not None
        self.fail(refusal)

    def _connection_finished(self, reason: object) -> None:
        # Cyclone's notifyFinish: the TCP connection is gone (the request is
        # never finished, so this fires on connection loss only).
        del reason
        cancel(self._abort_timer)
        self._abort_timer = None
        if not self._closed:
            self._closed = True
            self._cancel_timers()
            self._unregister()
            if self._stream is not None:
                self._stream.eof_received()
        self._uncount()
        self._socket_gone(closing.INTERRUPTED)

    # -- outgoing -------------------------------------------------------------------

    def fail(self, decision: Fail) -> None:
        """A client fault on the socket: count it, send its Close frame, drop TCP."""
        self.service.telemetry.websocket_fault(decision.fault, decision.close)
        self.close_socket_with(decision.close)

    def close_socket_with(self, close: CloseInfo) -> None:
        """Send a Close frame for ``close``, drop TCP, end the session."""
        if self._closed or self._stream is None:
            return
        self._stream.fail(*rules.raw_close(close))
        self._end_socket(close)

    def _end_socket(self, close: CloseInfo) -> None:
        self._drop()
        self._socket_gone(close)

    def _flush(self) -> None:
        stream = self._stream
        if stream is not None:
            data = stream.data_to_send()
            if data:
                self._write(data)

    def _drop(self) -> None:
        """Flush what is queued and close TCP (once)."""
        if self._closed:
            return
        self._closed = True
        self._cancel_timers()
        self._flush()
        # A paused streaming producer would keep Twisted from ever closing
        # the connection once its buffer drains: unregister first.
        self._unregister()
        self._uncount()
        transport = self.request.connection.transport
        if transport is not None:
            transport.loseConnection()
            self._abort_timer = abort_if_stuck(transport, self.service.reactor)

    # -- IPushProducer -------------------------------------------------------------

    def pauseProducing(self) -> None:
        """The client's socket is full: stop reading it too (its pings would pile up pongs)."""
        self._paused = True
        self._queued = 0
        transport = self.request.connection.transport
        if transport is not None:
            transport.pauseProducing()
        self._on_pause()

    def resumeProducing(self) -> None:
        """The client reads again: so do we."""
        self._paused = False
        self._queued = 0
        transport = self.request.connection.transport
        if transport is not None and not self._closed:
            transport.resumeProducing()
        self._on_resume()

    def stopProducing(self) -> None:
        """The connection is going away (notifyFinish follows)."""

    # -- for subclasses --------------------------------------------------------------

    def _open(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _text_received(self, text: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _socket_gone(self, close: CloseInfo) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _on_pause(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _on_resume(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _alive(self) -> None:  # pragma: no cover - overridden
        """The peer sent something after a ping (see ``_ping_out``)."""
        raise NotImplementedError

    def _slow_consumer(self) -> None:  # pragma: no cover - overridden
        """More than ``max_queued_bytes`` waited for a client that does not read."""
        raise NotImplementedError
