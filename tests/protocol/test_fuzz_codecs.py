"""Property-based fuzzing of the core's codecs of client bytes.

Multiplex frames, the chunked request-body decoder and the HTTP/1.x request
reader: for any input they return a value or a documented refusal, never an
unexpected exception, and the incremental ones give the same result however
the bytes are split.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sockjs.protocol.http1 import END, Body, Event, Refusal, RequestHead, RequestReader, Settings
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


# -- HTTP/1.x requests (RFC 9112) -----------------------------------------------------------

#: Small limits, so that generated requests reach them.
LIMITS = Settings(max_header_bytes=160, max_headers=4, max_line_bytes=60, max_pipelined_bytes=40)


def _route_limit(path: str) -> int | None:
    return 30 if path.startswith("/s") else None


def _read(pieces: list[bytes]) -> list[Event]:
    """Every event, each response done at once; adjacent body pieces merged."""
    reader = RequestReader(LIMITS, _route_limit, 0.0)
    events: list[Event] = []
    for piece in pieces:
        new = reader.feed(piece, 0.0)
        while new:
            for event in new:
                last = events[-1] if events else None
                if isinstance(event, Body) and isinstance(last, Body):
                    events[-1] = Body(last.data + event.data)
                else:
                    events.append(event)
            if new[-1] is not END:
                break
            reader.response_done(0.0)
            new = reader.feed(b"", 0.0)
    return events


def _request(parts: tuple[bytes, bytes, list[bytes], bytes]) -> bytes:
    line, target, fields, body = parts
    head = line.replace(b"{}", target) + b"\r\n" + b"".join(f + b"\r\n" for f in fields)
    return head + b"\r\n" + body


fields = st.sampled_from(
    [
        b"Host: x",
        b"Content-Length: 3",
        b"Content-Length: 40",
        b"Transfer-Encoding: chunked",
        b"Expect: 100-continue",
        b"X-Long: " + b"v" * 70,
        b" folded",
        b"Bad Name: 1",
    ]
)
requests = st.tuples(
    st.sampled_from([b"GET {} HTTP/1.1", b"POST {} HTTP/1.1", b"PUT {} HTTP/1.0"] * 3 + [b"G {}"]),
    st.sampled_from([b"/", b"/s/xhr_send?x", b"http://h/s"] * 3 + [b"*"]),
    st.lists(st.one_of(fields, fields, fields, st.binary(max_size=12)), max_size=5),
    st.one_of(chunked, st.binary(max_size=45)),
).map(_request)
pipelined = st.lists(st.one_of(requests, requests, st.sampled_from([b"\r\n", b"\n"])), max_size=4)
streams = st.one_of(pipelined.map(b"".join), pipelined.map(b"".join), st.binary(max_size=200))


@FUZZ
@given(streams, st.lists(st.integers(0, 250), max_size=6))
@example(b"GET / HTTP/1.1\r\nX: " + b"v" * 200 + b"\r\n\r\n", [30, 31, 90])
@example(b"\r\n\r\nGET / HTTP/1.1\r\n\r\nGET /s HTTP/1.1\r\n\r\n", [1, 3, 20])
@example(
    b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET / HTTP/1.1\r\n\r\n",
    [50, 52, 60, 66, 110],
)
def test_reader_gives_the_same_events_however_the_bytes_are_split(
    data: bytes, cuts: list[int]
) -> None:
    assert _read(_splits(data, cuts)) == _read([data])


@FUZZ
@given(streams, st.lists(st.integers(0, 250), max_size=6))
def test_reader_any_bytes(data: bytes, cuts: list[int]) -> None:
    """Any bytes: requests (head, body, end) or one refusal last; never another error."""
    events = _read(_splits(data, cuts))
    for index, event in enumerate(events):
        if isinstance(event, Refusal):
            assert index == len(events) - 1
            assert event.status in (400, 413, 431)
            assert event.answer().startswith(b"HTTP/1.1 %d " % event.status)
        elif isinstance(event, RequestHead):
            assert event.target.startswith("/") and event.version in ("HTTP/1.0", "HTTP/1.1")
            after = events[index + 1 : index + 3]
            if event.content_length and len(after) == 2 and after[1] is END:
                assert isinstance(after[0], Body) and len(after[0].data) == event.content_length
        else:
            assert isinstance(event, Body) or event is END
