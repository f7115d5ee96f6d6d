"""Frames and JSON encoding (PROTOCOL.md section 3; checklist 11.E, items 55-63).

Most tests drive an ``xhr`` session on ``/echo``: poll (``o\\n``), send a payload
with ``xhr_send`` while no poll is pending, then poll again and compare the
exact bytes of the echoed frame.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from .rawhttp import RawHTTP, request, xhr_poll, xhr_send

if TYPE_CHECKING:
    from .conftest import ServerProcess

pytestmark = pytest.mark.integration

# PROTOCOL.md 3.2: characters the server must send as lowercase \uXXXX escapes
# (the 44 characters of the suite's server-encoding test).
SERVER_ESCAPED_RANGES = [(0x200C, 0x200F), (0x2028, 0x202F), (0x2060, 0x206F), (0xFFF0, 0xFFFF)]

# PROTOCOL.md 3.3: every code point the client escapes before sending (1093 in all).
CLIENT_ESCAPED_RANGES = [
    (0x0000, 0x001F), (0x0022, 0x0022), (0x007F, 0x009F), (0x00AD, 0x00AD),
    (0x0300, 0x0333), (0x033D, 0x0346), (0x034A, 0x034C), (0x0350, 0x0352),
    (0x0357, 0x0358), (0x035C, 0x0362), (0x0374, 0x0374), (0x037E, 0x037E),
    (0x0387, 0x0387), (0x0591, 0x05AF), (0x05C4, 0x05C4), (0x0600, 0x0604),
    (0x0610, 0x0617), (0x0653, 0x0654), (0x0657, 0x065B), (0x065D, 0x065E),
    (0x06DF, 0x06E2), (0x06EB, 0x06EC), (0x070F, 0x070F), (0x0730, 0x0730),
    (0x0732, 0x0733), (0x0735, 0x0736), (0x073A, 0x073A), (0x073D, 0x073D),
    (0x073F, 0x0741), (0x0743, 0x0743), (0x0745, 0x0745), (0x0747, 0x0747),
    (0x07EB, 0x07F1), (0x0951, 0x0951), (0x0958, 0x095F), (0x09DC, 0x09DD),
    (0x09DF, 0x09DF), (0x0A33, 0x0A33), (0x0A36, 0x0A36), (0x0A59, 0x0A5B),
    (0x0A5E, 0x0A5E), (0x0B5C, 0x0B5D), (0x0E38, 0x0E39), (0x0F43, 0x0F43),
    (0x0F4D, 0x0F4D), (0x0F52, 0x0F52), (0x0F57, 0x0F57), (0x0F5C, 0x0F5C),
    (0x0F69, 0x0F69), (0x0F72, 0x0F76), (0x0F78, 0x0F78), (0x0F80, 0x0F83),
    (0x0F93, 0x0F93), (0x0F9D, 0x0F9D), (0x0FA2, 0x0FA2), (0x0FA7, 0x0FA7),
    (0x0FAC, 0x0FAC), (0x0FB9, 0x0FB9), (0x17B4, 0x17B5), (0x1939, 0x193A),
    (0x1A17, 0x1A17), (0x1B6B, 0x1B6B), (0x1CDA, 0x1CDB), (0x1DC0, 0x1DCF),
    (0x1DFC, 0x1DFC), (0x1DFE, 0x1DFE), (0x1F71, 0x1F71), (0x1F73, 0x1F73),
    (0x1F75, 0x1F75), (0x1F77, 0x1F77), (0x1F79, 0x1F79), (0x1F7B, 0x1F7B),
    (0x1F7D, 0x1F7D), (0x1FBB, 0x1FBB), (0x1FBE, 0x1FBE), (0x1FC9, 0x1FC9),
    (0x1FCB, 0x1FCB), (0x1FD3, 0x1FD3), (0x1FDB, 0x1FDB), (0x1FE3, 0x1FE3),
    (0x1FEB, 0x1FEB), (0x1FEE, 0x1FEF), (0x1FF9, 0x1FF9), (0x1FFB, 0x1FFB),
    (0x1FFD, 0x1FFD), (0x2000, 0x20FF), (0x2126, 0x2126), (0x212A, 0x212B),
    (0x2329, 0x232A), (0x2ADC, 0x2ADC), (0x302B, 0x302C), (0xAAB2, 0xAAB3),
    (0xF900, 0xFA0D), (0xFA10, 0xFA10), (0xFA12, 0xFA12), (0xFA15, 0xFA1E),
    (0xFA20, 0xFA20), (0xFA22, 0xFA22), (0xFA25, 0xFA26), (0xFA2A, 0xFA2D),
    (0xFA30, 0xFA6D), (0xFA70, 0xFAD9), (0xFB1D, 0xFB1D), (0xFB1F, 0xFB1F),
    (0xFB2A, 0xFB36), (0xFB38, 0xFB3C), (0xFB3E, 0xFB3E), (0xFB40, 0xFB41),
    (0xFB43, 0xFB44), (0xFB46, 0xFB4E), (0xFEFF, 0xFEFF), (0xFFF0, 0xFFFF),
]  # fmt: skip

CLOSE_FRAME = re.compile(rb'c\[[0-9]+,"(?:[^"\\]|\\.)*"\]')


def chars(ranges: list[tuple[int, int]]) -> str:
    """All characters of the inclusive code point ``ranges``, in order."""
    return "".join(chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1))


def echo_via_xhr(port: int, sid: str, payload: bytes) -> bytes:
    """Open an ``/echo`` xhr session, ``xhr_send`` ``payload``, return the next poll's body."""
    opened = xhr_poll(port, "/echo", sid)
    assert opened.status == 200 and opened.body == b"o\n", opened
    sent = xhr_send(port, "/echo", sid, payload)
    assert sent.status == 204, sent
    resp = xhr_poll(port, "/echo", sid)
    assert resp.status == 200, resp
    return resp.body


