"""The session state machine (PROTOCOL.md section 6) with plain numbers for time."""

import pytest

from sockjs.protocol import closing, transports
from sockjs.protocol.admission import Admission
from sockjs.protocol.closing import CloseInfo, Initiator
from sockjs.protocol.events import SessionEvent
from sockjs.protocol.options import Options
from sockjs.protocol.session import Output, Receiver, Session, SessionState, refusal
from sockjs.protocol.transports import Prepared

OPTS = Options(heartbeat_delay=25, disconnect_delay=5, response_limit=4096, max_queued_bytes=100)


class Recorder:
    """A scheduler that remembers every deadline it was told about."""

    def __init__(self) -> None:
        self.deadlines: list[float | None] = []

    def schedule(self, session: Session) -> None:
        self.deadlines.append(session.deadline)


def poll() -> Receiver:
    return Receiver(transports.XHR)


def stream() -> Receiver:
    return Receiver(transports.XHR_STREAMING)


UNLIMITED = transports.Wire("unlimited", True, b"", transports.XHR.wrap, limited=False)
GO_AWAY = closing.by_application(3000, "Go away!")


def bye(code: int = 1000, reason: str = "bye") -> CloseInfo:
    return closing.by_application(code, reason)


def new(now: float = 0.0, options: Options = OPTS) -> Session:
    return Session("s", options, now)


def test_new_session_waits_for_disconnect_delay() -> None:
    scheduler = Recorder()
    session = Session("s", OPTS, 10.0, scheduler)
    assert session.state == SessionState.CONNECTING
    assert session.deadline == 15.0
    assert scheduler.deadlines == [15.0]


def test_first_poll_gets_open_and_ends() -> None:
    """Checklists 55, 64, 137: o alone; the poll ends; disconnect timer runs."""
    session = new()
    output = session.attach(poll(), 1.0)
    assert session.take_events() == [SessionEvent.OPENED]
    assert output == Output([b"o\n"], end=True)
    assert session.state == SessionState.OPEN
    assert session.receiver is None
    assert session.deadline == 6.0


def test_messages_buffered_without_receiver_share_one_frame() -> None:
    """Checklists 56, 139."""
    session = new()
    session.attach(poll(), 0)
    for _ in range(8):
        assert session.send('"a"', 1) is None
    session.take_events()
    output = session.attach(poll(), 2)
    assert output.chunks == [b'a["a","a","a","a","a","a","a","a"]\n']
    assert session.take_events() == []


def test_parked_poll_released_by_send() -> None:
    """Checklists 66, 73."""
    session = new()
    session.attach(poll(), 0)
    assert session.attach(poll(), 1) == Output()
    assert session.deadline == 26  # heartbeat
    assert session.send('"x"', 2) == Output([b'a["x"]\n'], end=True)
    assert session.receiver is None
    assert session.deadline == 7


def test_second_receiver_gets_2010() -> None:
    """Checklists 75, 131: admission refuses it with c[2010]; the session is untouched."""
    session = new()
    first = stream()
    session.attach(first, 0)
    refused = Admission(OPTS).admit(session, "")
    assert refused is not None and refused.close is not None
    assert refusal(transports.XHR, refused.close) == Output(
        [b'c[2010,"Another connection still open"]\n'], end=True
    )
    assert session.receiver is first
    with pytest.raises(RuntimeError, match="already attached"):
        session.attach(poll(), 1)
    assert session.receiver is first


def test_heartbeat_on_parked_poll_and_stream() -> None:
    """Checklist 74: h after heartbeat_delay; a stream keeps going and re-arms."""
    session = new()
    session.attach(poll(), 0)
    session.attach(poll(), 1)
    assert session.handle_timer(25.9) is None  # not due yet
    assert session.handle_timer(26) == Output([b"h\n"], end=True)
    assert session.deadline == 31
    other = new()
    other.attach(stream(), 0)
    assert other.handle_timer(25) == Output([b"h\n"])
    assert other.deadline == 50


def test_expiry_closes() -> None:
    """Checklist 134: no receiver for disconnect_delay -> CLOSED."""
    session = new()
    session.attach(poll(), 0)
    assert session.handle_timer(4.999) is None
    assert session.state == SessionState.OPEN
    assert session.handle_timer(5) is None
    assert session.state == SessionState.CLOSED
    assert session.deadline is None
    assert session.handle_timer(100) is None


