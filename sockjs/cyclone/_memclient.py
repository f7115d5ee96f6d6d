"""In-memory client connections to a Cyclone application: real HTTP/1.1 and RFC 6455 bytes.

Private plumbing of :mod:`sockjs.cyclone.testing`, after the idea of treq's
``StubTreq``: a connection is the protocol the application's own
``buildProtocol`` makes, attached to a ``twisted.internet.testing.StringTransport``
whose peer is the client's address. Requests are bytes pushed into
``dataReceived``; answers are parsed back, as they arrive, from what the
server wrote. No socket, thread or clock is involved, and nothing here knows
SockJS.

Every call that runs server code (building a connection, sending bytes,
losing a connection) is the caller's to guard: the test harness keeps
application hooks from re-entering it.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

#: RFC 6455 1.3: appended to the client's key to compute ``Sec-WebSocket-Accept``.
_WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: RFC 6455 5.2 opcodes.
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# Each connection gets its own client port (from the ephemeral range, in turn).
_ports = itertools.cycle(range(49152, 65536))
# Twisted's StringTransport methods carry no annotations.
_base: Any = StringTransport


class _Transport(StringTransport):
    """A ``StringTransport`` that reports every write and close to its connection."""

    def __init__(self, notify: Callable[[], None], **kwargs: Any) -> None:
        _base.__init__(self, **kwargs)
        self._notify = notify

    def write(self, data: bytes) -> None:
        _base.write(self, data)
        self._notify()

    def writeSequence(self, data: Iterable[bytes]) -> None:  # noqa: N802 - Twisted API
        _base.writeSequence(self, data)
        self._notify()

    def loseConnection(self) -> None:
        _base.loseConnection(self)
        self._notify()


class MemoryConnection:
    """One client TCP connection to ``app``, in memory.

    ``on_activity`` is called (from inside server code: it must only take
    note) whenever the server writes to the connection or closes it.
    """

    def __init__(self, app: Any, ip: str, on_activity: Callable[[], None]) -> None:
        address_type = IPv6Address if ":" in ip else IPv4Address
        peer = address_type("TCP", ip, next(_ports))
        self.transport: Any = _Transport(
            on_activity, hostAddress=IPv4Address("TCP", "127.0.0.1", 80), peerAddress=peer
        )
        self.protocol = app.buildProtocol(peer)
        #: ``connectionLost`` was delivered: the connection is over for both sides.
        self.lost = False
        self.protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        """Bytes from the client, as if they arrived from the network."""
        if not self.lost:
            self.protocol.dataReceived(data)

    def receive(self) -> bytes:
        """Bytes the server wrote since the previous call."""
        transport = self.transport
        data: bytes = transport.value()
        if data:
            transport.clear()
        return data

    @property
    def closed_by_server(self) -> bool:
        """The server asked for the connection to be closed (``loseConnection``)."""
        return bool(self.transport.disconnecting)

    def lose(self) -> None:
        """The connection ends (either side closed it): what Twisted's TCP transport does."""
        if self.lost:
            return
        self.lost = True
        transport = self.transport
        transport.connected = False
        producer = transport.producer
        if producer is not None:
            transport.producer = None
            producer.stopProducing()
        self.protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[no-untyped-call]


def http_request(
    method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes = b""
) -> bytes:
    """The bytes of one HTTP/1.1 request (``Host`` and ``Content-Length`` added)."""
    headers = list(headers)
    names = {name.lower() for name, _ in headers}
    lines = [f"{method} {target} HTTP/1.1"]
    if "host" not in names:
        lines.append("Host: 127.0.0.1")
    lines.extend(f"{name}: {value}" for name, value in headers)
    if (body or method == "POST") and "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


class ResponseReader:
    """Incremental parser of one HTTP/1.1 response.

    :meth:`feed` returns the body as it completes: each HTTP chunk of a
    chunked response on its own, a ``Content-Length`` body whole. After a
    ``101`` the parser stops; the bytes after the head are in :attr:`rest`.
    """

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        #: The whole response was read.
        self.complete = False
        #: A ``101 Switching Protocols`` head was read.
        self.upgraded = False
        #: Bytes after a ``101`` head (the first frames of the new protocol).
        self.rest = b""
        self._buffer = b""
        self._chunked = False
        self._remaining: int | None = None  # bytes of body (or of a chunk) to come

    def feed(self, data: bytes) -> list[bytes]:
        """Consume ``data``; return the body pieces it completed."""
        self._buffer += data
        pieces: list[bytes] = []
        while not self.complete and not self.upgraded:
            if not self.status:
                if not self._read_head():
                    break
            elif self._chunked:
                if not self._read_chunk(pieces):
                    break
            elif self._remaining is None:  # delimited by the end of the connection
                if self._buffer:
                    pieces.append(self._buffer)
                    self._buffer = b""
                break
            elif len(self._buffer) >= self._remaining:
                body, self._buffer = self._buffer[: self._remaining], b""
                if body:
                    pieces.append(body)
                self.complete = True
            else:
                break
        return pieces

    def _read_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        status_line, *lines = self._buffer[:end].decode("latin-1").split("\r\n")
        self._buffer = self._buffer[end + 4 :]
        self.status = int(status_line.split(" ", 2)[1])
        for line in lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        if self.status == 101:
            self.upgraded = True
            self.rest, self._buffer = self._buffer, b""
        elif self.status in (204, 304):
            self.complete = True
        elif "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in self.headers:
            self._remaining = int(self.headers["content-length"])
        return True

    def _read_chunk(self, pieces: list[bytes]) -> bool:
        buffer = self._buffer
        end = buffer.find(b"\r\n")
        if end < 0:
            return False
        size = int(buffer[:end].split(b";", 1)[0], 16)
        start = end + 2
        if len(buffer) < start + size + 2:
            return False
        if size:
            pieces.append(buffer[start : start + size])
        else:
            self.complete = True  # a trailer-less last chunk: "0\r\n\r\n"
        self._buffer = buffer[start + size + 2 :]
        return True


