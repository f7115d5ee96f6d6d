"""What the SockJS server does with each WebSocket event (sockjs/protocol/websocket.py)."""

from __future__ import annotations

import pytest

from sockjs.protocol import closing
from sockjs.protocol import websocket as rules
from sockjs.protocol.websocket import CloseSession, Fail, ProtocolError


def test_sockjs_messages_are_decoded() -> None:
    """Checklist 109: an array delivers its elements; any other JSON value is one message."""
    assert rules.sockjs_message('["a","b"]', 10) == ["a", "b"]
    assert rules.sockjs_message('"a"', 10) == ["a"]
    assert rules.sockjs_message("", 10) == []


def test_broken_json_fails_the_socket_without_a_c_frame() -> None:
    """PROTOCOL.md 7.8, 10.1 item 13: Close 3000 "Broken framing.", no c frame first."""
    decision = rules.sockjs_message('["a"', 10)
    assert isinstance(decision, Fail)
    assert decision.close is closing.BROKEN_FRAMING
    assert (decision.close.code, decision.close.reason) == (3000, "Broken framing.")
    assert decision.fault.kind == "bad_json" and decision.fault.limit is None


def test_too_many_messages_close_the_session() -> None:
    decision = rules.sockjs_message('["a","b","c"]', 2)
    assert isinstance(decision, CloseSession)
    assert decision.close is closing.TOO_MANY_MESSAGES
    assert decision.fault.limit == "max_messages_per_request"
    assert "3 messages" in decision.fault.detail


def test_binary_messages_are_refused_with_1003() -> None:
    decision = rules.binary_message()
    assert decision.close is closing.BINARY_REFUSED and decision.close.code == 1003
    assert decision.fault.kind == "binary_message"


@pytest.mark.parametrize(
    ("code", "kind", "limit"),
    [
        (1009, "message_too_big", "max_message_size"),
        (1007, "invalid_utf8", None),
        (1002, "ws_protocol_error", None),
        (1011, "ws_protocol_error", None),
    ],
)
def test_protocol_errors_are_classified(code: int, kind: str, limit: str | None) -> None:
    close, fault = rules.protocol_error(ProtocolError(code, "why"))
    assert (close.code, close.reason, close.initiator) == (code, "why", "server")
    assert (fault.kind, fault.limit, fault.detail) == (kind, limit, "why")


def test_the_close_frame_after_a_c_frame() -> None:
    """The generic 1000 after any session close (sockjs-node); 1001 for a shutdown."""
    assert rules.close_after(closing.by_application(3001, "x")) is closing.NORMAL_CLOSURE
    assert rules.close_after(closing.SLOW_CONSUMER) is closing.NORMAL_CLOSURE
    assert rules.close_after(closing.GOING_AWAY) is closing.GOING_AWAY


def test_raw_close_sends_only_codes_a_close_frame_may_carry() -> None:
    assert rules.raw_close(closing.by_application(4001, "mine")) == (4001, "mine")
    assert rules.raw_close(closing.by_application(2010, "kept")) == (1000, "kept")
    assert rules.raw_close(closing.by_application(1000, "\ud800x")) == (1000, "?x")
