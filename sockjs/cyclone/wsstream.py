"""An I/O-free RFC 6455 *message* stream for the WebSocket transports.

:class:`WebSocketStream` wraps ``websockets``' sans-I/O
:class:`~websockets.protocol.Protocol` (server side, already ``OPEN``) and
turns frames into the events of :mod:`sockjs.protocol.websocket`: messages
joined, pings answered, 1009/1007/1002 for oversize messages, bad UTF-8 and
framing violations, permessage-deflate negotiated. Undocumented
``websockets`` internals are fenced in :mod:`sockjs.cyclone._websockets`;
the wire format of the fast paths is in :mod:`sockjs.protocol.wsframes`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

from websockets.exceptions import InvalidHeader, NegotiationError, PayloadTooBig
from websockets.exceptions import ProtocolError as _FramingError
from websockets.extensions import Extension, ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import CloseCode, Frame
from websockets.protocol import SEND_EOF, Protocol, Side
from websockets.protocol import State as _State

from sockjs.cyclone import _websockets
from sockjs.cyclone._websockets import ExtensionOffer
from sockjs.protocol import wsframes
from sockjs.protocol.websocket import (
    CloseReceived,
    Event,
    ProtocolError,
    TextMessage,
)
from sockjs.protocol.wsframes import PLAIN_TEXT, text_header

__all__ = ["WebSocketStream", "default_extensions"]

_logger = logging.getLogger(__name__)
#: An empty, unmasked ping frame (RFC 6455 5.5.2), as a server sends it.
_PING = wsframes.frame(0x9, b"")


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
    decompression, fragments included), ``max_fragments`` its frames.
    ``extensions`` lists the extension factories offered in
    :meth:`negotiate_extensions`; ``None`` means :func:`default_extensions`
    (permessage-deflate), ``[]`` disables them.
    """

    #: The handshake was done before the stream was made (hixie-76's waits for key3).
    ready = True

    __slots__ = (
        "_assembler",
        "_bypass",
        "_cursor",
        "_ended",
        "_eof",
        "_factories",
        "_held",
        "_max_size",
        "_out",
        "_protocol",
        "in_message",
    )

    def __init__(
        self,
        max_message_size: int = 1 << 20,
        extensions: Sequence[ServerExtensionFactory] | None = None,
        max_fragments: int | None = None,
    ) -> None:
        self._max_size = max_message_size
        # websockets' Protocol is made on first need (_websockets()): a
        # connection that only exchanges plain text frames never needs it,
        # which saves about 1 KB per idle connection.  With it comes the
        # cursor that follows where its parser stands (see receive()).
        self._protocol: Protocol | None = None
        self._cursor: wsframes.FrameCursor | None = None
        # Every byte for the socket, in order (websockets' writes moved here).
        self._out: list[bytes] = []
        # No fast path: an extension is active, or websockets logs every frame.
        self._bypass = False
        # Our end of the stream went out (SEND_EOF, or the fast path answered a
        # Close): ``closed``; input is discarded.
        self._ended = False
        self._eof = False  # the client's end of the stream came
        if _logger.isEnabledFor(logging.DEBUG):
            self._websockets()  # websockets logs every frame from the start
        # Only needed until negotiate_extensions() (None: the defaults, made then).
        self._factories = None if extensions is None else list(extensions)
        # Messages out of websockets' frames (in_message while its parser is
        # inside a fragmented message).
        self._assembler = wsframes.MessageAssembler(max_fragments)
        #: Inside a fragmented message (``message_timeout``); read after every
        #: read, so an attribute, set where the assembler is fed (:meth:`_slow`).
        self.in_message = False
        # The start of a plain text frame's header, not given to websockets yet.
        self._held = b""

    # -- handshake ---------------------------------------------------------

    def negotiate_extensions(self, request_header: str | None) -> str | None:
        """Accept the client's offered extensions that we support.

        ``request_header`` is the request's ``Sec-WebSocket-Extensions`` (all
        values joined with ``,``).  Returns the response header value, or
        ``None`` when nothing was accepted.  Installs the accepted extensions;
        call it once, before any frame is received or sent.  A malformed
        header, or an offer the factory cannot serve, counts as no offer
        (the connection goes on uncompressed).
        """
        factories = default_extensions() if self._factories is None else self._factories
        if not request_header or not factories:
            return None
        try:
            offers = _websockets.parse_extensions_header(request_header)
        except InvalidHeader:
            return None
        accepted: list[Extension] = []
        response: list[ExtensionOffer] = []
        for name, params in offers:
            for factory in factories:
                if _websockets.factory_name(factory) != name:
                    continue
                try:
                    response_params, extension = factory.process_request_params(params, accepted)
                except (NegotiationError, ValueError):
                    # ValueError: parameters zlib refuses (window bits 8)
                    # that some websockets releases let through.
                    continue
                response.append((name, response_params))
                accepted.append(extension)
                break
        if not accepted:
            return None
        _websockets.install_extensions(self._websockets(), accepted)
        self._bypass = True
        return _websockets.build_extensions_header(response)

    def _websockets(self) -> Protocol:
        """The sans-I/O Protocol of websockets (server side, already OPEN), made once."""
        protocol = self._protocol
        if protocol is None:
            protocol = Protocol(
                Side.SERVER, state=_State.OPEN, max_size=self._max_size, logger=_logger
            )
            self._protocol = protocol
            self._cursor = wsframes.FrameCursor()
            # websockets logs every frame when its logger is at DEBUG
            # (websockets' logging guide): frames skipping it would be missing.
            self._bypass = self._bypass or _logger.isEnabledFor(logging.DEBUG)
        return protocol

    def _drain(self, protocol: Protocol) -> None:
        """Move what ``protocol`` queued for the socket to ours (after every call into it)."""
        writes = protocol.data_to_send()
        if writes:
            if SEND_EOF in writes:
                self._ended = True
            self._out += writes

    # -- receiving ---------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Feed bytes from the socket; return the events they complete.

        Afterwards write :meth:`data_to_send` (pongs, close frames) and close
        TCP once it is flushed if :attr:`closed` is true.  Bytes after a
        Close frame or a protocol error are discarded.

        Complete, unfragmented, masked text frames (the common SockJS
        message) are decoded here when no extension is active; every other
        frame, and any frame that would fail, goes to ``websockets``' parser,
        so the outcome is the same either way.  ``websockets`` is handed
        bytes only at frame boundaries or while it is inside a frame.
        """
        if self._eof or self._ended:
            return []
        if self._held:
            data = self._held + data
            self._held = b""
        events: list[Event] = []
        cursor = self._cursor
        if cursor is not None and (self._bypass or not cursor.at_boundary or self.in_message):
            self._slow(data, events)
            return events
        pos = 0
        end = len(data)
        max_size = self._max_size
        unmask = _websockets.unmask
        while pos < end:
            # The header of a plain text frame: 0x81 (FIN, text), then the
            # mask bit and a 7-bit, 16-bit or 64-bit payload length.
            if data[pos] == PLAIN_TEXT and end - pos >= 6 and data[pos + 1] & 0x80:
                length = data[pos + 1] & 0x7F
                start = pos + 6
                if length == 126:
                    start = pos + 8
                    length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                elif length == 127:
                    start = pos + 14
                    length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                stop = start + length
                if stop <= end and length <= max_size:
                    try:
                        text = str(unmask(data[start:stop], data[start - 4 : start]), "utf-8")
                    except UnicodeDecodeError:
                        pass  # websockets' way below (1007, after what follows is parsed)
                    else:
                        events.append(TextMessage(text))
                        pos = stop
                        continue
            close_end = wsframes.close_frame_end(data, pos) if self._protocol is None else None
            if close_end is not None:
                payload = unmask(data[pos + 6 : close_end], data[pos + 2 : pos + 6])
                try:
                    code, reason = wsframes.close_payload(payload)
                except ValueError:
                    pass  # websockets' way below (1002 or 1007)
                else:
                    # What websockets does: echo the payload in our Close,
                    # end the stream, discard whatever follows.
                    self._out.append(bytes((wsframes.CLOSE, len(payload))) + payload)
                    self._ended = True
                    events.append(CloseReceived(code, reason))
                    return events
            rest = data[pos:] if pos else data
            if wsframes.frame_size(rest) is None and wsframes.may_be_plain_text(rest, max_size):
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
        """Hand ``data`` to websockets' parser; append the events of its frames."""
        protocol = self._websockets()
        protocol.receive_data(data)
        assembler = self._assembler
        # A Protocol that starts OPEN only ever yields frames (no HTTP events).
        for frame in cast(list[Frame], protocol.events_received()):
            event = assembler.frame(frame.opcode, frame.fin, bytes(frame.data))
            if event is not None:
                events.append(event)
                if type(event) is ProtocolError:  # bad UTF-8, too many fragments: ours
                    protocol.fail(event.code, event.reason)
                    break
        else:
            exc = _websockets.parser_error(protocol)
            if exc is not None:
                events.append(_error_event(exc))
        self.in_message = assembler.in_message
        self._drain(protocol)
        cursor = self._cursor  # made with the Protocol
        if cursor is not None and not self._ended:  # else no fast path ever again
            cursor.advance(data)  # where websockets' parser stands now

    def eof_received(self) -> None:
        """The client half-closed or dropped TCP: the stream is over.

        Nothing is reported: the adapter's connection-lost path handles an
        end without a Close frame (code 1006 in RFC 6455 terms).
        """
        if self._eof:
            return
        self._eof = True
        protocol = self._protocol
        if protocol is None or self._ended:
            # What websockets would do: no Close frame (1006 is never sent).
            self._ended = True
            self._held = b""
            return
        protocol.receive_eof()
        protocol.events_received()
        self._drain(protocol)

    # -- sending -----------------------------------------------------------

    def send_utf8(self, data: bytes) -> None:
        """Queue one text message given as UTF-8 bytes (SockJS frames are already bytes).

        The caller vouches that ``data`` is valid UTF-8.  Ignored once the
        stream is :attr:`closed`.
        """
        if self._bypass and not self._ended:
            protocol = self._websockets()
            protocol.send_text(data)
            self._drain(protocol)
        elif not self._ended:  # the unmasked frame websockets would build
            self._out.append(text_header(len(data)) + data)

    def send_utf8_now(self, data: bytes) -> bytes:
        """:meth:`send_utf8` then :meth:`data_to_send`, in one step.

        The usual case (nothing queued before, no extension) builds the
        frame and hands it back without queueing it first.
        """
        if self._out or self._bypass or self._ended:
            self.send_utf8(data)
            return self.data_to_send()
        length = len(data)
        if length < 126:  # the usual SockJS frame, without a call
            return bytes((PLAIN_TEXT, length)) + data
        return text_header(length) + data

    def send_ping(self) -> None:
        """Queue an empty ping (a heartbeat's); the pong is read like any frame."""
        if not self._ended:
            self._out.append(_PING)

    def send_bytes(self, data: bytes) -> None:
        """Queue one binary message.  Ignored once the stream is :attr:`closed`."""
        if self._ended:
            return
        protocol = self._websockets()
        protocol.send_binary(data)
        self._drain(protocol)

    def fail(self, code: int, reason: str = "") -> None:
        """Send a Close frame and end the stream at once (PROTOCOL.md 7.8).

        :attr:`closed` is true afterwards: flush :meth:`data_to_send`, then
        drop TCP without waiting for the client's Close.  ``reason`` is cut
        to :data:`MAX_CLOSE_REASON_BYTES` bytes of UTF-8.  Raises
        :class:`ValueError` for a code that may not appear on the wire
        (valid: 1000-1003, 1007-1014, 3000-4999), even once :attr:`closed`.
        """
        if not wsframes.is_sendable_close_code(code):
            raise ValueError(f"close code {code} may not be sent in a Close frame")
        reason = wsframes.fit_close_reason(reason)
        if not self._ended:
            protocol = self._websockets()
            protocol.fail(code, reason)
            self._drain(protocol)

    def data_to_send(self) -> bytes:
        """All bytes queued for the socket since the last call (may be ``b""``)."""
        writes = self._out
        if not writes:
            return b""
        self._out = []
        return writes[0] if len(writes) == 1 else b"".join(writes)

    # -- state -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The stream is over (nothing more goes in or out): close TCP once flushed."""
        return self._ended


#: The close code websockets' parser fails the connection with, by exception
#: (UnicodeDecodeError: a Close frame whose reason is not UTF-8).
_ERROR_CODES = (
    (PayloadTooBig, CloseCode.MESSAGE_TOO_BIG),
    (UnicodeDecodeError, CloseCode.INVALID_DATA),
    (_FramingError, CloseCode.PROTOCOL_ERROR),
)


def _error_event(exc: Exception) -> ProtocolError:
    """The close code websockets sent when its parser stopped on ``exc``."""
    code = next((c for kind, c in _ERROR_CODES if isinstance(exc, kind)), 1011)
    return ProtocolError(int(code), str(exc))
