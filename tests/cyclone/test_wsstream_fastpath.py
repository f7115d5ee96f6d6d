"""The fast paths of WebSocketStream behave exactly like websockets' parser and framer.

``WebSocketStream.receive`` decodes complete, unfragmented, masked text
frames itself and hands everything else to websockets; ``send_utf8`` builds
plain text frames itself. The reference here is the same stream with the
fast paths switched off: made while its logger is at DEBUG, so that
websockets logs (and therefore sees) every frame, as the stream did before
the fast paths existed.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from sockjs.cyclone.wsstream import WebSocketStream
from sockjs.protocol.websocket import CloseReceived, ProtocolError, TextMessage

MAX = 300


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = b"\x0a\x1b\x2c\x3d",
    length_bytes: int | None = None,
) -> bytes:
    """A client frame built by hand (``length_bytes`` forces a length encoding)."""
    head1 = (0x80 if fin else 0) | (rsv << 4) | opcode
    bit = 0x80 if mask is not None else 0
    length = len(payload)
    size = (
        length_bytes
        if length_bytes is not None
        else (0 if length < 126 else 2 if length < 65536 else 8)
    )
    if size == 0:
        head = struct.pack("!BB", head1, bit | length)
    elif size == 2:
        head = struct.pack("!BBH", head1, bit | 126, length)
    else:
        head = struct.pack("!BBQ", head1, bit | 127, length)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@contextlib.contextmanager
def websockets_debug() -> Iterator[None]:
    """The stream's logger at DEBUG: streams made meanwhile take no fast path."""
    logger = logging.getLogger("sockjs.cyclone.wsstream")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.setLevel(level)


def reference(max_size: int = MAX) -> WebSocketStream:
    with websockets_debug():  # every byte through websockets' parser and framer
        return WebSocketStream(max_message_size=max_size, extensions=[])


def fast(max_size: int = MAX) -> WebSocketStream:
    return WebSocketStream(max_message_size=max_size, extensions=[])


def run(stream: WebSocketStream, chunks: list[bytes], eof: bool = True) -> list[object]:
    """Per chunk: the events, the bytes queued, whether closed; then the same after EOF."""
    trace: list[object] = []
    for chunk in chunks:
        trace.append((stream.receive(chunk), stream.data_to_send(), stream.closed))
    if eof:
        stream.eof_received()
        trace.append(("eof", stream.data_to_send(), stream.closed))
    return trace


def same(chunks: list[bytes], max_size: int = MAX) -> list[object]:
    expected = run(reference(max_size), chunks)
    assert run(fast(max_size), chunks) == expected
    return expected


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


# -- the fast path itself ------------------------------------------------------


def test_plain_text_frames_are_decoded_without_websockets() -> None:
    stream = fast()
    data = frame(0x1, "héllo".encode()) + frame(0x1, b"x" * 200) + frame(0x1, b"")
    events = stream.receive(data)
    assert events == [TextMessage("héllo"), TextMessage("x" * 200), TextMessage("")]
    # websockets never saw a byte: its Protocol was not even made.
    assert stream._protocol is None
    assert stream.data_to_send() == b""
    assert not stream.closed


def test_send_builds_the_frames_websockets_would() -> None:
    for length in (0, 1, 125, 126, 65535, 65536):
        data = b"a" * length
        ours = fast()
        ours.send_utf8(data)
        theirs = Protocol(Side.SERVER, state=State.OPEN)
        theirs.send_text(data)
        assert ours.data_to_send() == b"".join(theirs.data_to_send())


def test_send_keeps_order_with_a_pong() -> None:
    stream = fast()
    stream.send_utf8(b"one")
    stream.receive(frame(0x9, b"ping"))
    stream.send_utf8(b"two")
    client = Protocol(Side.CLIENT, state=State.OPEN)
    client.receive_data(stream.data_to_send())
    frames = [e for e in client.events_received() if isinstance(e, Frame)]
    assert [(f.opcode, f.data) for f in frames] == [
        (Opcode.TEXT, b"one"),
        (Opcode.PONG, b"ping"),
        (Opcode.TEXT, b"two"),
    ]


