"""RFC 6455 frame headers and Close payloads, as plain bytes and numbers.

The WebSocket stream of the adapter (:mod:`sockjs.cyclone.wsstream`) leaves
framing to ``websockets`` except on its fast paths: it builds the header of
the text frames it sends, reads the header of the masked text frames it
receives, and answers a client's Close frame itself.  The wire format those
paths rely on (RFC 6455 5.2, 5.5.1, 7.4) is here, free of I/O.

A frame header is two bytes (FIN, reserved bits and opcode; MASK bit and a
7-bit length), then a 16-bit length when the 7-bit one says 126 or a 64-bit
length when it says 127, then a 4-byte masking key when MASK is set.
"""

from __future__ import annotations

from sockjs.protocol.closing import TOO_MANY_FRAGMENTS, sendable_code
from sockjs.protocol.websocket import (
    BinaryMessage,
    CloseReceived,
    Event,
    ProtocolError,
    TextMessage,
)

__all__ = [
    "CLOSE",
    "MAX_CLOSE_REASON_BYTES",
    "NO_STATUS_RCVD",
    "PLAIN_TEXT",
    "FrameCursor",
    "FrameReader",
    "MessageAssembler",
    "apply_mask",
    "close_frame_end",
    "close_payload",
    "fit_close_reason",
    "frame",
    "frame_size",
    "is_sendable_close_code",
    "may_be_plain_text",
    "text_header",
]

#: First header byte of an unfragmented text frame without reserved bits:
#: FIN set, opcode 0x1 (the frame both fast paths deal in).
PLAIN_TEXT = 0x81
#: First header byte of a Close frame: FIN set, opcode 0x8 (control frames
#: are never fragmented, 5.5).
CLOSE = 0x88
#: A Close frame payload is at most 125 bytes (5.5), 2 of which hold the code.
MAX_CLOSE_REASON_BYTES = 123
#: The code reported for a Close frame that carried none (7.1.5, 7.4.1).
NO_STATUS_RCVD = 1005

#: Opcodes (5.2) and the close code for bad UTF-8 (7.4.1).
_CONT, _TEXT, _BINARY, _CLOSE = 0x0, 0x1, 0x2, 0x8
_INVALID_DATA = 1007
_MASK_BIT = 0x80
_LENGTH_BITS = 0x7F
_LENGTH_16 = 126
_LENGTH_64 = 127


def text_header(length: int) -> bytes:
    """Header of an unmasked, final text frame of ``length`` payload bytes (5.2).

    What a server puts before a text message it sends in one frame; the
    shortest length encoding is used, as 5.2 requires.
    """
    if length < _LENGTH_16:
        return bytes((PLAIN_TEXT, length))
    if length < 65536:
        return bytes((PLAIN_TEXT, _LENGTH_16)) + length.to_bytes(2, "big")
    return bytes((PLAIN_TEXT, _LENGTH_64)) + length.to_bytes(8, "big")


def frame(
    opcode: int, payload: bytes, *, mask: bytes | None = None, fin: bool = True, rsv: int = 0
) -> bytes:
    """One whole frame (5.2): masked with the 4-byte ``mask`` (a client's), or not (a server's).

    ``fin`` and ``rsv`` (the three reserved bits, as a number) are for tests
    that send what a well-behaved peer would not.
    """
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    bit = _MASK_BIT if mask is not None else 0
    if length < _LENGTH_16:
        head = bytes((first, bit | length))
    elif length < 65536:
        head = bytes((first, bit | _LENGTH_16)) + length.to_bytes(2, "big")
    else:
        head = bytes((first, bit | _LENGTH_64)) + length.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + apply_mask(payload, mask)


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """``data`` XOR the repeated 4-byte ``mask`` (5.3): masks and unmasks alike."""
    if not data:
        return data
    length = len(data)
    repeated = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")


