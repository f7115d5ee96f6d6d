"""In-memory client connections to a Cyclone application: real HTTP/1.1 and RFC 6455 bytes.

Private plumbing of :mod:`sockjs.addons.testing`, after the idea of treq's
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
import itertools
import os
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from sockjs.protocol import httpclient, wsframes
from sockjs.protocol.handshake import accept_key
from sockjs.protocol.websocket import CloseReceived, TextMessage

#: RFC 6455 5.2 opcodes a client sends.
TEXT, PING, PONG = 0x1, 0x9, 0xA

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


class HTTPExchange:
    """One request on a fresh connection, and its response read as it arrives."""

    def __init__(self, app: Any, ip: str, request: bytes, on_activity: Callable[[], None]) -> None:
        self.response = httpclient.ResponseReader()
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
        key = base64.b64encode(os.urandom(16)).decode()
        self._accept = accept_key(key)
        upgrade = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
            *headers,
        ]
        self._frames = wsframes.FrameReader()
        self._messages = wsframes.MessageAssembler()
        self._replies: list[bytes] = []
        #: ``(code, reason)`` of the server's Close frame, once received.
        self.close_frame: tuple[int, str] | None = None
        super().__init__(app, ip, httpclient.request("GET", target, upgrade), on_activity)

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
        for fin, opcode, payload in self._frames.feed(data):
            if opcode == PING:
                self._replies.append(client_frame(PONG, payload))
                continue
            event = self._messages.frame(opcode, fin, payload)
            if type(event) is TextMessage:
                messages.append(event.text)
            elif type(event) is CloseReceived:
                self.close_frame = (event.code, event.reason)
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
    """One final client frame, masked as RFC 6455 5.3 requires."""
    return wsframes.frame(opcode, payload, mask=os.urandom(4))
