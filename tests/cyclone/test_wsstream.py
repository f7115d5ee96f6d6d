"""RFC 6455 message stream: real client frames in, events and bytes out.

Client frames are built with websockets' client-side sans-I/O Protocol (so
they are masked like a browser's) or by hand for the malformed ones.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Sequence

import pytest
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.headers import build_extension, parse_extension
from websockets.protocol import Protocol, Side, State

from sockjs.cyclone.wsstream import WebSocketStream, _error_event
from sockjs.protocol.websocket import (
    BinaryMessage,
    CloseReceived,
    Event,
    ProtocolError,
    TextMessage,
)
from sockjs.protocol.wsframes import MAX_CLOSE_REASON_BYTES

MASK = b"\x01\x02\x03\x04"


def client() -> Protocol:
    return Protocol(Side.CLIENT, state=State.OPEN, max_size=None)


def to_bytes(peer: Protocol) -> bytes:
    return b"".join(peer.data_to_send())


def raw_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = True
) -> bytes:
    """A client frame built by hand, for the malformed cases."""
    head1 = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", head1, (0x80 if mask else 0) | length)
    elif length < 65536:
        head = struct.pack("!BBH", head1, (0x80 if mask else 0) | 126, length)
    else:
        head = struct.pack("!BBQ", head1, (0x80 if mask else 0) | 127, length)
    if not mask:
        return head + payload
    masked = bytes(byte ^ MASK[i % 4] for i, byte in enumerate(payload))
    return head + MASK + masked


def server_frames(stream: WebSocketStream, peer: Protocol | None = None) -> list[Frame]:
    """Decode what the stream queued for the client."""
    peer = peer or client()
    peer.receive_data(stream.data_to_send())
    return [event for event in peer.events_received() if isinstance(event, Frame)]


def text_frame(text: str) -> bytes:
    peer = client()
    peer.send_text(text.encode())
    return to_bytes(peer)


# -- text and binary messages ----------------------------------------------


def test_masked_text_message() -> None:
    stream = WebSocketStream()
    assert stream.ready  # the handshake is done before a stream is made
    assert stream.receive(text_frame('["a"]')) == [TextMessage('["a"]')]
    assert stream.data_to_send() == b""
    assert not stream.closed


def test_empty_text_message_is_delivered_as_empty() -> None:
    """7.10: empty frames are legal; the SockJS layer ignores them."""
    assert WebSocketStream().receive(text_frame("")) == [TextMessage("")]


def test_several_messages_in_one_chunk_and_byte_by_byte() -> None:
    data = text_frame("one") + text_frame("two") + text_frame("three")
    assert WebSocketStream().receive(data) == [
        TextMessage("one"),
        TextMessage("two"),
        TextMessage("three"),
    ]
    stream = WebSocketStream()
    events = []
    for i in range(len(data)):
        events += stream.receive(data[i : i + 1])
    assert events == [TextMessage("one"), TextMessage("two"), TextMessage("three")]


def test_large_message_uses_extended_lengths() -> None:
    for size in (126, 65535, 65536, 200_000):
        text = "x" * size
        assert WebSocketStream().receive(text_frame(text)) == [TextMessage(text)]


def test_raw_echo_of_u_ffff() -> None:
    """Checklist 124: ``Hello world!\\uFFFF`` comes back identical."""
    stream = WebSocketStream()
    (message,) = stream.receive(text_frame("Hello world!\uffff"))
    assert isinstance(message, TextMessage)
    stream.send_utf8(message.text.encode())
    (frame,) = server_frames(stream)
    assert frame.opcode is Opcode.TEXT
    assert bytes(frame.data).decode() == "Hello world!\uffff"


def test_send_utf8_takes_encoded_text() -> None:
    """SockJS frames are bytes already; they go out as one text message each."""
    stream = WebSocketStream()
    stream.send_utf8(rb'a["\u00e9"]')
    stream.send_utf8("é".encode())
    frames = server_frames(stream)
    assert [(f.opcode, bytes(f.data)) for f in frames] == [
        (Opcode.TEXT, rb'a["\u00e9"]'),
        (Opcode.TEXT, "é".encode()),
    ]
    stream.fail(1000)
    stream.data_to_send()  # the Close frame
    stream.send_utf8(b"ignored")
    assert stream.data_to_send() == b""


def test_server_frames_are_unmasked() -> None:
    stream = WebSocketStream()
    stream.send_utf8(b"o")
    assert stream.data_to_send() == b"\x81\x01o"


def test_binary_message() -> None:
    peer = client()
    peer.send_binary(b"\x00\xff")
    stream = WebSocketStream()
    assert stream.receive(to_bytes(peer)) == [BinaryMessage(b"\x00\xff")]
    stream.send_bytes(b"\x01")
    (frame,) = server_frames(stream)
    assert (frame.opcode, frame.data) == (Opcode.BINARY, b"\x01")


def test_fragmented_text_message_is_assembled() -> None:
    peer = client()
    peer.send_text("é".encode()[:1], fin=False)  # split inside a character
    peer.send_continuation("é".encode()[1:] + b"-", fin=False)
    peer.send_continuation(b"", fin=False)
    peer.send_continuation(b"end", fin=True)
    data = to_bytes(peer)
    stream = WebSocketStream()
    events = []
    for i in range(0, len(data), 3):
        events += stream.receive(data[i : i + 3])
    assert events == [TextMessage("é-end")]


def test_fragmented_binary_message_is_assembled() -> None:
    peer = client()
    peer.send_binary(b"ab", fin=False)
    peer.send_continuation(b"cd", fin=True)
    assert WebSocketStream().receive(to_bytes(peer)) == [BinaryMessage(b"abcd")]


def test_ping_between_fragments_is_answered_and_message_kept() -> None:
    peer = client()
    peer.send_text(b"he", fin=False)
    peer.send_ping(b"p1")
    peer.send_continuation(b"llo", fin=True)
    stream = WebSocketStream()
    assert stream.receive(to_bytes(peer)) == [TextMessage("hello")]
    (pong,) = server_frames(stream)
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"p1")


def test_ping_is_answered_with_pong() -> None:
    peer = client()
    peer.send_ping(b"hb")
    stream = WebSocketStream()
    assert stream.receive(to_bytes(peer)) == []
    assert stream.data_to_send() == b"\x8a\x02hb"


def test_unsolicited_pong_is_ignored() -> None:
    peer = client()
    peer.send_pong(b"x")
    stream = WebSocketStream()
    assert stream.receive(to_bytes(peer)) == []
    assert stream.data_to_send() == b""


def test_message_exactly_at_the_limit_is_accepted() -> None:
    assert WebSocketStream(max_message_size=5).receive(text_frame("12345")) == [
        TextMessage("12345")
    ]


# -- closing ---------------------------------------------------------------


def test_client_close_is_reported_echoed_and_ends_stream() -> None:
    peer = client()
    peer.send_close(1000, "bye")
    stream = WebSocketStream()
    assert stream.receive(to_bytes(peer)) == [CloseReceived(1000, "bye")]
    assert stream.closed
    (echo,) = server_frames(stream)
    assert echo.opcode is Opcode.CLOSE
    assert echo.data == b"\x03\xe8bye"
    # Bytes after the Close frame are discarded.
    assert stream.receive(text_frame("late")) == []


def test_client_close_without_status_reports_1005() -> None:
    peer = client()
    peer.send_close()
    assert WebSocketStream().receive(to_bytes(peer)) == [CloseReceived(1005, "")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 2999, 5000])
def test_close_codes_that_may_not_be_sent(code: int) -> None:
    stream = WebSocketStream()
    with pytest.raises(ValueError, match=str(code)):
        stream.fail(code, "x")
    assert not stream.closed
    assert stream.data_to_send() == b""


@pytest.mark.parametrize("code", [1000, 1003, 1007, 1014, 3000, 4999])
def test_close_codes_that_may_be_sent(code: int) -> None:
    stream = WebSocketStream()
    stream.fail(code)
    (close,) = server_frames(stream)
    assert struct.unpack("!H", close.data)[0] == code


def test_long_close_reason_is_cut_at_a_character_boundary() -> None:
    stream = WebSocketStream()
    stream.fail(1000, "é" * 100)  # 200 bytes of UTF-8
    (close,) = server_frames(stream)
    reason = bytes(close.data[2:]).decode()
    assert reason == "é" * (MAX_CLOSE_REASON_BYTES // 2)
    assert len(close.data) <= 125


def test_fail_closes_at_once() -> None:
    """7.8: after broken JSON the server closes the WebSocket and drops TCP."""
    stream = WebSocketStream()
    stream.fail(3000, "Broken framing.")
    assert stream.closed
    (close,) = server_frames(stream)
    assert close.data == b"\x0b\xb8Broken framing."
    assert stream.receive(text_frame("late")) == []
    stream.fail(1002)  # already closed: nothing more
    assert stream.data_to_send() == b""


def test_fail_after_a_client_close_sends_no_second_close() -> None:
    peer = client()
    peer.send_ping(b"p")  # websockets' Protocol answers the Close below
    peer.send_close(1000, "")
    stream = WebSocketStream()
    stream.receive(to_bytes(peer))
    stream.data_to_send()
    stream.fail(1002)
    stream.send_utf8(b"late")
    stream.send_bytes(b"late")
    assert stream.closed
    assert stream.data_to_send() == b""


def test_eof_ends_the_stream() -> None:
    stream = WebSocketStream()
    stream.receive(text_frame("partial")[:3])
    stream.eof_received()
    stream.eof_received()
    assert stream.closed
    assert stream.receive(text_frame("x")) == []
    assert stream.data_to_send() == b""


def test_eof_after_close_handshake() -> None:
    peer = client()
    peer.send_close(1001, "")
    stream = WebSocketStream()
    stream.receive(to_bytes(peer))
    stream.eof_received()
    assert stream.closed


# -- protocol errors (1002, 1007, 1009) ------------------------------------


def assert_failed(stream: WebSocketStream, events: Sequence[Event], code: int) -> None:
    assert isinstance(events[-1], ProtocolError)
    assert events[-1].code == code
    assert stream.closed
    closes = [frame for frame in server_frames(stream) if frame.opcode is Opcode.CLOSE]
    assert len(closes) == 1
    assert struct.unpack("!H", closes[0].data[:2])[0] == code
    # Whatever comes next is discarded.
    assert stream.receive(text_frame("later")) == []


def test_oversize_message_is_1009() -> None:
    stream = WebSocketStream(max_message_size=10)
    assert_failed(stream, stream.receive(text_frame("x" * 11)), 1009)


def test_oversize_fragmented_message_is_1009() -> None:
    peer = client()
    peer.send_text(b"x" * 6, fin=False)
    peer.send_continuation(b"x" * 6, fin=True)
    stream = WebSocketStream(max_message_size=10)
    assert_failed(stream, stream.receive(to_bytes(peer)), 1009)


def test_oversize_is_detected_from_the_header() -> None:
    stream = WebSocketStream(max_message_size=1000)
    header = raw_frame(0x1, b"x" * 2000)[:8]  # header + mask, no payload yet
    assert_failed(stream, stream.receive(header), 1009)


def test_invalid_utf8_is_1007() -> None:
    stream = WebSocketStream()
    events = stream.receive(raw_frame(0x1, b"\xc3\x28") + text_frame("after"))
    assert events == [ProtocolError(1007, events[0].reason)]  # type: ignore[union-attr]
    assert "UTF-8" in events[0].reason  # type: ignore[union-attr]
    assert_failed(stream, events, 1007)


def test_surrogate_in_utf8_is_1007() -> None:
    stream = WebSocketStream()
    assert_failed(stream, stream.receive(raw_frame(0x1, b"\xed\xa0\x80")), 1007)


def test_invalid_utf8_in_fragmented_message_is_1007() -> None:
    data = raw_frame(0x1, b"ok", fin=False) + raw_frame(0x0, b"\xff")
    stream = WebSocketStream()
    events = stream.receive(data)
    assert_failed(stream, events, 1007)


def test_messages_before_the_error_are_delivered() -> None:
    stream = WebSocketStream()
    events = stream.receive(text_frame("first") + raw_frame(0x1, b"x", rsv=0b100))
    assert events[0] == TextMessage("first")
    assert_failed(stream, events, 1002)


def test_invalid_utf8_then_client_close_in_the_same_chunk() -> None:
    peer = client()
    peer.send_close(1000, "")
    stream = WebSocketStream()
    events = stream.receive(raw_frame(0x1, b"\xff") + to_bytes(peer))
    assert events == [ProtocolError(1007, events[0].reason)]  # type: ignore[union-attr]
    assert stream.closed


def test_invalid_utf8_in_close_reason_is_1007() -> None:
    stream = WebSocketStream()
    assert_failed(stream, stream.receive(raw_frame(0x8, b"\x03\xe8\xff")), 1007)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(raw_frame(0x1, b"hi", mask=False), id="unmasked"),
        pytest.param(raw_frame(0x1, b"hi", rsv=0b100), id="rsv1-without-deflate"),
        pytest.param(raw_frame(0x1, b"hi", rsv=0b010), id="rsv2"),
        pytest.param(raw_frame(0x1, b"hi", rsv=0b001), id="rsv3"),
        pytest.param(raw_frame(0x3, b"hi"), id="reserved-data-opcode"),
        pytest.param(raw_frame(0xB, b"hi"), id="reserved-control-opcode"),
        pytest.param(raw_frame(0x9, b"hi", fin=False), id="fragmented-ping"),
        pytest.param(raw_frame(0x9, b"x" * 126), id="ping-too-long"),
        pytest.param(raw_frame(0x0, b"hi"), id="continuation-without-start"),
        pytest.param(
            raw_frame(0x1, b"a", fin=False) + raw_frame(0x1, b"b"), id="text-inside-fragmented"
        ),
        pytest.param(
            raw_frame(0x1, b"a", fin=False) + raw_frame(0x8, b"\x03\xe8"),
            id="close-inside-fragmented",
        ),
        pytest.param(raw_frame(0x8, b"\x03"), id="close-payload-1-byte"),
        pytest.param(raw_frame(0x8, b"\x03\xe7"), id="close-code-999"),
        pytest.param(b"GET / HTTP/1.1\r\n\r\n", id="garbage-http"),
        pytest.param(b"\xff\x00", id="hixie-close-on-rfc6455"),
    ],
)
def test_protocol_violations_are_1002(data: bytes) -> None:
    stream = WebSocketStream()
    assert_failed(stream, stream.receive(data), 1002)


def test_unexpected_parser_failure_maps_to_1011() -> None:
    assert _error_event(RuntimeError("boom")) == ProtocolError(1011, "boom")


# -- permessage-deflate ----------------------------------------------------


def deflate_pair(
    offer: str | None = None, **server_options: object
) -> tuple[WebSocketStream, Protocol, str | None]:
    """A stream and a client that agreed on permessage-deflate."""
    factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    if offer is None:
        offer = build_extension([(factory.name, factory.get_request_params())])
    extensions = None
    if server_options:
        extensions = [ServerPerMessageDeflateFactory(**server_options)]  # type: ignore[arg-type]
    stream = WebSocketStream(extensions=extensions)
    answer = stream.negotiate_extensions(offer)
    peer = client()
    if answer is not None:
        ((name, params),) = parse_extension(answer)
        assert name == "permessage-deflate"
        peer.extensions = [factory.process_response_params(params, [])]
    return stream, peer, answer


def test_deflate_is_negotiated_with_default_settings() -> None:
    _, _, answer = deflate_pair()
    assert answer == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"


def test_compressed_messages_in_both_directions() -> None:
    stream, peer, _ = deflate_pair()
    for text in ["hello " * 50, "hello " * 50, "", "é\uffff"]:
        peer.send_text(text.encode())
        data = to_bytes(peer)
        assert data[0] & 0x40 or text == ""  # RSV1: the frame is compressed
        assert stream.receive(data) == [TextMessage(text)]
        stream.send_utf8(text.encode())
        (frame,) = server_frames(stream, peer)
        assert bytes(frame.data).decode() == text


def test_compressed_fragmented_message() -> None:
    stream, peer, _ = deflate_pair()
    peer.send_text(b"abc" * 100, fin=False)
    peer.send_continuation(b"def" * 100, fin=True)
    assert stream.receive(to_bytes(peer)) == [TextMessage("abc" * 100 + "def" * 100)]


def test_compressed_ping_is_answered() -> None:
    stream, peer, _ = deflate_pair()
    peer.send_ping(b"x")
    assert stream.receive(to_bytes(peer)) == []
    (pong,) = server_frames(stream, peer)
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"x")


def test_decompression_bomb_is_1009() -> None:
    stream = WebSocketStream(max_message_size=1000)
    stream.negotiate_extensions("permessage-deflate")
    compressor = zlib.compressobj(wbits=-15)
    payload = compressor.compress(b"\x00" * 100_000) + compressor.flush(zlib.Z_SYNC_FLUSH)
    data = raw_frame(0x2, payload[:-4], rsv=0b100)
    assert len(data) < 1000
    assert_failed(stream, stream.receive(data), 1009)


def test_corrupt_compressed_data_is_1002() -> None:
    stream = WebSocketStream()
    stream.negotiate_extensions("permessage-deflate")
    assert_failed(stream, stream.receive(raw_frame(0x1, b"\xff\xff\xff", rsv=0b100)), 1002)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "x-webkit-deflate-frame",
        "permessage-deflate; unknown_param",
        "permessage-deflate; server_max_window_bits=99",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; =",  # malformed
        ";;;",  # malformed
    ],
)
def test_nothing_accepted(header: str | None) -> None:
    stream = WebSocketStream()
    assert stream.negotiate_extensions(header) is None
    stream.send_utf8(b"plain")
    assert stream.data_to_send() == b"\x81\x05plain"


class _ZlibRefuses(ServerPerMessageDeflateFactory):
    """What websockets up to 17.0 did with ``server_max_window_bits=8``: zlib's ValueError."""

    def process_request_params(self, params, accepted):  # type: ignore[no-untyped-def]
        raise ValueError("Invalid initialization option")