class HTTPExchange:
    """One request on a fresh connection, and its response read as it arrives."""

    def __init__(self, app: Any, ip: str, request: bytes, on_activity: Callable[[], None]) -> None:
        self.response = ResponseReader()
        self.connection = MemoryConnection(app, ip, on_activity)
        self.connection.send(request)

    def read(self) -> list[bytes]:
        """Body pieces completed since the previous call."""
        return self.response.feed(self.connection.receive())

    @property
    def over(self) -> bool:
        """The response is complete, or the server closed the connection."""
        return self.response.complete or self.connection.closed_by_server


class WebSocket(HTTPExchange):
    """An RFC 6455 client: the upgrade request, masked frames out, the server's frames in."""

    def __init__(
        self,
        app: Any,
        ip: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        on_activity: Callable[[], None],
    ) -> None:
        key = base64.b64encode(os.urandom(16))
        self._accept = base64.b64encode(hashlib.sha1(key + _WEBSOCKET_GUID).digest()).decode()
        upgrade = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key.decode()),
            ("Sec-WebSocket-Version", "13"),
            *headers,
        ]
        self._frames = FrameReader()
        self._replies: list[bytes] = []
        #: ``(code, reason)`` of the server's Close frame, once received.
        self.close_frame: tuple[int, str] | None = None
        super().__init__(app, ip, http_request("GET", target, upgrade), on_activity)

    @property
    def open(self) -> bool:
        """The handshake succeeded and neither side has closed."""
        return (
            self.response.upgraded
            and self.close_frame is None
            and not self.connection.closed_by_server
            and not self.connection.lost
        )

    def read_messages(self) -> list[str]:
        """Text messages received since the previous call.

        Only reads: the answer to a ping waits for :meth:`send_replies`.
        """
        data = self.connection.receive() if self.response.upgraded else self._handshake()
        messages = []
        for opcode, payload in self._frames.feed(data):
            if opcode == TEXT:
                messages.append(payload.decode("utf-8"))
            elif opcode == CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.close_frame = (code, payload[2:].decode("utf-8"))
            elif opcode == PING:
                self._replies.append(client_frame(PONG, payload))
        return messages

    def send_replies(self) -> None:
        """Answer the pings read so far (while the WebSocket is open)."""
        replies, self._replies = self._replies, []
        if self.open:
            for reply in replies:
                self.connection.send(reply)

    def _handshake(self) -> bytes:
        # The 101 head, and the first frames that came with it.
        self.read()
        response = self.response
        if not response.upgraded:
            return b""
        if response.headers.get("sec-websocket-accept") != self._accept:
            raise AssertionError("the server's Sec-WebSocket-Accept does not match the key")
        return response.rest

    def send_text(self, text: str) -> None:
        """Send one text message."""
        self.connection.send(client_frame(TEXT, text.encode("utf-8")))


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 5.2, 5.3)."""
    length = len(payload)
    if length < 126:
        head = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    return head + mask + _apply_mask(payload, mask)


def _apply_mask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    length = len(data)
    repeated = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")


class FrameReader:
    """Incremental parser of the server's frames; fragmented messages are joined."""

    def __init__(self) -> None:
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._opcode = TEXT

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Consume ``data``; return ``(opcode, payload)`` of each whole message or control frame."""
        self._buffer += data
        out: list[tuple[int, bytes]] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return out
            final, opcode, payload = frame
            if opcode >= CLOSE:  # control frames come whole, even between fragments
                out.append((opcode, payload))
                continue
            if opcode != CONTINUATION:
                self._opcode = opcode
            self._fragments.append(payload)
            if final:
                out.append((self._opcode, b"".join(self._fragments)))
                self._fragments = []

    def _next_frame(self) -> tuple[bool, int, bytes] | None:
        buffer = self._buffer
        length = buffer[1] & 0x7F if len(buffer) >= 2 else 0
        start = {126: 4, 127: 10}.get(length, 2)
        if len(buffer) < start:
            return None
        if start > 2:
            length = int.from_bytes(buffer[2:start], "big")
        masked = bool(buffer[1] & 0x80)  # servers do not mask; tolerated all the same
        stop = start + (4 if masked else 0) + length
        if len(buffer) < stop:
            return None
        payload = buffer[stop - length : stop]
        if masked:
            payload = _apply_mask(payload, buffer[start : start + 4])
        self._buffer = buffer[stop:]
        return bool(buffer[0] & 0x80), buffer[0] & 0x0F, payload
