"""The HTTP/1.x request reader (sockjs/protocol/http1.py), with plain bytes and numbers."""

from __future__ import annotations

import dataclasses

import pytest

from sockjs.protocol.http1 import (
    CONTINUE,
    DEFAULTS,
    END,
    Body,
    Event,
    Refusal,
    RequestHead,
    RequestReader,
    Settings,
)

SMALL = Settings(max_header_bytes=100, max_headers=3, max_line_bytes=40, max_pipelined_bytes=50)


class Limits:
    """Route limits: what the reader asked, and what it answers."""

    def __init__(self, limit: int | None = 10) -> None:
        self.limit = limit
        self.asked: list[str] = []

    def __call__(self, path: str) -> int | None:
        self.asked.append(path)
        return self.limit


def reader(
    settings: Settings = DEFAULTS, limit: int | None = 10, now: float = 0.0
) -> RequestReader:
    return RequestReader(settings, Limits(limit), now)


def refusal(events: list[Event]) -> Refusal:
    *_, last = events
    assert isinstance(last, Refusal)
    return last


def refused(data: bytes, settings: Settings = DEFAULTS, limit: int | None = 10) -> Refusal:
    return refusal(reader(settings, limit).feed(data, 0.0))


# -- heads -------------------------------------------------------------------------------


def test_a_bodiless_request() -> None:
    events = reader().feed(b"GET /echo?x=1 HTTP/1.1\r\nHost: a\r\nX-A:  b \t\r\n\r\n", 0.0)
    assert events == [
        RequestHead("GET", "/echo?x=1", "HTTP/1.1", (("Host", "a"), ("X-A", "b"))),
        END,
    ]
    head = events[0]
    assert isinstance(head, RequestHead) and head.path == "/echo"


def test_header_values_beyond_ascii() -> None:
    data = "GET / HTTP/1.1\r\nX-A: é\r\nX-B: b\r\n\r\n".encode()
    head = reader().feed(data, 0.0)[0]
    assert isinstance(head, RequestHead) and head.headers == (("X-A", "é"), ("X-B", "b"))


def test_blank_lines_before_a_request_are_skipped() -> None:
    """RFC 9112 2.2, even a CRLF split between two reads."""
    read = reader()
    assert read.feed(b"\r\n\r\n\r", 0.0) == []
    assert read.next_deadline() == DEFAULTS.idle_timeout  # no request started yet
    assert read.feed(b"\nGET / HTTP/1.0\r\n\r\n", 1.0) == [
        RequestHead("GET", "/", "HTTP/1.0", ()),
        END,
    ]


def test_an_absolute_form_target_is_read_as_its_path() -> None:
    (head, _) = reader().feed(b"GET http://host:80/echo/info?x HTTP/1.1\r\n\r\n", 0.0)
    assert isinstance(head, RequestHead) and (head.target, head.path) == (
        "/echo/info?x",
        "/echo/info",
    )


@pytest.mark.parametrize(
    ("data", "reason", "path"),
    [
        (b"GET  / HTTP/1.1\r\n\r\n", "malformed request line", None),
        (b"\rGET / HTTP/1.1\r\n\r\n", "malformed request line", None),
        (b"GET / HTTP/1.1\n\r\n", "head line not ended by CRLF", None),
        (b"GET /a HTTP/1.1\r\nHost: x\n\r\n", "head line not ended by CRLF", "/a"),
        (b"GET /a HTTP/1.1\r\nNoColon\r\n\r\n", "malformed header line", "/a"),
        (b"GET /a HTTP/1.1\r\nHost : x\r\n\r\n", "malformed header line", "/a"),
        (b"GET /a HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", "malformed header line", "/a"),
        (b"GET /a HTTP/1.1\r\nA: \x00\r\n\r\n", "malformed header line", "/a"),
    ],
)
def test_malformed_heads_are_400(data: bytes, reason: str, path: str | None) -> None:
    """Obsolete line folding (RFC 9112 5.2) is refused like any malformed line."""
    assert refused(data) == Refusal(400, reason, "bad_request", None, path)


