"""Integration tests: JSONP polling and jsonp_send (PROTOCOL.md 7.4, 7.5; checklist 11.G)."""

from __future__ import annotations

from typing import Any

import pytest

from .rawhttp import Response, new_session_id, request

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
JS_TYPE = "application/javascript; charset=UTF-8"
PLAIN_TYPE = "text/plain; charset=UTF-8"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TEXT = {"Content-Type": "text/plain"}


def _path(sid: str, transport: str, prefix: str = "/echo") -> str:
    return f"{prefix}/000/{sid}/{transport}"


def jsonp(port: int, sid: str, query: str = "?c=callback", prefix: str = "/echo") -> Response:
    """One ``jsonp`` poll (GET) on a fresh connection."""
    return request(port, "GET", _path(sid, "jsonp", prefix) + query)


def jsonp_send(
    port: int,
    sid: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    prefix: str = "/echo",
) -> Response:
    """One ``jsonp_send`` POST on a fresh connection (form-encoded unless told)."""
    return request(
        port,
        "POST",
        _path(sid, "jsonp_send", prefix),
        headers=FORM if headers is None else headers,
        body=body,
    )


def open_session(port: int, sid: str) -> None:
    """Create ``sid`` on /echo through a jsonp poll."""
    resp = jsonp(port, sid)
    assert (resp.status, resp.body) == (200, b'callback("o");\r\n'), resp


def test_jsonp_open(server: Any, sid: str) -> None:
    """Checklist 83: ``jsonp?c=%63allback`` -> 200 ``callback("o");\\r\\n`` with JS type."""
    resp = jsonp(server.port, sid, "?c=%63allback")
    assert resp.status == 200
    assert resp.body == b'callback("o");\r\n'
    assert resp.header("Content-Type") == JS_TYPE
    assert resp.header("Cache-Control") == NO_CACHE


def test_jsonp_missing_callback(server: Any) -> None:
    """Checklist 84: jsonp without callback -> 500 ``"callback" parameter required``."""
    resp = request(server.port, "GET", "/echo/a/a/jsonp")
    assert resp.status == 500
    assert b'"callback" parameter required' in resp.body


@pytest.mark.parametrize("query", ["?c=%20", "?c=*", "?c=abc(", "?c=abc%28"])
def test_jsonp_invalid_callback(server: Any, query: str) -> None:
    """Checklist 85: callbacks `` ``, ``*``, ``abc(`` -> 500 ``invalid "callback" parameter``."""
    resp = request(server.port, "GET", "/echo/a/a/jsonp" + query)
    assert resp.status == 500
    assert b'invalid "callback" parameter' in resp.body


@pytest.mark.parametrize("query", ["", "?c=abc("])
def test_jsonp_callback_error_creates_no_session(server: Any, sid: str, query: str) -> None:
    """Checklist 86: a rejected jsonp callback does not create the session (send -> 404)."""
    assert jsonp(server.port, sid, query).status == 500
    resp = jsonp_send(server.port, sid, b"d=%5B%22x%22%5D")
    assert resp.status == 404
    resp = request(server.port, "POST", _path(sid, "xhr_send"), body=b'["x"]')
    assert resp.status == 404


def test_jsonp_send_form(server: Any, sid: str) -> None:
    """Checklist 87: form ``d=%5B%22x%22%5D`` -> 200 ``ok``, text/plain, no-cache headers."""
    open_session(server.port, sid)
    resp = jsonp_send(server.port, sid, b"d=%5B%22x%22%5D")
    assert resp.status == 200
    assert resp.body == b"ok"
    assert resp.header("Content-Type") == PLAIN_TYPE
    assert resp.header("Cache-Control") == NO_CACHE
    assert not resp.has_header("Expires")
    assert not resp.has_header("Last-Modified")


def test_jsonp_poll_after_send(server: Any, sid: str) -> None:
    """Checklist 88: after a jsonp_send of ``["x"]`` the poll gives ``callback("a[\\"x\\"]");``."""
    open_session(server.port, sid)
    assert jsonp_send(server.port, sid, b"d=%5B%22x%22%5D").body == b"ok"
    resp = jsonp(server.port, sid)
    assert resp.status == 200
    assert resp.body == b'callback("a[\\"x\\"]");\r\n'


def test_jsonp_send_broken_json(server: Any, sid: str) -> None:
    """Checklist 89: form ``d=%5B%22x`` -> 500 ``Broken JSON encoding.``."""
    open_session(server.port, sid)
    resp = jsonp_send(server.port, sid, b"d=%5B%22x")
    assert resp.status == 500
    assert b"Broken JSON encoding." in resp.body


@pytest.mark.parametrize("body", [b"", b"d=", b"p=p"])
def test_jsonp_send_payload_expected(server: Any, sid: str, body: bytes) -> None:
    """Checklist 90: form bodies empty, ``d=`` and ``p=p`` -> 500 ``Payload expected.``."""
    open_session(server.port, sid)
    resp = jsonp_send(server.port, sid, body)
    assert resp.status == 500
    assert b"Payload expected." in resp.body


def test_jsonp_send_text_plain_not_urldecoded(server: Any, sid: str) -> None:
    """Checklist 91: text/plain body ``["%61bc"]`` -> ``ok``; message delivered is ``%61bc``."""
    open_session(server.port, sid)
    resp = jsonp_send(server.port, sid, b'["%61bc"]', headers=TEXT)
    assert resp.status == 200
    assert resp.body == b"ok"
    assert jsonp(server.port, sid).body == b'callback("a[\\"%61bc\\"]");\r\n'


def test_jsonp_send_form_then_text(server: Any, sid: str) -> None:
    """Checklist 92: form ``abc`` then text ``%61bc`` then one poll -> both in one frame."""
    open_session(server.port, sid)
    assert jsonp_send(server.port, sid, b"d=%5B%22abc%22%5D").body == b"ok"
    assert jsonp_send(server.port, sid, b'["%61bc"]', headers=TEXT).body == b"ok"
    resp = jsonp(server.port, sid, "?c=x")
    assert resp.body == b'x("a[\\"abc\\",\\"%61bc\\"]");\r\n'


def test_jsonp_send_empty_array(server: Any, sid: str) -> None:
    """Checklist 93: form ``d=%5B%5D`` (``[]``) -> 200 ``ok``, nothing delivered."""
    open_session(server.port, sid)
    resp = jsonp_send(server.port, sid, b"d=%5B%5D")
    assert (resp.status, resp.body) == (200, b"ok")
    assert jsonp_send(server.port, sid, b"d=%5B%22z%22%5D").body == b"ok"
    assert jsonp(server.port, sid).body == b'callback("a[\\"z\\"]");\r\n'


def test_jsonp_send_unknown_session(server: Any) -> None:
    """Checklist 94: jsonp_send with a valid payload to an unknown session -> 404."""
    resp = jsonp_send(server.port, new_session_id(), b"d=%5B%22x%22%5D")
    assert resp.status == 404


def test_jsonp_close_service(server: Any, sid: str) -> None:
    """Checklist 95: on /close, jsonp gives ``x("o");`` then twice the 3000 close frame."""
    close_body = b'x("c[3000,\\"Go away!\\"]");\r\n'
    assert jsonp(server.port, sid, "?c=x", prefix="/close").body == b'x("o");\r\n'
    assert jsonp(server.port, sid, "?c=x", prefix="/close").body == close_body
    assert jsonp(server.port, sid, "?c=x", prefix="/close").body == close_body
