"""WebSocket endpoints: SockJS over WebSocket and raw WebSocket (PROTOCOL.md 7.8-7.10).

A SockJS WebSocket is one anonymous core session (6.1) whose receiver is the
handler itself, bound to it (:attr:`~sockjs.protocol.transports.Wire.bound`:
the session ends with its socket, without ``disconnect_delay``). A raw
WebSocket has no core session (:mod:`sockjs.cyclone._rawsession`). Every
close code sent comes from :mod:`sockjs.protocol.closing`; docs/transports.rst
lists what a client sees.
"""

from __future__ import annotations

from typing import Any

from sockjs.cyclone._clock import DelayedCall, cancel
from sockjs.cyclone._rawsession import RawSessionHandle
from sockjs.cyclone._session import SessionHandle
from sockjs.cyclone.handlers.base import SockJSHandler
from sockjs.cyclone.handlers.upgrade import UpgradeHandler
from sockjs.cyclone.wsstream import WebSocketStream
from sockjs.protocol import closing, http, session, transports
from sockjs.protocol import websocket as rules
from sockjs.protocol.admission import Refusal
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.session import Output

#: Transport names reported in :attr:`ConnectionInfo.transport` and the stats
#: (``transp_rawwebsocket``, as the old project's).
SOCKJS_TRANSPORT = "websocket"
RAW_TRANSPORT = "rawwebsocket"


class DisabledWebSocketHandler(SockJSHandler):
    """WebSockets switched off: 404 with the long-cache profile (PROTOCOL.md 7.8)."""

    route_name = "websocket"

    def _execute(self, transforms: Any, *args: str, **kwargs: str) -> None:
        if self.request.method != "GET":
            self.respond(405, [("Allow", "GET")], b"", content_type=None)
            return
        self.not_found(http.cache_for(self.now()))


class WebSocketHandler(UpgradeHandler):
    """``GET <prefix>/<server>/<session>/websocket``: SockJS frames over WebSocket (7.8)."""

    route_name = "websocket"

    def initialize(self, service: Any) -> None:
        """Cyclone calls this with the route's keyword arguments."""
        super().initialize(service)
        self._handle: SessionHandle | None = None
        #: RFC 6455 framing (not hixie-76): one message frame may skip the queue.
        self._hybi = False

    def get(self, server_id: str, session_id: str) -> None:
        """Upgrade. The ids are ignored: WebSocket sessions are anonymous (6.1)."""
        del server_id, session_id
        self.upgrade()

    def _open(self) -> None:
        # Hixie-76 has no ping frames: its heartbeats carry none.
        hybi = self._hybi = type(self._stream) is WebSocketStream
        wire = transports.WEBSOCKET if hybi else transports.HIXIE76
        self.service.attach(
            self, None, wire, self.client_address(), lambda: self._connection_info(SOCKJS_TRANSPORT)
        )

    # -- called by the service and the session glue ------------------------------------

    def refuse(self, refusal: Refusal) -> None:
        """No session (a limit, or shutdown): ``c[code,...]`` where ``o`` would be, then Close."""
        close = refusal.close
        if close is None:  # stopped while a hixie-76 handshake waited
            self.close_socket_with(closing.GOING_AWAY)
            return
        self._write_frames(session.refusal(transports.WEBSOCKET, close), close)

    def begin(self, handle: SessionHandle) -> None:
        """The session this WebSocket carries."""
        self._handle = handle

    def write_output(self, output: Output) -> None:
        """Write frames as text messages; at the end, the Close frame and TCP."""
        stream = self._stream
        chunks = output.chunks
        if self._hybi and len(chunks) == 1 and not (output.end or output.ping or self._closed):
            # The common case (one message frame) without queueing it first.
            self._write(stream.send_utf8_now(chunks[0]))  # type: ignore[union-attr]
            return
        handle = self._handle
        end = None if handle is None or not output.end else handle.close_info
        self._write_frames(output, end)

    def _write_frames(self, output: Output, session_close: CloseInfo | None) -> None:
        stream = self._stream
        if self._closed or stream is None:
            return
        for chunk in output.chunks:
            stream.send_utf8(chunk)
        if output.ping:  # a heartbeat: the peer must answer within ping_timeout
            stream.send_ping()
            self._ping_out = True
        if not output.end:
            self._flush()
            return
        # The c frame was the last chunk: the Close frame that follows it.
        after = rules.close_after(session_close or closing.NORMAL_CLOSURE)
        stream.fail(*rules.raw_close(after))
        self._drop()

    def abort_response(self) -> None:
        """The router is stopping: Close 1001 and drop TCP, without a ``c`` frame."""
        self.close_socket_with(closing.GOING_AWAY)

    # -- hooks ----------------------------------------------------------------------

    def _text_received(self, text: str) -> None:
        handle = self._handle
        if handle is None:  # pragma: no cover - messages follow the open
            return
        decision = rules.sockjs_message(text, self.service.options.max_messages_per_request)
        if type(decision) is list:
            if decision:
                handle.deliver(decision)
        elif type(decision) is rules.Fail:
            self.fail(decision)
        else:
            assert type(decision) is rules.CloseSession
            self.service.telemetry.websocket_fault(decision.fault, decision.close)
            handle.close_with(decision.close)

    def _socket_gone(self, close: CloseInfo) -> None:
        # The core ends the session at once (a WebSocket is bound to it);
        # ``close`` counts only if nobody closed the session before.
        if self._handle is not None:
            self._handle.receiver_lost(self, close)

    def _on_pause(self) -> None:
        # The core queues messages meanwhile and closes the session with
        # 1013 past max_queued_bytes (as for HTTP streaming receivers).
        if self._handle is not None:
            self._handle.pause(self)

    def _on_resume(self) -> None:
        if self._handle is not None:
            self._handle.resume(self)

    def _alive(self) -> None:
        if self._handle is not None:
            self._handle.alive(self)

    def _slow_consumer(self) -> None:
        if self._handle is not None:
            self._handle.close_with(closing.SLOW_CONSUMER)


