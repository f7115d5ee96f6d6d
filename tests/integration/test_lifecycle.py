"""Integration tests: session lifecycle (PROTOCOL.md section 6; checklist 11.L).

``/close`` closes every session with 3000 "Go away!" from its on-open
callback; ``/echo`` echoes.  Expiry timing lives in ``test_timing.py``.
"""

from __future__ import annotations

from typing import Any

from .rawhttp import RawHTTP, Response, request

PRELUDE = b"h" * 2048 + b"\n"
GO_AWAY = b'c[3000,"Go away!"]\n'
ANOTHER = b'c[2010,"Another connection still open"]\n'
INTERRUPTED = b'c[1002,"Connection interrupted"]\n'


def _path(sid: str, transport: str, prefix: str = "/echo") -> str:
    return f"{prefix}/000/{sid}/{transport}"


def poll(port: int, sid: str, prefix: str = "/echo") -> Response:
    """One ``xhr`` poll on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr", prefix))


def send(port: int, sid: str, body: bytes, prefix: str = "/echo") -> Response:
    """One ``xhr_send`` on a fresh connection."""
    return request(port, "POST", _path(sid, "xhr_send", prefix), body=body)


def open_stream(conn: RawHTTP, sid: str, prefix: str = "/echo") -> Response:
    """Start ``xhr_streaming`` on ``conn`` and consume the prelude chunk."""
    conn.send("POST", _path(sid, "xhr_streaming", prefix))
    head = conn.read_head()
    assert head.status == 200, head
    assert conn.read_chunk() == PRELUDE
    return head


def test_close_service_polling(server: Any, sid: str) -> None:
    """Checklist 128: on /close, polls return ``o``, then the 3000 close frame twice."""
    assert poll(server.port, sid, "/close").body == b"o\n"
    second = poll(server.port, sid, "/close")
    assert (second.status, second.body) == (200, GO_AWAY)
    third = poll(server.port, sid, "/close")
    assert (third.status, third.body) == (200, GO_AWAY)


def test_close_service_streaming(server: Any, sid: str) -> None:
    """Checklist 129: on /close, xhr_streaming gets prelude, ``o``, close frame, then ends."""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid, "/close")
        assert conn.read_chunk() == b"o\n"
        assert conn.read_chunk() == GO_AWAY
        assert conn.read_chunk() == b""


def test_close_service_second_stream(server: Any, sid: str) -> None:
    """Checklist 130: a second /close stream gets the close frame only (no 2010, no ``o``)."""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid, "/close")
        assert conn.read_chunk() == b"o\n"
        assert conn.read_chunk() == GO_AWAY
        assert conn.read_chunk() == b""
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid, "/close")
        assert conn.read_chunk() == GO_AWAY
        assert conn.read_chunk() == b""


def test_second_stream_gets_2010(server: Any, sid: str) -> None:
    """Checklist 131: a second xhr_streaming gets 2010; the first keeps working."""
    with RawHTTP(server.port) as first:
        open_stream(first, sid)
        assert first.read_chunk() == b"o\n"
        with RawHTTP(server.port) as second:
            open_stream(second, sid)
            assert second.read_chunk() == ANOTHER
            assert second.read_chunk() == b""
        assert send(server.port, sid, b'["still"]').status == 204
        assert first.read_chunk() == b'a["still"]\n'


def test_aborted_stream(server: Any, sid: str) -> None:
    """Checklist 132: after aborting a stream, the next gets ``o`` or 1002, never 2010."""
    conn = RawHTTP(server.port)
    open_stream(conn, sid)
    assert conn.read_chunk() == b"o\n"
    conn.close()
    with RawHTTP(server.port) as again:
        open_stream(again, sid)
        frame = again.read_chunk()
    assert frame in (b"o\n", INTERRUPTED), frame


def test_aborted_poll(server: Any, sid: str) -> None:
    """Checklist 133: after aborting a parked poll, the next poll gets ``o`` or 1002, never 2010."""
    assert poll(server.port, sid).body == b"o\n"
    conn = RawHTTP(server.port)
    conn.send("POST", _path(sid, "xhr"))
    assert conn.expect_no_data(0.3), "the poll should be parked"
    conn.close()
    resp = poll(server.port, sid)
    assert resp.status == 200
    assert resp.body in (b"o\n", INTERRUPTED), resp.body


def test_close_from_on_open_not_in_first_poll(server: Any, sid: str) -> None:
    """Checklist 137: on /close the first poll is exactly ``o\\n``; close comes next poll."""
    first = poll(server.port, sid, "/close")
    assert first.status == 200
    assert first.body == b"o\n"
    assert poll(server.port, sid, "/close").body == GO_AWAY


def test_buffered_messages_delivered_in_order(server: Any, sid: str) -> None:
    """Checklist 139: echoes made with no receiver arrive in order with the next one."""
    assert poll(server.port, sid).body == b"o\n"
    assert send(server.port, sid, b'["1","2"]').status == 204
    assert send(server.port, sid, b'["3"]').status == 204
    assert send(server.port, sid, b'["4","5","6"]').status == 204
    # Buffered without a receiver: one frame, in order (PROTOCOL.md 3.1).
    with RawHTTP(server.port) as conn:
        open_stream(conn, sid)
        assert conn.read_chunk() == b'a["1","2","3","4","5","6"]\n'


def test_send_to_closing_session(server: Any, sid: str) -> None:
    """Checklist 140: sends to a CLOSING session succeed (204 / ``ok``) but deliver nothing."""
    assert poll(server.port, sid, "/close").body == b"o\n"
    assert poll(server.port, sid, "/close").body == GO_AWAY
    resp = send(server.port, sid, b'["x"]', prefix="/close")
    assert resp.status == 204
    assert resp.body == b""
    resp = request(
        server.port,
        "POST",
        _path(sid, "jsonp_send", "/close"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"d=%5B%22x%22%5D",
    )
    assert (resp.status, resp.body) == (200, b"ok")
    # The session still only replays its close frame.
    assert poll(server.port, sid, "/close").body == GO_AWAY


def test_send_to_interrupted_session(server: Any, sid: str) -> None:
    """Checklists 133, 140: after an abort the session is gone (404) or CLOSING (204)."""
    assert poll(server.port, sid).body == b"o\n"
    conn = RawHTTP(server.port)
    conn.send("POST", _path(sid, "xhr"))
    assert conn.expect_no_data(0.3)
    conn.close()
    # No pause: the server must notice the EOF of a parked poll promptly (6.8).
    resp = send(server.port, sid, b'["x"]')
    if resp.status == 404:
        # Option (a): the session was destroyed; a new poll opens a new one.
        assert poll(server.port, sid).body == b"o\n"
    else:
        # Option (b): CLOSING with 1002; the message is accepted but not echoed.
        assert resp.status == 204
        assert poll(server.port, sid).body == INTERRUPTED
