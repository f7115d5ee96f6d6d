"""Integration tests: XHR polling and xhr_send (PROTOCOL.md 7.1, 7.3; checklist 11.F).

Every test talks to ``examples/test_server.py`` over real sockets and compares
bytes exactly.  ``/echo`` sends every received message straight back.
"""

from __future__ import annotations

from typing import Any

import pytest

from .rawhttp import RawHTTP, Response, new_session_id, request

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
JS_TYPE = "application/javascript; charset=UTF-8"
PLAIN_TYPE = "text/plain; charset=UTF-8"


def _path(sid: str, transport: str, prefix: str = "/echo", srv: str = "000") -> str:
    return f"{prefix}/{srv}/{sid}/{transport}"


def poll(port: int, sid: str, prefix: str = "/echo") -> Response:
    """One ``xhr`` polling request on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr", prefix))


def send(
    port: int,
    sid: str,
    body: bytes,
    prefix: str = "/echo",
    headers: dict[str, str] | None = None,
) -> Response:
    """One ``xhr_send`` request on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr_send", prefix), headers=headers, body=body)


def assert_cors_any(resp: Response) -> None:
    """CORS block for a request without ``Origin`` (PROTOCOL.md 4.1)."""
    assert resp.header("Access-Control-Allow-Origin") == "*", resp
    assert resp.header("Access-Control-Allow-Credentials") == "true", resp


def open_session(port: int, sid: str, prefix: str = "/echo") -> None:
    """Create session ``sid`` with a first poll and check it got ``o``."""
    resp = poll(port, sid, prefix)
    assert (resp.status, resp.body) == (200, b"o\n"), resp


def test_xhr_new_session_opens(server: Any, sid: str) -> None:
    """Checklist 64: first xhr poll on a new session -> 200 ``o\\n`` with JS type and CORS."""
    resp = poll(server.port, sid)
    assert resp.status == 200
    assert resp.body == b"o\n"
    assert resp.header("Content-Type") == JS_TYPE
    assert_cors_any(resp)
    assert resp.header("Cache-Control") == NO_CACHE


def test_xhr_send_answers_204(server: Any, sid: str) -> None:
    """Checklist 65: xhr_send ``["x"]`` -> 204, empty body, text/plain type, CORS."""
    open_session(server.port, sid)
    resp = send(server.port, sid, b'["x"]')
    assert resp.status == 204
    assert resp.body == b""
    assert resp.header("Content-Type") == PLAIN_TYPE
    assert_cors_any(resp)


def test_xhr_poll_after_send_gets_message(server: Any, sid: str) -> None:
    """Checklist 66: after xhr_send ``["x"]`` the next poll returns ``a["x"]\\n``."""
    open_session(server.port, sid)
    assert send(server.port, sid, b'["x"]').status == 204
    resp = poll(server.port, sid)
    assert resp.status == 200
    assert resp.body == b'a["x"]\n'
    assert resp.header("Content-Type") == JS_TYPE


def test_xhr_send_unknown_session_404(server: Any) -> None:
    """Checklist 67: xhr_send to a session id that was never opened -> 404."""
    resp = send(server.port, new_session_id(), b'["x"]')
    assert resp.status == 404


def test_xhr_send_broken_json(server: Any, sid: str) -> None:
    """Checklist 68: xhr_send body ``["x`` -> 500 with ``Broken JSON encoding.``."""
    open_session(server.port, sid)
    resp = send(server.port, sid, b'["x')
    assert resp.status == 500
    assert b"Broken JSON encoding." in resp.body


def test_xhr_send_empty_body(server: Any, sid: str) -> None:
    """Checklist 69: xhr_send with an empty body -> 500 with ``Payload expected.``."""
    open_session(server.port, sid)
    resp = send(server.port, sid, b"")
    assert resp.status == 500
    assert b"Payload expected." in resp.body


