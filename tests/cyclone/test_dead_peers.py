"""Dead peers (issue 16): pings with the heartbeat, a deadline for the answer.

A WebSocket client that vanishes without closing answers no ping: once
``ping_timeout`` has passed since the ping, the session closes at once with
``PEER_TIMEOUT`` (1006, "Peer not responding", initiator ``timeout``), its
``connectionLost`` runs once, a ``dead_peer`` event is logged and counted.
Real frames in memory, fake time (tests/cyclone/helpers.py).
"""

from __future__ import annotations

from typing import Any

import helpers
import pytest
from test_websocket_handlers import WS, Hixie
from websockets.frames import Opcode

from sockjs.cyclone import CloseInfo, SockJSConnection
from sockjs.protocol import closing


class Recorder(SockJSConnection):
    """Keeps each close_info its connectionLost saw."""

    lost: list[CloseInfo | None]

    def connectionLost(self) -> None:
        self.lost.append(self.close_info)


def recorder() -> type[Recorder]:
    return type("Rec", (Recorder,), {"lost": []})


def dead_peer_events(logs: helpers.LogCapture) -> list[Any]:
    return [e for e in logs.events if e.get("sockjs_event") and e.get("kind") == "dead_peer"]


@pytest.mark.parametrize("path", ["/000/s1/websocket", "/websocket"])
def test_a_ping_goes_with_each_heartbeat_and_answers_keep_the_peer(path: str) -> None:
    server = helpers.Server(recorder(), settings={"heartbeat_delay": 10, "ping_timeout": 4})
    ws = WS(server, path)
    for _ in range(3):
        server.advance(10)
        pings = [frame for frame in ws.frames() if frame.opcode is Opcode.PING]
        assert len(pings) == 1
    assert not ws.closed_by_server
    assert server.router.connections
    ws.close()


@pytest.mark.parametrize("path", ["/000/s1/websocket", "/websocket"])
def test_no_answer_within_ping_timeout_closes_at_once(path: str, logs: helpers.LogCapture) -> None:
    conn_class = recorder()
    server = helpers.Server(conn_class, settings={"heartbeat_delay": 10, "ping_timeout": 4})
    ws = WS(server, path)
    ws.answers_pings = False  # the client vanished: its kernel answers nothing
    server.advance(13.999)
    assert server.router.connections
    server.advance(0.001)
    assert server.router.connections == []
    assert conn_class.lost == [closing.PEER_TIMEOUT]
    info = conn_class.lost[0]
    assert info is not None
    assert (info.code, info.reason, info.initiator) == (1006, "Peer not responding", "timeout")
    (event,) = dead_peer_events(logs)
    assert event["code"] == 1006
    assert server.router.stats.dump()["errors_dead_peer"] == 1
    assert ws.closed_by_server
    ws.drop()
    assert conn_class.lost == [closing.PEER_TIMEOUT]  # once only
    assert server.delayed_calls == []


def test_any_data_counts_as_an_answer() -> None:
    """A message sent after the ping proves the peer is there as well as a pong does."""
    server = helpers.Server(settings={"heartbeat_delay": 10, "ping_timeout": 4})
    ws = WS(server)
    ws.answers_pings = False
    server.advance(12)
    ws.send('["still here"]')
    server.advance(3)
    assert not ws.closed_by_server
    assert 'a["still here"]' in ws.texts()
    server.advance(11)  # the next ping goes unanswered
    assert ws.closed_by_server
    ws.drop()


def test_pings_can_be_switched_off() -> None:
    server = helpers.Server(settings={"heartbeat_delay": 10, "ping_timeout": None})
    ws = WS(server)
    ws.answers_pings = False
    for _ in range(10):
        server.advance(10)
    assert ws.texts() == ["o", *["h"] * 10]
    assert not any(frame.opcode is Opcode.PING for frame in ws.frames())
    assert not ws.closed_by_server
    ws.close()


def test_hixie76_has_no_pings() -> None:
    server = helpers.Server(settings={"heartbeat_delay": 10, "ping_timeout": 1})
    hixie = Hixie(server)
    for _ in range(3):
        server.advance(10)
    assert hixie.read().endswith(b"\x00h\xff" * 3)
    assert not hixie.closed_by_server
    hixie.conn.abort()


def test_http_receivers_keep_their_heartbeats_only() -> None:
    """No ping on HTTP: the kernel's TCP_USER_TIMEOUT notices an HTTP peer that vanished."""
    server = helpers.Server(settings={"heartbeat_delay": 10, "ping_timeout": 1})
    stream = server.poll(helpers.new_sid(), "xhr_streaming")
    for _ in range(3):
        server.advance(10)
    assert (stream.response().chunks or [])[-3:] == [b"h\n"] * 3
    stream.abort()
