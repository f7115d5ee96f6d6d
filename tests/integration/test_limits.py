"""Limits over real sockets, with the test server's default settings.

The adapter tests (tests/cyclone/test_limits.py) cover every limit and its
refusal under a fake clock; these check the defaults end to end.
"""

from __future__ import annotations

import json
from typing import Any

from .rawhttp import RawHTTP, request
from .slowclients import FrameReader, client_frame, open_websocket


def _open(port: int, sid: str) -> None:
    assert request(port, "POST", f"/echo/000/{sid}/xhr").body == b"o\n"


def test_send_with_too_many_messages_is_refused(server: Any, sid: str) -> None:
    _open(server.port, sid)
    body = json.dumps(["m"] * 1001).encode()
    refused = request(server.port, "POST", f"/echo/000/{sid}/xhr_send", body=body)
    assert (refused.status, refused.body) == (413, b"Too many messages in one request.")
    accepted = request(server.port, "POST", f"/echo/000/{sid}/xhr_send", body=b'["m"]')
    assert accepted.status == 204
    assert request(server.port, "POST", f"/echo/000/{sid}/xhr").body == b'a["m"]\n'


def test_websocket_message_with_too_many_messages_closes_1009(server: Any, sid: str) -> None:
    sock, rest = open_websocket(server.port, f"/echo/000/{sid}/websocket")
    with sock:
        reader = FrameReader(sock, rest)
        assert reader.frame() == (0x1, b"o")
        sock.sendall(client_frame(0x1, json.dumps(["m"] * 1001).encode()))
        texts, close = reader.until_close()
    assert texts == ['c[1009,"Too many messages in one frame"]']
    assert close is not None and close[0] == 1000


def test_session_responses_say_nosniff(server: Any, sid: str) -> None:
    response = request(server.port, "GET", f"/echo/000/{sid}/jsonp?c=cb")
    assert response.body == b'cb("o");\r\n'
    assert response.header("X-Content-Type-Options") == "nosniff"
    # Not on the greeting or /info, whose headers the protocol spells out.
    assert request(server.port, "GET", "/echo").header("X-Content-Type-Options") is None


def test_too_many_header_lines_get_431(server: Any) -> None:
    with RawHTTP(server.port) as conn:
        headers = [(f"X-Header-{n}", "v") for n in range(101)]
        conn.send("GET", "/echo", headers=headers)
        response = conn.read_response()
        assert response.status == 431
        assert conn.expect_closed(5.0)


def test_origin_check_of_http_transports_is_off_by_default(server: Any, sid: str) -> None:
    response = request(
        server.port, "POST", f"/echo/000/{sid}/xhr", headers={"Origin": "https://elsewhere"}
    )
    assert response.body == b"o\n"
    assert response.header("Access-Control-Allow-Origin") == "https://elsewhere"
