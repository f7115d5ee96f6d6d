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
from dataclasses import dataclass
from typing import cast

from websockets.exceptions import InvalidHeader, NegotiationError, PayloadTooBig
from websockets.exceptions import ProtocolError as _FramingError
from websockets.extensions import Extension, ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import BINARY, CLOSE, CONT, TEXT, Close, CloseCode, Frame
from websockets.headers import build_extension, parse_extension
from websockets.protocol import Protocol, Side, State
from websockets.typing import BytesLike, ExtensionHeader

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


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A complete text message from the client."""

    text: str


@dataclass(frozen=True, slots=True)
class BinaryMessage:
    """A complete binary message from the client (SockJS is text-only; see module doc)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The client sent a Close frame (``1005`` when it carried no code).

    The stream has answered it (if it had not sent its own Close yet) and
    :attr:`WebSocketStream.closed` is true: flush, then drop TCP.
    """

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The client broke the protocol; the stream has failed the connection.

    ``code`` is the close code sent (1002 framing, 1007 bad UTF-8, 1009 too
    big, 1011 unexpected).  :attr:`WebSocketStream.closed` is true.
    """

    code: int
    reason: str


Event = TextMessage | BinaryMessage | CloseReceived | ProtocolError


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

    __slots__ = (
        "_eof",
        "_error_reported",
        "_factories",
        "_fragment_opcode",
        "_fragments",
        "_protocol",
    )

    def __init__(
        self,
        max_message_size: int = 1 << 20,
        extensions: Sequence[ServerExtensionFactory] | None = None,
    ) -> None:
        self._protocol = Protocol(
            Side.SERVER, state=State.OPEN, max_size=max_message_size, logger=_logger
        )
        self._factories = default_extensions() if extensions is None else list(extensions)
        # The message being received in several frames: its kind and data.
        self._fragment_opcode = TEXT
        self._fragments: list[BytesLike] = []
        self._error_reported = False
        self._eof = False

    # -- handshake ---------------------------------------------------------

    def negotiate_extensions(self, request_header: str | None) -> str | None:
        """Accept the client's offered extensions that we support.

        ``request_header`` is the request's ``Sec-WebSocket-Extensions`` (all
        values joined with ``,``).  Returns the response header value, or
        ``None`` when nothing was accepted.  Installs the accepted extensions;
        call it once, before any frame is received or sent.  A malformed
        header is treated as no offer (the connection goes on uncompressed).
        """
        if not request_header or not self._factories:
            return None
        try:
            offers = parse_extension(request_header)
        except InvalidHeader:
            return None
        accepted: list[Extension] = []
        response: list[ExtensionHeader] = []
        for name, params in offers:
            for factory in self._factories:
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
        self._protocol.extensions = accepted
        return build_extension(response)

    # -- receiving ---------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Feed bytes from the socket; return the events they complete.

        Afterwards write :meth:`data_to_send` (pongs, close frames) and close
        TCP once it is flushed if :attr:`closed` is true.  Bytes after a
        Close frame or a protocol error are discarded.
        """
        if self._eof:
            return []
        protocol = self._protocol
        protocol.receive_data(data)
        # A Protocol that starts OPEN only ever yields frames (no HTTP events).
        frames = cast(list[Frame], protocol.events_received())
        events: list[Event] = []
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
                        return events
                else:
                    events.append(BinaryMessage(bytes(frame.data)))
            elif opcode is CONT:
                self._fragments.append(frame.data)
                if frame.fin:
                    event = self._assemble()
                    events.append(event)
                    if type(event) is ProtocolError:
                        return events
            elif opcode is CLOSE:
                close = protocol.close_rcvd
                assert close is not None  # set by websockets with every CLOSE event
                events.append(CloseReceived(int(close.code), close.reason))
            # PING was answered by websockets itself; PONG needs nothing.
        if protocol.parser_exc is not None and not self._error_reported:
            self._error_reported = True
            events.append(_error_event(protocol.parser_exc))
        return events

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
        self._protocol.fail(CloseCode.INVALID_DATA, reason)
        self._error_reported = True
        return ProtocolError(int(CloseCode.INVALID_DATA), reason)

    def eof_received(self) -> None:
        """The client half-closed or dropped TCP: the stream is over.

        Nothing is reported: the adapter's connection-lost path handles an
        end without a Close frame (code 1006 in RFC 6455 terms).
        """
        if not self._eof:
            self._eof = True
            self._protocol.receive_eof()
            self._protocol.events_received()

    # -- sending -----------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Queue one text message.  Ignored once a Close frame was sent or received."""
        if self._protocol.state is State.OPEN:
            self._protocol.send_text(text.encode())

    def send_utf8(self, data: bytes) -> None:
        """Queue one text message given as UTF-8 bytes (SockJS frames are already bytes).

        The caller vouches that ``data`` is valid UTF-8.  Ignored once a
        Close frame was sent or received.
        """
        if self._protocol.state is State.OPEN:
            self._protocol.send_text(data)

    def send_bytes(self, data: bytes) -> None:
        """Queue one binary message.  Ignored once a Close frame was sent or received."""
        if self._protocol.state is State.OPEN:
            self._protocol.send_binary(data)

    def send_close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake; :attr:`closed` turns true on the client's answer.

        ``code=None`` sends a Close frame without a status (``reason`` must
        then be empty).  ``reason`` is cut to :data:`MAX_CLOSE_REASON_BYTES`
        bytes of UTF-8.  Raises :class:`ValueError` for a code that may not
        appear on the wire (valid: 1000-1003, 1007-1014, 3000-4999).
        Ignored once a Close frame was sent or received.
        """
        if self._protocol.state is not State.OPEN:
            return
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code")
            self._protocol.send_close()
            return
        reason = _check_close(code, reason)
        self._protocol.send_close(code, reason)

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
            self._protocol.fail(code, reason)

    def data_to_send(self) -> bytes:
        """All bytes queued for the socket since the last call (may be ``b""``)."""
        return b"".join(self._protocol.data_to_send())

    # -- state -------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """A Close frame was sent or received: no more messages can be sent."""
        return self._protocol.state is not State.OPEN

    @property
    def closed(self) -> bool:
        """The stream is over: close TCP once :meth:`data_to_send` is written."""
        protocol = self._protocol
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