def test_poll_within_delay_keeps_session() -> None:
    """Checklist 135."""
    session = new()
    session.attach(poll(), 0)
    session.take_events()
    session.attach(poll(), 4)
    assert session.take_events() == []
    assert session.deadline == 29


def test_close_replay_for_polls() -> None:
    """Checklists 95, 128: o, then c[3000,...] twice; each replay re-arms."""
    session = new()
    session.attach(poll(), 0)
    assert session.close(GO_AWAY, 1) is None
    assert session.state == SessionState.CLOSING
    assert session.close(bye(3001, "again"), 1) is None  # only once
    for now in (2, 3):
        output = session.attach(poll(), now)
        assert output == Output([b'c[3000,"Go away!"]\n'], end=True)
        assert session.deadline == now + 5
    assert session.close_info == CloseInfo(3000, "Go away!", Initiator.APPLICATION)


def test_close_streaming_from_open() -> None:
    """Checklists 129, 130: o, c, end; a second stream gets c and ends (no 2010)."""
    session = new()
    assert session.attach(stream(), 0) == Output([b"o\n"])
    assert session.close(GO_AWAY, 0) == Output([b'c[3000,"Go away!"]\n'], end=True)
    assert session.receiver is None
    second = session.attach(stream(), 1)
    assert second == Output([b'c[3000,"Go away!"]\n'], end=True)


def test_close_flushes_queued_messages_first() -> None:
    session = new()
    session.attach(poll(), 0)
    session.send('"x"', 0)
    assert session.close(bye(), 0) is None
    output = session.attach(stream(), 1)
    assert output == Output([b'a["x"]\n', b'c[1000,"bye"]\n'], end=True)


def test_close_with_parked_poll_sends_queue_then_close_next() -> None:
    session = new()
    session.attach(poll(), 0)
    receiver = poll()
    receiver.paused = True
    session.attach(receiver, 0)
    session.send('"x"', 0)
    assert session.close(bye(), 0) == Output([b'a["x"]\n'], end=True)
    assert session.attach(poll(), 1) == Output([b'c[1000,"bye"]\n'], end=True)


def test_close_streaming_with_queue() -> None:
    session = new()
    receiver = stream()
    session.attach(receiver, 0)
    session.pause()
    session.send('"x"', 0)
    output = session.close(bye(), 0)
    assert output == Output([b'a["x"]\n', b'c[1000,"bye"]\n'], end=True)


def test_messages_ignored_unless_open() -> None:
    """Checklist 140."""
    session = new()
    assert not session.accepts_messages
    assert session.send('"x"', 0) is None
    session.attach(poll(), 0)
    assert session.accepts_messages
    session.close(bye(3000, "x"), 0)
    assert not session.accepts_messages
    assert session.send('"x"', 0) is None


def test_response_limit_ends_stream() -> None:
    """Checklists 80, 136: 2 + 31*134 >= 4096 ends after the 31st; the prelude does not count."""
    session = new()
    session.attach(stream(), 0)
    message = '"' + "x" * 128 + '"'
    for i in range(30):
        assert session.send(message, 0) == Output([b"a[" + message.encode() + b"]\n"]), i
    assert session.send(message, 0) == Output([b"a[" + message.encode() + b"]\n"], end=True)
    assert session.receiver is None
    assert session.state == SessionState.OPEN
    session.send('"later"', 1)
    session.take_events()
    assert session.attach(stream(), 2) == Output([b'a["later"]\n'])
    assert session.take_events() == []


def test_unlimited_receiver_never_ends() -> None:
    session = new(options=Options(response_limit=10))
    session.attach(Receiver(UNLIMITED), 0)
    for _ in range(5):
        assert session.send('"xxxxxxxx"', 0) is not None
    assert session.receiver is not None


def test_pause_queues_and_resume_flushes() -> None:
    session = new()
    receiver = stream()
    session.attach(receiver, 0)
    session.pause()
    assert receiver.paused
    assert session.send('"a"', 0) is None
    assert session.send('"b"', 0) is None
    assert session.resume(1) == Output([b'a["a","b"]\n'])
    assert session.resume(1) is None  # nothing queued


def test_pause_and_resume_without_receiver() -> None:
    session = new()
    session.pause()
    assert session.resume(0) is None


