"""The websocket-multiplex codec: channels inside one SockJS session (PROTOCOL.md 9).

Each multiplex message is one SockJS message ``type,topic,payload`` where
``type`` is ``sub``, ``msg`` or ``uns`` and ``topic`` is the channel name
as JavaScript's ``escape()`` spells it. The payload may contain commas;
only the first two commas separate fields.
"""

from __future__ import annotations

from typing import Any

from sockjs.protocol.encoding import json_encode

SUBSCRIBE = "sub"
MESSAGE = "msg"
UNSUBSCRIBE = "uns"

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./")


def escape_topic(name: str) -> str:
    """JavaScript ``escape()``: how both ends spell a channel name on the wire."""
    out = []
    for char in name:
        code = ord(char)
        if char in _SAFE:
            out.append(char)
        elif code < 0x100:
            out.append(f"%{code:02X}")
        else:
            out.extend(f"%u{unit:04X}" for unit in _utf16_units(code))
    return "".join(out)


def _utf16_units(code: int) -> list[int]:
    if code < 0x10000:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]


def parse(message: Any) -> tuple[str, str, str] | None:
    """Split ``type,topic,payload`` on the first two commas; ``None`` if it is not one."""
    if not isinstance(message, str):
        return None
    kind, sep, rest = message.partition(",")
    if not sep:
        return None
    topic, _, payload = rest.partition(",")
    return kind, topic, payload


def payload_text(message: Any) -> str:
    """A channel message's payload: a ``str`` verbatim, any other value as JSON."""
    return message if isinstance(message, str) else json_encode(message)


def message(topic: str, payload: str) -> str:
    """``msg,<topic>,<payload>``."""
    return f"{MESSAGE},{topic},{payload}"


def unsubscribe(topic: str) -> str:
    """``uns,<topic>``: the channel is over (either direction)."""
    return f"{UNSUBSCRIBE},{topic}"


def subscribe(topic: str) -> str:
    """``sub,<topic>``: a client opens the channel."""
    return f"{SUBSCRIBE},{topic}"
