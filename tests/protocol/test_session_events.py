"""The events a session emits (sockjs/protocol/events.py), with plain numbers for time.

The adapter acts on these instead of inferring lifecycle changes from state.
"""

from __future__ import annotations

from sockjs.protocol import closing, transports
from sockjs.protocol.events import SessionEvent
from sockjs.protocol.options import Options
from sockjs.protocol.registry import SessionRegistry
from sockjs.protocol.session import Output, Receiver, Session

OPTS = Options(heartbeat_delay=25, disconnect_delay=5, max_queued_bytes=100)
E = SessionEvent


def opened(wire: transports.Wire = transports.XHR_STREAMING) -> Session:
    session = Session("s", OPTS, 0.0)
    session.attach(Receiver(wire), 0.0)
    assert session.take_events() == [E.OPENED]
    return session


def test_take_events_empties_the_list() -> None:
    session = opened()
    assert session.take_events() == []
    assert session.events == []


def test_heartbeat_event() -> None:
    session = opened()
    assert session.handle_timer(25) == Output([b"h\n"])
    assert session.take_events() == [E.HEARTBEAT]


def test_close_on_a_stream_writes_the_close_frame() -> None:
    session = opened()
    session.close(closing.GO_AWAY, 1)
    assert session.take_events() == [E.CLOSED, E.CLOSE_WRITTEN]
    assert session.close_info is closing.GO_AWAY


def test_close_on_a_poll_with_queued_messages_writes_it_at_the_next_poll() -> None:
    session = opened(transports.XHR)
    session.attach(Receiver(transports.XHR), 1)  # parked
    receiver = session.receiver
    assert receiver is not None
    receiver.paused = True
    session.send('"x"', 1)
    assert session.close(closing.GO_AWAY, 1) == Output([b'a["x"]\n'], end=True)
    assert session.take_events() == [E.CLOSED]
    session.attach(Receiver(transports.XHR), 2)
    assert session.take_events() == [E.CLOSE_WRITTEN]


def test_close_on_a_parked_poll_writes_it_at_once() -> None:
    session = opened(transports.XHR)
    session.attach(Receiver(transports.XHR), 1)
    session.close(closing.GO_AWAY, 1)
    assert session.take_events() == [E.CLOSED, E.CLOSE_WRITTEN]


def test_close_without_receiver_writes_nothing_yet() -> None:
    session = opened(transports.XHR)
    session.close(closing.GO_AWAY, 1)
    assert session.take_events() == [E.CLOSED]
    session.attach(Receiver(transports.XHR_STREAMING), 2)
    assert session.take_events() == [E.CLOSE_WRITTEN]


def test_expiry_of_an_open_session() -> None:
    """EXPIRED, then CLOSED with EXPIRED as close_info, then ENDED."""
    session = opened(transports.XHR)
    session.handle_timer(5)
    assert session.take_events() == [E.EXPIRED, E.CLOSED, E.ENDED]
    assert session.close_info is closing.EXPIRED
    assert session.close_info.initiator == "timeout"


def test_expiry_of_a_closing_session_only_ends_it() -> None:
    session = opened(transports.XHR)
    session.close(closing.GO_AWAY, 1)
    session.take_events()
    session.handle_timer(6)
    assert session.take_events() == [E.ENDED]
    assert session.close_info is closing.GO_AWAY


def test_expiry_of_a_session_never_opened() -> None:
    session = Session("s", OPTS, 0.0)
    session.handle_timer(5)
    assert session.take_events() == [E.CLOSED, E.ENDED]


def test_abort_closes_and_ends_with_the_given_close() -> None:
    session = opened()
    gone = closing.by_client(4000, "bye")
    session.abort(gone)
    assert session.take_events() == [E.CLOSED, E.ENDED]
    assert session.close_info == gone
    session.abort(closing.INTERRUPTED)  # twice: nothing more
    assert session.take_events() == []


def test_forget_ends_with_the_given_close() -> None:
    session = opened()
    session.forget(closing.GOING_AWAY)
    assert session.take_events() == [E.CLOSED, E.ENDED]
    assert session.close_info is closing.GOING_AWAY


def test_slow_consumer_close() -> None:
    session = opened()
    session.pause()
    big = '"' + "x" * 60 + '"'
    session.send(big, 0)
    output = session.send(big, 0)
    assert output is not None and output.end and output.drop_connection
    assert session.take_events() == [E.CLOSED, E.CLOSE_WRITTEN]
    assert session.close_info is closing.SLOW_CONSUMER


def test_a_websocket_session_ends_with_its_close() -> None:
    """A bound receiver: the session ends at once, no disconnect_delay (PROTOCOL.md 7.8)."""
    session = opened(transports.WEBSOCKET)
    output = session.close(closing.GO_AWAY, 1)
    assert output == Output([b'c[3000,"Go away!"]'], end=True)
    assert session.take_events() == [E.CLOSED, E.CLOSE_WRITTEN, E.ENDED]
    assert session.deadline is None


def test_a_websocket_session_ends_with_its_socket() -> None:
    session = opened(transports.WEBSOCKET)
    session.detach(1)
    assert session.take_events() == [E.CLOSED, E.ENDED]
    assert session.close_info is closing.INTERRUPTED


def test_a_websocket_receiver_is_never_limited() -> None:
    session = Session(None, Options(response_limit=10), 0.0)
    session.attach(Receiver(transports.WEBSOCKET), 0)
    for _ in range(5):
        assert session.send('"xxxxxxxx"', 0) == Output([b'a["xxxxxxxx"]'])
    assert session.receiver is not None


def test_an_ended_session_leaves_the_registry_and_admission() -> None:
    """The registry forgets a session once it ended, and admission stops counting it."""
    registry = SessionRegistry(OPTS)
    session = registry.create("a", 0.0, "10.0.0.1")
    other = registry.create_anonymous(0.0, "10.0.0.1")
    assert registry.admission.sessions("10.0.0.1") == 2
    session.handle_timer(5)
    assert registry.get("a") is None
    assert len(registry) == 1
    assert registry.admission.sessions("10.0.0.1") == 1
    other.forget(closing.GOING_AWAY)
    assert len(registry) == 0
    assert registry.admission.sessions() == 0


def test_a_poll_replay_with_queued_messages_writes_them_first() -> None:
    session = opened(transports.XHR)
    session.send('"x"', 1)
    session.close(closing.GO_AWAY, 1)
    session.take_events()
    assert session.attach(Receiver(transports.XHR), 2) == Output([b'a["x"]\n'], end=True)
    assert session.take_events() == []
    assert session.attach(Receiver(transports.XHR), 3).chunks == [b'c[3000,"Go away!"]\n']
    assert session.take_events() == [E.CLOSE_WRITTEN]
