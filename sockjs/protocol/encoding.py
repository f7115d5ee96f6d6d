"""JSON encoding of messages and strict decoding of client payloads.

Outgoing JSON is compact and escapes every non-ASCII character
(``ensure_ascii``): that covers the mandatory escapes of PROTOCOL.md 3.2
(U+200C-U+200F, U+2028-U+202F, U+2060-U+206F, U+FFF0-U+FFFF, lone
surrogates) with lowercase hex, keeps frames pure ASCII, and uses the C
encoder, the fastest path for the common ASCII message.
"""

from __future__ import annotations

import json
from typing import Any

from sockjs.protocol.errors import BrokenJSON, PayloadExpected

_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_encode = _encoder.encode


def _reject_constant(name: str) -> Any:
    # JavaScript's JSON.parse rejects NaN/Infinity; so do we (PROTOCOL.md 10.4).
    raise ValueError(f"invalid JSON constant {name}")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)
_decode_general = _decoder.decode
_scan_once = _decoder.scan_once  # type: ignore[attr-defined]  # set by __init__


def _decode(text: str) -> Any:
    # JSONDecoder.decode() skips whitespace with a regular expression on both
    # sides of the value, then calls the C scanner. Client messages almost
    # never carry any: the scanner is called directly, and only text with
    # something around its value goes the general way (which then decides
    # between whitespace and garbage, with the usual error).
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:  # leading whitespace, or no value at all
        return _decode_general(text)
    if end != len(text):
        return _decode_general(text)
    return value


def json_encode(value: Any) -> str:
    """Encode ``value`` as compact, ASCII-only JSON text."""
    return _encode(value)


def json_decode(text: str | bytes) -> Any:
    """Decode JSON text (bytes are read as UTF-8)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return _decode(text)


def decode_payload(body: str | bytes) -> list[Any]:
    """Parse an ``xhr_send``/``jsonp_send`` payload into its list of messages.

    The checks follow PROTOCOL.md 3.4 in order: empty -> ``Payload expected.``,
    unparsable or not UTF-8 -> ``Broken JSON encoding.``, not an array ->
    ``Payload expected.``.
    """
    if not body:
        raise PayloadExpected()
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = _decode(text)
    # UnicodeDecodeError and JSONDecodeError are ValueErrors; a deeply nested
    # array ("[[[[...") makes the decoder raise RecursionError: broken too.
    except (ValueError, RecursionError):
        raise BrokenJSON() from None
    if not isinstance(value, list):
        raise PayloadExpected()
    return value


def decode_websocket_message(text: str) -> list[Any]:
    """Parse one SockJS WebSocket text message into its messages.

    Empty text is ignored; an array delivers its elements; any other JSON value
    is one message (PROTOCOL.md 3.4). Broken JSON raises :class:`BrokenJSON`.
    """
    if not text:
        return []
    try:
        value = _decode(text)
    except (ValueError, RecursionError):
        raise BrokenJSON() from None
    if isinstance(value, list):
        return value
    return [value]
