"""Session.send's direct path gives what the queue-then-flush path gives."""

from sockjs.protocol import frames, transports
from sockjs.protocol.options import Options
from sockjs.protocol.session import Output, Receiver, Session

OPTS = Options(heartbeat_delay=25, disconnect_delay=5, response_limit=4096, max_queued_bytes=100)


def opened(receiver: Receiver) -> Session:
    session = Session("s", OPTS, 0.0)
    session.attach(receiver, 0.0)
    return session


def test_message_frame_is_messages_frame_of_one() -> None:
    for encoded in ['"x"', "[1,2]", '{"a":"\\u2028"}', ""]:
        assert frames.message_frame(encoded) == frames.messages_frame([encoded])


def test_direct_send_on_a_stream_counts_against_the_limit() -> None:
    receiver = Receiver(transports.XHR_STREAMING)
    session = opened(receiver)
    sent_before = receiver.sent
    assert session.send('"x"', 1.0) == Output([b'a["x"]\n'])
    assert receiver.sent == sent_before + len(b'a["x"]\n')


def test_direct_send_on_a_poll_ends_it() -> None:
    session = Session("s", OPTS, 0.0)
    session.attach(Receiver(transports.XHR), 0.0)  # the open frame ends that poll
    session.attach(Receiver(transports.XHR), 1.0)
    assert session.send('"x"', 2.0) == Output([b'a["x"]\n'], end=True)
    assert session.receiver is None
    assert session.deadline == 2.0 + OPTS.disconnect_delay


def test_queued_messages_go_first_when_the_receiver_was_unpaused_directly() -> None:
    # Only reachable if an adapter flips ``paused`` itself instead of calling
    # resume(): the queue is then flushed with the new message, in order.
    receiver = Receiver(transports.WEBSOCKET)
    session = opened(receiver)
    session.pause()
    assert session.send('"a"', 1.0) is None
    receiver.paused = False
    assert session.send('"b"', 2.0) == Output([b'a["a","b"]'])
