"""Request-line, Content-Length and chunked-body parsing (sockjs/protocol/httpparse.py)."""

from __future__ import annotations

import pytest

from sockjs.protocol.httpparse import BodyError, ChunkedBody, content_length, parse_request_line


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
        (b"f" * 1025, 400),
        (b"5\r\nabcde\r\n", 413),
    ],
)
def test_chunked_body_refusals(data: bytes, status: int) -> None:
    with pytest.raises(BodyError) as refused:
        ChunkedBody(4).feed(data)
    assert refused.value.status == status
    assert refused.value.reason
