"""Session admission and message-count limits (sockjs/protocol/limits.py)."""

import pytest

from sockjs.protocol.errors import PeerError
from sockjs.protocol.limits import (
    GOING_AWAY,
    TOO_MANY_MESSAGES_CLOSE,
    TOO_MANY_SESSIONS,
    TOO_MANY_SESSIONS_FROM_IP,
    OriginRefused,
    SessionLimiter,
    TooManyMessages,
    check_message_count,
)


def test_refusal_codes() -> None:
    """The documented close frames (docs/settings.rst, websocket.py docstring)."""
    assert TOO_MANY_SESSIONS == (1013, "Too many sessions")
    assert TOO_MANY_SESSIONS_FROM_IP == (1013, "Too many sessions from this address")
    assert TOO_MANY_MESSAGES_CLOSE == (1009, "Too many messages in one frame")
    assert GOING_AWAY == (1001, "Server going away")


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


def test_unlimited_limiter_admits_everything() -> None:
    limiter = SessionLimiter(None, None)
    for key in range(1000):
        assert limiter.refusal("1.2.3.4") is None
        limiter.add(key, "1.2.3.4")
    assert limiter.count() == 1000
    assert limiter.count("1.2.3.4") == 1000


def test_overall_limit() -> None:
    limiter = SessionLimiter(2, None)
    limiter.add("a", "10.0.0.1")
    assert limiter.refusal("10.0.0.2") is None
    limiter.add("b", "10.0.0.2")
    assert limiter.refusal("10.0.0.3") == TOO_MANY_SESSIONS
    limiter.release("a")
    assert limiter.refusal("10.0.0.3") is None


def test_per_ip_limit_leaves_other_clients_alone() -> None:
    limiter = SessionLimiter(None, 2)
    limiter.add("a", "10.0.0.1")
    limiter.add("b", "10.0.0.1")
    assert limiter.refusal("10.0.0.1") == TOO_MANY_SESSIONS_FROM_IP
    assert limiter.refusal("10.0.0.2") is None
    limiter.release("b")
    assert limiter.refusal("10.0.0.1") is None


def test_overall_limit_is_checked_first() -> None:
    limiter = SessionLimiter(1, 1)
    limiter.add("a", "10.0.0.1")
    assert limiter.refusal("10.0.0.1") == TOO_MANY_SESSIONS


def test_add_and_release_are_idempotent() -> None:
    """Every close path may release; a key counts once and releases once."""
    limiter = SessionLimiter(10, 10)
    limiter.add("a", "10.0.0.1")
    limiter.add("a", "10.0.0.1")
    assert limiter.count() == 1
    assert limiter.count("10.0.0.1") == 1
    limiter.release("a")
    limiter.release("a")
    limiter.release("never-added")
    assert limiter.count() == 0
    assert limiter.count("10.0.0.1") == 0
    # The per-address table does not keep addresses that have no session left.
    assert limiter._by_ip == {}
