"""Property-based fuzzing of the core's codecs of client bytes.

Multiplex frames and the chunked request-body decoder: for any input they
return a value or a documented refusal, never an unexpected exception, and
the incremental decoder gives the same result however the bytes are split.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sockjs.protocol.httpparse import BodyError, ChunkedBody
from sockjs.protocol.multiplex import escape_topic
from sockjs.protocol.multiplex import parse as parse_frame

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


# -- chunked request bodies (RFC 9112 7.1) --------------------------------------------------


def _decode(pieces: list[bytes], limit: int | None) -> tuple[str, bytes, bytes] | tuple[str, int]:
    decoder = ChunkedBody(limit)
    try:
        for index, piece in enumerate(pieces):
            rest = decoder.feed(piece)
            if rest is not None:
                leftover = rest + b"".join(pieces[index + 1 :])
                return ("done", decoder.body(), leftover)
    except BodyError as error:
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
