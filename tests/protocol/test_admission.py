"""Admission (sockjs/protocol/admission.py) and the request limits of errors.py."""

from __future__ import annotations

import pytest

from sockjs.protocol import admission, closing, transports
from sockjs.protocol.admission import Admission
from sockjs.protocol.errors import OriginRefused, PeerError, TooManyMessages, check_message_count
from sockjs.protocol.options import Options
from sockjs.protocol.session import Receiver, Session


def gate(**settings: object) -> Admission:
    return Admission(Options(**settings))  # type: ignore[arg-type]


def session(ip: str = "10.0.0.1") -> Session:
    return Session("s", Options(), 0.0, ip=ip)


def test_refusals_carry_their_close_frames() -> None:
    """The documented close frames (docs/settings.rst, handlers/websocket.py docstring)."""
    assert admission.TOO_MANY_SESSIONS.close == closing.TOO_MANY_SESSIONS
    assert (closing.TOO_MANY_SESSIONS.code, closing.TOO_MANY_SESSIONS.reason) == (
        1013,
        "Too many sessions",
    )
    assert closing.TOO_MANY_SESSIONS_FROM_IP.reason == "Too many sessions from this address"
    assert (closing.TOO_MANY_MESSAGES.code, closing.TOO_MANY_MESSAGES.reason) == (
        1009,
        "Too many messages in one frame",
    )
    assert (closing.GOING_AWAY.code, closing.GOING_AWAY.reason) == (1001, "Server going away")
    assert admission.IP_MISMATCH.close == admission.SECOND_RECEIVER.close
    assert closing.ANOTHER_CONNECTION.code == 2010
    assert admission.STOPPED.close is None and admission.STOPPED.status == 503


def test_errors_carry_their_answers() -> None:
    error = TooManyMessages()
    assert isinstance(error, PeerError)
    assert (error.status, error.body, error.kind) == (
        413,
        "Too many messages in one request.",
        "too_many_messages",
    )
    refused = OriginRefused()
    assert (refused.status, refused.body, refused.kind) == (403, "Unverified origin.", "bad_origin")


def test_check_message_count() -> None:
    check_message_count([], 1)
    check_message_count([1, 2, 3], 3)
    with pytest.raises(TooManyMessages, match="4 messages in one request, limit 3"):
        check_message_count([1, 2, 3, 4], 3)


def test_unlimited_admission_admits_everything() -> None:
    doors = gate(max_sessions=None)
    for key in range(1000):
        assert doors.admit(None, "1.2.3.4") is None
        doors.count(key, "1.2.3.4")
    assert doors.sessions() == 1000
    assert doors.sessions("1.2.3.4") == 1000


def test_overall_limit() -> None:
    doors = gate(max_sessions=2)
    doors.count("a", "10.0.0.1")
    assert doors.admit(None, "10.0.0.2") is None
    doors.count("b", "10.0.0.2")
    assert doors.admit(None, "10.0.0.3") is admission.TOO_MANY_SESSIONS
    doors.release("a")
    assert doors.admit(None, "10.0.0.3") is None


def test_per_ip_limit_leaves_other_clients_alone() -> None:
    doors = gate(max_sessions_per_ip=2)
    doors.count("a", "10.0.0.1")
    doors.count("b", "10.0.0.1")
    assert doors.admit(None, "10.0.0.1") is admission.TOO_MANY_SESSIONS_FROM_IP
    assert doors.admit(None, "10.0.0.2") is None
    doors.release("b")
    assert doors.admit(None, "10.0.0.1") is None


def test_overall_limit_is_checked_first() -> None:
    doors = gate(max_sessions=1, max_sessions_per_ip=1)
    doors.count("a", "10.0.0.1")
    assert doors.admit(None, "10.0.0.1") is admission.TOO_MANY_SESSIONS


def test_count_and_release_are_idempotent() -> None:
    """Every close path may release; a key counts once and releases once."""
    doors = gate(max_sessions=10, max_sessions_per_ip=10)
    doors.count("a", "10.0.0.1")
    doors.count("a", "10.0.0.1")
    assert doors.sessions() == 1
    assert doors.sessions("10.0.0.1") == 1
    doors.release("a")
    doors.release("a")
    doors.release("never-added")
    assert doors.sessions() == 0
    assert doors.sessions("10.0.0.1") == 0
    # The per-address table does not keep addresses that have no session left.
    assert doors._by_ip == {}


def test_a_stopping_service_refuses_new_sessions_only() -> None:
    """A graceful shutdown: new sessions get c[1001]; existing ones may still poll."""
    doors = gate()
    doors.stopping = True
    assert doors.admit(None, "10.0.0.1") is admission.SHUTTING_DOWN
    assert doors.admit(session(), "10.0.0.1") is None


def test_a_stopped_service_refuses_everything() -> None:
    doors = gate()
    doors.stopped = True
    assert doors.admit(None, "10.0.0.1") is admission.STOPPED
    assert doors.admit(session(), "10.0.0.1") is admission.STOPPED


def test_verify_ip_refuses_another_address() -> None:
    """verify_ip: a receiver from another address than the session's gets c[2010]."""
    assert gate().admit(session("10.0.0.1"), "10.0.0.2") is admission.IP_MISMATCH
    assert gate(verify_ip=False).admit(session("10.0.0.1"), "10.0.0.2") is None


def test_a_second_receiver_is_refused() -> None:
    """PROTOCOL.md 6.3 step 2: one receiver at a time; the session is untouched."""
    busy = session()
    busy.attach(Receiver(transports.XHR_STREAMING), 0.0)
    assert gate().admit(busy, "10.0.0.1") is admission.SECOND_RECEIVER
    assert busy.receiver is not None
