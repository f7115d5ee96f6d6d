"""The glue between core sessions and the application (``_session.py``, ``_service.py``).

Application hooks, refusals, errors, sending values, close replay, the
single-receiver rule, ``verify_ip`` and broadcast, all driven by real
requests (PROTOCOL.md 6.3-6.7).
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import NO_CACHE, PRELUDE, LogCapture, Server, new_sid, recording
from twisted.internet.defer import Deferred

import sockjs.cyclone._service as service_module
from sockjs.cyclone import SockJSConnection
from sockjs.cyclone.proto import json_decode, json_encode

GO_AWAY = b'c[3000,"Go away!"]\n'
INTERNAL_ERROR = b'c[1011,"Internal server error"]\n'

# ---------------------------------------------------------------------------
# connectionMade
# ---------------------------------------------------------------------------


def test_on_open_runs_after_the_open_frame(logs: LogCapture) -> None:
    """Checklist 137: a message sent from connectionMade is not in the ``o`` response."""
    conn_class, events = recording(on_open=lambda conn, info: conn.sendMessage("welcome"))
    server = Server(conn_class)
    sid = new_sid()
    assert server.post(f"/000/{sid}/xhr").body == b"o\n"
    assert events.names() == ["made"]
    assert server.post(f"/000/{sid}/xhr").body == b'a["welcome"]\n'
    stream = server.poll(new_sid(), "xhr_streaming")
    assert stream.response().chunks == [PRELUDE, b"o\n", b'a["welcome"]\n']


def test_close_from_on_open(logs: LogCapture) -> None:
    """Checklist 137, 138: close() in connectionMade goes to the next poll; lost once."""
    conn_class, events = recording(on_open=lambda conn, info: conn.close())
    server = Server(conn_class)
    sid = new_sid()
    assert server.post(f"/000/{sid}/xhr").body == b"o\n"
    assert server.post(f"/000/{sid}/xhr").body == GO_AWAY
    assert server.post(f"/000/{sid}/xhr").body == GO_AWAY
    assert events.names() == ["made", "lost"]


@pytest.mark.parametrize("transport", ["xhr", "xhr_streaming"])
def test_refused_by_returning_false(transport: str) -> None:
    """connectionMade returning False: the client gets c[3000,"Go away!"], the app nothing more."""
    conn_class, events = recording(on_open=lambda conn, info: False)
    server = Server(conn_class)
    sid = new_sid()
    first = server.poll(sid, transport).response()
    if transport == "xhr":
        assert first.body == b"o\n"
        assert server.post(f"/000/{sid}/xhr").body == GO_AWAY
    else:
        assert first.chunks == [PRELUDE, b"o\n", GO_AWAY]
        assert first.complete
    assert server.send(sid, "ignored").status == 204
    assert events.names() == ["made"]
    assert server.router.connections == []
    server.advance(5.001)
    assert server.router.session_count == 0
    assert events.names() == ["made"]


@pytest.mark.parametrize("transport", ["xhr", "xhr_streaming"])
def test_refused_by_raising(transport: str, logs: LogCapture) -> None:
    """connectionMade raising: logged, and the session closes with 1011 (no connectionLost)."""

    def explode(conn: SockJSConnection, info: Any) -> None:
        raise ValueError("no thanks")

    conn_class, events = recording(on_open=explode)
    server = Server(conn_class)
    sid = new_sid()
    first = server.poll(sid, transport).response()
    if transport == "xhr":
        assert server.post(f"/000/{sid}/xhr").body == INTERNAL_ERROR
    else:
        assert first.chunks == [PRELUDE, b"o\n", INTERNAL_ERROR]
    server.send(sid, "ignored")
    assert events.names() == ["made"]
    (failure,) = logs.take_failures()
    assert failure["log_failure"].check(ValueError)


def test_refusal_after_closing_itself_does_not_close_twice(logs: LogCapture) -> None:
    """An app that closes with its own code and then returns False keeps its code."""

    def close_then_refuse(conn: SockJSConnection, info: Any) -> bool:
        conn.close(4000, "mine")
        return False

    conn_class, events = recording(on_open=close_then_refuse)
    server = Server(conn_class)
    sid = new_sid()
    server.post(f"/000/{sid}/xhr")
    assert server.post(f"/000/{sid}/xhr").body == b'c[4000,"mine"]\n'
    assert events.names() == ["made", "lost"]


# ---------------------------------------------------------------------------
# messageReceived and connectionLost failures
# ---------------------------------------------------------------------------


def test_message_received_raising_closes_with_1011(logs: LogCapture) -> None:
    """A failing messageReceived is logged and closes that session with 1011, not the server."""

    def fragile(conn: SockJSConnection, message: Any) -> None:
        if message == "bad":
            raise KeyError(message)
        conn.sendMessage(message)

    conn_class, events = recording(on_message=fragile)
    server = Server(conn_class)
    sid = server.open()
    other = server.open()
    assert server.send(sid, "ok", "bad", "never").status == 204
    assert events.messages() == ["ok", "bad"]
    assert events.count("lost") == 1
    assert server.post(f"/000/{sid}/xhr").body == b'a["ok"]\n'
    assert server.post(f"/000/{sid}/xhr").body == b'c[1011,"Internal server error"]\n'
    (failure,) = logs.take_failures()
    assert failure["log_failure"].check(KeyError)
    # Other sessions are unaffected.
    server.send(other, "fine")
    assert server.post(f"/000/{other}/xhr").body == b'a["fine"]\n'


def test_message_received_raising_on_a_stream(logs: LogCapture) -> None:
    """The close frame reaches an attached stream at once."""

    def explode(conn: SockJSConnection, message: Any) -> None:
        raise RuntimeError("boom")

    conn_class, _ = recording(on_message=explode)
    server = Server(conn_class)
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    server.send(sid, "x")
    response = stream.response()
    assert response.chunks == [PRELUDE, b"o\n", b'c[1011,"Internal server error"]\n']
    assert response.complete
    assert len(logs.take_failures()) == 1


def test_connection_lost_raising_is_logged(logs: LogCapture) -> None:
    """A failing connectionLost does not stop the session from going away."""

    def explode(conn: SockJSConnection) -> None:
        raise RuntimeError("lost badly")

    conn_class, events = recording(on_close=explode)
    server = Server(conn_class)
    sid = server.open()
    server.advance(5.001)
    assert events.count("lost") == 1
    assert server.router.session_count == 0
    assert server.send(sid, "x").status == 404
    assert len(logs.take_failures()) == 1


# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "frame"),
    [
        ("text", b'a["text"]\n'),
        ({"a": 1, "b": [1, 2]}, b'a[{"a":1,"b":[1,2]}]\n'),
        ([1, "two", None], b'a[[1,"two",null]]\n'),
        (42, b"a[42]\n"),
        (2.5, b"a[2.5]\n"),
        (True, b"a[true]\n"),
        (None, b"a[null]\n"),
        ("caf\u00e9 \u2028", b'a["caf\\u00e9 \\u2028"]\n'),
    ],
)
def test_send_message_values(value: Any, frame: bytes) -> None:
    """sendMessage: strings arrive as strings, other JSON values as themselves."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    events.conns[0].sendMessage(value)
    assert server.post(f"/000/{sid}/xhr").body == frame


