"""Graceful shutdown (``sockjs.cyclone.shutdown`` / ``router.shutdown``) under a Clock.

Every open session gets ``c[1001,"Server going away"]`` on the transport it
uses; the Deferred fires as soon as all were told (or ``grace`` ran out),
and then nothing is left: no session, no connection, no timer.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import PRELUDE, LogCapture, Server, new_sid, recording
from test_websocket_handlers import WS, frame_texts

from sockjs.cyclone import SockJSRouter, shutdown

GOING_AWAY = b'c[1001,"Server going away"]\n'


class FakePort:
    """What ``reactor.listenTCP`` returns, as far as shutdown cares."""

    def __init__(self) -> None:
        self.listening = True

    def stopListening(self) -> None:  # noqa: N802 - Twisted API
        self.listening = False


def assert_all_gone(server: Server) -> None:
    assert server.router.session_count == 0
    assert server.router.connections == []
    assert server.delayed_calls == []


def test_every_transport_hears_1001_and_the_deferred_fires_at_once() -> None:
    conn_class, events = recording()
    server = Server(conn_class)
    stream = server.poll(new_sid(), "xhr_streaming")
    html = server.poll(new_sid(), "htmlfile", "?c=cb")
    sockjs_ws = WS(server)
    assert sockjs_ws.texts() == ["o"]
    raw_ws = WS(server, "/websocket")
    parked_sid = server.open()
    parked = server.poll(parked_sid)  # an attached polling receiver
    port = FakePort()

    done = shutdown([server.router], grace=10, ports=[port])

    assert not port.listening
    assert stream.response().chunks == [PRELUDE, b"o\n", GOING_AWAY]
    assert stream.response().complete
    assert html.response().chunks is not None
    assert (
        html.response().chunks[-1]
        == b'<script>\np("c[1001,\\"Server going away\\"]");\n</script>\r\n'
    )
    frames = sockjs_ws.frames()
    assert frame_texts(frames) == ['c[1001,"Server going away"]']
    assert (sockjs_ws.close_frame(frames).code, sockjs_ws.closed_by_server) == (1001, True)
    close = raw_ws.close_frame(raw_ws.frames())
    assert (close.code, close.reason) == (1001, "Server going away")
    assert parked.response().body == GOING_AWAY
    # Everyone was told and every buffer is empty: no need to wait for grace.
    assert done.called
    assert events.count("lost") == 5
    for conn in events.conns:
        info = conn.close_info
        assert info is not None
        assert (info.code, info.reason, info.initiator) == (1001, "Server going away", "server")
    assert_all_gone(server)


def test_polling_session_gets_its_close_frame_on_the_next_poll() -> None:
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    server.send(sid, "queued")
    done = server.router.shutdown(grace=5)
    assert not done.called
    server.advance(1)
    # Queued messages first (one frame per poll), then the close frame.
    assert server.post(f"/000/{sid}/xhr").body == b'a["queued"]\n'
    assert not done.called
    assert server.post(f"/000/{sid}/xhr").body == GOING_AWAY
    server.advance(0.1)
    assert done.called
    assert events.count("lost") == 1
    assert_all_gone(server)


def test_new_sessions_during_shutdown_are_refused_with_1001() -> None:
    conn_class, events = recording()
    server = Server(conn_class)
    waiting = server.open()  # keeps the shutdown waiting
    done = server.router.shutdown(grace=5)
    assert server.post(f"/000/{new_sid()}/xhr").body == GOING_AWAY
    assert server.poll(new_sid(), "xhr_streaming").response().chunks == [PRELUDE, GOING_AWAY]
    ws = WS(server)
    frames = ws.frames()
    assert frame_texts(frames) == ['c[1001,"Server going away"]']
    assert ws.close_frame(frames).code == 1001
    raw = WS(server, "/websocket")
    assert raw.close_frame(raw.frames()).code == 1001
    assert events.count("made") == 1
    assert server.post(f"/000/{waiting}/xhr").body == GOING_AWAY
    server.advance(0.1)
    assert done.called


def test_grace_bounds_the_wait(logs: LogCapture) -> None:
    conn_class, events = recording()
    server = Server(conn_class)
    server.open()  # never polls again
    done = server.router.shutdown(grace=2)
    server.advance(1.9)
    assert not done.called
    server.advance(0.2)
    assert done.called
    assert events.count("lost") == 1
    (event,) = [e for e in logs.events if e.get("kind") == "shutdown_grace_expired"]
    assert "1 sessions not told" in event["detail"]
    assert_all_gone(server)
    # After the shutdown the service answers like a stopped router.
    assert server.post(f"/000/{new_sid()}/xhr").status == 503


def test_expired_sessions_are_not_waited_for() -> None:
    server = Server(settings={"disconnect_delay": 1})
    server.open()
    done = server.router.shutdown(grace=30)
    server.advance(1.01)  # the session expired meanwhile: nobody left to tell
    assert not done.called
    server.advance(0.1)
    assert done.called
    assert_all_gone(server)


def test_sessions_already_closing_keep_their_own_close_frame() -> None:
    conn_class, events = recording(on_open=lambda conn, info: conn.close(4000, "mine"))
    server = Server(conn_class)
    sid = server.open()
    done = server.router.shutdown(grace=5)
    assert done.called  # it had its close frame already
    assert events.count("lost") == 1
    assert server.router.session_count == 0
    assert sid


def test_several_routers_and_an_empty_list() -> None:
    one, two = Server(prefix="/one"), Server(prefix="/two")
    s1, s2 = one.open(), two.open()
    done = shutdown([one.router, two.router], grace=1, reactor=one.clock)
    assert one.post(f"/000/{s1}/xhr").body == GOING_AWAY
    assert two.post(f"/000/{s2}/xhr").body == GOING_AWAY
    one.advance(0.1)
    assert done.called
    assert_all_gone(one)
    assert_all_gone(two)
    assert shutdown([], grace=0).called


def test_shutting_down_twice_is_harmless() -> None:
    server = Server()
    stream = server.poll(new_sid(), "xhr_streaming")
    first = server.router.shutdown(grace=1)
    second = server.router.shutdown(grace=1)
    assert first.called and second.called
    assert stream.response().chunks == [PRELUDE, b"o\n", GOING_AWAY]


def test_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="grace must be >= 0"):
        shutdown([], grace=-1)


def test_default_reactor_is_the_global_one() -> None:
    done = shutdown([])
    assert done.called


def test_slow_connections_are_flushed_within_grace() -> None:
    """A connection whose buffer does not drain holds the shutdown until grace at most."""
    conn_class, _ = recording()
    server = Server(conn_class)
    stream = server.poll(new_sid(), "xhr_streaming")
    transport: Any = stream.transport
    transport.connected = True
    transport.dataBuffer = b"unsent"  # what a real TCP transport would still hold
    done = server.router.shutdown(grace=1)
    server.advance(0.5)
    assert not done.called
    transport.dataBuffer = b""
    server.advance(0.06)
    assert done.called


def test_router_method_matches_the_function() -> None:
    assert SockJSRouter.shutdown.__doc__
    server = Server()
    assert server.router.shutdown(grace=0).called