def test_header_count_limit() -> None:
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(3))
    events = reader(SMALL).feed(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", 0.0)
    assert isinstance(events[0], RequestHead) and len(events[0].headers) == 3
    over = refused(b"GET / HTTP/1.1\r\n" + fields + b"X-3: 1\r\n\r\n", SMALL)
    assert over == Refusal(431, "request head too large", "head_too_large", "max_headers", "/")


TWO_FIELDS = b"X1: " + b"a" * 29 + b"\r\nX2: " + b"a" * 29 + b"\r\n"  # 70 bytes


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        # A line over max_line_bytes (40), complete or not yet.
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 40 + b"\r\n\r\n", "header line too long"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 40, "header line too long"),
        # The head over max_header_bytes (100), complete or not yet.
        (
            b"GET / HTTP/1.1\r\n" + TWO_FIELDS + b"Y: " + b"b" * 20 + b"\r\n\r\n",
            "request head too large",
        ),
        (b"GET / HTTP/1.1\r\n" + TWO_FIELDS + b"Y: " + b"b" * 20, "request head too large"),
        # Both limits in one line: the one passed at the earlier byte.
        (
            b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 30 + b"\r\nY: " + b"b" * 60,
            "header line too long",
        ),
    ],
)
def test_oversize_heads_are_431(data: bytes, reason: str) -> None:
    got = refused(data, SMALL)
    assert (got.status, got.kind, got.limit) == (431, "head_too_large", "max_header_bytes")
    assert got.reason == reason


def test_the_earlier_byte_decides_between_line_and_head_limits() -> None:
    settings = dataclasses.replace(SMALL, max_header_bytes=60, max_line_bytes=40)
    head = b"GET / HTTP/1.1\r\nX: " + b"a" * 30 + b"\r\n"  # 51 bytes: 9 left in the head
    assert refused(head + b"Y: " + b"b" * 60, settings).reason == "request head too large"
    settings = dataclasses.replace(SMALL, max_header_bytes=1000, max_line_bytes=5)
    assert refused(b"GET / HTTP/1.1\r\n\r\n", settings).reason == "header line too long"


def test_a_head_exactly_at_the_limits_is_read() -> None:
    head = b"GET / HTTP/1.1\r\nX: " + b"a" * 36 + b"\r\n\r\n"  # a 39-byte field line
    settings = dataclasses.replace(SMALL, max_header_bytes=len(head), max_line_bytes=39)
    assert reader(settings).feed(head, 0.0)[-1] is END


# -- bodies ------------------------------------------------------------------------------


def test_a_content_length_body_in_pieces() -> None:
    limits = Limits()
    read = RequestReader(DEFAULTS, limits, 0.0)
    head = b"POST /s/xhr_send HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
    assert read.feed(head + b"ab", 0.0) == [
        RequestHead("POST", "/s/xhr_send", "HTTP/1.1", (("Content-Length", "5"),), 5),
        Body(b"ab"),
    ]
    assert read.feed(b"", 0.0) == []
    assert read.feed(b"cdeNEXT", 0.0) == [Body(b"cde"), END]
    assert limits.asked == ["/s/xhr_send"]


