"""Property-based fuzzing of the adapter's own parsers of client bytes.

Multiplex frames, the request-head parser and the chunked body decoder of
``SockJSHTTPConnection``, and the RFC 6455 message stream: for any input they
return a value or a documented refusal, never an unexpected exception (which
would reach Twisted as an unhandled error), and incremental parsers give the
same result however the bytes are split.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sockjs.cyclone.httpconn import _BodyError, _ChunkedBody, _parse_head
from sockjs.cyclone.multiplex import escape_topic, parse_frame
from sockjs.cyclone.wsstream import (
    BinaryMessage,
    CloseReceived,
    ProtocolError,
    TextMessage,
    WebSocketStream,
)

FUZZ = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


# -- multiplex frames (PROTOCOL.md 9.1) ---------------------------------------------------


@FUZZ
@given(st.one_of(st.text(max_size=60), st.integers(), st.none(), st.lists(st.text(), max_size=2)))
@example("msg,topic,a,b,c")
@example(",,")
def test_parse_frame_any_message(message: object) -> None:
    parsed = parse_frame(message)
    if parsed is None:
        assert not isinstance(message, str) or "," not in message
        return
    kind, topic, payload = parsed
    assert isinstance(message, str)
    assert "," not in kind and "," not in topic
    assert message == f"{kind},{topic},{payload}" or message == f"{kind},{topic}"


@FUZZ
@given(st.text(max_size=40))
def test_escaped_topics_are_plain_ascii_without_commas(name: str) -> None:
    escaped = escape_topic(name)
    assert escaped.isascii() and "," not in escaped
    assert escape_topic(name) == escaped


# -- request heads ----------------------------------------------------------------------------

heads = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda line, headers: line + b"\r\n" + b"\r\n".join(headers),
        st.sampled_from([b"GET / HTTP/1.1", b"POST /echo/0/0/xhr HTTP/1.0", b"GET  / HTTP/1.1"]),
        st.lists(
            st.one_of(
                st.binary(max_size=30),
                st.sampled_from(
                    [b" folded", b"\tfolded", b"Host: x", b"A:", b":b", b"\x0cX: y", b"X: \xff"]
                ),
            ),
            max_size=5,
        ),
    ),
)


@FUZZ
@given(heads)
@example(b"GET / HTTP/1.1\r\n folded first\r\nHost: x")
@example(b"GET / HTTP/1.1\r\nX: \xc3")
def test_parse_head_never_raises(data: bytes) -> None:
    parsed = _parse_head(data)
    if parsed is not None:
        method, uri, version, _headers = parsed
        assert version in ("HTTP/1.0", "HTTP/1.1")
        assert uri.startswith("/") and method


# -- chunked request bodies (RFC 9112 7.1) --------------------------------------------------


def _decode(pieces: list[bytes], limit: int | None) -> tuple[str, bytes, bytes] | tuple[str, int]:
    decoder = _ChunkedBody(limit)
    try:
        for index, piece in enumerate(pieces):
            rest = decoder.feed(piece)
            if rest is not None:
                leftover = rest + b"".join(pieces[index + 1 :])
                return ("done", decoder.body(), leftover)
    except _BodyError as error:
        return ("error", error.status)
    return ("pending", decoder.body(), b"")


chunked = st.lists(st.binary(max_size=20), max_size=5).map(
    lambda parts: b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
)


@FUZZ
@given(chunked, st.binary(max_size=10), st.lists(st.integers(0, 120), max_size=4))
def test_chunked_round_trip_whatever_the_split(body: bytes, after: bytes, cuts: list[int]) -> None:
    data = body + after
    whole = _decode([data], None)
    assert whole[0] == "done"
    assert _decode(_splits(data, cuts), None) == whole
    assert whole[2] == after


@FUZZ
@given(
    st.one_of(st.binary(max_size=80), chunked.map(lambda b: b[: len(b) // 2])),
    st.lists(st.integers(0, 80), max_size=4),
    st.one_of(st.none(), st.integers(0, 40)),
)
@example(b"fffffffffffffffffffff\r\n", [], None)
@example(b"-1\r\n", [], None)
@example(b"3\r\nabcX\r\n", [], None)
def test_chunked_any_bytes(data: bytes, cuts: list[int], limit: int | None) -> None:
    """Any bytes: a body, a 400/413 refusal, or waiting for more; never another error."""
    result = _decode(_splits(data, cuts), limit)
    if result[0] == "error":
        assert result[1] in (400, 413)
    elif limit is not None:
        assert len(result[1]) <= limit  # type: ignore[arg-type]


# -- WebSocket message stream (RFC 6455) -------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=4))
def test_websocket_stream_any_bytes(data: bytes, cuts: list[int]) -> None:
    stream = WebSocketStream(max_message_size=64)
    events = []
    for piece in _splits(data, cuts):
        events += stream.receive(piece)
        stream.data_to_send()
    kinds = (TextMessage, BinaryMessage, CloseReceived, ProtocolError)
    assert all(isinstance(event, kinds) for event in events)
    for event in events:
        if isinstance(event, ProtocolError):
            assert event.code in (1002, 1007, 1009, 1011)


@FUZZ
@given(st.lists(st.text(max_size=30), max_size=5))
def test_websocket_stream_delivers_masked_text(texts: list[str]) -> None:
    from websockets.protocol import Protocol, Side, State

    client = Protocol(Side.CLIENT, state=State.OPEN)
    for text in texts:
        client.send_text(json.dumps([text]).encode())
    wire = b"".join(client.data_to_send())
    stream = WebSocketStream(max_message_size=1 << 20)
    events = stream.receive(wire)
    assert [json.loads(event.text)[0] for event in events if isinstance(event, TextMessage)] == (
        texts
    )
