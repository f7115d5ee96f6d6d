"""Frames (PROTOCOL.md 3.1) and their transport wrapping (section 7)."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockjs.protocol import closing, frames, transports
from sockjs.protocol.errors import CallbackRequired, InvalidCallback


def test_frame_texts() -> None:
    """Checklist 63: c[code,"reason"]; 57: no spaces."""
    assert frames.OPEN == "o"
    assert frames.HEARTBEAT == "h"
    assert frames.close_frame(3000, "Go away!") == 'c[3000,"Go away!"]'
    close = closing.ANOTHER_CONNECTION
    assert frames.close_frame(close.code, close.reason) == 'c[2010,"Another connection still open"]'
    encoded = [frames.encode_message(m) for m in ("a", "b")]
    assert frames.messages_frame(encoded) == 'a["a","b"]'
    assert frames.encode_message({"k": [1]}) == '{"k":[1]}'


@given(st.lists(st.text(), min_size=1))
def test_messages_frame_parses_back(messages: list[str]) -> None:
    frame = frames.messages_frame(frames.encode_message(m) for m in messages)
    assert frame[0] == "a"
    assert json.loads(frame[1:]) == messages


@given(st.integers(min_value=0, max_value=4999), st.text())
def test_close_frame_parses_back(code: int, reason: str) -> None:
    frame = frames.close_frame(code, reason)
    assert json.loads(frame[1:]) == [code, reason]
    assert frame.isascii()


def test_xhr_wrapping() -> None:
    """Checklists 64, 77: xhr frame + newline; streaming prelude 2048 h + newline."""
    assert transports.XHR.wrap("o") == b"o\n"
    assert not transports.XHR.streaming
    assert transports.XHR_STREAMING.prelude == b"h" * 2048 + b"\n"
    assert transports.XHR_STREAMING.streaming


def test_eventsource_wrapping() -> None:
    """Checklists 97, 100: data: frame CRLF CRLF, '%' escaped."""
    assert transports.EVENTSOURCE.prelude == b"\r\n"
    assert transports.EVENTSOURCE.wrap("o") == b"data: o\r\n\r\n"
    assert transports.EVENTSOURCE.wrap('a["100%"]') == b'data: a["100%25"]\r\n\r\n'
    assert transports.EVENTSOURCE.wrap("a\r\n\x00") == b"data: a%0D%0A%00\r\n\r\n"


def test_jsonp_wrapping() -> None:
    """Checklists 83, 88: callback("frame");CRLF with the frame JSON-encoded again."""
    wire = transports.jsonp("callback")
    assert wire.wrap("o") == b'callback("o");\r\n'
    assert wire.wrap('a["x"]') == b'callback("a[\\"x\\"]");\r\n'
    assert not wire.streaming


def test_htmlfile_prelude_and_wrapping() -> None:
    """Checklists 103, 104, 108: 1 KiB+ prelude; script per frame; '<' escaped."""
    wire = transports.htmlfile("callback")
    assert len(wire.prelude) == 1035
    assert wire.prelude.endswith(b" \r\n\r\n")
    assert b"var c = parent.callback;" in wire.prelude
    assert wire.wrap("o") == b'<script>\np("o");\n</script>\r\n'
    chunk = wire.wrap('a["</script>"]')
    inner = chunk[chunk.index(b"p(") : chunk.index(b");")]
    assert b"<" not in inner
    assert b"\\u003c/script>" in inner


def test_websocket_wrapping() -> None:
    assert transports.WEBSOCKET.wrap('a["x"]') == b'a["x"]'


@pytest.mark.parametrize("name", ["callback", "_jp.a1b2c3", "a-b_c.d", "X" * 256])
def test_valid_callbacks(name: str) -> None:
    assert transports.validate_callback(name) == name


@pytest.mark.parametrize("name", [None, ""])
def test_missing_callback(name: str | None) -> None:
    """Checklists 84, 106."""
    with pytest.raises(CallbackRequired) as info:
        transports.validate_callback(name)
    assert info.value.body == '"callback" parameter required'


@pytest.mark.parametrize("name", [" ", "*", "abc(", "a;b", "</script>", "X" * 257, "é"])
def test_invalid_callbacks(name: str) -> None:
    """Checklists 85, 107."""
    with pytest.raises(InvalidCallback) as info:
        transports.validate_callback(name)
    assert info.value.body == 'invalid "callback" parameter'
