"""The websocket-multiplex codec (PROTOCOL.md 9), with plain values."""

from __future__ import annotations

from typing import Any

import pytest

from sockjs.protocol import multiplex
from sockjs.protocol.multiplex import escape_topic
from sockjs.protocol.multiplex import parse as parse_frame


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("ann", "ann"),
        ("Az09@*_+-./", "Az09@*_+-./"),
        ("a b", "a%20b"),
        ("a,b", "a%2Cb"),
        ("%", "%25"),
        ("\u00fc", "%FC"),
        ("\u20ac", "%u20AC"),
        ("\U0001f600", "%uD83D%uDE00"),
    ],
)
def test_escape_topic(name: str, escaped: str) -> None:
    """JavaScript ``escape()``: safe ASCII kept, %XX below U+0100, %uXXXX (UTF-16) above."""
    assert escape_topic(name) == escaped


@pytest.mark.parametrize(
    ("message", "parsed"),
    [
        ("sub,ann", ("sub", "ann", "")),
        ("msg,ann,a,b,c", ("msg", "ann", "a,b,c")),
        ("msg,,x", ("msg", "", "x")),
        ("uns,ann,", ("uns", "ann", "")),
        ("sub", None),
        ("", None),
        (7, None),
        (None, None),
    ],
)
def test_parse_frame(message: Any, parsed: tuple[str, str, str] | None) -> None:
    """PROTOCOL.md 9.1: split on the first two commas; no comma at all is invalid."""
    assert parse_frame(message) == parsed


def test_frames_built_for_each_kind() -> None:
    """PROTOCOL.md 9.1: ``type,topic[,payload]``, the payload verbatim."""
    assert multiplex.subscribe("ann") == "sub,ann"
    assert multiplex.message("ann", "a,b") == "msg,ann,a,b"
    assert multiplex.unsubscribe("ann") == "uns,ann"


@pytest.mark.parametrize(
    ("message", "text"), [("plain", "plain"), ({"a": 1}, '{"a":1}'), (3, "3"), (None, "null")]
)
def test_payload_text_keeps_strings_and_encodes_the_rest(message: Any, text: str) -> None:
    assert multiplex.payload_text(message) == text
