"""SockJS frames: the only place where frame text is built (PROTOCOL.md 3.1).

Frames are ASCII ``str``; transports (:mod:`sockjs.protocol.transports`)
wrap them into the bytes each transport puts on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sockjs.protocol.encoding import json_encode

OPEN = "o"
HEARTBEAT = "h"


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