def test_the_limit_is_asked_for_requests_with_a_body_only() -> None:
    limits = Limits(limit=-1)
    read = RequestReader(DEFAULTS, limits, 0.0)
    assert read.feed(b"POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0.0)[-1] is END
    assert limits.asked == []
    assert refused(b"POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\n") == Refusal(
        413, "body of 11 bytes over the 10 limit", "body_too_large", "max_request_body", "/a"
    )
    assert reader(limit=None).feed(b"PUT /a HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 0.0)


def test_a_chunked_body_then_the_next_request() -> None:
    read = reader()
    data = (
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    )
    head, *rest = read.feed(data, 0.0)
    assert isinstance(head, RequestHead) and (head.chunked, head.content_length) == (True, 0)
    assert rest == [Body(b"abcde"), END]
    read.response_done(1.0)
    assert read.feed(b"", 1.0) == [RequestHead("GET", "/", "HTTP/1.1", ()), END]


def test_a_chunked_body_waiting_for_more() -> None:
    read = reader()
    assert read.feed(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n", 0.0)[1:] == []
    assert read.feed(b"ab", 0.0) == [Body(b"ab")]
    assert read.feed(b"c\r\n0\r\n\r\n", 0.0) == [Body(b"c"), END]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"zz\r\n", (400, "invalid chunk size", "bad_request", None)),
        (b"b\r\n", (413, "chunked body over the 10 limit", "body_too_large", "max_request_body")),
        (
            b"0\r\n" + b"T: x\r\n" * 101,
            (431, "too many trailer fields", "head_too_large", "max_headers"),
        ),
    ],
)
def test_chunked_refusals(body: bytes, expected: tuple[object, ...]) -> None:
    head = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    got = refused(head + body)
    assert (got.status, got.reason, got.kind, got.limit, got.path) == (*expected, "/a")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n", "both Content-Length and"),
        (b"Transfer-Encoding: gzip, chunked\r\n", "unsupported transfer coding"),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "unsupported"),
        (b"Content-Length: 1\r\nContent-Length: 1\r\n", "more than one Content-Length"),
        (b"Content-Length: +1\r\n", "invalid Content-Length"),
    ],
)
def test_bad_body_framing_is_400(fields: bytes, reason: str) -> None:
    got = refused(b"POST /a HTTP/1.1\r\n" + fields + b"\r\n")
    assert (got.status, got.kind, got.path) == (400, "bad_request", "/a")
    assert got.reason.startswith(reason)