def test_slow_consumer_is_closed() -> None:
    """Past max_queued_bytes the session closes with 1013; the queue is dropped."""
    session = new()
    session.attach(stream(), 0)
    session.pause()
    big = '"' + "x" * 60 + '"'
    assert session.send(big, 0) is None
    output = session.send(big, 0)
    assert output == Output(
        [b'c[1013,"Slow consumer: too many queued bytes"]\n'], end=True, drop_connection=True
    )
    assert session.close_info is closing.SLOW_CONSUMER
    assert session.state == SessionState.CLOSING


def test_slow_consumer_without_receiver() -> None:
    session = new()
    session.attach(poll(), 0)
    big = '"' + "x" * 60 + '"'
    session.send(big, 0)
    assert session.send(big, 0) is None
    assert session.state == SessionState.CLOSING
    output = session.attach(poll(), 1)
    assert output.chunks == [b'c[1013,"Slow consumer: too many queued bytes"]\n']


def test_abort_closes_at_once() -> None:
    """Checklists 132, 133 (option a): the id is forgotten."""
    session = new()
    session.attach(poll(), 0)
    session.attach(poll(), 1)
    session.abort()
    assert session.state == SessionState.CLOSED
    assert session.receiver is None
    assert session.deadline is None


def test_attach_to_forgotten_session_reports_interruption() -> None:
    session = new()
    session.forget(closing.GOING_AWAY)
    output = session.attach(poll(), 0)
    assert output.chunks == [b'c[1002,"Connection interrupted"]\n']
    assert session.deadline is None
    output = session.attach(stream(), 0)
    assert output.chunks == [b'c[1002,"Connection interrupted"]\n']


def test_detach_without_receiver_is_harmless() -> None:
    session = new()
    session.detach(3)
    assert session.deadline == 5


def test_detach_after_forget_keeps_no_deadline() -> None:
    session = new()
    receiver = stream()
    session.attach(receiver, 0)
    session.state = SessionState.CLOSED
    session.detach(1)
    assert session.deadline == 25


@pytest.mark.parametrize("wire", [transports.EVENTSOURCE, transports.htmlfile("cb")])
def test_streaming_transports_wrap_frames(wire: transports.Wire) -> None:
    session = new()
    output = session.attach(Receiver(wire), 0)
    assert output.chunks == [wire.wrap("o")]


def test_jsonp_close_service() -> None:
    """Checklist 95."""
    session = new()
    wire = transports.jsonp("x")
    assert session.attach(Receiver(wire), 0).chunks == [b'x("o");\r\n']
    session.close(GO_AWAY, 0)
    for now in (1, 2):
        assert session.attach(Receiver(wire), now).chunks == [b'x("c[3000,\\"Go away!\\"]");\r\n']


def test_prepared_message_gives_the_same_bytes_built_once() -> None:
    """A broadcast's Prepared: same output as a plain send, one frame and wrap per wire."""
    wraps: list[str] = []
    counting = transports.Wire(
        "counting", True, b"", lambda frame: wraps.append(frame) or frame.encode()
    )
    prepared = Prepared('"x"')
    sessions = []
    for sid, receiver in [
        ("a", stream()),
        ("b", stream()),
        ("c", Receiver(transports.EVENTSOURCE)),
        ("d", Receiver(counting)),
        ("e", Receiver(counting)),
    ]:
        session = Session(sid, OPTS, 0)
        session.attach(receiver, 0)
        sessions.append(session)
    plain = Session("p", OPTS, 0)
    plain.attach(stream(), 0)
    expected = plain.send('"x"', 1)
    wraps.clear()  # the open frames
    outputs = [session.send('"x"', 1, prepared) for session in sessions]
    assert outputs[0] == outputs[1] == expected == Output([b'a["x"]\n'])
    assert outputs[2] == Output([b'data: a["x"]\r\n\r\n'])
    assert outputs[3] == outputs[4] == Output([b'a["x"]'])
    assert wraps == ['a["x"]']  # one wrap for the two sessions on that wire
    assert prepared.chunk(transports.XHR_STREAMING) is outputs[0].chunks[0]


def test_prepared_message_is_queued_like_any_other() -> None:
    """Without a receiver ready, a prepared message joins the queue as its encoded text."""
    session = new()
    session.attach(stream(), 0)
    session.pause()
    assert session.send('"x"', 1, Prepared('"x"')) is None
    assert session.send('"y"', 1, Prepared('"y"')) is None
    assert session.resume(2) == Output([b'a["x","y"]\n'])
