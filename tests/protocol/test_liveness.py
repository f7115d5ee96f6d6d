"""Pings and their deadlines (issue 16), with plain numbers for time.

A SockJS WebSocket session pings with each heartbeat and keeps the pong
deadline among its own deadlines; the raw endpoint's connections use
:class:`sockjs.protocol.websocket.Liveness`.
"""

from __future__ import annotations

from sockjs.protocol import closing, transports
from sockjs.protocol import websocket as rules
from sockjs.protocol.events import SessionEvent
from sockjs.protocol.options import Options
from sockjs.protocol.session import Output, Receiver, Session

OPTS = Options(heartbeat_delay=10, ping_timeout=4)


def websocket(options: Options = OPTS, wire: transports.Wire = transports.WEBSOCKET) -> Session:
    session = Session(None, options, 0.0)
    session.attach(Receiver(wire), 0.0)
    session.take_events()
    return session


def test_a_heartbeat_carries_a_ping_and_sets_the_pong_deadline() -> None:
    session = websocket()
    assert session.handle_timer(10) == Output([b"h"], ping=True)
    assert session.deadline == 14  # the answer is due before the next heartbeat
    session.alive()
    assert session.deadline == 20
    assert session.handle_timer(20) == Output([b"h"], ping=True)


def test_no_answer_ends_the_session_and_drops_the_connection() -> None:
    session = websocket()
    session.handle_timer(10)
    session.take_events()
    assert session.handle_timer(13.9) is None
    assert session.handle_timer(14) == Output(end=True, drop_connection=True)
    assert session.take_events() == [SessionEvent.CLOSED, SessionEvent.ENDED]
    assert session.close_info is closing.PEER_TIMEOUT


def test_alive_without_a_ping_out_changes_nothing() -> None:
    session = websocket()
    session.alive()
    assert session.deadline == 10
    Session("s", OPTS, 0.0).alive()  # no receiver: nothing to do


def test_a_ping_timeout_longer_than_the_heartbeat() -> None:
    session = websocket(Options(heartbeat_delay=10, ping_timeout=25))
    assert session.handle_timer(10) == Output([b"h"], ping=True)
    assert session.deadline == 20
    assert session.handle_timer(20) == Output([b"h"], ping=True)  # the first is still out
    assert session.deadline == 30
    assert session.handle_timer(30) == Output([b"h"], ping=True)
    assert session.deadline == 35
    assert session.handle_timer(35) == Output(end=True, drop_connection=True)


def test_no_pings_when_switched_off_over_hixie_or_http() -> None:
    for session in (
        websocket(Options(heartbeat_delay=10, ping_timeout=None)),
        websocket(wire=transports.HIXIE76),
        websocket(wire=transports.XHR_STREAMING),
    ):
        output = session.handle_timer(10)
        assert output is not None and not output.ping
        assert session.deadline == 20


def test_liveness_pings_on_interval_and_waits_for_an_answer() -> None:
    alive = rules.Liveness(10, 4, now=0)
    assert alive.deadline == 10
    assert alive.on_timer(9) is None
    assert alive.on_timer(10) == rules.PING
    assert alive.deadline == 14
    alive.alive()
    assert alive.deadline == 20
    assert alive.on_timer(20) == rules.PING
    assert alive.on_timer(24) == rules.DEAD


def test_liveness_with_a_long_timeout_keeps_pinging() -> None:
    alive = rules.Liveness(10, 25, now=0)
    assert alive.on_timer(10) == rules.PING
    assert alive.deadline == 20
    assert alive.on_timer(20) == rules.PING
    assert alive.pong_due == 35  # from the first unanswered ping
    assert alive.on_timer(35) == rules.DEAD


def test_message_timeout_and_fragment_faults() -> None:
    decision = rules.message_timeout()
    assert decision.close is closing.MESSAGE_TIMEOUT and decision.close.code == 1008
    assert decision.fault.limit == "message_timeout"
    close, fault = rules.protocol_error(
        rules.ProtocolError(closing.TOO_MANY_FRAGMENTS.code, closing.TOO_MANY_FRAGMENTS.reason)
    )
    assert (close.code, fault.kind, fault.limit) == (
        1009,
        "too_many_fragments",
        "max_message_fragments",
    )
    assert rules.binary_message(passed_through=True) is None
