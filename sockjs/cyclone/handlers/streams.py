"""The two framings of an upgraded connection, and making the right one from the handshake.

RFC 6455 (hybi-07, -08 and 13 frame alike) goes through
:class:`~sockjs.cyclone.wsstream.WebSocketStream`, hixie-76 through
:class:`~sockjs.protocol.hixie76.Hixie76Stream`; both offer the calls of
:class:`Stream`, which is all the upgrade handler uses.
"""

from __future__ import annotations

from typing import Any, Protocol

from sockjs.cyclone.wsstream import WebSocketStream
from sockjs.protocol import handshake, hixie76
from sockjs.protocol.options import Options
from sockjs.protocol.websocket import Event


class Stream(Protocol):
    """An upgraded connection's framing: RFC 6455 or hixie-76."""

    #: False while the handshake still waits for bytes (hixie-76 key3).
    ready: bool

    def receive(self, data: bytes) -> list[Event]:
        """Consume socket bytes; return the events they complete."""

    def send_utf8(self, text: bytes) -> None:
        """Queue one text message."""

    def fail(self, code: int, reason: str) -> None:
        """Queue a Close frame; the stream is over (drop TCP after flushing)."""

    def data_to_send(self) -> bytes:
        """Bytes queued for the socket since the last call."""

    @property
    def closed(self) -> bool:
        """The stream is over: close TCP once :meth:`data_to_send` is written."""

    def eof_received(self) -> None:
        """The TCP connection is gone."""

    @property
    def in_message(self) -> bool:
        """A fragmented message has started and not finished."""

    def send_ping(self) -> None:
        """Queue a ping (RFC 6455; nothing for hixie-76)."""


def open_stream(
    kind: handshake.HandshakeKind, request: Any, options: Options
) -> tuple[bytes, Stream]:
    """The ``101`` head that answers the upgrade ``request``, and the stream that follows it."""
    header = request.headers.get
    if kind is handshake.HandshakeKind.HYBI:
        hybi = WebSocketStream(
            max_message_size=options.max_message_size,
            max_fragments=options.max_message_fragments,
        )
        extensions = hybi.negotiate_extensions(header("Sec-WebSocket-Extensions"))
        return handshake.hybi_response(header("Sec-WebSocket-Key") or "", extensions), hybi
    head = hixie76.handshake_headers(
        host=header("Host") or "",
        path_and_query=request.uri,
        origin=header("Origin"),
        protocol=header("Sec-WebSocket-Protocol"),
        secure=request.protocol == "https",
    )
    stream = hixie76.Hixie76Stream(
        header("Sec-WebSocket-Key1") or "",
        header("Sec-WebSocket-Key2") or "",
        options.max_message_size,
    )
    return head, stream
