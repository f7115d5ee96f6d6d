"""What happens on an open WebSocket: message events and the SockJS rules for them.

The framing layers (RFC 6455 through ``websockets`` in the adapter, hixie-76
in :mod:`sockjs.protocol.hixie76`) turn socket bytes into the events below;
the functions after them decide what each event means (PROTOCOL.md 7.8,
7.9), so the adapter only carries the decision out:

* a list of messages for the application;
* :class:`Fail`: send this Close frame at once and drop the connection,
  without a ``c`` frame (a client fault on the socket itself);
* :class:`CloseSession`: close the SockJS session (its ``c`` frame goes
  out, then the Close frame of :func:`close_after`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sockjs.protocol import closing
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.encoding import decode_websocket_message
from sockjs.protocol.errors import BrokenJSON

# -- events of the framing layers -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A complete text message from the client."""

    text: str


@dataclass(frozen=True, slots=True)
class BinaryMessage:
    """A complete binary message from the client."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The client sent a Close frame (``1005`` when it carried no code).

    The framing layer has answered it; the connection is over.
    """

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The client broke the protocol; the framing layer has sent its Close.

    ``code`` is the close code sent (1002 framing, 1007 bad UTF-8, 1009 too
    big, 1011 unexpected).
    """

    code: int
    reason: str


Event = TextMessage | BinaryMessage | CloseReceived | ProtocolError

# -- decisions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fault:
    """A client fault to count and log: stats kind, and the setting involved if any."""

    kind: str
    detail: str
    limit: str | None = None


@dataclass(frozen=True, slots=True)
class Fail:
    """Send :attr:`close` as the Close frame now and drop the connection (no ``c`` frame)."""

    close: CloseInfo
    fault: Fault


@dataclass(frozen=True, slots=True)
class CloseSession:
    """Close the SockJS session with :attr:`close` (``c`` frame, then the usual Close)."""

    close: CloseInfo
    fault: Fault


#: RFC 6455 "message too big": the framing layer refused a message over ``max_message_size``.
_MESSAGE_TOO_BIG = 1009
_FAULT_KINDS = {1003: "binary_message", 1007: "invalid_utf8", 3000: "bad_json"}


def sockjs_message(text: str, max_messages: int) -> list[Any] | Fail | CloseSession:
    """A text message on the SockJS endpoint: its messages, or what to do instead.

    Not JSON: :data:`~sockjs.protocol.closing.BROKEN_FRAMING`, no ``c`` frame
    first (as sockjs-node 0.3.16+). More than ``max_messages`` messages: the
    session closes with :data:`~sockjs.protocol.closing.TOO_MANY_MESSAGES`;
    none of them reaches the application (part of a batch would surprise
    more than none).
    """
    try:
        messages = decode_websocket_message(text)
    except BrokenJSON:
        close = closing.BROKEN_FRAMING
        return Fail(close, Fault("bad_json", close.reason))
    if len(messages) > max_messages:
        fault = Fault(
            "too_many_messages",
            f"{len(messages)} messages in one WebSocket message",
            "max_messages_per_request",
        )
        return CloseSession(closing.TOO_MANY_MESSAGES, fault)
    return messages


def binary_message(passed_through: bool = False) -> Fail | None:
    """A binary message: refused with 1003, or ``None`` where it is passed through.

    SockJS is a text protocol (RFC 6455 1003, "unsupported data"); the raw
    endpoint passes binary messages to the application with ``raw_binary``.
    """
    if passed_through:
        return None
    close = closing.BINARY_REFUSED
    return Fail(close, Fault("binary_message", close.reason))


def protocol_error(event: ProtocolError) -> tuple[CloseInfo, Fault]:
    """The close a framing error ended the socket with, and the fault to report."""
    if (event.code, event.reason) == (
        closing.TOO_MANY_FRAGMENTS.code,
        closing.TOO_MANY_FRAGMENTS.reason,
    ):
        fault = Fault("too_many_fragments", event.reason, "max_message_fragments")
    elif event.code == _MESSAGE_TOO_BIG:
        fault = Fault("message_too_big", event.reason, "max_message_size")
    else:
        fault = Fault(_FAULT_KINDS.get(event.code, "ws_protocol_error"), event.reason)
    return closing.by_server(event.code, event.reason), fault


def message_timeout() -> Fail:
    """A fragmented message not completed within ``message_timeout`` (RFC 6455 1008)."""
    close = closing.MESSAGE_TIMEOUT
    return Fail(close, Fault("message_timeout", close.reason, "message_timeout"))


def close_after(session_close: CloseInfo) -> CloseInfo:
    """The Close frame that follows a session's ``c`` frame on the SockJS endpoint.

    Always the generic 1000, as sockjs-node sends (PROTOCOL.md 7.8, 10.1 item
    13): the session's own code and reason travel in the ``c`` frame. A
    shutdown says "going away" in both.
    """
    if session_close.code == closing.GOING_AWAY.code:
        return closing.GOING_AWAY
    return closing.NORMAL_CLOSURE


def raw_close(close: CloseInfo) -> tuple[int, str]:
    """Code and reason of the Close frame closing a raw WebSocket.

    A code that may not appear in a Close frame (1005, 2010...) goes out as
    1000; the reason is kept (lone surrogates replaced).
    """
    reason = close.reason.encode("utf-8", "replace").decode("utf-8")
    return closing.sendable_code(close.code), reason


# -- liveness ---------------------------------------------------------------------------------

#: What :meth:`Liveness.on_timer` asks for.
PING = "ping"
DEAD = "dead"


class Liveness:
    """When to ping a WebSocket peer, and when to give up on it (no SockJS session).

    A SockJS WebSocket pings with its session's heartbeats (the session keeps
    the deadlines); the raw endpoint has no session, so this keeps them: a
    ping every ``interval`` seconds, and the peer is gone when nothing at all
    came from it within ``timeout`` seconds of a ping. Any data from the
    peer (a pong, a message) counts: call :meth:`alive`.
    """

    __slots__ = ("interval", "next_ping", "pong_due", "timeout")

    def __init__(self, interval: float, timeout: float, now: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.next_ping = now + interval
        #: When the peer must have answered the last ping; ``None``: it did.
        self.pong_due: float | None = None

    @property
    def deadline(self) -> float:
        """When :meth:`on_timer` must run next."""
        due = self.pong_due
        return self.next_ping if due is None or due > self.next_ping else due

    def on_timer(self, now: float) -> str | None:
        """:data:`DEAD`, :data:`PING` (send one now), or ``None`` (nothing due yet)."""
        due = self.pong_due
        if due is not None and now >= due:
            return DEAD
        if now < self.next_ping:
            return None
        self.next_ping = now + self.interval
        if due is None:
            self.pong_due = now + self.timeout
        return PING

    def alive(self) -> None:
        """The peer sent something: it is there."""
        self.pong_due = None