def frame_size(head: bytes) -> tuple[int, int] | None:
    """``(header length, payload length)`` of the frame ``head`` starts.

    ``head`` holds the first bytes of a frame (more may follow); ``None``
    when they do not reach the end of its header yet.  The header length
    counts the masking key when the MASK bit is set.
    """
    available = len(head)
    if available < 2:
        return None
    second = head[1]
    length = second & _LENGTH_BITS
    header_length = 6 if second & _MASK_BIT else 2
    if length == _LENGTH_16:
        header_length += 2
        if available < 4:
            return None
        length = int.from_bytes(head[2:4], "big")
    elif length == _LENGTH_64:
        header_length += 8
        if available < 10:
            return None
        length = int.from_bytes(head[2:10], "big")
    if available < header_length:
        return None
    return header_length, length


def may_be_plain_text(head: bytes, max_size: int) -> bool:
    """Whether the incomplete header ``head`` can still start a plain text frame.

    A plain text frame: first byte :data:`PLAIN_TEXT`, masked (as every
    client frame must be, 5.3) and at most ``max_size`` payload bytes.  What
    ``head`` does not show yet does not count against it.
    """
    if not head:
        return True
    if head[0] != PLAIN_TEXT:
        return False
    if len(head) < 2:
        return True
    second = head[1]
    if not second & _MASK_BIT:
        return False
    length = second & _LENGTH_BITS
    if length == _LENGTH_16:
        if len(head) < 4:
            return True
        length = int.from_bytes(head[2:4], "big")
    elif length == _LENGTH_64:
        if len(head) < 10:
            return True
        length = int.from_bytes(head[2:10], "big")
    return length <= max_size


def close_frame_end(data: bytes, pos: int) -> int | None:
    """End of the client Close frame that starts at ``data[pos]``, if all there.

    ``None`` unless ``data[pos:]`` starts with a complete, masked Close frame
    without reserved bits whose payload fits a control frame (125 bytes,
    5.5).  Its masking key is at ``pos + 2``, its payload at ``pos + 6``.
    """
    if data[pos] != CLOSE or len(data) - pos < 6:
        return None
    second = data[pos + 1]
    if not _MASK_BIT <= second <= _MASK_BIT + 125:
        return None
    stop = pos + 6 + (second & _LENGTH_BITS)
    return stop if stop <= len(data) else None


def is_sendable_close_code(code: int) -> bool:
    """Whether a Close frame may carry ``code`` on the wire (7.4.1, 7.4.2).

    1000-1003, 1007-1014 and 3000-4999; 1005, 1006 and 1015 are for
    reporting only, the rest is reserved.
    """
    return sendable_code(code) == code


def close_payload(payload: bytes) -> tuple[int, str]:
    """Code and reason of a received Close frame's (unmasked) payload (5.5.1).

    An empty payload means no code: :data:`NO_STATUS_RCVD` and ``""``.
    Raises :class:`ValueError` for a payload a client may not send: one byte
    only, a code that may not appear on the wire, or a reason that is not
    UTF-8 (:class:`UnicodeDecodeError`, a :class:`ValueError`).
    """
    if not payload:
        return NO_STATUS_RCVD, ""
    if len(payload) < 2:
        raise ValueError("close frame too short")
    code = int.from_bytes(payload[:2], "big")
    if not is_sendable_close_code(code):
        raise ValueError(f"close code {code} may not be sent in a Close frame")
    return code, payload[2:].decode()


