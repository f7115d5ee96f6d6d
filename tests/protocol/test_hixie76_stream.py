"""A hixie-76 connection after its 101 head (sockjs/protocol/hixie76.py Hixie76Stream)."""

from __future__ import annotations

from sockjs.protocol.hixie76 import CLOSE_FRAME, Hixie76Stream, challenge_response
from sockjs.protocol.websocket import CloseReceived, ProtocolError, TextMessage

KEY1 = "4 @1  46546xW%0l 1 5"
KEY2 = "12998 5 Y3 1  .P00"
ANSWER = challenge_response(KEY1, KEY2, b"aaaaaaaa")


def stream() -> Hixie76Stream:
    return Hixie76Stream(KEY1, KEY2, max_message_size=16)


def test_key3_in_pieces_then_the_answer() -> None:
    """Checklists 114, 115: the answer follows key3, which may arrive in pieces."""
    conn = stream()
    assert not conn.ready
    assert conn.receive(b"aaaa") == []
    assert conn.data_to_send() == b""
    assert conn.receive(b"aaaa") == []
    assert conn.ready
    assert conn.data_to_send() == ANSWER


def test_key3_followed_by_frames_in_one_read() -> None:
    conn = stream()
    events = conn.receive(b"aaaaaaaa\x00hi\xff\x00\xff")
    assert events == [TextMessage("hi"), TextMessage("")]
    assert conn.data_to_send() == ANSWER


def test_send_and_close() -> None:
    conn = stream()
    conn.receive(b"aaaaaaaa")
    conn.data_to_send()
    conn.send_utf8(b"o")
    assert conn.data_to_send() == b"\x00o\xff"
    conn.fail(1000, "ignored")  # hixie-76 closes carry neither code nor reason
    conn.fail(1000, "twice")
    conn.send_utf8(b"late")
    assert conn.closed
    assert conn.data_to_send() == CLOSE_FRAME
    assert conn.receive(b"\x00more\xff") == []


def test_client_closing_handshake_is_answered() -> None:
    conn = stream()
    events = conn.receive(b"aaaaaaaa\x00bye\xff\xff\x00")
    assert events == [TextMessage("bye"), CloseReceived(1005, "")]
    assert conn.closed
    assert conn.data_to_send() == ANSWER + CLOSE_FRAME


def test_protocol_error_closes() -> None:
    conn = stream()
    conn.receive(b"aaaaaaaa")
    events = conn.receive(b"\x80")
    assert len(events) == 1 and isinstance(events[0], ProtocolError)
    assert events[0].code == 1002
    assert conn.closed
    assert conn.data_to_send().endswith(CLOSE_FRAME)


def test_eof_ends_the_stream() -> None:
    conn = stream()
    conn.eof_received()
    assert conn.closed
