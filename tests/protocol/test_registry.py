"""Session table and deadline heap."""

from sockjs.protocol import closing, transports
from sockjs.protocol.options import Options
from sockjs.protocol.registry import SessionRegistry
from sockjs.protocol.session import Receiver, SessionState

OPTS = Options(heartbeat_delay=25, disconnect_delay=5)


def test_create_get_discard() -> None:
    registry = SessionRegistry(OPTS)
    session = registry.create("a", 0)
    assert registry.get("a") is session
    assert registry.get("b") is None
    assert len(registry) == 1
    assert registry.http_session_count == 1
    assert list(registry) == [session]
    registry.discard(session)
    assert registry.get("a") is None
    assert len(registry) == 0
    registry.discard(session)  # twice is harmless


def test_discard_keeps_a_newer_session_with_the_same_id() -> None:
    registry = SessionRegistry(OPTS)
    old = registry.create("a", 0)
    new = registry.create("a", 1)
    registry.discard(old)
    assert registry.get("a") is new


def test_anonymous_sessions_are_scheduled_not_named() -> None:
    """WebSocket sessions have no id in the table (PROTOCOL.md 6.1)."""
    registry = SessionRegistry(OPTS)
    session = registry.create_anonymous(0)
    assert session.session_id is None
    assert registry.http_session_count == 0
    assert len(registry) == 1
    assert registry.next_deadline() == 5
    registry.discard(session)
    assert len(registry) == 0


def test_next_deadline_and_due() -> None:
    registry = SessionRegistry(OPTS)
    assert registry.next_deadline() is None
    a = registry.create("a", 0)
    b = registry.create("b", 1)
    assert registry.next_deadline() == 5
    assert registry.due(4.9) == []
    assert registry.due(5) == [a]
    a.handle_timer(5)
    assert a.state == SessionState.CLOSED
    assert registry.next_deadline() == 6
    assert registry.due(10) == [b]


def test_moved_deadlines_invalidate_old_entries() -> None:
    registry = SessionRegistry(OPTS)
    session = registry.create("a", 0)
    session.attach(Receiver(transports.XHR_STREAMING), 1)  # deadline -> 26 (heartbeat)
    assert registry.next_deadline() == 26
    assert registry.due(10) == []
    assert registry.due(26) == [session]


def test_heap_is_compacted() -> None:
    registry = SessionRegistry(OPTS)
    session = registry.create("a", 0)
    for now in range(3000):
        session.attach(Receiver(transports.XHR_STREAMING), float(now))
        session.detach(float(now))
    assert len(registry._heap) <= 4 * len(registry) + 1025
    assert registry.next_deadline() == 2999 + 5


def test_forgotten_session_has_no_deadline() -> None:
    registry = SessionRegistry(OPTS)
    session = registry.create("a", 0)
    session.forget(closing.GOING_AWAY)
    assert registry.next_deadline() is None


def test_due_skips_stale_entries() -> None:
    registry = SessionRegistry(OPTS)
    session = registry.create("a", 0)
    session.attach(Receiver(transports.XHR_STREAMING), 1)
    assert registry.due(10) == []  # the stale 5.0 entry is dropped, 26 is not due