def test_messages_buffered_without_receiver_share_one_frame(server: Server) -> None:
    """Checklist 56, 139: eight sends with no poll pending -> one frame, in order."""
    sid = server.open()
    for _ in range(8):
        server.send(sid, "a")
    assert server.post(f"/000/{sid}/xhr").body == b'a["a","a","a","a","a","a","a","a"]\n'


def test_send_after_close_is_ignored() -> None:
    """PROTOCOL.md 6.4: a session that is not OPEN drops sends; is_closed says so."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    (conn,) = events.conns
    assert not conn.is_closed
    conn.sendMessage("before")
    conn.close(4001, "done")
    assert conn.is_closed
    conn.sendMessage("after")
    conn.close()  # a second close changes nothing
    # 6.3 step 4: what was queued before the close, then the close frame.
    assert server.post(f"/000/{sid}/xhr").body == b'a["before"]\n'
    assert server.post(f"/000/{sid}/xhr").body == b'c[4001,"done"]\n'
    assert events.count("lost") == 1


def test_close_with_buffered_messages_on_a_poll() -> None:
    """PROTOCOL.md 6.7: a parked poll gets the queued messages; the next one the close frame."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    (conn,) = events.conns
    conn.sendMessage("queued")
    poll_first = server.post(f"/000/{sid}/xhr")
    assert poll_first.body == b'a["queued"]\n'
    parked = server.poll(sid)
    conn.close(3001, "bye")
    assert parked.response().body == b'c[3001,"bye"]\n'


