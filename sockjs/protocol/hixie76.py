"""Hixie-76 (hybi-00) WebSocket handshake and framing (PROTOCOL.md 7.10).

The SockJS 0.3.3 suite still opens WebSockets with this draft, which no
maintained Python library implements.  Everything here is pure: the adapter
writes :func:`handshake_headers` as soon as the request headers are parsed,
reads the 8 bytes of key3, writes :func:`challenge_response`, then pushes
socket bytes through :class:`Hixie76Parser` and writes :func:`encode_frame`
output (and :data:`CLOSE_FRAME` before dropping the TCP connection).
"""

from __future__ import annotations

import hashlib
import struct

from sockjs.protocol.websocket import CloseReceived, Event, ProtocolError, TextMessage

__all__ = [
    "CLOSE_FRAME",
    "KEY3_LENGTH",
    "Hixie76Error",
    "Hixie76Parser",
    "Hixie76ProtocolError",
    "Hixie76Stream",
    "challenge_response",
    "encode_frame",
    "handshake_headers",
    "key_number",
]

#: The closing handshake: the sender drops the TCP connection after it.
CLOSE_FRAME = b"\xff\x00"
#: Bytes of key3 that follow the request headers (not announced by Content-Length).
KEY3_LENGTH = 8

_DIGITS = frozenset("0123456789")
_MAX_KEY_NUMBER = 0xFFFFFFFF
#: A key's number is at most 2**32 - 1 times its spaces, and a header line is
#: at most a few KB: 20 digits are more than any valid key has.
_MAX_KEY_DIGITS = 20


class Hixie76Error(ValueError):
    """An unusable handshake key (the request is answered with 400)."""


class Hixie76ProtocolError(ValueError):
    """The client broke hixie-76 framing; drop the connection."""


def key_number(key: str) -> int:
    """The number a ``Sec-WebSocket-Key1``/``Key2`` value encodes (7.10).

    Its decimal digits, read as one integer, divided by its count of spaces.
    Raises :class:`Hixie76Error` when the key has no digits or no spaces,
    when the division leaves a remainder, or when the result does not fit in
    32 bits.
    """
    digits = "".join(char for char in key if char in _DIGITS)
    spaces = key.count(" ")
    if not digits:
        raise Hixie76Error("Invalid WebSocket key: no digits.")
    if len(digits) > _MAX_KEY_DIGITS:
        # Cheaper than the division, and Python refuses to convert integers
        # of more than 4300 digits anyway.
        raise Hixie76Error("Invalid WebSocket key: number out of range.")
    if spaces == 0:
        raise Hixie76Error("Invalid WebSocket key: no spaces.")
    number, remainder = divmod(int(digits), spaces)
    if remainder:
        raise Hixie76Error("Invalid WebSocket key: number not a multiple of the spaces.")
    if number > _MAX_KEY_NUMBER:
        raise Hixie76Error("Invalid WebSocket key: number out of range.")
    return number


def challenge_response(key1: str, key2: str, key3: bytes) -> bytes:
    """The 16-byte answer: ``MD5(be32(n1) + be32(n2) + key3)`` (checklist 115).

    Raises :class:`Hixie76Error` for an invalid key or a key3 that is not
    exactly :data:`KEY3_LENGTH` bytes.
    """
    if len(key3) != KEY3_LENGTH:
        raise Hixie76Error(f"key3 must be {KEY3_LENGTH} bytes, got {len(key3)}")
    challenge = struct.pack("!II", key_number(key1), key_number(key2)) + bytes(key3)
    return hashlib.md5(challenge, usedforsecurity=False).digest()


def handshake_headers(
    host: str,
    path_and_query: str,
    origin: str | None,
    protocol: str | None,
    secure: bool,
) -> bytes:
    """The ``101`` head to write *before* reading key3 (checklist 114).

    ``host`` is the request's ``Host`` header, ``path_and_query`` the request
    URI, ``origin`` its ``Origin`` header (echoed in ``Sec-WebSocket-Origin``;
    omitted when ``None``), ``protocol`` its ``Sec-WebSocket-Protocol`` (echoed
    when given).  ``secure`` picks ``wss://`` for ``Sec-WebSocket-Location``.
    No ``Content-Length``.  Raises :class:`Hixie76Error` if a value is not
    printable ASCII (a line break would split the header; other bytes could
    not be written in a header at all).
    """
    for value in (host, path_and_query, origin, protocol):
        if value is not None and not all(" " <= char <= "~" for char in value):
            raise Hixie76Error(f"header value {value[:100]!r} cannot be echoed")
    scheme = "wss" if secure else "ws"
    lines = [
        "HTTP/1.1 101 WebSocket Protocol Handshake",
        "Upgrade: WebSocket",
        "Connection: Upgrade",
    ]
    if origin is not None:
        lines.append(f"Sec-WebSocket-Origin: {origin}")
    lines.append(f"Sec-WebSocket-Location: {scheme}://{host}{path_and_query}")
    if protocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def encode_frame(text: str) -> bytes:
    """One text message as a hixie frame: ``0x00`` + UTF-8 + ``0xFF``."""
    return b"\x00%b\xff" % text.encode("utf-8")