def fit_close_reason(reason: str) -> str:
    """``reason`` cut to :data:`MAX_CLOSE_REASON_BYTES` bytes of UTF-8.

    A character the cut would split is left out whole.
    """
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    return encoded[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class FrameCursor:
    """Where a frame parser fed the same bytes stands: at a frame boundary or inside one.

    Give :meth:`advance` every byte the parser is given, in order; the
    cursor reads the frame headers to skip each frame's payload.
    """

    __slots__ = ("_head", "_remaining")

    def __init__(self) -> None:
        self._head = b""  # the start of a header whose end has not come yet
        self._remaining = 0  # bytes left of the current frame

    @property
    def at_boundary(self) -> bool:
        """No frame is partly read: the next byte starts a frame."""
        return not (self._remaining or self._head)

    def advance(self, data: bytes) -> None:
        """Move past ``data``."""
        pos = 0
        end = len(data)
        while pos < end:
            if self._remaining:
                take = min(self._remaining, end - pos)
                self._remaining -= take
                pos += take
                continue
            # A header is at most 14 bytes: if these do not complete it,
            # they are the rest of ``data``.
            head = self._head + data[pos : pos + 14]
            size = frame_size(head)
            if size is None:
                self._head = head
                return
            self._remaining = size[0] + size[1] - len(self._head)
            self._head = b""


class FrameReader:
    """Whole frames out of a byte stream: ``(fin, opcode, payload)``, payloads unmasked.

    A client's view of the server's frames (the server's own parsing is
    ``websockets``'): nothing is checked beyond the framing itself.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[bool, int, bytes]]:
        """Consume ``data``; return the frames it completes."""
        buffer = self._buffer + data
        frames = []
        while (size := frame_size(buffer)) is not None:
            header, length = size
            if len(buffer) < header + length:
                break
            payload = buffer[header : header + length]
            if buffer[1] & _MASK_BIT:
                payload = apply_mask(payload, buffer[header - 4 : header])
            frames.append((bool(buffer[0] & 0x80), buffer[0] & 0x0F, payload))
            buffer = buffer[header + length :]
        self._buffer = buffer
        return frames


class MessageAssembler:
    """Whole messages out of the frames of one connection (5.4, 5.6, 8.1).

    Takes the frames a parser has checked (fragments in order, no control
    frame fragmented, Close payloads valid) and returns the event each one
    completes: fragments are joined, text is decoded, a Close frame gives
    its code and reason, pings and pongs give nothing. A message in more
    than ``max_fragments`` frames gives a :class:`ProtocolError` with
    :data:`~sockjs.protocol.closing.TOO_MANY_FRAGMENTS`: the size limit of
    the parser cannot see empty fragments, which would otherwise pile up.
    """

    __slots__ = ("_binary", "_data", "_fragments", "max_fragments")

    def __init__(self, max_fragments: int | None = None) -> None:
        self.max_fragments = max_fragments
        self._binary = False
        self._fragments = 0  # frames of the message under way (0: none)
        self._data = bytearray()  # what they carried, joined as they come

    @property
    def in_message(self) -> bool:
        """A fragmented message has started and not finished."""
        return bool(self._fragments)

    def frame(self, opcode: int, fin: bool, data: bytes) -> Event | None:
        """The event the frame completes, if any.

        Text that is not UTF-8 gives a :class:`ProtocolError` with 1007, and
        too many fragments one with 1009: the connection must be failed with
        it (8.1).
        """
        if opcode in (_TEXT, _BINARY):
            if not fin:
                self._binary = opcode == _BINARY
                self._fragments = 1
                self._data = bytearray(data)
                return None
            return _message(opcode == _BINARY, data)
        if opcode == _CONT:
            self._fragments += 1
            if self.max_fragments is not None and self._fragments > self.max_fragments:
                self._fragments = 0
                self._data = bytearray()
                close = TOO_MANY_FRAGMENTS
                return ProtocolError(close.code, close.reason)
            self._data += data
            if not fin:
                return None
            whole = bytes(self._data)
            self._fragments = 0
            self._data = bytearray()
            return _message(self._binary, whole)
        if opcode == _CLOSE:
            return CloseReceived(*close_payload(data))
        return None  # ping (the parser answers it) or pong


def _message(binary: bool, data: bytes) -> Event:
    if binary:
        return BinaryMessage(data)
    try:
        return TextMessage(data.decode())
    except UnicodeDecodeError as exc:
        reason = f"invalid UTF-8: {exc.reason} at position {exc.start}"
        return ProtocolError(_INVALID_DATA, reason)