def decode_a_frame(body: bytes) -> list[str]:
    """Parse a polling body ``a[...]\\n`` into its list of messages."""
    assert body.startswith(b"a[") and body.endswith(b"]\n"), body[:200]
    messages = json.loads(body[1:-1].decode("utf-8"))
    assert isinstance(messages, list), messages
    return messages


def outside_strings(frame: bytes) -> bytes:
    """The bytes of a JSON-ish frame that lie outside string literals."""
    out = bytearray()
    in_string = escaped = False
    for byte in frame:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        else:
            out.append(byte)
    return bytes(out)


def test_open_frame_once_xhr(server: ServerProcess, sid: str) -> None:
    """Checklist 55: xhr: the first frame is ``o``; later polls never get ``o`` again."""
    assert echo_via_xhr(server.port, sid, b'["x"]') == b'a["x"]\n'
    assert xhr_send(server.port, "/echo", sid, b'["y"]').status == 204
    assert xhr_poll(server.port, "/echo", sid).body == b'a["y"]\n'


def test_open_frame_once_jsonp(server: ServerProcess, sid: str) -> None:
    """Checklist 55: jsonp: the first frame is ``o`` and it is not sent twice."""
    first = request(server.port, "GET", f"/echo/000/{sid}/jsonp?c=cb")
    assert first.status == 200, first
    assert first.body == b'cb("o");\r\n'
    assert xhr_send(server.port, "/echo", sid, b'["x"]').status == 204
    second = request(server.port, "GET", f"/echo/000/{sid}/jsonp?c=cb")
    assert second.body == b'cb("a[\\"x\\"]");\r\n'


@pytest.mark.parametrize(
    ("method", "transport", "open_frame", "x_frame"),
    [
        ("POST", "xhr_streaming", b"o\n", b'a["x"]\n'),
        ("GET", "eventsource", b"data: o\r\n\r\n", b'data: a["x"]\r\n\r\n'),
        (
            "GET",
            "htmlfile?c=cb",
            b'<script>\np("o");\n</script>\r\n',
            b'<script>\np("a[\\"x\\"]");\n</script>\r\n',
        ),
    ],
)
def test_open_frame_once_streaming(
    server: ServerProcess, sid: str, method: str, transport: str, open_frame: bytes, x_frame: bytes
) -> None:
    """Checklist 55: streaming receivers: after the prelude, ``o`` once, then data frames."""
    with RawHTTP(server.port) as conn:
        conn.send(method, f"/echo/000/{sid}/{transport}")
        head = conn.read_head()
        assert head.status == 200, head
        assert head.is_chunked, head
        conn.read_chunk()  # prelude
        assert conn.read_chunk() == open_frame
        assert xhr_send(server.port, "/echo", sid, b'["x"]').status == 204
        assert conn.read_chunk() == x_frame


def test_buffered_messages_share_one_frame(server: ServerProcess, sid: str) -> None:
    """Checklist 56: eight ``["a"]`` sends with no poll pending -> one ``a[...]`` frame of 8."""
    assert xhr_poll(server.port, "/echo", sid).body == b"o\n"
    for _ in range(8):
        assert xhr_send(server.port, "/echo", sid, b'["a"]').status == 204
    resp = xhr_poll(server.port, "/echo", sid)
    assert resp.body == b'a["a","a","a","a","a","a","a","a"]\n'


