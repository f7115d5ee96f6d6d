"""Property-based fuzzing of the adapter's own parsers of client bytes.

``SockJSHTTPConnection`` fed any request head, and the RFC 6455 message
stream: for any input they give an answer or a documented refusal, never an
unexpected exception (which would reach Twisted as an unhandled error), and
the stream gives the same result however the bytes are split. (The core's
codecs, the request reader among them, are fuzzed in
tests/protocol/test_fuzz_codecs.py.)
"""

from __future__ import annotations

import json

from helpers import Server, parse_responses
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sockjs.cyclone.wsstream import WebSocketStream
from sockjs.protocol.websocket import BinaryMessage, CloseReceived, ProtocolError, TextMessage

FUZZ = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


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
@given(heads, st.lists(st.integers(0, 250), max_size=3))
@example(b"GET / HTTP/1.1\r\n folded first\r\nHost: x", [])
@example(b"GET / HTTP/1.1\r\nX: \xc3", [])
def test_any_head_is_answered_or_refused(data: bytes, cuts: list[int]) -> None:
    """Well-formed HTTP answers (or a close), nothing raised out of dataReceived."""
    client = Server(hardened=True).client()
    for piece in _splits(data + b"\r\n\r\n", cuts):
        if not client.closed_by_server:
            client.send_raw(piece)
    for response in parse_responses(client.data):  # strict about framing
        assert 200 <= response.status < 600
    client.abort()


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
