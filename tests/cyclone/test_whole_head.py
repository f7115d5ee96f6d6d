"""SockJSHTTPConnection answers the same however the client's bytes are split.

The request reader of the core is split-proof (tests/protocol); this checks
the adapter around it: the same bytes sent in whole reads and one byte at a
time give the same answers, closes, timers and sessions.
"""

from __future__ import annotations

import struct

import pytest
from helpers import Server

from sockjs.cyclone.httpconn import SockJSHTTPConnection

HOST = b"Host: 127.0.0.1:8081\r\n"


def post(path: bytes, body: bytes = b"", extra: bytes = b"") -> bytes:
    return (
        b"POST /echo/000/"
        + path
        + b" HTTP/1.1\r\n"
        + HOST
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


def ws_frame(text: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    return struct.pack("!BB", 0x81, 0x80 | len(text)) + mask + masked


UPGRADE = (
    b"GET /echo/000/w1/websocket HTTP/1.1\r\n" + HOST + b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)

CASES = {
    "poll": [post(b"s1/xhr")],
    "send-with-body": [post(b"s1/xhr") + post(b"s1/xhr_send", b'["x"]') + post(b"s1/xhr")],
    "body-later": [post(b"s1/xhr"), post(b"s1/xhr_send", b'["x"]')[:-3], b'x"]'],
    "body-never-comes": [post(b"s1/xhr"), post(b"s1/xhr_send", b'["x"]')[:-3]],
    "chunked-body": [
        post(b"s1/xhr"),
        b"POST /echo/000/s1/xhr_send HTTP/1.1\r\n"
        + HOST
        + b'Transfer-Encoding: chunked\r\n\r\n5\r\n["ab\r\n2\r\n"]\r\n0\r\n\r\n',
    ],
    "pipelined-behind-a-parked-poll": [
        post(b"s1/xhr"),
        post(b"s1/xhr") + post(b"s1/xhr_send", b"[1]"),
    ],
    "leading-blank-line": [b"\r\n" + post(b"s1/xhr")],
    "expect-100": [post(b"s1/xhr_send", b"[1]", b"Expect: 100-continue\r\n")],
    "http10": [b"POST /echo/000/s2/xhr HTTP/1.0\r\nContent-Length: 0\r\n\r\n"],
    "malformed": [b"POST  /echo/000/s1/xhr HTTP/1.1\r\n" + HOST + b"\r\n"],
    "bad-length": [b"POST /echo/000/s1/xhr HTTP/1.1\r\nContent-Length: x\r\n\r\n"],
    "too-many-headers": [
        b"GET /echo HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n"
    ],
    "just-enough-headers": [
        b"GET /echo HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(100)) + b"\r\n"
    ],
    "head-too-large": [b"GET /echo HTTP/1.1\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n"],
    "line-too-long": [b"GET /echo HTTP/1.1\r\nX-Long: " + b"l" * 20000 + b"\r\n\r\n"],
    "websocket-with-frames": [UPGRADE + ws_frame(b'["a"]') + ws_frame(b'["b"]')],
    "websocket-then-frames": [UPGRADE, ws_frame(b'["a"]')],
    "post-then-close": [post(b"s3/xhr", extra=b"Connection: close\r\n") + post(b"s3/xhr")],
}


def run(chunks: list[bytes], one_byte_at_a_time: bool) -> tuple[object, ...]:
    server = Server(hardened=True)
    client = server.client()
    for chunk in chunks:
        if one_byte_at_a_time:
            for i in range(len(chunk)):
                if not client.closed_by_server:
                    client.send_raw(chunk[i : i + 1])
        else:
            client.send_raw(chunk)
    state = (
        client.data,
        client.closed_by_server,
        len(server.delayed_calls),
        server.router.session_count,
    )
    server.advance(SockJSHTTPConnection.request_timeout + 1)  # a pending body times out
    return (*state, client.data, client.closed_by_server)


@pytest.mark.parametrize("name", sorted(CASES))
def test_whole_head_matches_line_by_line(name: str) -> None:
    chunks = CASES[name]
    assert run(chunks, one_byte_at_a_time=False) == run(chunks, one_byte_at_a_time=True)


def test_requests_answered_at_once_leave_only_the_keepalive_timer() -> None:
    server = Server(hardened=True)
    client = server.client()
    client.send_raw(post(b"s1/xhr"))
    client.send_raw(post(b"s1/xhr_send", b"[1]"))
    (timer,) = [call for call in server.delayed_calls if call.func.__self__ is client.protocol]
    assert timer.getTime() == SockJSHTTPConnection.keepalive_timeout


def test_bodiless_requests_are_never_refused_for_their_size() -> None:
    """The body limit is asked for requests with a body only (RFC 9110 8.6: 0 is no body)."""
    server = Server(hardened=True, max_body_size=0)
    bodiless = server.client()
    bodiless.send_raw(b"POST /elsewhere HTTP/1.1\r\n" + HOST + b"Content-Length: 0\r\n\r\n")
    assert bodiless.response().status == 404
    with_body = server.client()
    with_body.send_raw(b"POST /elsewhere HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\n\r\nx")
    assert with_body.response().status == 413
    sockjs = server.client()
    sockjs.send_raw(post(b"s9/xhr"))
    assert (sockjs.response().status, sockjs.response().body) == (200, b"o\n")