def test_close_on_a_stream_flushes_then_ends() -> None:
    """A close with an attached stream writes the close frame and ends the response."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    events.conns[0].close()
    response = stream.response()
    assert response.chunks == [PRELUDE, b"o\n", GO_AWAY]
    assert response.complete
    assert events.count("lost") == 1


def test_max_queued_bytes_without_receiver_closes_with_1013() -> None:
    """Messages piling up with no receiver close the session; the next poll hears why."""
    conn_class, events = recording()
    server = Server(conn_class, settings={"max_queued_bytes": 20})
    sid = server.open()
    (conn,) = events.conns
    conn.sendMessage("0123456789")
    assert not conn.is_closed
    conn.sendMessage("0123456789")
    assert conn.is_closed
    assert events.count("lost") == 1
    body = server.post(f"/000/{sid}/xhr").body
    assert body == b'c[1013,"Slow consumer: too many queued bytes"]\n'


# ---------------------------------------------------------------------------
# Single receiver, verify_ip
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("second", ["xhr", "jsonp", "eventsource"])
def test_another_receiver_gets_2010(server: Server, second: str) -> None:
    """Checklist 75, 131 (6.3 step 2): the 2010 frame in the second transport's wrapping."""
    sid = server.open()
    first = server.poll(sid, "xhr_streaming")
    query = "?c=cb" if second == "jsonp" else ""
    client = server.client()
    method = "POST" if second == "xhr" else "GET"
    client.request(method, f"/echo/000/{sid}/{second}{query}")
    body = client.response().body
    frame = 'c[2010,"Another connection still open"]'
    expected = {
        "xhr": frame.encode() + b"\n",
        "jsonp": b'cb("c[2010,\\"Another connection still open\\"]");\r\n',
        "eventsource": b"\r\ndata: " + frame.encode() + b"\r\n\r\n",
    }[second]
    assert body == expected
    server.send(sid, "x")
    assert first.response().chunks[-1] == b'a["x"]\n'


def test_verify_ip_refuses_a_receiver_from_another_ip(server: Server) -> None:
    """verify_ip (default on): a receiver from another address gets c[2010,...]."""
    sid = new_sid()
    assert server.post(f"/000/{sid}/xhr", ip="10.0.0.1").body == b"o\n"
    server.post(f"/000/{sid}/xhr_send", b'["for the owner"]', ip="10.0.0.1")
    stranger = server.post(f"/000/{sid}/xhr", ip="10.0.0.2")
    assert stranger.body == b'c[2010,"Another connection still open"]\n'
    owner = server.post(f"/000/{sid}/xhr", ip="10.0.0.1")
    assert owner.body == b'a["for the owner"]\n'


def test_verify_ip_treats_ipv4_mapped_addresses_as_ipv4(server: Server) -> None:
    """``::ffff:1.2.3.4`` is the same client as ``1.2.3.4``."""
    sid = new_sid()
    server.post(f"/000/{sid}/xhr", ip="10.0.0.1")
    assert server.post(f"/000/{sid}/xhr_send", b'["x"]', ip="::ffff:10.0.0.1").status == 204
    assert server.post(f"/000/{sid}/xhr", ip="::ffff:10.0.0.1").body == b'a["x"]\n'


def test_verify_ip_off_accepts_any_address() -> None:
    """With verify_ip False the session follows the client across addresses."""
    server = Server(settings={"verify_ip": False})
    sid = new_sid()
    server.post(f"/000/{sid}/xhr", ip="10.0.0.1")
    server.send(sid, "x")
    assert server.post(f"/000/{sid}/xhr", ip="10.0.0.2").body == b'a["x"]\n'