def test_an_offer_the_factory_cannot_serve_counts_as_no_offer() -> None:
    stream = WebSocketStream(extensions=[_ZlibRefuses()])
    assert stream.negotiate_extensions("permessage-deflate") is None
    stream.send_utf8(b"plain")
    assert stream.data_to_send() == b"\x81\x05plain"
    # The next factory gets its chance.
    stream = WebSocketStream(extensions=[_ZlibRefuses(), ServerPerMessageDeflateFactory()])
    assert stream.negotiate_extensions("permessage-deflate") == "permessage-deflate"


def test_first_acceptable_offer_wins() -> None:
    stream = WebSocketStream()
    header = (
        "permessage-deflate; bogus, permessage-deflate; client_no_context_takeover, "
        "permessage-deflate"
    )
    answer = stream.negotiate_extensions(header)
    assert answer is not None
    assert answer.count("permessage-deflate") == 1
    assert "client_no_context_takeover" in answer


def test_extensions_can_be_disabled_or_configured() -> None:
    assert WebSocketStream(extensions=[]).negotiate_extensions("permessage-deflate") is None
    _, _, answer = deflate_pair("permessage-deflate", server_no_context_takeover=True)
    assert answer == "permessage-deflate; server_no_context_takeover"


# -- events ----------------------------------------------------------------


@pytest.mark.parametrize(
    "event", [TextMessage("a"), BinaryMessage(b"a"), CloseReceived(1000, ""), ProtocolError(1, "")]
)
def test_events_are_frozen(event: object) -> None:
    field = dataclasses.fields(event)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, field, None)
