"""How sessions end: the one table of close codes, reasons and initiators.

Every close the library decides on is a :class:`CloseInfo` constant below;
nothing else in the package spells a code or a reason. The same value is
what the client sees (``c[code,"reason"]`` frames, WebSocket Close frames)
and what the application reads in ``connectionLost()``
(``self.close_info``). Codes follow PROTOCOL.md 3.5 and RFC 6455 7.4.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Initiator(StrEnum):
    """Who ended a session. A ``str``: ``close_info.initiator == "client"`` holds."""

    #: The application called ``close()``.
    APPLICATION = "application"
    #: The server: a limit, an application error, a refusal, a shutdown.
    SERVER = "server"
    #: The client closed, went away or broke the protocol.
    CLIENT = "client"
    #: No receiving request for ``disconnect_delay`` seconds.
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class CloseInfo:
    """Code, reason and initiator of a close, readable from ``connectionLost()``."""

    code: int
    reason: str
    initiator: Initiator

    def __post_init__(self) -> None:
        # Accept the plain strings of the first 2.0 pre-releases too.
        if type(self.initiator) is not Initiator:
            object.__setattr__(self, "initiator", Initiator(self.initiator))


_APPLICATION = Initiator.APPLICATION
_SERVER = Initiator.SERVER
_CLIENT = Initiator.CLIENT

# -- sessions (c[code,"reason"] frames) -------------------------------------------------

#: The default of ``close()``, and a session the application refused
#: (``connectionMade`` returned False): PROTOCOL.md 3.5.
GO_AWAY = CloseInfo(3000, "Go away!", _SERVER)
#: The receiving connection dropped (PROTOCOL.md 6.8), or a replay after the
#: session was already forgotten.
INTERRUPTED = CloseInfo(1002, "Connection interrupted", _CLIENT)
#: A receiving request while another one is attached, or from another
#: address than the session's (``verify_ip``): the session is untouched.
ANOTHER_CONNECTION = CloseInfo(2010, "Another connection still open", _SERVER)
#: No receiving request for ``disconnect_delay`` seconds.
EXPIRED = CloseInfo(1000, "Session expired", Initiator.TIMEOUT)
#: An application hook raised (or its Deferred failed).
INTERNAL_ERROR = CloseInfo(1011, "Internal server error", _SERVER)
#: More than ``max_queued_bytes`` waited for a client that does not read.
SLOW_CONSUMER = CloseInfo(1013, "Slow consumer: too many queued bytes", _SERVER)
#: A graceful shutdown, or a stopped router (RFC 6455 "going away").
GOING_AWAY = CloseInfo(1001, "Server going away", _SERVER)
#: A new session over ``max_sessions`` (RFC 6455 "try again later").
TOO_MANY_SESSIONS = CloseInfo(1013, "Too many sessions", _SERVER)
#: A new session over ``max_sessions_per_ip``.
TOO_MANY_SESSIONS_FROM_IP = CloseInfo(1013, "Too many sessions from this address", _SERVER)
#: A WebSocket message carrying more than ``max_messages_per_request`` messages.
TOO_MANY_MESSAGES = CloseInfo(1009, "Too many messages in one frame", _SERVER)

# -- WebSocket Close frames --------------------------------------------------------------

#: The Close frame that follows a session's ``c`` frame on the SockJS
#: WebSocket endpoint (as sockjs-node sends, PROTOCOL.md 7.8).
NORMAL_CLOSURE = CloseInfo(1000, "Normal closure", _SERVER)
#: A SockJS WebSocket message that is not JSON (PROTOCOL.md 7.8, 10.1 item 13).
BROKEN_FRAMING = CloseInfo(3000, "Broken framing.", _SERVER)
#: A binary message where only text is accepted (RFC 6455 "unsupported data").
BINARY_REFUSED = CloseInfo(1003, "Binary messages are not supported.", _SERVER)
#: A fragmented message not complete within ``message_timeout`` (RFC 6455
#: "policy violation").
MESSAGE_TIMEOUT = CloseInfo(1008, "Message not completed in time", _SERVER)
#: A fragmented message in more than ``max_message_fragments`` frames.
TOO_MANY_FRAGMENTS = CloseInfo(1009, "Too many fragments", _SERVER)
#: The peer answered neither a ping nor anything else within ``ping_timeout``
#: (RFC 6455 1006, "abnormal closure": no Close frame, the peer is gone).
PEER_TIMEOUT = CloseInfo(1006, "Peer not responding", Initiator.TIMEOUT)

# -- multiplex channels ---------------------------------------------------------------------

#: A channel the client unsubscribed (``uns,<topic>``).
CHANNEL_CLOSED_BY_CLIENT = CloseInfo(1000, "Channel closed by the client", _CLIENT)

#: Close codes RFC 6455 allows in a Close frame (7.4.1, 7.4.2); others go out as 1000.
_SENDABLE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})


def by_application(code: int, reason: str) -> CloseInfo:
    """The close of an application's ``close(code, reason)`` call."""
    return CloseInfo(code, reason, _APPLICATION)


def by_client(code: int, reason: str) -> CloseInfo:
    """The close of a client's WebSocket Close frame (1005 when it carried no code)."""
    return CloseInfo(code, reason, _CLIENT)


def by_server(code: int, reason: str) -> CloseInfo:
    """A close the server sent for a client fault another library decided (1002, 1007...)."""
    return CloseInfo(code, reason, _SERVER)


def sendable_code(code: int) -> int:
    """``code`` if a WebSocket Close frame may carry it, else 1000 (RFC 6455 7.4)."""
    return code if code in _SENDABLE or 3000 <= code <= 4999 else NORMAL_CLOSURE.code