def test_frames_have_no_spaces(server: ServerProcess, sid: str) -> None:
    """Checklist 57: ``a`` and ``c`` frames contain no spaces outside strings."""
    body = echo_via_xhr(server.port, sid, b'[ "a b" , "c" ,"d"]')
    assert body == b'a["a b","c","d"]\n'
    assert b" " not in outside_strings(body)
    close_sid = sid + "c"
    assert xhr_poll(server.port, "/close", close_sid).body == b"o\n"
    closed = xhr_poll(server.port, "/close", close_sid).body
    assert closed == b'c[3000,"Go away!"]\n'
    assert b" " not in outside_strings(closed)


def test_server_escapes_special_ranges(server: ServerProcess, sid: str) -> None:
    """Checklist 58: raw U+200C-200F, 2028-202F, 2060-206F, FFF0-FFFF -> lowercase ``\\uXXXX``."""
    text = chars(SERVER_ESCAPED_RANGES)
    assert len(text) == 44
    payload = json.dumps([text], ensure_ascii=False).encode("utf-8")
    body = echo_via_xhr(server.port, sid, payload)
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in text)
    assert body == b'a["' + escaped.encode("ascii") + b'"]\n'


def test_server_decodes_client_escapes(server: ServerProcess, sid: str) -> None:
    """Checklist 59: all 1093 client-escaped code points (3.3) posted as ``\\uXXXX`` round-trip."""
    text = chars(CLIENT_ESCAPED_RANGES)
    assert len(text) == 1093
    literal = "".join(f"\\u{ord(ch):04x}" for ch in text)
    payload = b'["' + literal.encode("ascii") + b'"]'
    assert json.loads(payload) == [text]
    body = echo_via_xhr(server.port, sid, payload)
    assert decode_a_frame(body) == [text]


def test_lone_surrogate(server: ServerProcess, sid: str) -> None:
    """Checklist 60: ``["\\ud800"]`` is echoed as ``\\ud800`` without a server error."""
    body = echo_via_xhr(server.port, sid, b'["\\ud800"]')
    assert body == b'a["\\ud800"]\n'


@pytest.mark.parametrize(
    "payload",
    [b'["\\ud83d\\ude00"]', '["\U0001f600"]'.encode()],
    ids=["escaped-pair", "raw-utf8"],
)
def test_astral_character(server: ServerProcess, sid: str, payload: bytes) -> None:
    """Checklist 61: an astral character (``["\\ud83d\\ude00"]``) round-trips to itself."""
    body = echo_via_xhr(server.port, sid, payload)
    assert decode_a_frame(body) == ["\U0001f600"]
    # Either raw UTF-8 or the escaped surrogate pair; nothing else is allowed.
    assert body in (
        b'a["\\ud83d\\ude00"]\n',
        'a["\U0001f600"]\n'.encode(),
    ), body


def test_control_characters_escaped(server: ServerProcess, sid: str) -> None:
    """Checklist 62: control characters in a message are emitted as JSON escapes, never raw."""
    text = "".join(chr(cp) for cp in range(0x20)) + "end"
    body = echo_via_xhr(server.port, sid, json.dumps([text]).encode("ascii"))
    assert all(byte >= 0x20 for byte in body[:-1]), body
    assert decode_a_frame(body) == [text]


def test_close_frame_form(server: ServerProcess, sid: str) -> None:
    """Checklist 63: close frames look like ``c[<int>,"<reason>"]`` (3000 and 2010 frames)."""
    assert xhr_poll(server.port, "/close", sid).body == b"o\n"
    closed = xhr_poll(server.port, "/close", sid).body
    assert closed == b'c[3000,"Go away!"]\n'
    assert CLOSE_FRAME.fullmatch(closed[:-1])

    echo_sid = sid + "e"
    assert xhr_poll(server.port, "/echo", echo_sid).body == b"o\n"
    with RawHTTP(server.port) as parked:
        parked.send("POST", f"/echo/000/{echo_sid}/xhr")
        # Make sure the first poll is parked before the second one arrives.
        assert parked.expect_no_data(0.3)
        rejected = xhr_poll(server.port, "/echo", echo_sid).body
    assert rejected == b'c[2010,"Another connection still open"]\n'
    assert CLOSE_FRAME.fullmatch(rejected[:-1])