def test_senders_from_another_ip_are_refused() -> None:
    """verify_ip covers senders too (issue 18): 403, nothing delivered, the owner still sends."""
    connection, events = recording(echo=False)
    server = Server(connection)
    sid = new_sid()
    server.post(f"/000/{sid}/xhr", ip="10.0.0.1")
    for transport, body in (("xhr_send", b'["x"]'), ("jsonp_send", b"d=%5B%22x%22%5D")):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        stranger = server.post(f"/000/{sid}/{transport}", body, ip="10.0.0.9", headers=headers)
        assert (stranger.status, stranger.body) == (403, b"Session opened from another IP address.")
        assert stranger.header("Cache-Control") == NO_CACHE  # the session headers stay
    assert events.messages() == []
    assert server.post(f"/000/{sid}/xhr_send", b'["y"]', ip="10.0.0.1").status == 204
    assert events.messages() == ["y"]
    assert server.router.stats.dump()["errors_ip_mismatch"] == 2


def test_senders_from_another_ip_are_delivered_without_verify_ip() -> None:
    """verify_ip False: a sender from elsewhere delivers (as before 2.0)."""
    server = Server(settings={"verify_ip": False})
    sid = new_sid()
    server.post(f"/000/{sid}/xhr", ip="10.0.0.1")
    assert server.post(f"/000/{sid}/xhr_send", b'["x"]', ip="10.0.0.9").status == 204
    assert server.post(f"/000/{sid}/xhr", ip="10.0.0.1").body == b'a["x"]\n'


# ---------------------------------------------------------------------------
# Broadcast
# ---------------------------------------------------------------------------


