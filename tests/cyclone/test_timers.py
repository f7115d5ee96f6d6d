"""Session timers on a fake clock: expiry, heartbeats, the single router timer, stop().

PROTOCOL.md 6.5, 6.6, 6.7 and 6.10. Every deadline is checked on both
sides: 1 ms before it nothing happens, 1 ms after it has happened.
"""

from __future__ import annotations

import pytest
from helpers import PRELUDE, Server, new_sid, recording

EPSILON = 0.001


def test_session_expires_exactly_at_disconnect_delay() -> None:
    """Checklist 134, 138: gone right after disconnect_delay, not before; lost once."""
    conn_class, events = recording()
    server = Server(conn_class)
    server.advance(100)  # an arbitrary origin
    sid = server.open()
    server.advance(5 - EPSILON)
    assert server.router.session_count == 1
    assert events.count("lost") == 0
    server.advance(2 * EPSILON)
    assert server.router.session_count == 0
    assert events.names() == ["made", "lost"]
    assert server.delayed_calls == []
    assert server.send(sid, "x").status == 404
    assert server.post(f"/000/{sid}/xhr").body == b"o\n"  # a new session
    assert events.names() == ["made", "lost", "made"]


def test_expiry_counts_from_when_the_last_receiver_left() -> None:
    """PROTOCOL.md 6.6: the disconnect timer starts when the receiver detaches."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    poll = server.poll(sid)
    server.advance(20)  # parked: no expiry while a receiver is attached
    assert server.router.session_count == 1
    server.send(sid, "x")  # releases the poll at t=20
    assert poll.response().body == b'a["x"]\n'
    server.advance(5 - EPSILON)
    assert server.router.session_count == 1
    server.advance(2 * EPSILON)
    assert server.router.session_count == 0
    assert events.count("lost") == 1


def test_polling_again_within_the_delay_keeps_the_session() -> None:
    """Checklist 135: a session polled within disconnect_delay keeps its state."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    for _ in range(5):
        server.advance(4)
        server.send(sid, "x")  # echoed into the buffer; no receiver attached
        assert server.post(f"/000/{sid}/xhr").body == b'a["x"]\n'
    assert events.count("made") == 1
    assert events.count("lost") == 0


def test_heartbeat_on_a_parked_poll() -> None:
    """Checklist 74: an idle poll is answered ``h`` after heartbeat_delay, not before."""
    server = Server()
    sid = server.open()
    poll = server.poll(sid)
    server.advance(25 - EPSILON)
    assert poll.data == b""
    server.advance(2 * EPSILON)
    assert poll.response().body == b"h\n"
    # The poll ended: the disconnect timer runs from now.
    server.advance(5 - EPSILON)
    assert server.router.session_count == 1
    server.advance(2 * EPSILON)
    assert server.router.session_count == 0


def test_heartbeat_on_a_parked_jsonp_poll() -> None:
    """PROTOCOL.md 7.4: ``x("h");``."""
    server = Server(settings={"heartbeat_delay": 1})
    sid = new_sid()
    server.get(f"/000/{sid}/jsonp?c=x")
    poll = server.poll(sid, "jsonp", query="?c=x")
    server.advance(1 + EPSILON)
    assert poll.response().body == b'x("h");\r\n'


@pytest.mark.parametrize(
    ("transport", "query", "heartbeat"),
    [
        ("xhr_streaming", "", b"h\n"),
        ("eventsource", "", b"data: h\r\n\r\n"),
        ("htmlfile", "?c=cb", b'<script>\np("h");\n</script>\r\n'),
    ],
)
def test_heartbeats_repeat_on_a_stream(transport: str, query: str, heartbeat: bytes) -> None:
    """PROTOCOL.md 6.5: a streaming receiver gets ``h`` every heartbeat_delay and keeps going."""
    server = Server()
    stream = server.poll(new_sid(), transport, query=query)
    opened = len(stream.response().chunks or [])
    for beat in range(1, 4):
        server.advance(25 - EPSILON)
        assert len(stream.response().chunks or []) == opened + beat - 1
        # Each beat fires EPSILON late, so the next one is due EPSILON later.
        server.advance(2 * EPSILON)
        chunks = stream.response().chunks or []
        assert chunks[-1] == heartbeat
        assert len(chunks) == opened + beat
    assert not stream.response().complete


def test_custom_delays() -> None:
    """Settings in seconds drive both timers (the /heartbeat_echo service: 1 s and 2 s)."""
    server = Server(settings={"heartbeat_delay": 1, "disconnect_delay": 2})
    sid = server.open()
    poll = server.poll(sid)
    server.advance(1 + EPSILON)
    assert poll.response().body == b"h\n"  # at t = 1.001: expiry due at 3.001
    server.advance(2 - EPSILON)
    assert server.router.session_count == 1
    server.advance(2 * EPSILON)
    assert server.router.session_count == 0


def test_one_timer_for_many_sessions() -> None:
    """ARCHITECTURE: a single callLater armed at the earliest deadline."""
    server = Server()
    sids = []
    for index in range(10):  # opened at t = 0, 0.5, ..., 4.5
        if index:
            server.advance(0.5)
        sids.append(server.open())
    assert len(server.delayed_calls) == 1
    assert server.delayed_calls[0].getTime() == pytest.approx(5.0)
    server.poll(sids[0])  # its deadline moves to the heartbeat, t = 4.5 + 25
    assert len(server.delayed_calls) == 1
    assert server.delayed_calls[0].getTime() == pytest.approx(5.5)
    server.advance(5 - EPSILON)  # t = 9.499: the last one (due at 9.5) is still there
    assert server.router.session_count == 2
    server.advance(2 * EPSILON)
    assert server.router.session_count == 1  # only the parked one remains
    assert len(server.delayed_calls) == 1
    assert server.delayed_calls[0].getTime() == pytest.approx(29.5)


