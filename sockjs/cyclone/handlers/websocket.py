"""WebSocket endpoints: SockJS over WebSocket and raw WebSocket (PROTOCOL.md 7.8-7.10).

Cyclone parses the upgrade request and routes it here. The handler checks
it with :func:`sockjs.protocol.handshake.validate_upgrade`, writes the
``101`` head to the transport itself and takes the TCP connection over from
Cyclone's HTTP parser (:func:`~sockjs.cyclone.httpconn.take_over_connection`):
from then on every byte goes to a framing object, RFC 6455 (hybi-07, -08
and 13 share it) through :class:`~sockjs.cyclone.wsstream.WebSocketStream`,
or hixie-76. The request is never finished in Cyclone's sense.

A SockJS WebSocket is one anonymous core session (PROTOCOL.md 6.1) whose
receiver is the handler itself: every frame the core produces is one text
message, heartbeats come from the service timer, and the session is CLOSED
as soon as the WebSocket ends, without waiting for ``disconnect_delay``
(as sockjs-node 0.3.11+). A raw WebSocket has no core session; see
:mod:`sockjs.cyclone._rawsession`.

Close codes in the WebSocket Close frames the server sends (hixie-76 has no
codes: it always sends ``0xFF 0x00`` and drops TCP):

* 1000 ``Normal closure``: SockJS endpoint, after the ``c[code,"reason"]``
  frame of any session close (application close, refused connection, slow
  consumer...). The application's code and reason travel in the ``c`` frame,
  as with sockjs-node (PROTOCOL.md 7.8, 10.1 item 13).
* the application's code and reason: raw endpoint ``close(code, reason)``;
  a code that may not appear in a Close frame is sent as 1000.
* 3000 ``Broken framing.``: SockJS endpoint, a message that is not JSON (no
  ``c`` frame first, as sockjs-node 0.3.16+).
* 1003: a binary message (SockJS is a text protocol), both endpoints.
* 1013 ``Slow consumer: too many queued bytes``: raw endpoint, more than
  ``max_queued_bytes`` written while the client was not reading (the SockJS
  endpoint closes its session with ``c[1013,...]`` for the same reason).
* 1013 ``Too many sessions`` (or ``... from this address``): raw endpoint,
  a new connection over ``max_sessions`` / ``max_sessions_per_ip`` (the
  SockJS endpoint sends ``c[1013,...]`` instead of ``o``, then 1000).
* 1001 ``Server going away``: the router was stopped, or is shutting down
  gracefully (the SockJS endpoint sends ``c[1001,"Server going away"]`` first).
* 1002 / 1007 / 1009: framing violation / invalid UTF-8 / message over
  ``max_message_size`` bytes (decided by :class:`WebSocketStream`). A SockJS
  message carrying more than ``max_messages_per_request`` messages closes
  the session with ``c[1009,"Too many messages in one frame"]``, then 1000.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from cyclone.httputil import HTTPHeaders
from sockjs.cyclone import logevents
from sockjs.cyclone._clock import DelayedCall
from sockjs.cyclone._rawsession import RawSessionHandle
from sockjs.cyclone._session import INTERRUPTED, CloseInfo, SessionHandle, report_slow_consumer
from sockjs.cyclone.conninfo import ConnectionInfo, from_request
from sockjs.cyclone.handlers.base import SockJSHandler, cork, uncork
from sockjs.cyclone.httpconn import abort_if_stuck, take_over_connection
from sockjs.cyclone.wsstream import (
    BinaryMessage,
    CloseReceived,
    Event,
    ProtocolError,
    TextMessage,
    WebSocketStream,
)
from sockjs.protocol import frames, handshake, hixie76, http, transports
from sockjs.protocol.encoding import decode_websocket_message
from sockjs.protocol.errors import BrokenJSON
from sockjs.protocol.frames import CLOSE_REASONS, CloseCode
from sockjs.protocol.limits import TOO_MANY_MESSAGES_CLOSE
from sockjs.protocol.session import Output, Receiver, SessionState

#: SockJS endpoint: a client message that is not JSON (PROTOCOL.md 7.8, 10.1 item 13).
BROKEN_FRAMING = (3000, "Broken framing.")
#: A binary message: RFC 6455 "unsupported data".
BINARY_REFUSED = (1003, "Binary messages are not supported.")
#: Past ``max_message_size`` (decided by the stream): RFC 6455 "message too big".
MESSAGE_TOO_BIG = 1009
#: Error kinds (stats and log events) of the other client faults, by close code.
_FAULTS = {1003: "binary_message", 1007: "invalid_utf8", BROKEN_FRAMING[0]: "bad_json"}
#: The router is stopping: RFC 6455 "going away".
SERVER_GOING_AWAY = (1001, "Server going away")
#: Seconds a hixie-76 client may take to send key3 after the 101 head
#: (SockJSHTTPConnection's request_timeout when the application uses it).
HANDSHAKE_TIMEOUT = 30.0
#: Transport names reported in :attr:`ConnectionInfo.transport` and the stats
#: (``transp_rawwebsocket``, as the old project's).
SOCKJS_TRANSPORT = "websocket"
RAW_TRANSPORT = "rawwebsocket"
#: What an open WebSocket's request keeps as headers (see _connection_info).
_NO_HEADERS = HTTPHeaders()


# -- framing ------------------------------------------------------------------------------


class _Framing:
    """Message framing of one upgraded connection (the interface)."""

    #: False while the handshake still waits for bytes (hixie-76 key3).
    ready = True

    def receive(self, data: bytes) -> list[Event]:  # pragma: no cover - interface
        """Consume socket bytes; return the events they complete."""
        raise NotImplementedError

    def send(self, text: bytes) -> None:  # pragma: no cover - interface
        """Queue one text message (UTF-8 bytes)."""
        raise NotImplementedError

    def close(self, code: int, reason: str) -> None:  # pragma: no cover - interface
        """Queue a Close frame; the stream is over (drop TCP after flushing)."""
        raise NotImplementedError

    def data_to_send(self) -> bytes:  # pragma: no cover - interface
        """Bytes queued for the socket since the last call."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:  # pragma: no cover - interface
        """The stream is over: close TCP once :meth:`data_to_send` is written."""
        raise NotImplementedError

    def eof_received(self) -> None:
        """The TCP connection is gone."""


