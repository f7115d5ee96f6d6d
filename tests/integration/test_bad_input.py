"""Integration tests: hostile or malformed input (PROTOCOL.md 3.4, 4.6, 7.4).

Bad input must get a clear error status and must never hurt the server or
other sessions.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .rawhttp import RawHTTP, Response, new_session_id, request

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MAX_BODY = 1024 * 1024


def _path(sid: str, transport: str, prefix: str = "/echo") -> str:
    return f"{prefix}/000/{sid}/{transport}"


def poll(port: int, sid: str) -> Response:
    """One ``xhr`` poll to /echo on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr"))


def send(port: int, sid: str, body: bytes) -> Response:
    """One ``xhr_send`` to /echo on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr_send"), body=body)


def open_session(port: int, sid: str) -> None:
    """Create ``sid`` on /echo."""
    assert poll(port, sid).body == b"o\n"


def assert_echoes(port: int, sid: str, text: str) -> None:
    """Check that session ``sid`` still echoes ``text`` through xhr_send + poll."""
    assert send(port, sid, f'["{text}"]'.encode()).status == 204
    assert poll(port, sid).body == f'a["{text}"]\n'.encode()


@pytest.mark.parametrize(
    "body", [b'["x', b"[", b'["x",', b'["x"]]', b"x", b'["x" "y"]', b'["\\x"]']
)
def test_xhr_send_broken_json(server: Any, sid: str, body: bytes) -> None:
    """Checklist 68: broken JSON -> 500 ``Broken JSON encoding.``; session unharmed."""
    open_session(server.port, sid)
    resp = send(server.port, sid, body)
    assert resp.status == 500
    assert b"Broken JSON encoding." in resp.body
    assert_echoes(server.port, sid, "ok")


@pytest.mark.parametrize("body", [b'["\xff\xfe"]', b'["\xc3"]', b'["\xed\xa0\x80"]'])
def test_xhr_send_invalid_utf8(server: Any, sid: str, body: bytes) -> None:
    """Checklist 68 (3.4): a body that is not UTF-8 -> 500 ``Broken JSON encoding.``, no crash."""
    open_session(server.port, sid)
    resp = send(server.port, sid, body)
    assert resp.status == 500
    assert b"Broken JSON encoding." in resp.body
    assert_echoes(server.port, sid, "ok")


def test_jsonp_send_invalid_utf8(server: Any, sid: str) -> None:
    """Checklist 89 (3.4): a non-UTF-8 text/plain jsonp_send -> 500 ``Broken JSON encoding.``."""
    open_session(server.port, sid)
    resp = request(
        server.port,
        "POST",
        _path(sid, "jsonp_send"),
        headers={"Content-Type": "text/plain"},
        body=b'["\xff"]',
    )
    assert resp.status == 500
    assert b"Broken JSON encoding." in resp.body
    assert_echoes(server.port, sid, "ok")


@pytest.mark.parametrize("body", [b"", b"{}", b"null", b"0", b'"x"'])
def test_xhr_send_payload_expected(server: Any, sid: str, body: bytes) -> None:
    """Checklists 69, 70: empty or non-array payload -> 500 ``Payload expected.``."""
    open_session(server.port, sid)
    resp = send(server.port, sid, body)
    assert resp.status == 500
    assert b"Payload expected." in resp.body


def test_payload_errors_before_session_lookup(server: Any) -> None:
    """Checklists 67-69 (3.4 order): payload errors win over the unknown-session 404."""
    unknown = new_session_id()
    assert send(server.port, unknown, b'["x').status == 500
    assert send(server.port, unknown, b"").status == 500
    assert send(server.port, unknown, b'["x"]').status == 404


def test_send_unknown_session(server: Any) -> None:
    """Checklists 67, 94: a valid send to an unknown session -> 404, session not created."""
    unknown = new_session_id()
    resp = request(
        server.port, "POST", _path(unknown, "jsonp_send"), headers=FORM, body=b"d=%5B%22x%22%5D"
    )
    assert resp.status == 404
    assert send(server.port, unknown, b'["x"]').status == 404
    # Still unknown afterwards: senders never create sessions.
    assert send(server.port, unknown, b'["x"]').status == 404


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
@pytest.mark.parametrize("query", ["", "?callbac=x", "?d=x"])
def test_missing_callback(server: Any, transport: str, query: str) -> None:
    """Checklists 84, 106: a missing callback -> 500 ``"callback" parameter required``."""
    resp = request(server.port, "GET", _path(new_session_id(), transport) + query)
    assert resp.status == 500
    assert b'"callback" parameter required' in resp.body


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
def test_empty_callback_is_missing(server: Any, sid: str, transport: str) -> None:
    """Checklists 84, 106 (7.4 SHOULD): ``?c=`` is treated as a missing callback."""
    resp = request(server.port, "GET", _path(sid, transport) + "?c=")
    assert resp.status == 500
    assert b'"callback" parameter required' in resp.body
    assert send(server.port, sid, b'["x"]').status == 404


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
@pytest.mark.parametrize(
    "query",
    [
        "?c=%20",
        "?c=*",
        "?c=abc(",
        "?c=abc%28",
        "?c=a%3Cscript%3E",
        "?c=a%3Balert(1)",
        "?c=%E2%80%A8",
        "?c=a%00",
    ],
)
def test_invalid_callback(server: Any, sid: str, transport: str, query: str) -> None:
    """Checklists 85, 86, 107: illegal callback -> 500 ``invalid "callback" parameter``."""
    resp = request(server.port, "GET", _path(sid, transport) + query)
    assert resp.status == 500
    assert b'invalid "callback" parameter' in resp.body
    # No session was created by the rejected request.
    assert send(server.port, sid, b'["x"]').status == 404


@pytest.mark.parametrize("transport", ["xhr_send", "jsonp_send"])
def test_oversized_body_refused_before_upload(server: Any, sid: str, transport: str) -> None:
    """Checklist 65 (limits): Content-Length > max_request_body -> 413 before the body."""
    open_session(server.port, sid)
    with RawHTTP(server.port) as conn:
        headers = {"Content-Type": "text/plain", "Content-Length": str(2_000_000)}
        conn.send("POST", _path(sid, transport), headers=headers, content_length=False)
        # Not a byte of the body is sent: the answer must come from the headers alone.
        resp = conn.read_response()
    assert resp.status == 413
    # The session is not disturbed by the refused request.
    assert_echoes(server.port, sid, "small")


def test_body_at_limit_is_accepted(server: Any, sid: str) -> None:
    """Checklist 65 (limits): a body just under max_request_body is still accepted."""
    open_session(server.port, sid)
    message = "z" * (MAX_BODY - 16)
    resp = send(server.port, sid, f'["{message}"]'.encode())
    assert resp.status == 204
    assert poll(server.port, sid).body == f'a["{message}"]\n'.encode()


def test_chunked_xhr_send_not_silently_dropped(server: Any, sid: str) -> None:
    """Checklist 65 (framing): a chunked xhr_send body is delivered or refused with a 4xx."""
    open_session(server.port, sid)
    payload = b'["chunked"]'
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    with RawHTTP(server.port) as conn:
        conn.send(
            "POST",
            _path(sid, "xhr_send"),
            headers={"Transfer-Encoding": "chunked", "Content-Type": "text/plain"},
            body=body,
            content_length=False,
        )
        resp = conn.read_response()
    if resp.status == 204:
        # Accepted: the message must really have been delivered (and echoed).
        with RawHTTP(server.port) as check:
            check.send("POST", _path(sid, "xhr"))
            assert not check.expect_no_data(2.0), (
                "204 for a chunked body, but nothing was delivered"
            )
            assert check.read_response().body == b'a["chunked"]\n'
    else:
        assert 400 <= resp.status < 500, resp
        # Refused: nothing reached the application, and the session still works.
        assert_echoes(server.port, sid, "after")


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
    ],
)
def test_garbage_request_line(server: Any, sid: str, garbage: bytes) -> None:
    """Checklists 1, 66: a garbage request gets 400 or a closed socket; others unaffected."""
    open_session(server.port, sid)
    assert send(server.port, sid, b'["before"]').status == 204
    with RawHTTP(server.port) as conn:
        conn.send_raw(garbage)
        assert not conn.expect_no_data(5.0), "garbage got neither an answer nor a close"
        data = conn.read_available(0.3)
    if data:
        assert re.match(rb"HTTP/1\.[01] 400 ", data), data[:200]
    # The server still serves /echo normally ...
    greeting = request(server.port, "GET", "/echo")
    assert (greeting.status, greeting.body) == (200, b"Welcome to SockJS!\n")
    # ... and the existing session kept its buffered message and still echoes.
    assert poll(server.port, sid).body == b'a["before"]\n'
    assert_echoes(server.port, sid, "after")