def test_transfer_encoding_in_http10_is_400() -> None:
    """RFC 9112 6.1: the framing of such a message is faulty."""
    got = refused(b"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert got.reason == "Transfer-Encoding in an HTTP/1.0 request"


@pytest.mark.parametrize(
    ("version", "framing", "expected"),
    [
        ("HTTP/1.1", b"Content-Length: 1", True),
        ("HTTP/1.1", b"Transfer-Encoding: chunked", True),
        ("HTTP/1.1", b"Content-Length: 0", False),
        ("HTTP/1.0", b"Content-Length: 1", False),  # RFC 9110 10.1.1: ignored in 1.0
    ],
)
def test_expect_100_continue(version: str, framing: bytes, expected: bool) -> None:
    data = b"POST / %s\r\nExpect: 100-Continue\r\n%s\r\n\r\n" % (version.encode(), framing)
    head = reader().feed(data, 0.0)[0]
    assert isinstance(head, RequestHead) and head.expect_continue is expected
    assert CONTINUE == b"HTTP/1.1 100 Continue\r\n\r\n"


# -- one request at a time -----------------------------------------------------------------


def test_pipelined_bytes_wait_for_the_response() -> None:
    read = reader(SMALL)
    events = read.feed(b"GET /p HTTP/1.1\r\n\r\nGET /q HTTP/1.1\r\n\r\n", 0.0)
    assert events == [RequestHead("GET", "/p", "HTTP/1.1", ()), END]
    assert read.feed(b"GET /r", 1.0) == []  # 25 bytes held of 50
    read.response_done(2.0)
    assert read.feed(b"", 2.0) == [RequestHead("GET", "/q", "HTTP/1.1", ()), END]
    read.response_done(3.0)
    read.response_done(3.0)  # twice: nothing more to do
    assert read.feed(b" HTTP/1.1\r\n\r\n", 3.0)[0] == RequestHead("GET", "/r", "HTTP/1.1", ())


def test_too_much_pipelined_data_is_413_for_the_pending_request() -> None:
    read = reader(SMALL)
    read.feed(b"GET /p HTTP/1.1\r\n\r\n" + b"x" * 50, 0.0)
    assert read.feed(b"x", 1.0) == [
        Refusal(413, "too much pipelined data", "pipelined_too_much", "max_pipelined_bytes", "/p")
    ]
    assert read.feed(b"GET / HTTP/1.1\r\n\r\n", 1.0) == []  # nothing after a refusal
    assert read.next_deadline() is None


def test_detach_hands_the_held_bytes_over() -> None:
    read = reader()
    read.feed(b"GET /websocket HTTP/1.1\r\n\r\n\x81\x85", 0.0)
    assert read.feed(b"abc", 0.0) == []
    assert read.detach() == b"\x81\x85abc"
    assert read.feed(b"more", 0.0) == []
    assert read.next_deadline() is None
    assert read.handle_timer(1000.0) is None


# -- time --------------------------------------------------------------------------------


def test_a_silent_connection_is_closed_after_idle_timeout() -> None:
    read = reader(now=10.0)
    assert read.next_deadline() == 85.0
    assert read.handle_timer(84.9) is None
    assert read.handle_timer(85.0) == Refusal(None, "no request received", "idle_timeout")
    assert read.next_deadline() is None


def test_keepalive_timeout_runs_from_the_finished_response() -> None:
    read = reader()
    read.feed(b"GET /p HTTP/1.1\r\n\r\n", 1.0)
    assert read.next_deadline() is None  # a pending response is not idle
    read.response_done(100.0)
    assert read.next_deadline() == 175.0
    assert read.feed(b"\r\n", 150.0) == []  # empty lines do not count as a request
    assert read.handle_timer(175.0) == Refusal(
        None, "no new request received", "keepalive_timeout", None, "/p"
    )


def test_a_request_must_arrive_within_request_timeout() -> None:
    read = reader()
    read.feed(b"GET /p HTTP/1.1\r\n\r\n", 1.0)
    read.response_done(2.0)
    read.feed(b"POST /q HTTP/1.1\r\nContent-Length: 5\r\n", 3.0)
    assert read.next_deadline() == 33.0
    read.feed(b"\r\nab", 20.0)
    assert read.next_deadline() == 33.0  # the body too, from the first byte of the head
    assert read.handle_timer(33.0) == Refusal(
        408, "request not received in time", "request_timeout", "request_timeout", "/q"
    )


def test_the_first_head_must_also_arrive_within_idle_timeout() -> None:
    read = reader()
    read.feed(b"GET /late HTTP/1.1\r\n", 70.0)
    assert read.next_deadline() == 75.0  # idle_timeout from connect comes first
    assert read.handle_timer(75.0) == Refusal(
        408, "no complete request in time", "idle_timeout", "idle_timeout", "/late"
    )
    early = reader()
    early.feed(b"GET /early HTTP/1.1\r\n", 5.0)
    assert early.next_deadline() == 35.0
    refused = early.handle_timer(35.0)
    assert refused is not None and refused.kind == "request_timeout"


def test_limits_are_read_when_needed() -> None:
    class Live:
        max_header_bytes = 65536
        max_headers = 100
        max_line_bytes = 16384
        max_pipelined_bytes = 65536
        request_timeout = 30.0
        idle_timeout = 75.0
        keepalive_timeout = 75.0

    live = Live()
    read = RequestReader(live, Limits(), 0.0)
    live.idle_timeout = 5.0
    assert read.next_deadline() == 5.0


# -- answers -----------------------------------------------------------------------------


def test_refusal_answers() -> None:
    assert Refusal(431, "too large", "head_too_large").answer() == (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"Content-Type: text/plain; charset=UTF-8\r\nContent-Length: 10\r\n"
        b"Connection: close\r\n\r\ntoo large\n"
    )
    assert Refusal(None, "idle", "idle_timeout").answer() == b""