class _HybiFraming(_Framing):
    """RFC 6455 framing (also hybi-07 and -08): a :class:`WebSocketStream`."""

    def __init__(self, stream: WebSocketStream) -> None:
        self.stream = stream

    def receive(self, data: bytes) -> list[Event]:
        return self.stream.receive(data)

    def send(self, text: bytes) -> None:
        self.stream.send_utf8(text)

    def close(self, code: int, reason: str) -> None:
        # fail(), not send_close(): PROTOCOL.md 7.8 wants end-of-stream right
        # after the close, not after the client's answer.
        self.stream.fail(code, reason)

    def data_to_send(self) -> bytes:
        return self.stream.data_to_send()

    @property
    def closed(self) -> bool:
        return self.stream.closed

    def eof_received(self) -> None:
        self.stream.eof_received()


class _Hixie76Framing(_Framing):
    """Hixie-76: 8 bytes of key3, the 16-byte answer, then ``0x00 ... 0xFF`` frames."""

    def __init__(self, key1: str, key2: str, max_message_size: int) -> None:
        self.ready = False
        self._key1 = key1
        self._key2 = key2
        self._key3 = b""
        self._parser = hixie76.Hixie76Parser(max_message_size)
        self._out: list[bytes] = []
        self._closed = False

    def receive(self, data: bytes) -> list[Event]:
        if self._closed:
            return []
        if not self.ready:
            missing = hixie76.KEY3_LENGTH - len(self._key3)
            self._key3 += data[:missing]
            data = data[missing:]
            if len(self._key3) < hixie76.KEY3_LENGTH:
                return []
            # The keys were checked before the 101 went out, so this cannot fail.
            self._out.append(hixie76.challenge_response(self._key1, self._key2, self._key3))
            self.ready = True
            if not data:
                return []
        try:
            texts = self._parser.feed(data)
        except hixie76.Hixie76ProtocolError as exc:
            self.close(1002, str(exc))
            return [ProtocolError(1002, str(exc))]
        events: list[Event] = [TextMessage(text) for text in texts]
        if self._parser.closed:
            # The client's closing handshake: answer it; the stream is over.
            self.close(1005, "")
            events.append(CloseReceived(1005, ""))
        return events

    def send(self, text: bytes) -> None:
        if not self._closed:
            self._out.append(b"\x00" + text + b"\xff")

    def close(self, code: int, reason: str) -> None:
        del code, reason  # hixie-76 closes carry neither
        if not self._closed:
            self._closed = True
            self._out.append(hixie76.CLOSE_FRAME)

    def data_to_send(self) -> bytes:
        data = b"".join(self._out)
        self._out = []
        return data

    @property
    def closed(self) -> bool:
        return self._closed

    def eof_received(self) -> None:
        self._closed = True