def test_broadcast_encodes_once_for_1000_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broadcast encodes the message once and queues it on every open session."""
    server = Server()
    sids = [server.open() for _ in range(1000)]
    calls: list[Any] = []
    original = service_module.encode_message

    def counting(message: Any) -> str:
        calls.append(message)
        return original(message)

    monkeypatch.setattr(service_module, "encode_message", counting)
    conns = server.router.connections
    assert len(conns) == 1000
    server.router.broadcast(conns, {"news": "x"})
    assert calls == [{"news": "x"}]
    for sid in (sids[0], sids[499], sids[-1]):
        assert server.post(f"/000/{sid}/xhr").body == b'a[{"news":"x"}]\n'


def test_broadcast_from_a_connection_reaches_attached_receivers() -> None:
    """``conn.broadcast`` writes at once to attached receivers; skips closed sessions."""
    conn_class, events = recording()
    server = Server(conn_class)
    first, second, third = server.open(), server.open(), server.open()
    stream = server.poll(new_sid(), "xhr_streaming")
    poll = server.poll(first)
    events.conns[2].close()
    events.conns[0].broadcast(events.conns, "hello")
    assert poll.response().body == b'a["hello"]\n'
    assert stream.response().chunks[-1] == b'a["hello"]\n'
    assert server.post(f"/000/{second}/xhr").body == b'a["hello"]\n'
    assert server.post(f"/000/{third}/xhr").body == GO_AWAY


def test_broadcast_counts_the_sessions_it_sent_to_and_closes_slow_consumers() -> None:
    """Counted once per session that took it; one over max_queued_bytes gets 1013, not the rest."""
    conn_class, events = recording()
    server = Server(conn_class, settings={"max_queued_bytes": 30})
    slow, fine, closed = server.open(), server.open(), server.open()
    events.conns[0].sendMessage("x" * 20)  # slow: nobody polls it, 22 bytes queued
    events.conns[2].close()
    before = server.router.stats.dump()["messages_sent"]
    server.router.broadcast([*server.router.connections, events.conns[2]], "y" * 10)
    assert server.router.stats.dump()["messages_sent"] == before + 2  # slow and fine
    slow_consumer = b'c[1013,"Slow consumer: too many queued bytes"]\n'
    assert server.post(f"/000/{slow}/xhr").body == slow_consumer
    assert server.post(f"/000/{fine}/xhr").body == b'a["yyyyyyyyyy"]\n'
    assert server.post(f"/000/{closed}/xhr").body == GO_AWAY
    assert events.count("lost") == 2
    # The service's timer was re-armed: every session expires on time.
    server.advance(server.options.disconnect_delay + 0.001)
    assert server.router.session_count == 0


def test_broadcast_ignores_objects_that_cannot_receive(server: Server) -> None:
    """Anything without a session to send to is skipped (no error)."""
    sid = server.open()
    conns = server.router.connections
    server.router.broadcast([object(), None, "text", *conns], "x")
    assert server.post(f"/000/{sid}/xhr").body == b'a["x"]\n'


# ---------------------------------------------------------------------------
# Misc
# ---------------------------------------------------------------------------


def test_session_handle_send_message_alias(server: Server) -> None:
    """``session.sendMessage`` is the old spelling of ``send_message``."""
    sid = server.open()
    (conn,) = server.router.connections
    conn.session.sendMessage("old")
    conn.session.send_message("new")
    assert server.post(f"/000/{sid}/xhr").body == b'a["old","new"]\n'


def test_proto_module_names() -> None:
    """``sockjs.cyclone.proto`` keeps the old JSON helper names."""
    assert json_encode({"a": "\u2028"}) == '{"a":"\\u2028"}'
    assert json_decode(b'{"a":1}') == {"a": 1}


def test_transport_name_is_recorded_on_info() -> None:
    """ConnectionInfo.transport names the transport that opened the session."""
    conn_class, events = recording()
    server = Server(conn_class)
    server.open()
    server.poll(new_sid(), "xhr_streaming")
    server.poll(new_sid(), "jsonp", query="?c=cb")
    server.poll(new_sid(), "eventsource")
    server.poll(new_sid(), "htmlfile", query="?c=cb")
    names = [info.transport for info in events.infos]
    assert names == ["xhr", "xhr_streaming", "jsonp", "eventsource", "htmlfile"]


# ---------------------------------------------------------------------------
# Asynchronous hooks
# ---------------------------------------------------------------------------


def test_messages_wait_for_an_asynchronous_connection_made() -> None:
    """A Deferred from connectionMade holds incoming messages until it fires."""
    gate: Deferred[None] = Deferred()
    conn_class, events = recording(on_open=lambda conn, info: gate)
    server = Server(conn_class)
    sid = server.open()
    server.send(sid, "a", "b")
    server.send(sid, "c")
    assert events.messages() == []
    gate.callback(None)
    assert events.messages() == ["a", "b", "c"]
    assert server.post(f"/000/{sid}/xhr").body == b'a["a","b","c"]\n'


@pytest.mark.parametrize("outcome", ["false", "failure"])
def test_asynchronous_refusal(outcome: str, logs: LogCapture) -> None:
    """A Deferred firing False refuses the session; one failing closes it with 1011."""
    gate: Deferred[Any] = Deferred()
    conn_class, events = recording(on_open=lambda conn, info: gate)
    server = Server(conn_class)
    sid = server.open()
    server.send(sid, "queued")
    if outcome == "false":
        gate.callback(False)
    else:
        gate.errback(RuntimeError("auth backend down"))
        (failure,) = logs.take_failures()
        assert failure["log_failure"].check(RuntimeError)
    expected = GO_AWAY if outcome == "false" else INTERNAL_ERROR
    assert server.post(f"/000/{sid}/xhr").body == expected
    assert events.names() == ["made"]


def test_coroutine_hooks_keep_message_order() -> None:
    """``async def`` hooks: the next message is delivered once the previous one finished."""
    gates: list[Deferred[None]] = []

    received: list[str] = []

    class Slow(SockJSConnection):
        async def messageReceived(self, message: Any) -> None:
            gate: Deferred[None] = Deferred()
            gates.append(gate)
            received.append(f"start {message}")
            await gate
            received.append(f"end {message}")
            self.sendMessage(message)

    server = Server(Slow)
    sid = server.open()
    server.send(sid, "1", "2")
    server.send(sid, "3")
    assert received == ["start 1"]
    gates[0].callback(None)
    assert received == ["start 1", "end 1", "start 2"]
    gates[1].callback(None)
    gates[2].callback(None)
    assert received == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]
    assert server.post(f"/000/{sid}/xhr").body == b'a["1","2","3"]\n'


@pytest.mark.parametrize("asynchronous", [False, True])
def test_messages_delivered_from_inside_the_hook_wait_their_turn(asynchronous: bool) -> None:
    """A delivery made while messageReceived runs is queued behind it, never nested."""
    received: list[str] = []
    gates: list[Deferred[None]] = []

    class Reentrant(SockJSConnection):
        def messageReceived(self, message: Any) -> Deferred[None] | None:
            received.append(f"start {message}")
            if message == "1":
                # As an in-process client answering synchronously would.
                self.session.deliver(["2"])
                self.session.deliver(["3", "4"])
            received.append(f"end {message}")
            if asynchronous and message == "1":
                gate: Deferred[None] = Deferred()
                gates.append(gate)
                return gate
            return None

    server = Server(Reentrant)
    sid = server.open()
    server.send(sid, "1")
    if asynchronous:
        assert received == ["start 1", "end 1"]
        gates[0].callback(None)
    assert received == [f"{step} {n}" for n in "1234" for step in ("start", "end")]
    server.send(sid, "5")  # and the session goes on as usual
    assert received[-2:] == ["start 5", "end 5"]


def test_single_message_hook_that_closes_the_session() -> None:
    """close() from the hook of a lone message: nothing more is delivered, lost once."""
    conn_class, events = recording(on_message=lambda conn, message: conn.close())
    server = Server(conn_class)
    sid = server.open()
    server.send(sid, "x")
    assert events.names() == ["made", "message", "lost"]
    assert server.post(f"/000/{sid}/xhr").body == GO_AWAY


def test_failing_asynchronous_message_handler_closes_with_1011(logs: LogCapture) -> None:
    """A Deferred from messageReceived that fails is an application error: 1011."""
    gate: Deferred[None] = Deferred()
    conn_class, events = recording(on_message=lambda conn, message: gate)
    server = Server(conn_class)
    sid = server.open()
    server.send(sid, "a", "b")
    assert events.messages() == ["a"]
    gate.errback(ValueError("bad a"))
    assert events.messages() == ["a"]
    assert events.count("lost") == 1
    assert server.post(f"/000/{sid}/xhr").body == b'c[1011,"Internal server error"]\n'
    assert len(logs.take_failures()) == 1


def test_failing_asynchronous_connection_lost_is_logged(logs: LogCapture) -> None:
    """A Deferred from connectionLost that fails is logged, nothing else."""
    gate: Deferred[None] = Deferred()
    conn_class, events = recording(on_close=lambda conn: gate)
    server = Server(conn_class)
    server.open()
    server.advance(5.001)
    gate.errback(RuntimeError("cleanup failed"))
    assert events.count("lost") == 1
    assert len(logs.take_failures()) == 1


# ---------------------------------------------------------------------------
# close_info
# ---------------------------------------------------------------------------


def _close_info_recorder() -> tuple[type[SockJSConnection], list[Any]]:
    seen: list[Any] = []
    conn_class, _ = recording(on_close=lambda conn: seen.append(conn.close_info))
    return conn_class, seen


def test_close_info_application_close() -> None:
    """``close_info`` tells code, reason and initiator inside connectionLost."""
    conn_class, seen = _close_info_recorder()
    server = Server(conn_class)
    server.open()
    conn = server.router.connections[0]
    assert conn.close_info is None
    conn.close(4000, "bye")
    (info,) = seen
    assert (info.code, info.reason, info.initiator) == (4000, "bye", "application")


def test_close_info_expiry_abort_error_and_stop(logs: LogCapture) -> None:
    """timeout (expiry), client (abort), server (app error, slow consumer, shutdown)."""

    def fragile(conn: SockJSConnection, message: Any) -> None:
        raise RuntimeError(message)

    seen: list[Any] = []
    conn_class, _ = recording(
        on_message=fragile, on_close=lambda conn: seen.append(conn.close_info)
    )
    server = Server(conn_class, settings={"max_queued_bytes": 5})
    server.open()
    server.advance(5.001)
    server.poll(new_sid(), "xhr_streaming").abort()
    server.send(server.open(), "x")
    server.open()
    server.router.connections[0].sendMessage("too long for the queue")
    server.open()
    server.router.stop()
    assert [(i.code, i.reason, i.initiator) for i in seen] == [
        (1000, "Session expired", "timeout"),
        (1002, "Connection interrupted", "client"),
        (1011, "Internal server error", "server"),
        (1013, "Slow consumer: too many queued bytes", "server"),
        (1001, "Server going away", "server"),
    ]
    assert len(logs.take_failures()) == 1


def test_messages_after_a_close_in_the_same_batch_are_dropped() -> None:
    """PROTOCOL.md 6.4: messages reach the app only while OPEN, even within one payload."""
    conn_class, events = recording(
        on_message=lambda conn, message: conn.close() if message == "stop" else None
    )
    server = Server(conn_class)
    sid = server.open()
    assert server.send(sid, "a", "stop", "b", "c").status == 204
    assert events.messages() == ["a", "stop"]
    assert events.count("lost") == 1