def test_replayed_close_rearms_the_disconnect_timer() -> None:
    """PROTOCOL.md 6.7 step 4: each replay of the close frame re-arms the timer."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    events.conns[0].close()
    server.advance(4)
    assert server.post(f"/000/{sid}/xhr").body == b'c[3000,"Go away!"]\n'
    server.advance(5 - EPSILON)
    assert server.router.session_count == 1
    assert server.post(f"/000/{sid}/xhr").body == b'c[3000,"Go away!"]\n'
    server.advance(5 - EPSILON)
    assert server.router.session_count == 1
    server.advance(2 * EPSILON)
    assert server.router.session_count == 0
    assert events.count("lost") == 1
    assert server.post(f"/000/{sid}/xhr").body == b"o\n"


def test_reattach_before_expiry_cancels_it() -> None:
    """PROTOCOL.md 6.3 step 3: a stream attached at t=4.9 keeps the session past t=5."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    server.advance(4.9)
    stream = server.poll(sid, "xhr_streaming")
    server.advance(10)
    assert server.router.session_count == 1
    assert stream.response().chunks == [PRELUDE]
    assert events.count("lost") == 0


def test_abort_leaves_no_timer() -> None:
    """A session closed by an abort has no deadline left."""
    server = Server()
    stream = server.poll(new_sid(), "xhr_streaming")
    assert len(server.delayed_calls) == 1
    stream.abort()
    assert server.delayed_calls == []


# ---------------------------------------------------------------------------
# router.stop()
# ---------------------------------------------------------------------------


def test_stop_cancels_the_timer_and_closes_everything() -> None:
    """stop(): no timer survives; polls are cut, streams ended, connectionLost once each."""
    conn_class, events = recording()
    server = Server(conn_class)
    idle = server.open()
    parked_sid = server.open()
    parked = server.poll(parked_sid)
    stream = server.poll(new_sid(), "xhr_streaming")
    server.open()  # closed by the application just below: CLOSING at stop()
    events.conns[-1].close()
    assert server.delayed_calls
    server.router.stop()
    assert server.delayed_calls == []
    assert server.router.session_count == 0
    assert server.router.connections == []
    assert events.count("made") == 4
    assert events.count("lost") == 4
    assert parked.closed_by_server
    assert parked.data == b""
    assert stream.response().complete
    assert stream.producer is None
    server.advance(100)
    assert events.count("lost") == 4
    assert server.send(idle, "x").status == 404


def test_stop_twice_is_harmless(server: Server) -> None:
    """stop() is idempotent."""
    server.open()
    server.router.stop()
    server.router.stop()
    assert server.delayed_calls == []


def test_requests_after_stop_leave_no_session_behind() -> None:
    """A stopped router answers 503 and keeps no session it could never expire."""
    conn_class, events = recording()
    server = Server(conn_class)
    server.router.stop()
    for transport in ("xhr", "xhr_streaming"):
        response = server.post(f"/000/{new_sid()}/{transport}")
        assert (response.status, response.body) == (503, b"Service stopped.")
    server.advance(60)
    assert server.router.session_count == 0
    assert events.count("made") == events.count("lost")


# ---------------------------------------------------------------------------
# SockJSHTTPConnection's request timer (slow clients)
# ---------------------------------------------------------------------------


def test_slow_request_head_gets_408() -> None:
    """A head not complete within request_timeout -> 408 and close, not before."""
    server = Server(hardened=True)
    client = server.client()
    client.send_raw(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
    server.advance(30 - EPSILON)
    assert client.data == b""
    server.advance(2 * EPSILON)
    response = client.response()
    assert response.status == 408
    assert response.header("Connection") == "close"
    assert client.closed_by_server
    assert server.delayed_calls == []


def test_slow_request_body_gets_408() -> None:
    """The timer covers the body too."""
    server = Server(hardened=True)
    sid = server.open()
    client = server.client()
    client.send_raw(f"POST /echo/000/{sid}/xhr_send HTTP/1.1\r\nContent-Length: 9\r\n\r\n".encode())
    client.send_raw(b'["a"')
    server.advance(30 + EPSILON)
    assert client.response().status == 408


def test_slow_chunked_body_gets_408() -> None:
    """... and chunked bodies."""
    server = Server(hardened=True)
    sid = server.open()
    client = server.client()
    client.send_raw(
        f"POST /echo/000/{sid}/xhr_send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + b'3\r\n["a'
    )
    server.advance(30 + EPSILON)
    assert client.response().status == 408


def test_complete_requests_leave_no_request_timer() -> None:
    """Once a request is dispatched its timer is gone; a parked poll never times out."""
    server = Server(settings={"heartbeat_delay": 100}, hardened=True)
    sid = server.open()
    # The router's session timer only (and the keep-alive timer of open's connection).
    assert len(server.timers_but_connections) == 1
    poll = server.poll(sid)
    server.advance(60)
    assert poll.data == b""  # no 408 for a response the server is holding
    server.send(sid, "x")
    assert poll.response().body == b'a["x"]\n'


def test_client_going_away_cancels_the_request_timer() -> None:
    """connectionLost during a partial head cancels its timer."""
    server = Server(hardened=True)
    client = server.client()
    client.send_raw(b"GET /echo HTTP/1.1\r\n")
    assert len(server.delayed_calls) == 1
    client.abort()
    assert server.delayed_calls == []


def test_request_timer_defaults_to_the_global_reactor() -> None:
    """Without ``sockjs_clock`` on the application the global reactor is used."""
    from twisted.internet import reactor

    server = Server(hardened=True)
    del server.app.sockjs_clock
    client = server.client()
    assert client.protocol._clock() is reactor