def test_send_with_deflate_uses_websockets() -> None:
    stream = WebSocketStream()
    assert stream.negotiate_extensions("permessage-deflate") is not None
    stream.send_utf8(b"hello hello hello")
    data = stream.data_to_send()
    assert data[0] & 0x40  # RSV1: compressed by websockets' extension


def test_send_after_close_is_ignored() -> None:
    stream = fast()
    stream.fail(1000, "bye")
    stream.data_to_send()
    stream.send_utf8(b"late")
    assert stream.data_to_send() == b""


# -- falling back, case by case (each compared with the reference) -------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(frame(0x1, b"\xff\xfe"), id="invalid-utf8"),
        pytest.param(
            frame(0x1, b"ok") + frame(0x1, b"\xc3") + frame(0x1, b"after"),
            id="invalid-utf8-mid-batch",
        ),
        pytest.param(frame(0x1, b"ab", fin=False) + frame(0x0, b"cd"), id="fragmented"),
        pytest.param(
            frame(0x1, b"ab", fin=False) + frame(0x9, b"p") + frame(0x0, b"cd") + frame(0x1, b"e"),
            id="ping-between-fragments",
        ),
        pytest.param(frame(0x1, b"ab", fin=False) + frame(0x1, b"cd"), id="text-during-fragments"),
        pytest.param(frame(0x0, b"cd"), id="stray-continuation"),
        pytest.param(frame(0x1, b"a", rsv=4), id="compressed-bit-without-extension"),
        pytest.param(frame(0x1, b"a", rsv=1), id="reserved-bit"),
        pytest.param(frame(0x1, b"a", mask=None), id="unmasked"),
        pytest.param(frame(0x3, b"a"), id="reserved-opcode"),
        pytest.param(frame(0x2, b"\x00\x01"), id="binary"),
        pytest.param(frame(0x9, b"p") + frame(0x1, b"t") + frame(0xA, b"q"), id="ping-pong"),
        pytest.param(frame(0x9, b"p" * 126), id="control-too-long"),
        pytest.param(frame(0x9, b"p", fin=False), id="fragmented-control"),
        pytest.param(frame(0x1, b"t") + frame(0x8, b"\x03\xe8bye") + frame(0x1, b"x"), id="close"),
        pytest.param(frame(0x8, b"\x03\xe8\xff"), id="close-reason-not-utf8"),
        pytest.param(frame(0x8, b""), id="close-without-code"),
        pytest.param(frame(0x8, b"\x03"), id="close-too-short"),
        pytest.param(frame(0x8, b"\x03\xed"), id="close-with-reserved-code"),
        pytest.param(frame(0x8, b"\x0f\xa0bye"), id="close-with-application-code"),
        pytest.param(frame(0x8, b"\x03\xe8" + b"r" * 123), id="close-longest-reason"),
        pytest.param(frame(0x8, b"\x03\xe8" + b"r" * 124), id="close-too-long"),
        pytest.param(frame(0x8, b"\x03\xe8", fin=False), id="close-fragmented"),
        pytest.param(frame(0x8, b"\x03\xe8", mask=None), id="close-unmasked"),
        pytest.param(
            frame(0x1, b"a") + frame(0x8, b"\x03\xe8") + frame(0x9, b"p"), id="close-mid-batch"
        ),
        pytest.param(frame(0x1, b"x" * (MAX + 1)), id="oversize"),
        pytest.param(frame(0x1, b"x" * MAX), id="at-the-limit"),
        pytest.param(frame(0x1, b"x" * 100, length_bytes=8), id="long-length-encoding"),
        pytest.param(frame(0x1, b"x" * 10, length_bytes=2), id="medium-length-encoding"),
        pytest.param(b"\x81\xff" + b"\xff" * 8 + b"mask", id="huge-length"),
        pytest.param(b"\x81", id="cut-header"),
        pytest.param(b"\x81\xfe\x01", id="cut-extended-length"),
        pytest.param(frame(0x1, b"abc")[:-1], id="cut-payload"),
        pytest.param(b"\x89\x80\x00", id="cut-ping-header"),
    ],
)
def test_fallbacks_match_websockets(data: bytes) -> None:
    # Whole, then byte by byte: frames split across reads in every way.
    same([data])
    same([data[i : i + 1] for i in range(len(data))])


