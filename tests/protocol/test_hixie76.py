"""Hixie-76 handshake answer and framing (PROTOCOL.md 7.10, checklist 114, 115)."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockjs.protocol.hixie76 import (
    CLOSE_FRAME,
    KEY3_LENGTH,
    Hixie76Error,
    Hixie76Parser,
    Hixie76ProtocolError,
    challenge_response,
    encode_frame,
    handshake_headers,
    key_number,
)

KEY1 = "4 @1  46546xW%0l 1 5"
KEY2 = "12998 5 Y3 1  .P00"

# Property tests are about correctness, never about speed.
relaxed = settings(deadline=None, max_examples=200)


# -- keys and challenge (115) ----------------------------------------------


def test_key_numbers_of_the_worked_example() -> None:
    assert key_number(KEY1) == 4146546015 // 5 == 829309203
    assert key_number(KEY2) == 1299853100 // 5 == 259970620


def test_challenge_response_worked_example() -> None:
    """Checklist 115: the suite's keys and key3 ``aaaaaaaa``."""
    answer = challenge_response(KEY1, KEY2, b"aaaaaaaa")
    assert answer == bytes.fromhex("ca3400d8a50847972cd5715ababf437b")


def test_challenge_response_matches_its_definition() -> None:
    key3 = bytes(range(8))
    expected = hashlib.md5(struct.pack("!II", 829309203, 259970620) + key3).digest()
    assert challenge_response(KEY1, KEY2, key3) == expected


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("123456", "no spaces"),
        ("   ", "no digits"),
        ("", "no digits"),
        ("1 2 3", "multiple"),  # 123 / 2
        ("99999999999 ", "out of range"),  # 99999999999 / 1 > 2**32 - 1
        ("1" * 5000 + " ", "out of range"),  # never reaches int() and its size limit
    ],
)
def test_invalid_keys(key: str, message: str) -> None:
    with pytest.raises(Hixie76Error, match=message):
        key_number(key)
    with pytest.raises(Hixie76Error, match=message):
        challenge_response(key, KEY2, b"aaaaaaaa")


def test_largest_key_number() -> None:
    assert key_number("4294967295 ") == 0xFFFFFFFF


def test_only_ascii_digits_count() -> None:
    # U+0663 is an Arabic-Indic digit: str.isdigit() says yes, the draft says no.
    assert key_number("1\u0663 2") == 12


@pytest.mark.parametrize("key3", [b"", b"aaaaaaa", b"aaaaaaaaa"])
def test_key3_must_be_8_bytes(key3: bytes) -> None:
    assert KEY3_LENGTH == 8
    with pytest.raises(Hixie76Error, match="key3"):
        challenge_response(KEY1, KEY2, key3)


# -- 101 head (114) --------------------------------------------------------


def test_handshake_headers_of_the_transcript() -> None:
    """Checklist 114 / PROTOCOL.md 12.9."""
    head = handshake_headers(
        "localhost:8081", "/echo/000/S8/websocket", "http://localhost:8081", None, False
    )
    assert head == (
        b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
        b"Upgrade: WebSocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Origin: http://localhost:8081\r\n"
        b"Sec-WebSocket-Location: ws://localhost:8081/echo/000/S8/websocket\r\n"
        b"\r\n"
    )
    assert b"content-length" not in head.lower()


def test_handshake_headers_secure_with_protocol_and_query() -> None:
    head = handshake_headers("h:443", "/p?x=1", "https://o", "chat", True)
    assert b"Sec-WebSocket-Location: wss://h:443/p?x=1\r\n" in head
    assert head.endswith(b"Sec-WebSocket-Protocol: chat\r\n\r\n")


def test_handshake_headers_without_origin() -> None:
    head = handshake_headers("h", "/p", None, None, False)
    assert b"Origin" not in head


@pytest.mark.parametrize(
    "bad",
    [
        ("h\r\nX: y", "/p", None, None),
        ("h", "/p\n", None, None),
        ("h", "/p", "o\r", None),
        ("h", "/p", None, "chat\r\nX: y"),
        ("h\u00e9", "/p", None, None),
        ("h", "/p", "http://\u20ac.example", None),
    ],
)
def test_handshake_headers_refuse_what_a_header_cannot_echo(
    bad: tuple[str, str, str | None, str | None],
) -> None:
    """Line breaks would split the head; non-ASCII cannot be written in it (a 400 then)."""
    with pytest.raises(Hixie76Error, match="cannot be echoed"):
        handshake_headers(*bad, False)


# -- framing ---------------------------------------------------------------


def test_encode_frame() -> None:
    assert encode_frame("o") == b"\x00o\xff"
    assert encode_frame("") == b"\x00\xff"
    assert encode_frame("\uffff") == b"\x00\xef\xbf\xbf\xff"
    assert CLOSE_FRAME == b"\xff\x00"


def test_parser_messages_in_one_chunk() -> None:
    parser = Hixie76Parser()
    assert parser.feed(b'\x00a\xff\x00\xff\x00["b"]\xff') == ["a", "", '["b"]']
    assert not parser.closed


def test_parser_empty_feed() -> None:
    assert Hixie76Parser().feed(b"") == []