class Hixie76Parser:
    """Incremental decoder of client frames; feed it socket bytes as they come.

    :meth:`feed` returns the complete text messages found so far (an empty
    message ``0x00 0xFF`` is returned as ``""``; the SockJS layer ignores it).
    After the closing handshake ``0xFF 0x00`` :attr:`closed` is true and
    further bytes are ignored.  Any other leading byte, a payload over
    ``max_message_size`` bytes or invalid UTF-8 raises
    :class:`Hixie76ProtocolError`; the parser then refuses further input.
    """

    __slots__ = ("_buffer", "_failed", "_scanned", "closed", "max_message_size")

    def __init__(self, max_message_size: int = 1 << 20) -> None:
        self.max_message_size = max_message_size
        #: True once the client sent the closing handshake ``0xFF 0x00``.
        self.closed = False
        self._failed = False
        # Bytes of an incomplete frame, always starting at its leading byte.
        self._buffer = bytearray()
        # How far into _buffer the search for 0xFF has already gone, so a
        # message arriving in many small pieces is scanned only once.
        self._scanned = 0

    def feed(self, data: bytes | bytearray) -> list[str]:
        """Consume ``data`` and return the text messages it completes."""
        if self.closed or self._failed:
            if self._failed:
                raise Hixie76ProtocolError("parser already failed")
            return []
        buffer: bytes | bytearray
        if self._buffer:
            self._buffer += data
            buffer = self._buffer
        else:
            buffer = data
        messages: list[str] = []
        pos = 0
        end_of_data = len(buffer)
        try:
            while pos < end_of_data:
                lead = buffer[pos]
                if lead == 0x00:
                    start = pos + 1
                    end = buffer.find(b"\xff", max(start, pos + self._scanned))
                    if end < 0:
                        self._check_size(end_of_data - start)
                        self._scanned = end_of_data - pos
                        break
                    self._check_size(end - start)
                    self._scanned = 0
                    messages.append(self._decode(buffer[start:end]))
                    pos = end + 1
                elif lead == 0xFF:
                    if pos + 1 == end_of_data:
                        break
                    if buffer[pos + 1] != 0x00:
                        raise Hixie76ProtocolError("unsupported length-prefixed frame")
                    self.closed = True
                    pos = end_of_data
                else:
                    raise Hixie76ProtocolError(f"invalid frame type 0x{lead:02x}")
        except Hixie76ProtocolError:
            self._failed = True
            self._buffer = bytearray()
            raise
        if pos == end_of_data:
            self._buffer = bytearray()
        elif buffer is self._buffer:
            del self._buffer[:pos]
        else:
            self._buffer = bytearray(buffer[pos:])
        return messages

    def _check_size(self, size: int) -> None:
        if size > self.max_message_size:
            raise Hixie76ProtocolError(f"message of more than {self.max_message_size} bytes")

    @staticmethod
    def _decode(payload: bytes | bytearray) -> str:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Hixie76ProtocolError(f"invalid UTF-8 in text frame: {exc.reason}") from exc


class Hixie76Stream:
    """One hixie-76 connection after its ``101`` head: key3, the answer, then frames.

    The same calls as the adapter's RFC 6455 stream: :meth:`receive` turns
    socket bytes into :mod:`~sockjs.protocol.websocket` events,
    :meth:`send_utf8` and :meth:`fail` queue frames, :meth:`data_to_send`
    hands the bytes over. :attr:`ready` turns true once key3 arrived and the
    answer is queued (messages may flow from then on). Hixie-76 Close frames
    carry neither code nor reason: a close always sends ``0xFF 0x00``.
    """

    __slots__ = ("_closed", "_key1", "_key2", "_key3", "_out", "_parser", "ready")

    def __init__(self, key1: str, key2: str, max_message_size: int) -> None:
        #: key3 was received and answered.
        self.ready = False
        self._key1 = key1
        self._key2 = key2
        self._key3 = b""
        self._parser = Hixie76Parser(max_message_size)
        self._out: list[bytes] = []
        self._closed = False

    def receive(self, data: bytes) -> list[Event]:
        """Consume socket bytes; return the events they complete."""
        if self._closed:
            return []
        if not self.ready:
            missing = KEY3_LENGTH - len(self._key3)
            self._key3 += data[:missing]
            data = data[missing:]
            if len(self._key3) < KEY3_LENGTH:
                return []
            # The keys were checked before the 101 went out, so this cannot fail.
            self._out.append(challenge_response(self._key1, self._key2, self._key3))
            self.ready = True
            if not data:
                return []
        try:
            texts = self._parser.feed(data)
        except Hixie76ProtocolError as exc:
            self.fail(1002, str(exc))
            return [ProtocolError(1002, str(exc))]
        events: list[Event] = [TextMessage(text) for text in texts]
        if self._parser.closed:
            # The client's closing handshake: answer it; the stream is over.
            self.fail(1005, "")
            events.append(CloseReceived(1005, ""))
        return events

    def send_utf8(self, text: bytes) -> None:
        """Queue one text message given as UTF-8 bytes (ignored once closed)."""
        if not self._closed:
            self._out.append(b"\x00" + text + b"\xff")

    def fail(self, code: int, reason: str) -> None:
        """Queue the closing handshake; the stream is over (drop TCP after flushing)."""
        del code, reason  # hixie-76 closes carry neither
        if not self._closed:
            self._closed = True
            self._out.append(CLOSE_FRAME)

    def data_to_send(self) -> bytes:
        """Bytes queued for the socket since the last call."""
        data = b"".join(self._out)
        self._out = []
        return data

    @property
    def closed(self) -> bool:
        """The stream is over: close TCP once :meth:`data_to_send` is written."""
        return self._closed

    def eof_received(self) -> None:
        """The TCP connection is gone."""
        self._closed = True

    #: Hixie-76 has no fragmented messages (``message_timeout`` never applies).
    in_message = False

    def send_ping(self) -> None:
        """Hixie-76 has no ping frames: nothing to send."""
