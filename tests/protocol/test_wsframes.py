"""RFC 6455 frame headers, Close payloads and message assembly, with plain values."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockjs.protocol.websocket import BinaryMessage, CloseReceived, ProtocolError, TextMessage
from sockjs.protocol.wsframes import (
    CLOSE,
    MAX_CLOSE_REASON_BYTES,
    NO_STATUS_RCVD,
    PLAIN_TEXT,
    FrameCursor,
    FrameReader,
    MessageAssembler,
    apply_mask,
    close_frame_end,
    close_payload,
    fit_close_reason,
    frame,
    frame_size,
    is_sendable_close_code,
    may_be_plain_text,
    text_header,
)

KEY = b"\x01\x02\x03\x04"


def test_the_module_needs_no_io() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import sockjs.protocol.wsframes\n"
        "new = set(sys.modules) - before\n"
        "banned = ('twisted', 'cyclone', 'websockets', 'socket', 'time', 'random', 'asyncio')\n"
        "print(','.join(m for m in banned if m in new))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


# -- headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_text_header_uses_the_shortest_length(length: int, header: bytes) -> None:
    assert text_header(length) == header
    assert header[0] == PLAIN_TEXT
    assert bytes((CLOSE,)) == b"\x88"


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_frame_size_reads_what_text_header_writes(length: int) -> None:
    header = text_header(length)
    assert frame_size(header) == (len(header), length)
    assert frame_size(header[:-1]) is None


@pytest.mark.parametrize(
    ("head", "size"),
    [
        (b"", None),
        (b"\x81", None),
        (b"\x81\x05", (2, 5)),  # unmasked
        (b"\x81\x85abc", None),  # masking key cut
        (b"\x81\x85abcd", (6, 5)),
        (b"\x81\x85abcdpayload", (6, 5)),  # what follows is not looked at
        (b"\x81\xfe\x01", None),
        (b"\x81\xfe\x01\x00abc", None),
        (b"\x81\xfe\x01\x00abcd", (8, 256)),
        (b"\x81\xff" + b"\x00" * 7, None),
        (b"\x81\xff" + b"\x00" * 7 + b"\x01abcd", (14, 1)),
        (b"\x82\x7f" + b"\x00" * 7 + b"\x01", (10, 1)),
    ],
)
def test_frame_size(head: bytes, size: tuple[int, int] | None) -> None:
    assert frame_size(head) == size


@pytest.mark.parametrize(
    ("head", "possible"),
    [
        (b"", True),
        (b"\x81", True),
        (b"\x82", False),  # binary
        (b"\x01", False),  # not final
        (b"\xc1", False),  # reserved bit
        (b"\x81\x05", False),  # unmasked
        (b"\x81\x85", True),
        (b"\x81\x8a", True),  # exactly the limit
        (b"\x81\x8b", False),  # over the limit
        (b"\x81\xfe\x00", True),
        (b"\x81\xfe\x00\x0a", True),
        (b"\x81\xfe\x01\x00", False),
        (b"\x81\xff\x00", True),
        (b"\x81\xff" + b"\x00" * 7 + b"\x0a", True),
        (b"\x81\xff" + b"\x00" * 7 + b"\xff", False),
    ],
)
def test_may_be_plain_text(head: bytes, possible: bool) -> None:
    assert may_be_plain_text(head, 10) is possible


@pytest.mark.parametrize(
    ("data", "pos", "end"),
    [
        (b"\x88\x80" + KEY, 0, 6),
        (b"xx\x88\x82" + KEY + b"ab", 2, 10),
        (b"\x88\x82" + KEY + b"abEXTRA", 0, 8),
        (b"\x88\xfd" + KEY + b"r" * 125, 0, 131),  # the longest control frame
        (b"\x88\x82" + KEY + b"a", 0, None),  # payload cut
        (b"\x88\x80" + KEY[:3], 0, None),  # key cut
        (b"\x88\x02ab", 0, None),  # unmasked
        (b"\x88\xfe\x00\x7e" + KEY, 0, None),  # too long for a control frame
        (b"\x08\x80" + KEY, 0, None),  # not final
        (b"\xc8\x80" + KEY, 0, None),  # reserved bit
        (b"\x81\x80" + KEY, 0, None),  # text
    ],
)
def test_close_frame_end(data: bytes, pos: int, end: int | None) -> None:
    assert close_frame_end(data, pos) == end


# -- Close payloads ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "sendable"),
    [
        (999, False),
        (1000, True),
        (1003, True),
        (1004, False),
        (1005, False),
        (1006, False),
        (1007, True),
        (1014, True),
        (1015, False),
        (2999, False),
        (3000, True),
        (4999, True),
        (5000, False),
    ],
)
def test_is_sendable_close_code(code: int, sendable: bool) -> None:
    assert is_sendable_close_code(code) is sendable


def test_close_payload() -> None:
    assert close_payload(b"") == (NO_STATUS_RCVD, "")
    assert close_payload(b"\x03\xe8") == (1000, "")
    assert close_payload(b"\x0f\xa0bye \xc3\xa9") == (4000, "bye é")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x03", "too short"),
        (b"\x03\xed", "1005"),
        (b"\x00\x00", "close code 0 "),
        (b"\x03\xe8\xff", "utf-8"),
    ],
)
def test_close_payload_a_client_may_not_send(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        close_payload(payload)


def test_fit_close_reason() -> None:
    assert fit_close_reason("") == ""
    assert fit_close_reason("r" * MAX_CLOSE_REASON_BYTES) == "r" * MAX_CLOSE_REASON_BYTES
    assert fit_close_reason("r" * 200) == "r" * MAX_CLOSE_REASON_BYTES
    # 2-byte characters: the one the cut would split is left out.
    assert fit_close_reason("é" * 100) == "é" * (MAX_CLOSE_REASON_BYTES // 2)


# -- the cursor --------------------------------------------------------------------


def masked(opcode_byte: int, payload: bytes) -> bytes:
    assert len(payload) < 126
    return bytes((opcode_byte, 0x80 | len(payload))) + KEY + payload


def test_cursor_follows_frames_cut_anywhere() -> None:
    data = masked(0x81, b"hello") + b"\x82\x7e\x01\x00" + b"x" * 256 + masked(0x89, b"")
    boundaries = {0, 11, 11 + 4 + 256, len(data)}
    for cut in range(len(data) + 1):
        cursor = FrameCursor()
        assert cursor.at_boundary
        cursor.advance(data[:cut])
        assert cursor.at_boundary is (cut in boundaries), cut
        cursor.advance(data[cut:])
        assert cursor.at_boundary


def test_cursor_byte_by_byte() -> None:
    data = b"\x81\xff" + (300).to_bytes(8, "big") + KEY + b"y" * 300 + masked(0x81, b"z")
    cursor = FrameCursor()
    seen = []
    for i in range(len(data)):
        cursor.advance(data[i : i + 1])
        seen.append(cursor.at_boundary)
    assert [i + 1 for i, at in enumerate(seen) if at] == [314, len(data)]
    cursor.advance(b"")
    assert cursor.at_boundary


# -- message assembly ------------------------------------------------------------


def test_whole_frames() -> None:
    assembler = MessageAssembler()
    assert assembler.frame(0x1, True, "é".encode()) == TextMessage("é")
    assert assembler.frame(0x2, True, b"\xff") == BinaryMessage(b"\xff")
    assert assembler.frame(0x9, True, b"ping") is None
    assert assembler.frame(0xA, True, b"pong") is None
    assert assembler.frame(0x8, True, b"\x03\xe8bye") == CloseReceived(1000, "bye")
    assert assembler.frame(0x8, True, b"") == CloseReceived(NO_STATUS_RCVD, "")
    assert not assembler.in_message


def test_fragmented_text_split_inside_a_character() -> None:
    assembler = MessageAssembler()
    encoded = "é".encode()
    assert assembler.frame(0x1, False, encoded[:1]) is None
    assert assembler.in_message
    assert assembler.frame(0x9, True, b"") is None  # a ping between fragments
    assert assembler.frame(0x0, False, encoded[1:]) is None
    assert assembler.in_message
    assert assembler.frame(0x0, True, b"!") == TextMessage("é!")
    assert not assembler.in_message


def test_fragmented_binary() -> None:
    assembler = MessageAssembler()
    assert assembler.frame(0x2, False, b"") is None
    assert assembler.in_message  # even after an empty first fragment
    assert assembler.frame(0x0, True, b"\x00") == BinaryMessage(b"\x00")
    # The kind of the next message is its own.
    assert assembler.frame(0x1, False, b"a") is None
    assert assembler.frame(0x0, True, b"b") == TextMessage("ab")


def test_invalid_utf8_is_1007() -> None:
    assembler = MessageAssembler()
    assert assembler.frame(0x1, True, b"ok\xff") == ProtocolError(
        1007, "invalid UTF-8: invalid start byte at position 2"
    )
    assembler.frame(0x1, False, b"\xc3")
    event = assembler.frame(0x0, True, b"(")
    assert isinstance(event, ProtocolError)
    assert event.code == 1007
    assert not assembler.in_message


# -- frames both ways (the test clients' side) ---------------------------------------

OP_TEXT, OP_PING, OP_CLOSE = 0x1, 0x9, 0x8


def test_frame_reader_reads_frames_split_anywhere() -> None:
    reader = FrameReader()
    data = (
        frame(OP_TEXT, b"hel", fin=False)
        + frame(OP_PING, b"p")
        + frame(0x0, b"lo")
        + frame(OP_TEXT, b"!", mask=b"abcd")
        + frame(OP_CLOSE, b"\x03\xe8")
    )
    out = []
    for index in range(len(data)):
        out.extend(reader.feed(data[index : index + 1]))
    assert out == [
        (False, OP_TEXT, b"hel"),
        (True, OP_PING, b"p"),
        (True, 0x0, b"lo"),
        (True, OP_TEXT, b"!"),
        (True, OP_CLOSE, b"\x03\xe8"),
    ]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_client_frames_are_masked_and_read_back(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    masked = frame(OP_TEXT, payload, mask=b"\x01\x02\x03\x04")
    assert masked[0] == 0x81
    assert masked[1] & 0x80  # masked (RFC 6455 5.3)
    assert FrameReader().feed(masked) == [(True, OP_TEXT, payload)]
    assert FrameReader().feed(frame(OP_TEXT, payload)) == [(True, OP_TEXT, payload)]
    assert apply_mask(apply_mask(payload, b"wxyz"), b"wxyz") == payload


def test_frame_with_reserved_bits_for_tests_of_bad_peers() -> None:
    assert frame(OP_TEXT, b"", rsv=4, fin=False) == bytes((0x41, 0))


def test_a_message_in_too_many_fragments_is_a_protocol_error() -> None:
    """Empty fragments cannot pile up: past max_fragments, 1009 "Too many fragments"."""
    assembler = MessageAssembler(max_fragments=3)
    assert assembler.frame(0x1, False, b"a") is None
    assert assembler.frame(0x0, False, b"") is None
    assert assembler.frame(0x0, False, b"") is None
    assert assembler.frame(0x0, False, b"") == ProtocolError(1009, "Too many fragments")
    assert not assembler.in_message
    assert assembler.frame(0x1, True, b"next") == TextMessage("next")