def test_parser_message_split_across_feeds() -> None:
    parser = Hixie76Parser()
    assert parser.feed(b"\x00he") == []
    assert parser.feed(b"ll") == []
    assert parser.feed(b"o\xff\x00w") == ["hello"]
    assert parser.feed(b"\xff") == ["w"]


def test_parser_utf8_split_inside_a_character() -> None:
    parser = Hixie76Parser()
    data = encode_frame("é€")
    assert parser.feed(data[:2]) == []
    assert parser.feed(data[2:4]) == []
    assert parser.feed(data[4:]) == ["é€"]


def test_parser_close_frame() -> None:
    parser = Hixie76Parser()
    # (messages, closed) pairs, so that the flag is read after each feed.
    assert (parser.feed(b"\x00a\xff\xff"), parser.closed) == (["a"], False)
    assert (parser.feed(b"\x00\x00b\xff"), parser.closed) == ([], True)
    assert parser.feed(b"\x00c\xff") == []


def test_parser_close_frame_alone() -> None:
    parser = Hixie76Parser()
    assert parser.feed(CLOSE_FRAME) == []
    assert parser.closed


@pytest.mark.parametrize(
    "data",
    [
        b"\x01abc\xff",  # unknown frame type
        b"a",  # text without a frame
        b"\x80\x01x",  # length-prefixed binary frame
        b"\xff\x01",  # 0xFF not followed by 0x00
        b"\x00ok\xff\x7f",  # bad frame after a good one
    ],
)
def test_parser_rejects_other_frames(data: bytes) -> None:
    parser = Hixie76Parser()
    with pytest.raises(Hixie76ProtocolError):
        parser.feed(data)
    with pytest.raises(Hixie76ProtocolError, match="already failed"):
        parser.feed(b"\x00x\xff")


@pytest.mark.parametrize("data", [b"\x00\xc3\x28\xff", b"\x00\xed\xa0\x80\xff", b"\x00\x80\xff"])
def test_parser_rejects_invalid_utf8(data: bytes) -> None:
    with pytest.raises(Hixie76ProtocolError, match="UTF-8"):
        Hixie76Parser().feed(data)


def test_parser_size_limit_on_complete_frame() -> None:
    parser = Hixie76Parser(max_message_size=3)
    assert parser.feed(b"\x00abc\xff") == ["abc"]
    with pytest.raises(Hixie76ProtocolError, match="more than 3 bytes"):
        parser.feed(b"\x00abcd\xff")


def test_parser_size_limit_on_incomplete_frame() -> None:
    """An endless frame is refused as soon as it is too long, not when it ends."""
    parser = Hixie76Parser(max_message_size=4)
    assert parser.feed(b"\x00ab") == []
    assert parser.feed(b"cd") == []
    with pytest.raises(Hixie76ProtocolError):
        parser.feed(b"e")


def test_parser_scans_a_long_message_once() -> None:
    # Not a timing test: the result must be right whatever the chunking.
    parser = Hixie76Parser()
    text = "x" * 10_000
    data = encode_frame(text)
    out: list[str] = []
    for i in range(0, len(data), 7):
        out += parser.feed(data[i : i + 7])
    assert out == [text]


def test_parser_accepts_bytearray_and_keeps_leftover() -> None:
    parser = Hixie76Parser()
    assert parser.feed(bytearray(b"\x00a")) == []
    assert parser.feed(bytearray(b"\xff\x00b\xff\x00")) == ["a", "b"]
    assert parser.feed(b"c\xff") == ["c"]


# -- properties ------------------------------------------------------------

messages_strategy = st.lists(st.text(max_size=50), max_size=10)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


@relaxed
@given(messages=messages_strategy, cuts=st.lists(st.integers(min_value=0, max_value=600)))
def test_round_trip_at_arbitrary_split_points(messages: list[str], cuts: list[int]) -> None:
    data = b"".join(encode_frame(message) for message in messages)
    parser = Hixie76Parser()
    out: list[str] = []
    for piece in _split(data, cuts):
        out += parser.feed(piece)
    assert out == messages
    assert not parser.closed


@relaxed
@given(
    messages=messages_strategy,
    after=st.binary(max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=600)),
)
def test_close_ends_the_stream_at_any_split(
    messages: list[str], after: bytes, cuts: list[int]
) -> None:
    data = b"".join(encode_frame(message) for message in messages) + CLOSE_FRAME + after
    parser = Hixie76Parser()
    out: list[str] = []
    for piece in _split(data, cuts):
        out += parser.feed(piece)
    assert out == messages
    assert parser.closed


@relaxed
@given(data=st.binary(max_size=64), cuts=st.lists(st.integers(min_value=0, max_value=64)))
def test_arbitrary_bytes_never_crash_and_chunking_does_not_matter(
    data: bytes, cuts: list[int]
) -> None:
    def run(pieces: list[bytes]) -> tuple[list[str], bool, bool]:
        parser = Hixie76Parser(max_message_size=16)
        out: list[str] = []
        try:
            for piece in pieces:
                out += parser.feed(piece)
        except Hixie76ProtocolError:
            return out, parser.closed, True
        return out, parser.closed, False

    whole = run([data])
    split = run(_split(data, cuts))
    # Chunking never changes the outcome (error or not, closed or not); a
    # split stream may only deliver some messages before an error shows.
    assert split[1:] == whole[1:]
    if not whole[2]:
        assert split[0] == whole[0]