# -- handlers -------------------------------------------------------------------------------


class DisabledWebSocketHandler(SockJSHandler):
    """WebSockets switched off: 404 with the long-cache profile (PROTOCOL.md 7.8)."""

    route_name = "websocket"

    def _execute(self, transforms: Any, *args: str, **kwargs: str) -> None:
        if self.request.method != "GET":
            self.respond(405, [("Allow", "GET")], b"", content_type=None)
            return
        self.not_found(http.cache_for(self.now()))


@implementer(IPushProducer)
class _UpgradeHandler(SockJSHandler):
    """Handshake, connection take-over, framing and back-pressure of both endpoints.

    Subclasses say what opening, a text message and the end of the socket
    mean (:meth:`_open`, :meth:`_text_received`, :meth:`_socket_gone`).
    The handler is registered as the transport's streaming producer, so a
    client that stops reading pauses it (:meth:`_on_pause`).
    """

    #: Rules of the raw endpoint (RFC 6455 versions 8 and 13 only, 7.9).
    raw = False

    def initialize(self, service: Any) -> None:
        """Cyclone calls this with the route's keyword arguments."""
        super().initialize(service)
        self._framing: _Framing | None = None
        #: The socket is over for us (we closed it, or the client did).
        self._closed = False
        self._producing = False
        self._paused = False
        self._counted = False
        self._handshake_timer: DelayedCall | None = None
        #: Aborts a closed connection whose client does not read what is queued.
        self._abort_timer: DelayedCall | None = None

    # -- handshake ------------------------------------------------------------------

    def upgrade(self) -> None:
        """Answer the upgrade request: an HTTP error, or ``101`` and the WebSocket."""
        options = self.service.options
        request = self.request
        kind = handshake.validate_upgrade(
            request.method,
            dict(request.headers.items()),
            raw=self.raw,
            origins=options.allowed_origins,
        )
        if isinstance(kind, handshake.HandshakeError):
            self._refuse(kind)
            return
        if self.service._stopped:
            # As for HTTP receivers: no timer runs any more (no heartbeats).
            self.respond(503, [], b"Service stopped.")
            return
        framing: _Framing
        if kind is handshake.HandshakeKind.HYBI:
            stream = WebSocketStream(max_message_size=options.max_message_size)
            extensions = stream.negotiate_extensions(self.header("Sec-WebSocket-Extensions"))
            head = handshake.hybi_response(self.header("Sec-WebSocket-Key") or "", extensions)
            framing = _HybiFraming(stream)
        else:
            try:
                head = hixie76.handshake_headers(
                    host=self.header("Host") or "",
                    path_and_query=request.uri,
                    origin=self.header("Origin"),
                    protocol=self.header("Sec-WebSocket-Protocol"),
                    secure=request.protocol == "https",
                )
            except ValueError as exc:  # pragma: no cover - Cyclone's parser splits lines first
                self._refuse(handshake.HandshakeError(400, str(exc)))
                return
            framing = _Hixie76Framing(
                self.header("Sec-WebSocket-Key1") or "",
                self.header("Sec-WebSocket-Key2") or "",
                options.max_message_size,
            )
        self._framing = framing
        # The 101 head and what opening writes (the "o" frame) leave in one
        # system call (see base.cork).
        cork()
        try:
            self._switch_protocols(head)
            try:
                self._take_over()
            except Exception:
                # The 101 is out: no HTTP answer is possible any more.
                self._end_socket(CloseInfo(1011, "Internal server error", "server"))
                raise
        finally:
            uncork()

    def _refuse(self, error: handshake.HandshakeError) -> None:
        self.service.stats.error("bad_upgrade")
        logevents.transport_error(
            self.service.prefix, "bad_upgrade", error.body, status=error.status
        )
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
        self._counted = True
        self.service.stats.connection_opened(self.now())

    def _take_over(self) -> None:
        connection = self.request.connection
        # Hixie-76 key3 (or eager client frames) may already sit in the parser's buffer.
        buffered = take_over_connection(connection, self._data_received)
        connection.notifyFinish().addBoth(self._connection_finished)
        transport = connection.transport
        if transport is not None and getattr(transport, "producer", None) is None:
            transport.registerProducer(self, True)
            self._producing = True
        framing = self._framing
        assert framing is not None
        if framing.ready:
            self._open()
        else:
            # A client that never sends key3 must not hold the socket forever.
            timeout = getattr(connection, "request_timeout", HANDSHAKE_TIMEOUT)
            self._handshake_timer = self.service.reactor.callLater(timeout, self._handshake_late)
        if buffered:
            self._data_received(buffered)

    def _refuse_session(self, frame: bytes, refusal: tuple[int, str]) -> None:
        """No session for this WebSocket (a limit, or shutdown): ``frame``, Close, drop TCP.

        The SockJS endpoint sends the ``c`` frame, then the Close it sends
        after any ``c`` frame; the raw endpoint a Close carrying the code.
        """
        framing = self._framing
        assert framing is not None
        if frame:
            framing.send(frame)
            closing = SERVER_GOING_AWAY if self.service.stopping else None
            framing.close(*(closing or (CloseCode.NORMAL, CLOSE_REASONS[CloseCode.NORMAL])))
        else:
            framing.close(*refusal)
        self._drop()

    def _handshake_late(self) -> None:
        self._handshake_timer = None
        self.service.stats.error("handshake_timeout")
        logevents.transport_error(
            self.service.prefix, "handshake_timeout", "hixie-76 key3 not received in time"
        )
        self._drop()

    def _cancel_handshake_timer(self) -> None:
        timer, self._handshake_timer = self._handshake_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _connection_info(self, transport: str) -> ConnectionInfo:
        request = self.request
        info = from_request(request, self.service, transport)
        # The socket is ours and ``info`` has its own copy of what the
        # application may read: the parsed request need not live as long as
        # the WebSocket does (its headers are most of an idle session's memory).
        request.headers = _NO_HEADERS
        request.arguments = {}
        return info

    # -- incoming -------------------------------------------------------------------

    def _data_received(self, data: bytes) -> None:
        framing = self._framing
        if self._closed or framing is None:
            return  # a message after the close is ignored
        self.service.stats.bytes_received += len(data)
        if type(framing) is _HybiFraming:
            # RFC 6455, every message of every usual client: the stream
            # directly, no handshake left to finish.
            stream = framing.stream
            events = stream.receive(data)
            answer = stream.data_to_send()  # pongs, answers to Close
            if answer:
                self._write(answer)
        else:
            was_ready = framing.ready
            events = framing.receive(data)
            self._flush()  # the hixie-76 answer
            if not was_ready and framing.ready:
                self._cancel_handshake_timer()
                self._open()
        if len(events) > 1:
            # One read, several messages: what they make the server write to
            # each connection leaves in one system call (see base.cork).
            cork()
            try:
                self._dispatch(events)
            finally:
                uncork()
        else:
            self._dispatch(events)
        if framing.closed and not self._closed:  # pragma: no cover - an event said so
            self._end_socket(INTERRUPTED)

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if self._closed:
                return  # e.g. the application closed on an earlier message
            if type(event) is TextMessage:
                self._text_received(event.text)
            elif type(event) is BinaryMessage:
                self._client_fault(*BINARY_REFUSED)
                self.fail(*BINARY_REFUSED)
            elif type(event) is CloseReceived:
                # The stream answered the client's Close; the connection is over.
                self._end_socket(CloseInfo(event.code, event.reason, "client"))
            else:
                assert type(event) is ProtocolError
                # The stream has sent its Close (1002, 1007, 1009...).
                self._client_fault(event.code, event.reason)
                self._end_socket(CloseInfo(event.code, event.reason, "server"))

    def _client_fault(self, code: int, reason: str) -> None:
        """Count and log a WebSocket the client's fault closes (rare: not per message)."""
        service = self.service
        if code == MESSAGE_TOO_BIG:
            service.stats.error("message_too_big")
            logevents.limit_hit(service.prefix, "message_too_big", "max_message_size", reason)
            return
        kind = _FAULTS.get(code, "ws_protocol_error")
        service.stats.error(kind)
        logevents.transport_error(service.prefix, kind, reason, code=code)

    def _connection_finished(self, reason: object) -> None:
        # Cyclone's notifyFinish: the TCP connection is gone (the request is
        # never finished, so this fires on connection loss only).
        del reason
        timer, self._abort_timer = self._abort_timer, None
        if timer is not None and timer.active():
            timer.cancel()
        if not self._closed:
            self._closed = True
            self._cancel_handshake_timer()
            self._unregister()
            if self._framing is not None:
                self._framing.eof_received()
        self._uncount()
        self._socket_gone(INTERRUPTED)

    # -- outgoing -------------------------------------------------------------------

    def fail(self, code: int, reason: str) -> None:
        """Send a Close frame with ``code``/``reason``, drop TCP, end the session."""
        if self._closed or self._framing is None:
            return
        self._framing.close(code, reason)
        self._end_socket(CloseInfo(code, reason, "server"))

    def _end_socket(self, close_info: CloseInfo) -> None:
        self._drop()
        self._socket_gone(close_info)

    def _flush(self) -> None:
        framing = self._framing
        if framing is not None:
            data = framing.data_to_send()
            if data:
                self._write(data)

    def _drop(self) -> None:
        """Flush what is queued and close TCP (once)."""
        if self._closed:
            return
        self._closed = True
        self._cancel_handshake_timer()
        self._flush()
        # A paused streaming producer would keep Twisted from ever closing
        # the connection once its buffer drains: unregister first.
        self._unregister()
        self._uncount()
        transport = self.request.connection.transport
        if transport is not None:
            transport.loseConnection()
            self._abort_timer = abort_if_stuck(transport, self.service.reactor)

    def _unregister(self) -> None:
        if self._producing:
            self._producing = False
            transport = self.request.connection.transport
            if transport is not None and getattr(transport, "producer", None) is self:
                transport.unregisterProducer()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.service.stats.connection_closed()

    # -- IPushProducer -------------------------------------------------------------

    def pauseProducing(self) -> None:
        """The client's socket is full."""
        self._paused = True
        self._on_pause()

    def resumeProducing(self) -> None:
        """The client reads again."""
        self._paused = False
        self._on_resume()

    def stopProducing(self) -> None:
        """The connection is going away (notifyFinish follows)."""

    # -- for subclasses --------------------------------------------------------------

    def _open(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _text_received(self, text: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _socket_gone(self, close_info: CloseInfo) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _on_pause(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _on_resume(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class WebSocketHandler(_UpgradeHandler):
    """``GET <prefix>/<server>/<session>/websocket``: SockJS frames over WebSocket (7.8)."""

    route_name = "websocket"

    def initialize(self, service: Any) -> None:
        """Cyclone calls this with the route's keyword arguments."""
        super().initialize(service)
        self._handle: SessionHandle | None = None

    def get(self, server_id: str, session_id: str) -> None:
        """Upgrade. The ids are ignored: WebSocket sessions are anonymous (6.1)."""
        del server_id, session_id
        self.upgrade()

    def _open(self) -> None:
        service = self.service
        info = self._connection_info(SOCKJS_TRANSPORT)
        refusal = service.refusal(info.ip)
        if refusal is not None:
            # Where the open frame would be: c[code,"reason"], then Close.
            self._refuse_session(frames.close_frame(*refusal).encode(), refusal)
            return
        now = service.now()
        core = service.registry.create_anonymous(now)
        handle = SessionHandle(service, core, info)
        service.limiter.add(handle, info.ip)
        self._handle = handle
        receiver = Receiver(transports.WEBSOCKET, token=self, limited=False)
        result = core.attach(receiver, now)
        self.write_output(result.output)
        if result.opened:
            handle.opened()
        else:  # pragma: no cover - a fresh session always opens
            handle.settle()

    # -- called by the core glue (Receiver.token) -------------------------------------

    def write_output(self, output: Output) -> None:
        """Write frames as text messages; at the end, Close (1000) and drop TCP."""
        framing = self._framing
        if self._closed or framing is None:
            return
        chunks = output.chunks
        if not output.end and len(chunks) == 1 and type(framing) is _HybiFraming:
            # The common case (one message frame) without queueing it first.
            self._write(framing.stream.send_utf8_now(chunks[0]))
            return
        for chunk in chunks:
            framing.send(chunk)
        if not output.end:
            self._flush()
            return
        # The c frame was the last chunk; the WebSocket Close after it is the
        # generic one sockjs-node sends (PROTOCOL.md 7.8), or "going away"
        # during a graceful shutdown.
        if self.service.stopping:
            framing.close(*SERVER_GOING_AWAY)
        else:
            framing.close(CloseCode.NORMAL, CLOSE_REASONS[CloseCode.NORMAL])
        self._drop()
        # No disconnect_delay for WebSockets: the session is CLOSED now. It is
        # not settled here: whoever produced this output (close_by, send,
        # resume) notes the close details and settles right after, so the
        # application's connectionLost sees them.
        handle = self._handle
        if handle is not None and handle.core.state != SessionState.CLOSED:
            handle.core.abort()

    def abort_response(self) -> None:
        """The router is stopping: Close 1001 and drop TCP, without a ``c`` frame."""
        self.fail(*SERVER_GOING_AWAY)

    # -- hooks ----------------------------------------------------------------------

    def _text_received(self, text: str) -> None:
        handle = self._handle
        if handle is None:  # pragma: no cover - messages follow the open
            return
        try:
            messages = decode_websocket_message(text)
        except BrokenJSON:
            self._client_fault(*BROKEN_FRAMING)
            self.fail(*BROKEN_FRAMING)
            return
        if len(messages) > self.service.options.max_messages_per_request:
            self._too_many_messages(handle, len(messages))
            return
        if messages:
            handle.deliver(messages)

    def _too_many_messages(self, handle: SessionHandle, count: int) -> None:
        # Refused whole, before any reaches the application: delivering part
        # of a batch would be as surprising as a stalled server.
        service = self.service
        code, reason = TOO_MANY_MESSAGES_CLOSE
        service.stats.error("too_many_messages")
        logevents.limit_hit(
            service.prefix,
            "too_many_messages",
            "max_messages_per_request",
            f"{count} messages in one WebSocket message",
            code=code,
        )
        handle.close_by(code, reason, "server")

    def _socket_gone(self, close_info: CloseInfo) -> None:
        # No disconnect_delay for WebSockets: the session is CLOSED at once
        # and the application's connectionLost runs (once: settle() sees to it).
        # close_info counts only if nobody closed the session before.
        handle = self._handle
        if handle is None:
            return
        handle.receiver_lost(self, close_info)
        if handle.core.state != SessionState.CLOSED:
            handle.core.abort()
        handle.settle()

    def _on_pause(self) -> None:
        # The core queues messages meanwhile and closes the session with
        # 1013 past max_queued_bytes (as for HTTP streaming receivers).
        handle = self._handle
        if handle is not None:
            receiver = handle.core.receiver
            if receiver is not None and receiver.token is self:
                handle.core.pause()

    def _on_resume(self) -> None:
        if self._handle is not None:
            self._handle.resume(self)


class RawWebSocketHandler(_UpgradeHandler):
    """``GET <prefix>/websocket``: plain RFC 6455, messages verbatim (7.9)."""

    route_name = "raw_websocket"
    raw = True

    def initialize(self, service: Any) -> None:
        """Cyclone calls this with the route's keyword arguments."""
        super().initialize(service)
        self._handle: RawSessionHandle | None = None
        #: Bytes written since the client stopped reading.
        self._queued = 0

    def get(self) -> None:
        """Upgrade."""
        self.upgrade()

    def _open(self) -> None:
        info = self._connection_info(RAW_TRANSPORT)
        refusal = self.service.refusal(info.ip)
        if refusal is not None:
            self._refuse_session(b"", refusal)
            return
        handle = RawSessionHandle(self.service, self, info)
        self.service.limiter.add(handle, info.ip)
        self._handle = handle
        handle.opened()

    # -- RawSocket (called by the RawSessionHandle) ------------------------------------

    def send_text(self, text: str) -> None:
        """Send one text message (lone surrogates cannot be encoded: they become ``?``)."""
        framing = self._framing
        if self._closed or framing is None:
            return
        data = text.encode("utf-8", "replace")
        framing.send(data)
        self._flush()
        if self._paused:
            # No queue of our own here: bound what piles up in the transport.
            self._queued += len(data)
            if self._queued > self.service.options.max_queued_bytes and self._handle is not None:
                code = CloseCode.SLOW_CONSUMER
                report_slow_consumer(self.service)
                self._handle.close_by(code, CLOSE_REASONS[code], "server")

    def close_socket(self, code: int, reason: str) -> None:
        """Close frame with ``code``/``reason`` (1000 if ``code`` may not be sent), drop TCP."""
        framing = self._framing
        if self._closed or framing is None:
            return
        reason = reason.encode("utf-8", "replace").decode("utf-8")
        try:
            framing.close(code, reason)
        except ValueError:
            framing.close(CloseCode.NORMAL, reason)
        self._drop()

    # -- hooks ----------------------------------------------------------------------

    def _text_received(self, text: str) -> None:
        if self._handle is not None:
            self._handle.deliver(text)

    def _socket_gone(self, close_info: CloseInfo) -> None:
        if self._handle is not None:
            self._handle.lost(close_info)

    def _on_pause(self) -> None:
        self._queued = 0

    def _on_resume(self) -> None:
        self._queued = 0