@pytest.mark.parametrize("body", [b"{}", b'"x"', b"null"])
def test_xhr_send_non_array(server: Any, sid: str, body: bytes) -> None:
    """Checklist 70: xhr_send with ``{}``, ``"x"`` or ``null`` -> 500 ``Payload expected.``."""
    open_session(server.port, sid)
    resp = send(server.port, sid, body)
    assert resp.status == 500
    assert b"Payload expected." in resp.body


def test_xhr_send_empty_array_delivers_nothing(server: Any, sid: str) -> None:
    """Checklist 71: xhr_send ``[]`` -> 204 and no message reaches the application."""
    open_session(server.port, sid)
    resp = send(server.port, sid, b"[]")
    assert resp.status == 204
    assert resp.body == b""
    # If ``[]`` had delivered anything, the echo would precede "y" in this frame.
    assert send(server.port, sid, b'["y"]').status == 204
    assert poll(server.port, sid).body == b'a["y"]\n'


CONTENT_TYPES = [
    "text/plain",
    "T",
    "application/json",
    "application/xml",
    "",
    "application/json; charset=utf-8",
    "text/xml; charset=utf-8",
    "text/xml",
]


def test_xhr_send_ignores_request_content_type(server: Any, sid: str) -> None:
    """Checklist 72: xhr_send is accepted (204) whatever the request Content-Type."""
    open_session(server.port, sid)
    for index, ctype in enumerate(CONTENT_TYPES):
        body = f'["{index}"]'.encode()
        resp = send(server.port, sid, body, headers={"Content-Type": ctype})
        assert resp.status == 204, (ctype, resp)
    # Everything was buffered with no poll pending, so it arrives in one frame.
    expected = "a[" + ",".join(f'"{i}"' for i in range(len(CONTENT_TYPES))) + "]\n"
    assert poll(server.port, sid).body == expected.encode()


def test_xhr_idle_poll_is_held_open(server: Any, sid: str) -> None:
    """Checklist 73: an idle xhr poll gets no answer within 1 s, then gets the data."""
    open_session(server.port, sid)
    with RawHTTP(server.port) as parked:
        parked.send("POST", _path(sid, "xhr"))
        assert parked.expect_no_data(1.0), "idle poll was answered (or closed) early"
        assert send(server.port, sid, b'["late"]').status == 204
        resp = parked.read_response()
    assert resp.status == 200
    assert resp.body == b'a["late"]\n'


def test_xhr_second_poll_gets_2010(server: Any, sid: str) -> None:
    """Checklist 75: a second poll while one is parked -> 200 ``c[2010,...]``; first unaffected."""
    open_session(server.port, sid)
    with RawHTTP(server.port) as parked:
        parked.send("POST", _path(sid, "xhr"))
        # Make sure the first poll is parked before the second arrives.
        assert parked.expect_no_data(0.3)
        second = poll(server.port, sid)
        assert second.status == 200
        assert second.body == b'c[2010,"Another connection still open"]\n'
        assert second.header("Content-Type") == JS_TYPE
        # The parked poll still belongs to the session and receives the echo.
        assert send(server.port, sid, b'["x"]').status == 204
        first = parked.read_response()
    assert first.status == 200
    assert first.body == b'a["x"]\n'


def test_xhr_poll_without_content_length(server: Any, sid: str) -> None:
    """Checklist 82: a POST xhr without Content-Length and without body -> 200 ``o\\n``."""
    with RawHTTP(server.port) as conn:
        conn.send("POST", _path(sid, "xhr"), content_length=False)
        resp = conn.read_response()
    assert resp.status == 200
    assert resp.body == b"o\n"


def test_xhr_keep_alive_reuses_connection(server: Any, sid: str) -> None:
    """Checklists 64-66: open, send and poll on one keep-alive HTTP/1.1 connection."""
    with RawHTTP(server.port) as conn:
        conn.send("POST", _path(sid, "xhr"))
        assert conn.read_response().body == b"o\n"
        conn.send("POST", _path(sid, "xhr_send"), body=b'["k"]')
        assert conn.read_response().status == 204
        conn.send("POST", _path(sid, "xhr"))
        assert conn.read_response().body == b'a["k"]\n'
