"""What the Redis brokers write to Redis and how they read it back.

Messages cross processes as strict, compact JSON (UTF-8 as it is: Redis
carries bytes). Each carries its publisher's ``origin`` tag, so that a
process skips its own messages (it delivered them locally already):

* pub/sub (``RedisBroker``): the payload on channel ``<prefix><channel>`` is
  ``<origin> <JSON>``;
* streams (``StreamsBroker``): one stream for all channels, each entry with
  one field ``d`` = ``<origin> <seq> <len(channel)> <channel><JSON>``, where
  ``seq`` counts the publisher's messages (1, 2, 3...) so that readers drop
  duplicates and see gaps.

Anything read from Redis that is not one of these (not UTF-8, not JSON, a
nesting deep enough to exhaust the decoder's recursion...) raises
:class:`BadBrokerData`: the broker counts it and reads on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sockjs.protocol.encoding import json_decode

__all__ = [
    "BadBrokerData",
    "Entry",
    "decode_json",
    "encode_entry",
    "encode_json",
    "parse_entry",
    "read_tagged",
    "tag",
]

# Compact, UTF-8 as it is, and strict: NaN and Infinity are not JSON, and the
# other processes could not decode them.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class BadBrokerData(ValueError):
    """Something read from Redis that no broker wrote (or that was damaged)."""


def encode_json(message: Any) -> str:
    """``message`` as compact JSON; TypeError or ValueError for what JSON cannot carry."""
    return _encode(message)


def decode_json(text: object) -> Any:
    """The value of JSON ``text``; :class:`BadBrokerData` for anything else.

    A deeply nested value (``[[[[...``) makes Python's decoder raise
    RecursionError: that is bad data too, not a crash of the reading
    connection.
    """
    if not isinstance(text, str):
        raise BadBrokerData("not text")
    try:
        return json_decode(text)
    except (ValueError, RecursionError) as error:
        raise BadBrokerData(type(error).__name__) from None


def tag(origin: str, body: str) -> str:
    """A pub/sub payload: ``body`` (JSON) tagged with its publisher's ``origin``."""
    return f"{origin} {body}"


def read_tagged(data: object, origin: str) -> tuple[bool, Any]:
    """``(True, message)`` for another publisher's payload, ``(False, None)`` for ours."""
    if not isinstance(data, str):
        raise BadBrokerData("not text")
    sender, _, body = data.partition(" ")
    if sender == origin:
        return False, None
    if not sender or not body:
        raise BadBrokerData("no origin tag")
    return True, decode_json(body)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry: who published it, its number, its channel, its JSON text."""

    origin: str
    seq: int
    channel: str
    body: str


def encode_entry(origin: str, seq: int, channel: str, body: str) -> bytes:
    """The ``d`` field of a stream entry, as the bytes written to Redis."""
    return f"{origin} {seq} {len(channel)} {channel}{body}".encode()


def parse_entry(data: object) -> Entry:
    """Read the ``d`` field of a stream entry (the JSON is decoded later, if wanted)."""
    if not isinstance(data, str):
        raise BadBrokerData("not text")
    parts = data.split(" ", 3)
    if len(parts) != 4 or not parts[0] or not _is_number(parts[1]) or not _is_number(parts[2]):
        raise BadBrokerData("not a stream entry")
    origin, seq, size, rest = parts
    length = int(size)
    if length > len(rest):
        raise BadBrokerData("channel name cut short")
    return Entry(origin, int(seq), rest[:length], rest[length:])


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()