def test_invalid_utf8_is_reported_like_before() -> None:
    [(events, _, closed), _eof] = same([frame(0x1, b"ok\xff")])
    assert isinstance(events, list)
    assert events[-1] == ProtocolError(1007, "invalid UTF-8: invalid start byte at position 2")
    assert closed


def test_close_frame_is_answered_and_the_rest_discarded() -> None:
    trace = same([frame(0x1, b"t") + frame(0x8, b"\x03\xe8bye") + frame(0x1, b"x")])
    events = trace[0][0]  # type: ignore[index]
    assert events == [TextMessage("t"), CloseReceived(1000, "bye")]


def test_large_text_split_across_reads_goes_through_websockets() -> None:
    data = frame(0x1, b"y" * 250) + frame(0x1, b"z")
    trace = same([data[:100], data[100:]])
    assert trace[1][0] == [TextMessage("y" * 250), TextMessage("z")]  # type: ignore[index]


def test_held_header_is_dropped_on_eof() -> None:
    """A cut-off header then EOF: websockets would fail with 1006, which is never sent."""
    stream = fast()
    assert stream.receive(b"\x81\x85") == []
    assert stream._held == b"\x81\x85"
    stream.eof_received()
    assert stream._held == b""
    assert stream.closed
    assert stream.data_to_send() == b""
    assert stream._protocol is None


def test_held_header_goes_first_when_the_fast_path_turns_off() -> None:
    """A header held back, then DEBUG logging and a Protocol: the bytes stay in order."""
    stream = fast()
    data = frame(0x1, b"hello")
    assert stream.receive(data[:3]) == []
    with websockets_debug():
        stream.send_bytes(b"\x00")  # makes websockets' Protocol, which logs every frame
    assert stream.receive(data[3:]) == [TextMessage("hello")]


def test_deflate_connections_use_websockets_for_everything() -> None:
    stream = WebSocketStream(max_message_size=MAX)
    stream.negotiate_extensions("permessage-deflate")
    assert stream.receive(frame(0x1, b"plain")) == [TextMessage("plain")]


# -- everything at once: random frames, random cuts ---------------------------

_payloads = st.one_of(
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
    st.integers(min_value=120, max_value=MAX + 20).map(lambda n: b"w" * n),
)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["text"] * 6 + ["frag", "ping", "pong", "binary", "close", "odd"]))
    payload = draw(_payloads)
    mask = draw(st.binary(min_size=4, max_size=4))
    if kind == "text":
        return frame(0x1, payload, mask=mask)
    if kind == "frag":
        cut = draw(st.integers(min_value=0, max_value=len(payload)))
        first = frame(0x1, payload[:cut], fin=False, mask=mask)
        return first + frame(0x0, payload[cut:], mask=mask)
    if kind in ("ping", "pong"):
        return frame(0x9 if kind == "ping" else 0xA, payload[:125], mask=mask)
    if kind == "binary":
        return frame(0x2, payload, mask=mask)
    if kind == "close":
        return frame(0x8, b"\x03\xe8" + payload[:20], mask=mask)
    opcode = draw(st.sampled_from([0x0, 0x1, 0x3, 0x9, 0xB]))
    return frame(
        opcode,
        payload,
        fin=draw(st.booleans()),
        rsv=draw(st.integers(min_value=0, max_value=7)),
        mask=draw(st.sampled_from([mask, None])),
        length_bytes=draw(st.sampled_from([None, 2, 8])),
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(frames(), max_size=8), st.lists(st.integers(min_value=0), max_size=8))
def test_random_streams_match_websockets(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)
    same(split(data, cuts))


# -- send_utf8_now: the same bytes as send_utf8() then data_to_send() ----------------


def _both(prepare: str) -> tuple[bytes, bytes]:
    results = []
    for one_step in (False, True):
        stream = fast()
        if prepare == "pong pending":
            stream.receive(frame(0x9, b"ping"))
        elif prepare == "deflate":
            stream = WebSocketStream()
            stream.negotiate_extensions("permessage-deflate")
        elif prepare == "closed":
            stream.fail(1000, "bye")
            stream.data_to_send()
        elif prepare == "debug":
            stream = reference()
        if one_step:
            results.append(stream.send_utf8_now(b'a["x"]'))
        else:
            stream.send_utf8(b'a["x"]')
            results.append(stream.data_to_send())
    return results[0], results[1]