class RawWebSocketHandler(UpgradeHandler):
    """``GET <prefix>/websocket``: plain RFC 6455, messages verbatim (7.9)."""

    route_name = "raw_websocket"
    raw = True

    def initialize(self, service: Any) -> None:
        """Cyclone calls this with the route's keyword arguments."""
        super().initialize(service)
        self._handle: RawSessionHandle | None = None
        #: Pings and the deadline for their answers (no session keeps them here).
        self._liveness: rules.Liveness | None = None
        self._liveness_timer: DelayedCall | None = None

    def get(self) -> None:
        """Upgrade."""
        self.upgrade()

    def _open(self) -> None:
        opened = self.service.open_raw(
            self, self.client_address(), lambda: self._connection_info(RAW_TRANSPORT)
        )
        if isinstance(opened, Refusal):
            self.close_socket_with(opened.close or closing.GOING_AWAY)
            return
        self._handle = opened
        options = self.service.options
        if options.ping_timeout is not None and not self._closed:
            now = self.now()
            self._liveness = rules.Liveness(options.heartbeat_delay, options.ping_timeout, now)
            self._arm_liveness(now)

    # -- RawSocket (called by the RawSessionHandle) ------------------------------------

    def send_text(self, text: str) -> None:
        """Send one text message (lone surrogates cannot be encoded: they become ``?``)."""
        stream = self._stream
        if self._closed or stream is None:
            return
        data = text.encode("utf-8", "replace")
        stream.send_utf8(data)
        self._sent(len(data))

    def send_binary(self, data: bytes) -> None:
        """Send one binary message (``raw_binary``)."""
        stream = self._stream
        if self._closed or not isinstance(stream, WebSocketStream):
            return
        stream.send_bytes(data)
        self._sent(len(data))

    def _sent(self, size: int) -> None:
        self._flush()
        if self._paused:  # no queue of our own here: bound what piles up in the transport
            self._count_queued(size)

    def close_socket(self, close: CloseInfo) -> None:
        """Close frame for ``close`` (1000 if its code may not be sent), drop TCP."""
        self.close_socket_with(close)  # the session is closed already: it ignores the echo

    # -- hooks ----------------------------------------------------------------------

    def _text_received(self, text: str) -> None:
        if self._handle is not None:
            self._handle.deliver(text)

    def _binary_received(self, data: bytes) -> None:
        refusal = rules.binary_message(self.service.options.raw_binary)
        if refusal is not None:
            self.fail(refusal)
        elif self._handle is not None:
            self._handle.deliver(data)

    def _socket_gone(self, close: CloseInfo) -> None:
        if self._handle is not None:
            self._handle.lost(close)

    def _on_pause(self) -> None:
        pass

    def _on_resume(self) -> None:
        pass

    def _alive(self) -> None:
        if self._liveness is not None:
            self._liveness.alive()

    def _slow_consumer(self) -> None:
        if self._handle is not None:
            self._handle.close_with(closing.SLOW_CONSUMER)

    # -- pings ----------------------------------------------------------------------

    def _arm_liveness(self, now: float) -> None:
        liveness = self._liveness
        if liveness is not None:
            delay = max(0.0, liveness.deadline - now)
            self._liveness_timer = self.service.reactor.callLater(delay, self._liveness_due)

    def _liveness_due(self) -> None:
        self._liveness_timer = None
        liveness, stream = self._liveness, self._stream
        if liveness is None or stream is None or self._closed:
            return
        now = self.now()
        action = liveness.on_timer(now)
        if action is rules.DEAD:
            if self._handle is not None:
                self._handle.close_with(closing.PEER_TIMEOUT)
            return
        if action is rules.PING:
            stream.send_ping()
            self._ping_out = True
            self._flush()
        self._arm_liveness(now)

    def _cancel_timers(self) -> None:
        super()._cancel_timers()
        self._liveness = None
        cancel(self._liveness_timer)
        self._liveness_timer = None
