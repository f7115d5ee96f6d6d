"""The client's side of HTTP/1.1 (sockjs/protocol/httpclient.py), fed by hand."""

from __future__ import annotations

from sockjs.protocol.httpclient import ResponseReader
from sockjs.protocol.httpclient import request as http_request


def feed_bytewise(reader: ResponseReader, data: bytes) -> list[bytes]:
    pieces = []
    for index in range(len(data)):
        pieces.extend(reader.feed(data[index : index + 1]))
    return pieces


# ---------------------------------------------------------------------------
# Requests and responses
# ---------------------------------------------------------------------------


def test_request_bytes_add_host_and_length_once() -> None:
    assert (
        http_request("POST", "/x?a=1", [("X-A", "é")], b"ab")
        == (
            "POST /x?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: é\r\nContent-Length: 2\r\n\r\nab"
        ).encode()
    )
    given = http_request("POST", "/x", [("host", "h"), ("Content-Length", "0")])
    assert given == b"POST /x HTTP/1.1\r\nhost: h\r\nContent-Length: 0\r\n\r\n"
    assert http_request("GET", "/", []) == b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_chunked_response_keeps_chunk_boundaries() -> None:
    reader = ResponseReader()
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Y:  z \r\n\r\n"
        b"3\r\nabc\r\n2;name=value\r\nde\r\n0\r\n\r\n"
    )
    assert feed_bytewise(reader, data) == [b"abc", b"de"]
    assert (reader.status, reader.complete, reader.headers["x-y"]) == (200, True, "z")
    assert reader.feed(b"ignored after the end") == []


def test_length_delimited_and_empty_responses() -> None:
    reader = ResponseReader()
    assert feed_bytewise(reader, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\no\n\n") == [b"o\n\n"]
    assert reader.complete
    empty = ResponseReader()
    assert empty.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == []
    assert empty.complete
    no_content = ResponseReader()
    assert no_content.feed(b"HTTP/1.1 204 No Content\r\n\r\n") == []
    assert (no_content.status, no_content.complete) == (204, True)


def test_response_delimited_by_the_connection_closing() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\nab") == [b"ab"]
    assert reader.feed(b"") == []
    assert reader.feed(b"c") == [b"c"]
    assert not reader.complete


def test_switching_protocols_keeps_the_bytes_after_the_head() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket") == []
    assert reader.feed(b"\r\n\r\n\x81\x01o") == []
    assert (reader.upgraded, reader.complete, reader.rest) == (True, False, b"\x81\x01o")