@pytest.mark.parametrize("prepare", ["nothing", "pong pending", "deflate", "closed", "debug"])
def test_send_utf8_now_matches_the_two_steps(prepare: str) -> None:
    queued, direct = _both(prepare)
    if prepare in ("nothing", "pong pending", "debug"):
        assert direct.endswith(b'\x81\x06a["x"]')
    assert direct == queued or prepare == "deflate"  # compressed bytes depend on the context
    if prepare == "closed":
        assert direct == b""


# -- websockets' Protocol is made on first need ----------------------------------------


def test_frames_sent_before_the_protocol_exists_come_first() -> None:
    stream = fast()
    stream.send_utf8(b"one")
    stream.send_utf8(b"two")
    assert stream._protocol is None
    assert stream.send_utf8_now(b"three") == b"\x81\x03one\x81\x03two\x81\x05three"
    stream.send_utf8(b"four")
    stream.receive(frame(0x9, b"p"))  # a ping: websockets' Protocol is made now
    assert stream._protocol is not None
    client = Protocol(Side.CLIENT, state=State.OPEN)
    client.receive_data(stream.data_to_send())
    frames = [e for e in client.events_received() if isinstance(e, Frame)]
    assert [(f.opcode, f.data) for f in frames] == [(Opcode.TEXT, b"four"), (Opcode.PONG, b"p")]


def test_the_protocol_is_made_for_what_only_websockets_does() -> None:
    for action in ("fail", "binary"):
        stream = fast()
        stream.send_utf8(b"first")
        if action == "fail":
            stream.fail(1011, "oops")
        else:
            stream.send_bytes(b"\x00")
        assert stream._protocol is not None
        data = stream.data_to_send()
        assert data.startswith(b"\x81\x05first"), action
    assert not stream.closed


def test_eof_needs_no_protocol() -> None:
    stream = fast()
    stream.send_utf8(b"last")
    stream.eof_received()
    assert stream._protocol is None
    assert stream.closed
    assert stream.data_to_send() == b"\x81\x04last"
    stream.send_utf8(b"late")
    assert stream.data_to_send() == b""


def test_debug_logging_sends_every_frame_through_websockets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("DEBUG", logger="sockjs.cyclone.wsstream"):
        stream = fast()
        assert stream._protocol is not None
        assert stream.receive(frame(0x1, b"seen")) == [TextMessage("seen")]
        stream.send_utf8(b"sent")
    logged = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("< TEXT 'seen'") for line in logged), logged
    assert any(line.startswith("> TEXT 'sent'") for line in logged), logged


def test_send_utf8_now_once_the_protocol_exists() -> None:
    stream = fast()
    stream.receive(frame(0x9, b"p"))
    assert stream.data_to_send() == b"\x8a\x01p"  # the pong
    assert stream.send_utf8_now(b'a["x"]') == b'\x81\x06a["x"]'


def test_a_clean_close_needs_no_protocol() -> None:
    stream = fast()
    stream.send_utf8(b"bye")
    events = stream.receive(frame(0x8, b"\x03\xe8done") + frame(0x1, b"ignored"))
    assert events == [CloseReceived(1000, "done")]
    assert stream._protocol is None
    assert stream.closed
    assert stream.data_to_send() == b"\x81\x03bye\x88\x06\x03\xe8done"
    # Everything after is ignored, as by websockets after a Close.
    assert stream.receive(frame(0x1, b"late")) == []
    stream.send_utf8(b"late")
    stream.send_bytes(b"late")
    stream.fail(1011, "late")
    assert stream.send_utf8_now(b"late") == b""
    stream.eof_received()
    assert stream.data_to_send() == b""
    assert stream._protocol is None


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536])
def test_send_utf8_now_header_sizes(length: int) -> None:
    data = b"z" * length
    queued = fast()
    queued.send_utf8(data)
    assert fast().send_utf8_now(data) == queued.data_to_send()
