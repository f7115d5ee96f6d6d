"""JSON encoding (PROTOCOL.md 3.2) and payload parsing (3.4)."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockjs.protocol.encoding import (
    decode_payload,
    decode_websocket_message,
    json_decode,
    json_encode,
)
from sockjs.protocol.errors import BrokenJSON, PayloadExpected

MANDATORY = (
    [chr(c) for c in range(0x200C, 0x2010)]
    + [chr(c) for c in range(0x2028, 0x2030)]
    + [chr(c) for c in range(0x2060, 0x2070)]
    + [chr(c) for c in range(0xFFF0, 0x10000)]
)


def test_compact_and_ascii() -> None:
    """Checklist 57: no spaces outside strings."""
    assert json_encode(["a", 1, {"b": None}]) == '["a",1,{"b":null}]'


def test_mandatory_escapes_are_lowercase() -> None:
    """Checklist 58: U+200C-U+200F, U+2028-U+202F, U+2060-U+206F, U+FFF0-U+FFFF escaped."""
    encoded = json_encode("".join(MANDATORY))
    assert encoded == '"' + "".join(f"\\u{ord(c):04x}" for c in MANDATORY) + '"'


def test_lone_surrogate_is_escaped() -> None:
    """Checklist 60: a lone surrogate travels as an escape and encodes as UTF-8."""
    assert json_encode("\ud800") == '"\\ud800"'
    json_encode("\ud800").encode("utf-8")


def test_control_characters_are_escaped() -> None:
    """Checklist 62: never raw control characters."""
    encoded = json_encode("".join(chr(c) for c in range(0x20)))
    assert all(ord(ch) >= 0x20 for ch in encoded)


def test_astral_roundtrip() -> None:
    """Checklist 61: astral characters round-trip (as a surrogate-pair escape)."""
    assert json_decode(json_encode("\U0001f600")) == "\U0001f600"


@given(st.text())
def test_encode_decode_roundtrip(text: str) -> None:
    encoded = json_encode(text)
    assert encoded.isascii()
    assert json_decode(encoded) == text
    assert json_decode(encoded.encode()) == text


@given(st.lists(st.text()))
def test_payload_roundtrip(messages: list[str]) -> None:
    assert decode_payload(json_encode(messages).encode()) == messages
    assert decode_payload(json_encode(messages)) == messages


@given(st.binary())
def test_payload_never_raises_anything_else(body: bytes) -> None:
    try:
        result = decode_payload(body)
    except (BrokenJSON, PayloadExpected):
        return
    assert isinstance(result, list)


@pytest.mark.parametrize("body", [b"", ""])
def test_empty_payload(body: bytes | str) -> None:
    """Checklist 69: empty body -> Payload expected."""
    with pytest.raises(PayloadExpected):
        decode_payload(body)


@pytest.mark.parametrize("body", [b'["x', b"\xff\xfe", b"[NaN]", b"[Infinity]", b"nul"])
def test_broken_payload(body: bytes) -> None:
    """Checklist 68: broken JSON (and invalid UTF-8) -> Broken JSON encoding."""
    with pytest.raises(BrokenJSON) as info:
        decode_payload(body)
    assert info.value.status == 500
    assert info.value.body == "Broken JSON encoding."


@pytest.mark.parametrize("body", [b"{}", b'"x"', b"null", b"0"])
def test_non_array_payload(body: bytes) -> None:
    """Checklist 70: a JSON value that is not an array -> Payload expected."""
    with pytest.raises(PayloadExpected) as info:
        decode_payload(body)
    assert info.value.body == "Payload expected."


def test_non_string_elements_are_kept() -> None:
    assert decode_payload(b'[1,{"a":2},"x"]') == [1, {"a": 2}, "x"]


def test_all_client_escapes_decode() -> None:
    """Checklist 59: standard \\uXXXX escapes decode to the characters."""
    chars = "".join(chr(c) for c in range(0x2000, 0x2100)) + '\u00ad\ufeff"\\'
    body = json.dumps([chars], ensure_ascii=True)
    assert decode_payload(body.encode()) == [chars]


def test_websocket_messages() -> None:
    """Checklists 117, 118, 119, 123: arrays, empty, broken, bare values."""
    assert decode_websocket_message("") == []
    assert decode_websocket_message('["a","b"]') == ["a", "b"]
    assert decode_websocket_message('"a"') == ["a"]
    assert decode_websocket_message("3") == [3]
    with pytest.raises(BrokenJSON):
        decode_websocket_message('["a')


@pytest.mark.parametrize(
    "text",
    ['["a"]', ' ["a"]', '["a"] ', '\t["a"]\r\n', '"a"', "1", "{}", "[]", '["a"]x', "x", " ", "[1,"],
)
def test_decoding_matches_the_standard_decoder(text: str) -> None:
    """The direct scanner path agrees with json.loads, whitespace and errors included."""
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            json_decode(text)
    else:
        assert json_decode(text) == expected


@given(st.text(max_size=40))
def test_decoding_arbitrary_text_matches_the_standard_decoder(text: str) -> None:
    """Any text: same value as json.loads, or a ValueError (NaN and friends refused)."""
    try:
        expected = json.loads(text, parse_constant=lambda name: None)
    except (ValueError, RecursionError):
        with pytest.raises((ValueError, RecursionError)):
            json_decode(text)
        return
    try:
        value = json_decode(text)
    except ValueError:
        assert any(name in text for name in ("NaN", "Infinity"))
    else:
        assert value == expected
