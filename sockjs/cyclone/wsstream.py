"""An I/O-free RFC 6455 *message* stream for the WebSocket transports.

:class:`WebSocketStream` wraps ``websockets``' sans-I/O framing
:class:`~websockets.protocol.Protocol` (server side, already ``OPEN``: the
handshake is done by :mod:`sockjs.protocol.handshake`) and turns its frames
into whole messages:

* fragmented messages (continuation frames) are joined into one message;
* pings are answered (the pong is queued in :meth:`WebSocketStream.data_to_send`);
* a message over ``max_message_size`` bytes fails the connection with 1009,
  a text message that is not UTF-8 with 1007, and framing violations
  (unmasked client frames, reserved bits, unknown opcodes, fragmented or
  oversized control frames, garbage) with 1002;
* permessage-deflate is negotiated with :meth:`WebSocketStream.negotiate_extensions`.

It lives in ``sockjs.cyclone`` rather than the pure core because
``websockets`` imports ``socket``, ``time`` and ``random``.  It is the same
for hybi-07/08 and RFC 6455 connections: their framing is identical.

Binary messages are delivered as :class:`BinaryMessage`; the stream takes no
decision about them.  SockJS itself is a text protocol, so the suggested
adapter policy is ``fail(1003, ...)`` ("unsupported data") on both the SockJS
and the raw endpoint.

Typical adapter loop::

    events = stream.receive(data)
    transport.write(stream.data_to_send())
    for event in events: ...
    if stream.closed:
        transport.loseConnection()
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

from websockets.exceptions import InvalidHeader, NegotiationError, PayloadTooBig
from websockets.exceptions import ProtocolError as _FramingError
from websockets.extensions import Extension, ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import BINARY, CLOSE, CONT, TEXT, Close, CloseCode, Frame
from websockets.headers import build_extension, parse_extension
from websockets.protocol import Protocol, Side, State
from websockets.typing import BytesLike, ExtensionHeader

from sockjs.protocol.websocket import (
    BinaryMessage,
    CloseReceived,
    Event,
    ProtocolError,
    TextMessage,
)

try:  # websockets' C helper; the pure-Python one otherwise
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - depends on how websockets was built
    from websockets.utils import apply_mask

__all__ = [
    "MAX_CLOSE_REASON_BYTES",
    "BinaryMessage",
    "CloseReceived",
    "Event",
    "ProtocolError",
    "TextMessage",
    "WebSocketStream",
    "default_extensions",
]

#: A close frame payload is at most 125 bytes, 2 of which hold the code.
MAX_CLOSE_REASON_BYTES = 123

_logger = logging.getLogger(__name__)


def default_extensions() -> list[ServerExtensionFactory]:
    """permessage-deflate with the memory-friendly settings ``websockets`` uses by default."""
    return [
        ServerPerMessageDeflateFactory(
            server_max_window_bits=12,
            client_max_window_bits=12,
            compress_settings={"memLevel": 5},
        )
    ]


class WebSocketStream:
    """RFC 6455 message stream over bytes, for one server-side connection.

    ``max_message_size`` bounds an incoming message in bytes (after
    decompression, fragments included).  ``extensions`` lists the extension
    factories offered in :meth:`negotiate_extensions`; ``None`` means
    :func:`default_extensions` (permessage-deflate), ``[]`` disables them.
    """

    #: Always ready: the handshake was done before the stream was made
    #: (hixie-76 streams are not, until key3 arrives).
    ready = True

    __slots__ = (
        "_closed_by_client",
        "_eof",
        "_error_reported",
        "_factories",
        "_fragment_opcode",
        "_fragments",
        "_held",
        "_max_size",
        "_out",
        "_protocol",
        "_ws_head",
        "_ws_remaining",
    )

    def __init__(
        self,
        max_message_size: int = 1 << 20,
        extensions: Sequence[ServerExtensionFactory] | None = None,
    ) -> None:
        self._max_size = max_message_size
        # websockets' Protocol is made on first need (_websockets()): a
        # connection that only exchanges plain text frames never needs it,
        # which saves about 1 KB per idle connection. Frames sent before it
        # exists wait in _out.
        self._protocol: Protocol | None = None
        self._out: list[bytes] = []
        # The client's Close was answered before any Protocol was needed: the
        # stream is over, as websockets' would be after the same frame.
        self._closed_by_client = False
        if _logger.isEnabledFor(logging.DEBUG):
            self._websockets()  # websockets logs every frame from the start
        # Only needed until negotiate_extensions() (None: the defaults, made then).
        self._factories = None if extensions is None else list(extensions)
        # The message being received in several frames: its kind and data.
        self._fragment_opcode = TEXT
        self._fragments: list[BytesLike] = []
        self._error_reported = False
        self._eof = False
        # Fast path bookkeeping (see receive()): the start of a plain text
        # frame's header not given to websockets yet, and where websockets
        # stands in the frame it is parsing (header bytes seen, bytes left).
        self._held = b""
        self._ws_head = b""
        self._ws_remaining = 0

    # -- handshake ---------------------------------------------------------

    def negotiate_extensions(self, request_header: str | None) -> str | None:
        """Accept the client's offered extensions that we support.

        ``request_header`` is the request's ``Sec-WebSocket-Extensions`` (all
        values joined with ``,``).  Returns the response header value, or
        ``None`` when nothing was accepted.  Installs the accepted extensions;
        call it once, before any frame is received or sent.  A malformed
        header is treated as no offer (the connection goes on uncompressed).
        """
        factories = default_extensions() if self._factories is None else self._factories
        if not request_header or not factories:
            return None
        try:
            offers = parse_extension(request_header)
        except InvalidHeader:
            return None
        accepted: list[Extension] = []
        response: list[ExtensionHeader] = []
        for name, params in offers:
            for factory in factories:
                if factory.name != name:
                    continue
                try:
                    response_params, extension = factory.process_request_params(params, accepted)
                except NegotiationError:
                    continue
                response.append((name, response_params))
                accepted.append(extension)
                break
        if not accepted:
            return None
        self._websockets().extensions = accepted
        return build_extension(response)

    def _websockets(self) -> Protocol:
        """The sans-I/O Protocol of websockets (server side, already OPEN), made once."""
        protocol = self._protocol
        if protocol is None:
            protocol = Protocol(
                Side.SERVER, state=State.OPEN, max_size=self._max_size, logger=_logger
            )
            self._protocol = protocol
            if self._out:  # frames sent before it existed go first
                protocol.writes = self._out
                self._out = []
        return protocol

    # -- receiving ---------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Feed bytes from the socket; return the events they complete.

        Afterwards write :meth:`data_to_send` (pongs, close frames) and close
        TCP once it is flushed if :attr:`closed` is true.  Bytes after a
        Close frame or a protocol error are discarded.

        Complete, unfragmented, masked text frames are decoded here directly
        when no extension is active (the common SockJS message); every other
        frame, and any frame that would fail, goes to ``websockets``' parser,
        so the outcome is the same either way.  ``websockets`` is only handed
        bytes at frame boundaries or while it is inside a frame, which this
        method tracks from the frame headers.
        """
        if self._eof or self._closed_by_client:
            return []
        protocol = self._protocol
        events: list[Event] = []
        if protocol is not None and (
            protocol.extensions  # permessage-deflate: websockets does it all
            or protocol.debug  # websockets logs every frame
            or protocol.state is not State.OPEN
            or self._ws_remaining
            or self._ws_head  # websockets is inside a frame
        ):
            self._slow(data, events)
            return events
        if self._held:
            data = self._held + data
            self._held = b""
        pos = 0
        end = len(data)
        max_size = self._max_size
        while pos < end:
            # The header of a plain text frame: 0x81 (FIN, text), then the
            # mask bit and a 7-bit, 16-bit or 64-bit payload length.
            if data[pos] == 0x81 and end - pos >= 6 and data[pos + 1] & 0x80:
                length = data[pos + 1] & 0x7F
                start = pos + 6
                if length == 126:
                    start = pos + 8
                    length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                elif length == 127:
                    start = pos + 14
                    length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                stop = start + length
                if (
                    stop <= end
                    and length <= max_size
                    # no fragmented message pending
                    and (protocol is None or protocol.current_size is None)
                ):
                    try:
                        text = str(apply_mask(data[start:stop], data[start - 4 : start]), "utf-8")
                    except UnicodeDecodeError:
                        pass  # websockets' way below (1007, after what follows is parsed)
                    else:
                        events.append(TextMessage(text))
                        pos = stop
                        continue
            if (
                data[pos] == 0x88  # FIN, no reserved bits, Close
                and protocol is None
                and end - pos >= 6
                and 0x80 <= data[pos + 1] <= 0x80 + 125  # masked, fits a control frame
            ):
                stop = pos + 6 + (data[pos + 1] & 0x7F)
                if stop <= end:
                    payload = apply_mask(data[pos + 6 : stop], data[pos + 2 : pos + 6])
                    try:
                        close = Close.parse(payload)
                    except (_FramingError, UnicodeDecodeError):
                        pass  # websockets' way below (1002 or 1007)
                    else:
                        # What websockets does: echo the payload in our Close,
                        # end the stream, discard whatever follows.
                        self._out.append(b"\x88" + bytes((len(payload),)) + payload)
                        self._closed_by_client = True
                        events.append(CloseReceived(int(close.code), close.reason))
                        return events
            rest = data[pos:] if pos else data
            if _frame_size(rest) is None and _may_be_plain_text(rest, max_size):
                # An incomplete header that may still start a plain text
                # frame: websockets would only be waiting for more bytes too.
                self._held = rest
            else:
                # Anything else, and everything after it in this read, goes to
                # websockets in one piece, exactly as without this fast path.
                self._slow(rest, events)
            break
        return events

    def _slow(self, data: bytes, events: list[Event]) -> None:
        """Hand ``data`` to websockets' parser, then note where it stands."""
        self._feed(data, events)
        if self._websockets().state is not State.OPEN:
            return  # the fast path is never taken again
        # Walk the frame headers the way websockets' parser reads them, to
        # know whether it is left at a frame boundary.
        pos = 0
        end = len(data)
        while pos < end:
            if self._ws_remaining:
                take = min(self._ws_remaining, end - pos)
                self._ws_remaining -= take
                pos += take
                continue
            head = self._ws_head + data[pos : pos + 14]
            size = _frame_size(head)
            if size is None:
                self._ws_head = head
                return
            self._ws_remaining = size[0] + size[1] - len(self._ws_head)
            self._ws_head = b""

    def _feed(self, data: bytes, events: list[Event]) -> bool:
        """Run ``data`` through websockets; append its events; True to stop."""
        protocol = self._websockets()
        protocol.receive_data(data)
        # A Protocol that starts OPEN only ever yields frames (no HTTP events).
        frames = cast(list[Frame], protocol.events_received())
        if frames and self._convert(frames, events):
            return True
        if protocol.parser_exc is not None and not self._error_reported:
            self._error_reported = True
            events.append(_error_event(protocol.parser_exc))
            return True
        return False

    def _convert(self, frames: list[Frame], events: list[Event]) -> bool:
        """Turn websockets' frames into events; True after a protocol error."""
        protocol = self._websockets()
        for frame in frames:
            opcode = frame.opcode
            if opcode is TEXT or opcode is BINARY:
                if not frame.fin:
                    self._fragment_opcode = opcode
                    self._fragments = [frame.data]
                    continue
                if opcode is TEXT:
                    try:
                        events.append(TextMessage(str(frame.data, "utf-8")))
                    except UnicodeDecodeError as exc:
                        events.append(self._invalid_utf8(exc))
                        return True
                else:
                    events.append(BinaryMessage(bytes(frame.data)))
            elif opcode is CONT:
                self._fragments.append(frame.data)
                if frame.fin:
                    event = self._assemble()
                    events.append(event)
                    if type(event) is ProtocolError:
                        return True
            elif opcode is CLOSE:
                close = protocol.close_rcvd
                assert close is not None  # set by websockets with every CLOSE event
                events.append(CloseReceived(int(close.code), close.reason))
            # PING was answered by websockets itself; PONG needs nothing.
        return False

    def _assemble(self) -> Event:
        data = b"".join(self._fragments)
        self._fragments = []
        if self._fragment_opcode is BINARY:
            return BinaryMessage(data)
        try:
            return TextMessage(data.decode())
        except UnicodeDecodeError as exc:
            return self._invalid_utf8(exc)

    def _invalid_utf8(self, exc: UnicodeDecodeError) -> ProtocolError:
        # websockets leaves text decoding to the caller; RFC 6455 8.1 says to
        # fail the connection with 1007 (checked here, not by websockets).
        reason = f"invalid UTF-8: {exc.reason} at position {exc.start}"
        self._websockets().fail(CloseCode.INVALID_DATA, reason)
        self._error_reported = True
        return ProtocolError(int(CloseCode.INVALID_DATA), reason)

    def eof_received(self) -> None:
        """The client half-closed or dropped TCP: the stream is over.

        Nothing is reported: the adapter's connection-lost path handles an
        end without a Close frame (code 1006 in RFC 6455 terms).
        """
        if not self._eof:
            self._eof = True
            if self._closed_by_client:
                return  # nothing left to decide
            protocol = self._websockets()
            if self._held:  # websockets decides what a cut-off header means
                protocol.receive_data(self._held)
                self._held = b""
            protocol.receive_eof()
            protocol.events_received()

    # -- sending -----------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Queue one text message.  Ignored once a Close frame was sent or received."""
        self.send_utf8(text.encode())

    def send_utf8(self, data: bytes) -> None:
        """Queue one text message given as UTF-8 bytes (SockJS frames are already bytes).

        The caller vouches that ``data`` is valid UTF-8.  Ignored once a
        Close frame was sent or received.
        """
        protocol = self._protocol
        if protocol is None:
            if not self._closed_by_client:
                self._out.append(_text_header(len(data)) + data)
        elif protocol.state is State.OPEN:
            if protocol.extensions or protocol.debug or protocol.expect_continuation_frame:
                protocol.send_text(data)
                return
            # The unmasked server frame websockets would build, without the
            # Frame object; queued in websockets' own list so pongs and
            # close frames keep their order.
            protocol.writes.append(_text_header(len(data)) + data)

    def send_utf8_now(self, data: bytes) -> bytes:
        """:meth:`send_utf8` then :meth:`data_to_send`, in one step.

        The usual case (nothing queued before, no extension) builds the
        frame and hands it back without queueing it first.
        """
        protocol = self._protocol
        if protocol is None:
            if self._out or self._closed_by_client:
                self.send_utf8(data)
                return self.data_to_send()
            length = len(data)
            if length < 126:  # the usual SockJS frame, without a call
                return bytes((0x81, length)) + data
            return _text_header(length) + data
        if (
            protocol.writes
            or protocol.extensions
            or protocol.debug
            or protocol.expect_continuation_frame
            or protocol.state is not State.OPEN
        ):
            self.send_utf8(data)
            return self.data_to_send()
        return _text_header(len(data)) + data

    def send_bytes(self, data: bytes) -> None:
        """Queue one binary message.  Ignored once a Close frame was sent or received."""
        if self._closed_by_client:
            return
        protocol = self._websockets()
        if protocol.state is State.OPEN:
            protocol.send_binary(data)

    def send_close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake; :attr:`closed` turns true on the client's answer.

        ``code=None`` sends a Close frame without a status (``reason`` must
        then be empty).  ``reason`` is cut to :data:`MAX_CLOSE_REASON_BYTES`
        bytes of UTF-8.  Raises :class:`ValueError` for a code that may not
        appear on the wire (valid: 1000-1003, 1007-1014, 3000-4999).
        Ignored once a Close frame was sent or received.
        """
        if self._closed_by_client:
            return
        protocol = self._websockets()
        if protocol.state is not State.OPEN:
            return
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code")
            protocol.send_close()
            return
        reason = _check_close(code, reason)
        protocol.send_close(code, reason)

    def fail(self, code: int, reason: str = "") -> None:
        """Send a Close frame (unless one was sent) and end the stream at once.

        :attr:`closed` is true afterwards: flush :meth:`data_to_send`, then
        drop TCP without waiting for the client's Close.  Used for SockJS
        "broken framing" and for application closes that must be followed
        by end-of-stream right away (PROTOCOL.md 7.8).  ``code`` and
        ``reason`` as in :meth:`send_close`.
        """
        reason = _check_close(code, reason)
        if not self.closed:
            self._websockets().fail(code, reason)

    def data_to_send(self) -> bytes:
        """All bytes queued for the socket since the last call (may be ``b""``)."""
        protocol = self._protocol
        if protocol is None:
            writes = self._out
            if not writes:
                return b""
            self._out = []
            return writes[0] if len(writes) == 1 else b"".join(writes)
        writes = protocol.writes  # what websockets' data_to_send() hands over
        if not writes:
            return b""
        protocol.writes = []
        return writes[0] if len(writes) == 1 else b"".join(writes)

    # -- state -------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """A Close frame was sent or received: no more messages can be sent."""
        protocol = self._protocol
        if protocol is None:
            return self._closed_by_client
        return protocol.state is not State.OPEN

    @property
    def closed(self) -> bool:
        """The stream is over: close TCP once :meth:`data_to_send` is written."""
        protocol = self._protocol
        if protocol is None:
            return self._closed_by_client
        return protocol.eof_sent or protocol.state is State.CLOSED


def _check_close(code: int, reason: str) -> str:
    """Validate a close code and cut the reason to what fits in a Close frame."""
    encoded = reason.encode()
    if len(encoded) > MAX_CLOSE_REASON_BYTES:
        # "ignore" drops a multi-byte character split by the cut.
        reason = encoded[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")
    try:
        Close(code, reason).check()
    except _FramingError:
        raise ValueError(f"close code {code} may not be sent in a Close frame") from None
    return reason


def _error_event(exc: Exception) -> ProtocolError:
    """The close code websockets sent when its parser stopped on ``exc``."""
    if isinstance(exc, PayloadTooBig):
        code = CloseCode.MESSAGE_TOO_BIG
    elif isinstance(exc, UnicodeDecodeError):
        code = CloseCode.INVALID_DATA  # a Close frame whose reason is not UTF-8
    elif isinstance(exc, _FramingError):
        code = CloseCode.PROTOCOL_ERROR
    else:
        code = CloseCode.INTERNAL_ERROR
    return ProtocolError(int(code), str(exc))


def _text_header(length: int) -> bytes:
    """Header of an unmasked, final text frame of ``length`` bytes (RFC 6455 5.2)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return b"\x81\x7e" + length.to_bytes(2, "big")
    return b"\x81\x7f" + length.to_bytes(8, "big")


def _frame_size(head: bytes) -> tuple[int, int] | None:
    """``(header length, payload length)`` of the frame ``head`` starts, if complete."""
    available = len(head)
    if available < 2:
        return None
    second = head[1]
    length = second & 0x7F
    header_length = 6 if second & 0x80 else 2
    if length == 126:
        header_length += 2
        if available < 4:
            return None
        length = int.from_bytes(head[2:4], "big")
    elif length == 127:
        header_length += 8
        if available < 10:
            return None
        length = int.from_bytes(head[2:10], "big")
    if available < header_length:
        return None
    return header_length, length


def _may_be_plain_text(head: bytes, max_size: int) -> bool:
    """Whether an incomplete header can still start a frame the fast path takes."""
    if head[0] != 0x81:
        return False
    if len(head) < 2:
        return True
    second = head[1]
    if not second & 0x80:
        return False
    length = second & 0x7F
    if length == 126:
        if len(head) < 4:
            return True
        length = int.from_bytes(head[2:4], "big")
    elif length == 127:
        if len(head) < 10:
            return True
        length = int.from_bytes(head[2:10], "big")
    return length <= max_size
