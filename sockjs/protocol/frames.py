"""SockJS frames: the only place where frame text is built (PROTOCOL.md 3.1).

Frames are ASCII ``str``; transports (:mod:`sockjs.protocol.transports`)
wrap them into the bytes each transport puts on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from sockjs.protocol.encoding import json_encode

OPEN = "o"
HEARTBEAT = "h"


class CloseCode(IntEnum):
    """Close codes the server itself uses (PROTOCOL.md 3.5 and our additions)."""

    NORMAL = 1000
    INTERRUPTED = 1002
    #: The application raised while handling a message.
    INTERNAL_ERROR = 1011
    #: The client stopped reading and ``max_queued_bytes`` was exceeded.
    SLOW_CONSUMER = 1013
    ANOTHER_CONNECTION = 2010
    GO_AWAY = 3000


#: Reasons that go with :class:`CloseCode` values.
CLOSE_REASONS = {
    CloseCode.NORMAL: "Normal closure",
    CloseCode.INTERRUPTED: "Connection interrupted",
    CloseCode.INTERNAL_ERROR: "Internal server error",
    CloseCode.SLOW_CONSUMER: "Slow consumer: too many queued bytes",
    CloseCode.ANOTHER_CONNECTION: "Another connection still open",
    CloseCode.GO_AWAY: "Go away!",
}


def encode_message(message: Any) -> str:
    """Encode one application message as the JSON element of an ``a`` frame.

    A ``str`` travels as a JSON string; any other JSON-serializable value as
    its JSON form (what the old sockjs-cyclone did).
    """
    return json_encode(message)


def messages_frame(encoded: Iterable[str]) -> str:
    """Build ``a[...]`` from messages already passed through :func:`encode_message`."""
    return "a[" + ",".join(encoded) + "]"


def message_frame(encoded: str) -> str:
    """``a[...]`` of one message: what :func:`messages_frame` builds for ``[encoded]``."""
    return "a[" + encoded + "]"


def close_frame(code: int, reason: str) -> str:
    """Build ``c[code,"reason"]`` (no spaces, reason escaped like messages)."""
    return "c[" + str(int(code)) + "," + json_encode(reason) + "]"


ANOTHER_CONNECTION_FRAME = close_frame(
    CloseCode.ANOTHER_CONNECTION, CLOSE_REASONS[CloseCode.ANOTHER_CONNECTION]
)
