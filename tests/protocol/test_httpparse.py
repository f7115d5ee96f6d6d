"""Request lines, field lines, Content-Length, chunked bodies (sockjs/protocol/httpparse.py)."""

from __future__ import annotations

import time

import pytest

from sockjs.protocol.httpparse import (
    BodyError,
    ChunkedBody,
    content_length,
    parse_field_line,
    parse_request_line,
)


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (b"GET / HTTP/1.1", ("GET", "/", "HTTP/1.1")),
        (b"POST /echo/0/0/xhr?x=1 HTTP/1.0", ("POST", "/echo/0/0/xhr?x=1", "HTTP/1.0")),
        (b"GET http://host:80/echo HTTP/1.1", ("GET", "/echo", "HTTP/1.1")),
        (b"GET https://host HTTP/1.1", ("GET", "/", "HTTP/1.1")),
        (b"GET  / HTTP/1.1", None),
        (b"GET / HTTP/2.0", None),
        (b"GET echo HTTP/1.1", None),
        (b"G(T / HTTP/1.1", None),
        (b"GET / HTTP/1.1 x", None),
        (b"", None),
    ],
)
def test_request_line(line: bytes, parsed: tuple[str, str, str] | None) -> None:
    assert parse_request_line(line) == parsed


@pytest.mark.parametrize(
    ("value", "length"), [("0", 0), (" 12 ", 12), ("+10", None), ("1_0", None), ("", None)]
)
def test_content_length_is_digits_only(value: str, length: int | None) -> None:
    """RFC 9110 8.6."""
    assert content_length(value) == length


def test_chunked_body_with_extensions_and_trailers() -> None:
    body = ChunkedBody(None)
    assert body.feed(b"3;ext=1\r\nabc\r\n") is None
    assert body.feed(b"0\r\nX-Trailer: 1\r\n") is None
    assert body.feed(b"\r\nNEXT") == b"NEXT"
    assert body.body() == b"abc"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"z\r\n", 400),
        (b"-1\r\n", 400),
        (b"3\r\nabcX\r\n", 400),
        (b"f" * 1026, 400),
        (b"5\r\nabcde\r\n", 413),
    ],
)
def test_chunked_body_refusals(data: bytes, status: int) -> None:
    with pytest.raises(BodyError) as refused:
        ChunkedBody(4).feed(data)
    assert refused.value.status == status
    assert refused.value.reason


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (b"Host: example.com", ("Host", "example.com")),
        (b"X-Empty:", ("X-Empty", "")),
        (b"X-Pad: \t a b \t", ("X-Pad", "a b")),
        ("X-Text: é €".encode(), ("X-Text", "é €")),
        (b"NoColon", None),
        (b"Host : x", None),  # RFC 9112 5.1: no whitespace before the colon
        (b" folded", None),  # obs-fold (RFC 9112 5.2)
        (b"\tfolded: x", None),
        (b"X(: y", None),
        (b"X: a\x00b", None),
        (b"X: a\rb", None),
        (b"X: \x7f", None),
        (b"X: \xff", None),  # not UTF-8
        ("X: a\u2028b".encode(), None),  # a line break for str.splitlines
        ("X: \x85".encode(), None),
    ],
)
def test_field_line(line: bytes, parsed: tuple[str, str] | None) -> None:
    assert parse_field_line(line) == parsed


def test_chunked_body_taken_as_it_is_decoded() -> None:
    body = ChunkedBody(None)
    assert body.feed(b"3\r\nab") is None
    assert body.take() == b"ab"
    assert body.feed(b"c\r") is None  # the CRLF after the data, split
    assert body.feed(b"\n") is None
    assert body.feed(b"0\r\n\r\n") == b""
    assert (body.take(), body.body()) == (b"c", b"")
    assert body.feed(b"after") == b"after"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"3\r\nabc\rX", "chunk not followed by CRLF"),
        (b"3\nabc\r\n", "chunked body line not ended by CRLF"),
        (b"0\r\nT: 1\n", "chunked body line not ended by CRLF"),
        (b"0x3\r\n", "invalid chunk size"),
        (b" 3\r\n", "invalid chunk size"),
        (b"12345678901234567\r\n", "invalid chunk size"),
    ],
)
def test_chunked_body_framing_errors(data: bytes, reason: str) -> None:
    with pytest.raises(BodyError) as refused:
        ChunkedBody(None).feed(data)
    assert (refused.value.status, refused.value.reason, refused.value.limit) == (400, reason, None)


def test_chunk_extensions_may_follow_whitespace() -> None:
    body = ChunkedBody(None)
    assert body.feed(b"2 \t;a=b;c\r\nxy\r\n0\r\n\r\n") == b""
    assert body.body() == b"xy"


@pytest.mark.parametrize("complete", [True, False])
def test_trailer_section_is_capped_like_a_head(complete: bool) -> None:
    body = ChunkedBody(None, max_trailer_bytes=20, max_trailers=2)
    assert body.feed(b"0\r\nA: 1\r\nB: 2\r\n") is None  # 12 bytes of 20
    with pytest.raises(BodyError) as refused:
        body.feed(b"C: 12345\r\n" if complete else b"C: 123456789")
    error = refused.value
    assert (error.status, error.limit) == (431, "max_header_bytes")
    assert error.reason == "trailer section too large"
    with pytest.raises(BodyError) as counted:
        ChunkedBody(None, max_trailers=2).feed(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n")
    assert (counted.value.status, counted.value.limit) == (431, "max_headers")


class Searched(bytes):
    """Bytes that count how many bytes ``find`` was asked to search."""

    searched = 0

    def find(self, sub: bytes, start: int = 0, *args: int) -> int:  # type: ignore[override]
        Searched.searched += len(self) - start
        return super().find(sub, start, *args)


def test_an_endless_trailer_is_cut_off_early_and_read_once() -> None:
    """Security finding: after ``0\\r\\n`` an endless trailer line used to be accepted
    (bypassing max_request_body) and every read searched the whole buffer again."""
    body = ChunkedBody(1000)
    Searched.searched = 0
    fed = 0
    with pytest.raises(BodyError) as refused:
        for piece in [b"0\r\n", *[b"x" * 100] * 10_000]:  # 1 MB, 100 bytes a read
            fed += len(piece)
            body.feed(Searched(piece))
    assert refused.value.status == 431
    assert fed < 70_000  # cut off at 64 KiB, far from 1 MB
    assert Searched.searched <= fed  # each byte searched once: linear, not quadratic


def test_a_big_chunk_fed_in_small_pieces_is_taken_as_it_comes() -> None:
    body = ChunkedBody(None)
    body.feed(b"186a0\r\n")  # 100,000 bytes
    for _ in range(10_000):
        assert body.feed(b"0123456789") is None
    assert body.feed(b"\r\n0\r\n\r\n") == b""
    assert len(body.body()) == 100_000


@pytest.mark.parametrize("value", [b" " * 16000 + b"\x00", b"a " * 8000 + b"\x00", b"\t" * 16000])
def test_field_lines_are_parsed_in_linear_time(value: bytes) -> None:
    """No backtracking blow-up on a line of whitespace (a regex tried here took seconds)."""
    started = time.perf_counter()
    parse_field_line(b"X: " + value)
    assert time.perf_counter() - started < 0.5
