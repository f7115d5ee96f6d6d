"""What the Redis brokers write and read back, with plain values."""

from __future__ import annotations

from typing import Any

import pytest

from sockjs.protocol.brokerwire import (
    BadBrokerData,
    Entry,
    decode_json,
    encode_entry,
    encode_json,
    parse_entry,
    read_tagged,
    tag,
)


def test_json_is_compact_strict_and_keeps_unicode() -> None:
    assert encode_json({"a": [1, "é ☃"]}) == '{"a":[1,"é ☃"]}'
    for value in ({1}, float("nan"), [float("inf")]):
        with pytest.raises((TypeError, ValueError)):
            encode_json(value)


@pytest.mark.parametrize(
    "text",
    [b'"bytes"', 12, None, "", "not json", "NaN", "[1,", "[" * 100_000, '"a" "b"'],
    ids=["bytes", "int", "none", "empty", "garbage", "nan", "cut", "deep", "two"],
)
def test_undecodable_data_is_bad_data(text: Any) -> None:
    with pytest.raises(BadBrokerData):
        decode_json(text)


def test_decode_json() -> None:
    assert decode_json(' {"a": [1, "x"]} ') == {"a": [1, "x"]}


def test_tagged_payloads() -> None:
    assert tag("A", '"x"') == 'A "x"'
    assert read_tagged('B {"n":1}', "A") == (True, {"n": 1})
    assert read_tagged('A {"n":1}', "A") == (False, None)
    assert read_tagged("A", "A") == (False, None)  # ours: not even decoded


@pytest.mark.parametrize("data", [b"B 1", 1, "no-tag", "B ", " 1", "B [[[", "B " + "[" * 50_000])
def test_bad_tagged_payloads(data: Any) -> None:
    with pytest.raises(BadBrokerData):
        read_tagged(data, "A")


@pytest.mark.parametrize("channel", ["ch", "", "a b", "ü ☃ 3 x", "12 34"])
def test_entries_round_trip(channel: str) -> None:
    data = encode_entry("A1", 42, channel, '{"x":1}')
    assert isinstance(data, bytes)
    assert parse_entry(data.decode()) == Entry("A1", 42, channel, '{"x":1}')


@pytest.mark.parametrize(
    "data",
    [b"A 1 2 ch", None, "A 1 2", " 1 2 ch", "A x 2 ch", "A 1 -2 ch", "A \u0661 2 ch", "A 1 9 ch"],
    ids=["bytes", "none", "short", "no-origin", "seq", "size", "arabic-digit", "cut"],
)
def test_bad_entries(data: Any) -> None:
    with pytest.raises(BadBrokerData):
        parse_entry(data)
