"""The public in-memory harness, ``sockjs.cyclone.testing``, used as users would.

Every test drives a real router (core, glue, timers, pub/sub) on a fake
clock through :class:`SockJSTestServer` clients; none opens a socket or
sleeps. The fixture stops each server and checks that no timer is left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from helpers import LogCapture
from twisted.internet.defer import Deferred

import sockjs.addons.testing as testing_module
from sockjs.cyclone import CloseInfo, ConnectionInfo, MultiplexConnection, SockJSConnection
from sockjs.cyclone.testing import ClientClosedError, SockJSTestServer, TestClient

MakeServer = Callable[..., SockJSTestServer]


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    """Build servers; at teardown stop each one and check that no timer is left."""
    servers: list[SockJSTestServer] = []

    def make(
        connection: type[SockJSConnection], settings: dict[str, Any] | None = None, **kw: Any
    ) -> SockJSTestServer:
        server = SockJSTestServer(connection, settings, **kw)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
        server.assert_no_timers()


class Echo(SockJSConnection):
    def messageReceived(self, message: Any) -> None:
        self.sendMessage(message)


class Recorder(SockJSConnection):
    """Records its hooks in a class-level log (reset by each test's subclass)."""

    log: ClassVar[list[tuple[str, Any]]]

    def connectionMade(self, info: ConnectionInfo) -> Any:
        self.log.append(("made", info))
        return None

    def messageReceived(self, message: Any) -> Any:
        self.log.append(("message", message))
        return None

    def connectionLost(self) -> None:
        self.log.append(("lost", self.close_info))


def initiator(client: TestClient) -> str | None:
    """Who closed the client's session, if it is closed."""
    info = client.close_info
    return None if info is None else info.initiator


def recorder(**hooks: Any) -> type[Recorder]:
    """A fresh Recorder subclass with its own log and optional hook overrides."""
    return type("Rec", (Recorder,), {"log": [], **hooks})


# ---------------------------------------------------------------------------
# Basics
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr_streaming", "xhr", "websocket"])
def test_echo(make_server: MakeServer, transport: str) -> None:
    server = make_server(Echo)
    client = server.open(transport=transport)
    assert client.frames == ["o"]
    client.send("hello", "wörld")
    client.send({"a": [1, 2]})
    assert client.received == ["hello", "wörld", {"a": [1, 2]}]
    assert client.pop_messages() == ["hello", "wörld", {"a": [1, 2]}]
    assert client.pop_messages() == []
    assert not client.closed
    assert isinstance(client.connection, Echo)
    assert server.connections == [client.connection]


def test_frames_show_the_wire_frames(make_server: MakeServer) -> None:
    server = make_server(Echo)
    client = server.open()
    client.send("a", "b")
    assert client.frames == ["o", 'a["a"]', 'a["b"]']  # streaming: one frame per send


def test_the_module_docstring_example() -> None:
    """The example in sockjs.cyclone.testing's docstring, verbatim in spirit."""

    class Chat(SockJSConnection):
        def connectionMade(self, info: ConnectionInfo) -> Any:
            if info.get_argument("name") is None:
                return False
            self.name = info.get_argument("name")
            self.subscribe("room")
            return None

        def messageReceived(self, message: Any) -> None:
            self.publish("room", f"{self.name}: {message}")

        def connectionLost(self) -> None:
            self.publish("room", f"{self.name} left")

    with SockJSTestServer(Chat, {"heartbeat_delay": 10}) as server:
        ann = server.open(arguments={"name": "ann"})
        bob = server.open(arguments={"name": "bob"})
        ann.send("hi")
        assert bob.pop_messages() == ["ann: hi"]
        assert ann.pop_messages() == ["ann: hi"]
        server.advance(10)
        assert bob.frames[-1] == "h"
        bob.disconnect()
        assert ann.pop_messages() == ["bob left"]
        assert bob.connection is not None
        assert bob.connection.close_info is not None
        assert bob.connection.close_info.initiator == "client"
        assert server.open().close_frame == (3000, "Go away!")
    server.assert_no_timers()


def test_broadcast_among_several_clients(make_server: MakeServer) -> None:
    class Room(SockJSConnection):
        members: ClassVar[set[SockJSConnection]] = set()

        def connectionMade(self, info: ConnectionInfo) -> None:
            self.members.add(self)

        def messageReceived(self, message: Any) -> None:
            self.broadcast(self.members, message)

        def connectionLost(self) -> None:
            self.members.discard(self)

    server = make_server(Room)
    clients = [server.open(transport=t) for t in ("xhr_streaming", "xhr", "websocket", "xhr")]
    clients[0].send("one")
    clients[2].send("two")
    for client in clients:
        assert client.pop_messages() == ["one", "two"]
    clients[1].disconnect()
    clients[3].send("three")
    assert [c.pop_messages() for c in clients] == [["three"], [], ["three"], ["three"]]
    assert len(Room.members) == 3


def test_connection_info_from_open(make_server: MakeServer) -> None:
    rec = recorder()
    server = make_server(rec, {"trusted_proxies": ["10.0.0.0/8"]}, prefix="/chat")
    server.open(
        ip="10.1.2.3",
        headers={"x-forwarded-for": "203.0.113.9", "User-Agent": "pytest"},
        cookies={"sid": "abc"},
        arguments={"room": "lobby", "tag": ["a", "b"]},
        transport="xhr",
    )
    info = rec.log[0][1]
    assert info.ip == "203.0.113.9"  # trusted proxy: the forwarded address counts
    assert info.get_header("User-Agent") == "pytest"
    assert info.get_header("X-Forwarded-For") == "203.0.113.9"
    assert info.get_cookie("sid").value == "abc"
    assert info.get_argument("room") == "lobby"
    assert info.arguments["tag"] == ["a", "b"]
    assert info.path == "/chat"
    assert info.transport == "xhr"
    # An untrusted peer's forwarding header is ignored.
    server.open(ip="192.0.2.7", headers={"X-Forwarded-For": "203.0.113.9"})
    assert rec.log[-1][1].ip == "192.0.2.7"


def test_cookie_header_is_parsed(make_server: MakeServer) -> None:
    rec = recorder()
    server = make_server(rec)
    server.open(headers={"Cookie": "a=1; b=2"})
    assert rec.log[0][1].get_cookie("b").value == "2"


def test_unknown_or_disabled_transport_is_refused(make_server: MakeServer) -> None:
    server = make_server(Echo, {"disabled_transports": ["websocket"]})
    with pytest.raises(ValueError, match="unknown transport"):
        server.open(transport="carrier_pigeon")
    with pytest.raises(ValueError, match="disabled"):
        server.open(transport="websocket")


def test_test_client_is_not_collected_by_pytest() -> None:
    assert TestClient.__test__ is False


# ---------------------------------------------------------------------------
# Refusal and asynchronous hooks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr_streaming", "xhr", "websocket"])
def test_refusal_by_connection_made_returning_false(
    make_server: MakeServer, transport: str
) -> None:
    rec = recorder(connectionMade=lambda self, info: self.log.append(("made", info)) or False)
    server = make_server(rec)
    client = server.open(transport=transport)
    assert client.close_frame == (3000, "Go away!")
    assert client.closed
    assert client.connection is None
    assert server.connections == []
    assert [name for name, _ in rec.log] == ["made"]  # no connectionLost after a refusal
    with pytest.raises(ClientClosedError):
        client.send("x")


def test_deferred_connection_made_holds_messages_in_order(make_server: MakeServer) -> None:
    gate: Deferred[None] = Deferred()

    def made(self: Recorder, info: ConnectionInfo) -> Deferred[None]:
        self.log.append(("made", info))
        return gate

    rec = recorder(connectionMade=made)
    server = make_server(rec)
    client = server.open()
    client.send("1", "2")
    client.send("3")
    assert [name for name, _ in rec.log] == ["made"]
    gate.callback(None)
    assert [value for name, value in rec.log if name == "message"] == ["1", "2", "3"]
    assert not client.closed


def test_coroutine_message_received_keeps_order(make_server: MakeServer) -> None:
    gates: list[Deferred[None]] = []

    class Slow(SockJSConnection):
        async def messageReceived(self, message: Any) -> None:
            gate: Deferred[None] = Deferred()
            gates.append(gate)
            await gate
            self.sendMessage(message)

    server = make_server(Slow)
    client = server.open(transport="xhr")
    client.send("a", "b")
    client.send("c")
    assert client.received == []
    assert len(gates) == 1  # "b" waits until "a" is handled
    while gates:
        gates.pop(0).callback(None)
    assert client.received == ["a", "b", "c"]


# ---------------------------------------------------------------------------
# close_info: who closed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr_streaming", "xhr", "websocket"])
def test_close_by_application(make_server: MakeServer, transport: str) -> None:
    rec = recorder(messageReceived=lambda self, message: self.close(4000, "bye " + message))
    server = make_server(rec)
    client = server.open(transport=transport)
    client.send("now")
    assert client.close_frame == (4000, "bye now")
    assert client.frames[-1] == 'c[4000,"bye now"]'
    lost = rec.log[-1]
    assert lost[0] == "lost"
    assert (lost[1].code, lost[1].reason, lost[1].initiator) == (4000, "bye now", "application")
    assert client.close_info is lost[1]


@pytest.mark.parametrize("transport", ["xhr_streaming", "xhr", "websocket"])
def test_close_by_client(make_server: MakeServer, transport: str) -> None:
    rec = recorder()
    server = make_server(rec)
    client = server.open(transport=transport)
    client.disconnect()
    client.disconnect()  # idempotent
    assert client.closed
    assert client.close_frame is None
    assert rec.log[-1][0] == "lost"
    assert rec.log[-1][1].initiator == "client"
    assert server.connections == []
    assert server.router.session_count == 0


def test_close_by_timeout_after_disconnect_delay(make_server: MakeServer) -> None:
    """Expiry: no receiving request for disconnect_delay (PROTOCOL.md 6.6)."""
    rec = recorder()
    server = make_server(rec, {"disconnect_delay": 5, "heartbeat_delay": 25})
    client = server.open(transport="xhr")
    client.stop_polling()
    server.advance(4.9)
    assert [name for name, _ in rec.log] == ["made"]
    server.advance(0.1)
    assert rec.log[-1][0] == "lost"
    info = rec.log[-1][1]
    assert (info.code, info.reason, info.initiator) == (1000, "Session expired", "timeout")
    assert server.router.session_count == 0
    assert server.clock.getDelayedCalls() == []


def test_close_by_server_on_application_error(make_server: MakeServer, logs: LogCapture) -> None:
    def boom(self: Recorder, message: Any) -> None:
        raise ValueError(message)

    rec = recorder(messageReceived=boom)
    server = make_server(rec)
    client = server.open()
    client.send("x")
    assert client.close_frame == (1011, "Internal server error")
    assert rec.log[-1][1].initiator == "server"
    assert len(logs.take_failures()) == 1


def test_stop_closes_every_session_as_server(make_server: MakeServer) -> None:
    rec = recorder()
    server = make_server(rec)
    clients = [server.open(transport=t) for t in ("xhr_streaming", "xhr", "websocket")]
    server.stop()
    assert all(client.closed for client in clients)
    infos = [value for name, value in rec.log if name == "lost"]
    assert [(i.code, i.initiator) for i in infos] == [(1001, "server")] * 3
    server.assert_no_timers()


def test_send_after_the_session_is_gone_raises(make_server: MakeServer) -> None:
    server = make_server(Echo, {"disconnect_delay": 1})
    client = server.open(transport="xhr")
    client.stop_polling()
    server.advance(1)
    with pytest.raises(ClientClosedError, match="404"):
        client.send("late")


# ---------------------------------------------------------------------------
# Heartbeats, expiry, polling
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr_streaming", "xhr", "websocket"])
def test_heartbeat_after_heartbeat_delay(make_server: MakeServer, transport: str) -> None:
    server = make_server(Echo, {"heartbeat_delay": 10, "disconnect_delay": 5})
    client = server.open(transport=transport)
    client.advance(9.9)
    assert client.frames == ["o"]
    client.advance(0.1)
    assert client.frames == ["o", "h"]
    server.advance(30)  # live clients keep their sessions: no expiry
    assert client.frames == ["o", "h", "h", "h", "h"]
    assert not client.closed
    assert len(server.connections) == 1


def test_polling_client_comes_back_and_keeps_its_session(make_server: MakeServer) -> None:
    server = make_server(Echo, {"heartbeat_delay": 1, "disconnect_delay": 0.5})
    client = server.open(transport="xhr")
    server.advance(10)  # ten heartbeats, each one ends a poll
    assert client.frames.count("h") == 10
    client.send("still here")
    assert client.received == ["still here"]


def test_messages_queued_while_not_polling_arrive_on_resume(make_server: MakeServer) -> None:
    server = make_server(Echo, {"disconnect_delay": 5})
    # A poll ended right after open: no receiver is attached (a streaming
    # response would stay attached, and get the messages, after stop_polling).
    client = server.open(transport="xhr")
    client.stop_polling()
    conn = client.connection
    assert conn is not None
    conn.sendMessage("one")
    conn.sendMessage("two")
    assert client.received == []
    server.advance(4)
    client.resume_polling()
    assert client.received == ["one", "two"]
    assert client.frames[-1] == 'a["one","two"]'
    server.advance(60)
    assert not client.closed


def test_streaming_client_reconnects_after_response_limit(make_server: MakeServer) -> None:
    server = make_server(Echo, {"response_limit": 64})
    client = server.open()
    messages = [f"message number {n}" for n in range(20)]
    for message in messages:
        client.send(message)
    assert client.received == messages
    assert server.router.session_count == 1


def test_assert_no_timers_reports_leftover_calls() -> None:
    server = SockJSTestServer(Echo)
    server.open()
    with pytest.raises(AssertionError, match="delayed call"):
        server.assert_no_timers()
    server.clock.callLater(3, lambda: None)
    server.stop()
    with pytest.raises(AssertionError, match="1 delayed call"):
        server.assert_no_timers()
    server.clock.advance(3)
    server.assert_no_timers()


def test_advance_refuses_negative_time(make_server: MakeServer) -> None:
    server = make_server(Echo)
    with pytest.raises(ValueError):
        server.advance(-1)


def test_stop_polling_is_for_http_clients(make_server: MakeServer) -> None:
    server = make_server(Echo)
    client = server.open(transport="websocket")
    with pytest.raises(TypeError):
        client.stop_polling()


# ---------------------------------------------------------------------------
# Multiplex (PROTOCOL.md 9, checklist 145-150)
# ---------------------------------------------------------------------------

CHANNEL_LOG: list[tuple[str, str, Any]] = []


class Ann(SockJSConnection):
    def connectionMade(self, info: ConnectionInfo) -> None:
        CHANNEL_LOG.append(("ann", "made", None))
        self.sendMessage("Ann says hi!")

    def messageReceived(self, message: Any) -> None:
        CHANNEL_LOG.append(("ann", "message", message))
        self.sendMessage("Ann nods: " + message)

    def connectionLost(self) -> None:
        CHANNEL_LOG.append(("ann", "lost", None))


class Carl(SockJSConnection):
    def connectionMade(self, info: ConnectionInfo) -> None:
        CHANNEL_LOG.append(("carl", "made", None))
        self.sendMessage("Carl says goodbye!")
        self.close()

    def connectionLost(self) -> None:
        CHANNEL_LOG.append(("carl", "lost", None))


@pytest.fixture
def multiplex(make_server: MakeServer) -> SockJSTestServer:
    CHANNEL_LOG.clear()
    return make_server(MultiplexConnection.create(ann=Ann, carl=Carl), prefix="/multiplex")


def test_multiplex_sub_opens_the_channel_once(multiplex: SockJSTestServer) -> None:
    """Checklist 145 and 146: one connection event; a second ``sub`` is ignored."""
    client = multiplex.open()
    ann = client.channel("ann")
    client.send("sub,ann")
    assert ann.received == ["Ann says hi!"]
    assert CHANNEL_LOG == [("ann", "made", None)]


def test_multiplex_payload_keeps_its_commas(multiplex: SockJSTestServer) -> None:
    """Checklist 147: ``msg,ann,a,b`` delivers ``a,b``."""
    client = multiplex.open(transport="websocket")
    ann = client.channel("ann")
    ann.send("a,b")
    assert CHANNEL_LOG[-1] == ("ann", "message", "a,b")
    assert ann.received == ["Ann says hi!", "Ann nods: a,b"]


def test_multiplex_unregistered_topic_is_ignored(multiplex: SockJSTestServer) -> None:
    """Checklist 148: frames for an unregistered topic: no reply, no error."""
    client = multiplex.open()
    client.send("msg,x,hi", "sub,x", "uns,x", "garbage", 42)
    assert client.received == []
    assert not client.closed
    assert CHANNEL_LOG == []


def test_multiplex_uns_closes_silently(multiplex: SockJSTestServer) -> None:
    """Checklist 149: ``uns,ann`` fires close and sends nothing back."""
    client = multiplex.open()
    ann = client.channel("ann")
    ann.close()
    assert CHANNEL_LOG[-1] == ("ann", "lost", None)
    assert client.received == ["msg,ann,Ann says hi!"]
    assert ann.closed


def test_multiplex_write_end_and_session_close(multiplex: SockJSTestServer) -> None:
    """Checklist 150: write -> ``msg``; end -> one ``uns`` and close; session close -> all."""
    client = multiplex.open(transport="xhr")
    carl = client.channel("carl")
    assert client.received == ["msg,carl,Carl says goodbye!", "uns,carl"]
    assert carl.closed
    assert CHANNEL_LOG == [("carl", "made", None), ("carl", "lost", None)]
    ann = client.channel("ann")
    assert not ann.closed
    client.disconnect()
    assert CHANNEL_LOG[-1] == ("ann", "lost", None)
    assert CHANNEL_LOG.count(("ann", "lost", None)) == 1


def test_multiplex_channel_names_are_escaped(multiplex: SockJSTestServer) -> None:
    assert multiplex.open().channel("a b,c").topic == "a%20b%2Cc"


def test_resume_after_expiry_finds_the_session_gone(make_server: MakeServer) -> None:
    server = make_server(Echo, {"disconnect_delay": 2})
    client = server.open(transport="xhr")
    client.stop_polling()
    server.advance(3)
    client.resume_polling()
    assert client.closed
    assert client.close_frame is None
    assert client.close_info is not None
    assert client.close_info.initiator == "timeout"


def test_reading_a_client_from_an_application_hook_is_safe(make_server: MakeServer) -> None:
    seen: list[list[Any]] = []
    clients: list[TestClient] = []

    class Peeks(SockJSConnection):
        def messageReceived(self, message: Any) -> None:
            self.sendMessage(message)
            seen.append(clients[0].received)  # a flush from inside the hook

    server = make_server(Peeks)
    clients.append(server.open(transport="xhr"))
    clients[0].send("a")
    clients[0].send("b")
    assert seen == [["a"], ["a", "b"]]
    assert clients[0].received == ["a", "b"]


def test_a_stopped_server_opens_nothing() -> None:
    server = SockJSTestServer(Echo)
    server.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        server.open()
    server.assert_no_timers()


# ---------------------------------------------------------------------------
# What the real server does: limits, refusals, stopping
# ---------------------------------------------------------------------------

TOO_MANY_FROM_IP = 'c[1013,"Too many sessions from this address"]'
TRANSPORTS_ALL = ("xhr_streaming", "xhr", "websocket")


@pytest.mark.parametrize("transport", TRANSPORTS_ALL)
def test_max_sessions_per_ip_refuses_a_second_client(
    make_server: MakeServer, transport: str
) -> None:
    """The server's refusal, byte for byte: no session, c[1013,...] instead of "o"."""
    server = make_server(Echo, {"max_sessions_per_ip": 1})
    first = server.open(transport=transport)
    second = server.open(transport=transport)
    assert second.frames == [TOO_MANY_FROM_IP]
    assert second.closed
    assert second.close_frame == (1013, "Too many sessions from this address")
    assert second.connection is None and second.close_info is None  # no session was made
    with pytest.raises(ClientClosedError):
        second.send("x")
    first.send("unaffected")
    assert first.frames == ["o", 'a["unaffected"]']
    assert not first.closed
    assert server.router.stats.dump()["errors_too_many_sessions"] == 1
    elsewhere = server.open(ip="192.0.2.44", transport=transport)
    assert elsewhere.frames == ["o"]
    assert set(server.connections) == {first.connection, elsewhere.connection}


def test_max_sessions_per_ip_counts_every_transport(make_server: MakeServer) -> None:
    server = make_server(Echo, {"max_sessions_per_ip": 2})
    server.open(transport="xhr")
    server.open(transport="websocket")
    assert [server.open(transport=t).frames for t in TRANSPORTS_ALL] == [[TOO_MANY_FROM_IP]] * 3
    assert server.open(ip="192.0.2.1").frames == ["o"]


@pytest.mark.parametrize("transport", TRANSPORTS_ALL)
def test_clients_of_a_stopped_server_are_closed(make_server: MakeServer, transport: str) -> None:
    rec = recorder()
    server = make_server(rec)
    client = server.open(transport=transport)
    server.stop()
    assert client.closed
    assert client.close_frame is None  # dropped (or answered 503), no close frame
    assert client.close_info == CloseInfo(1001, "Server going away", "server")
    with pytest.raises(ClientClosedError):
        client.send("late")
    server.advance(3600)
    assert [name for name, _ in rec.log] == ["made", "lost"]
    server.assert_no_timers()
    with pytest.raises(RuntimeError, match="stopped"):
        server.open(transport=transport)


@pytest.mark.parametrize("transport", TRANSPORTS_ALL)
def test_a_router_stopped_directly_answers_503(make_server: MakeServer, transport: str) -> None:
    server = make_server(Echo)
    server.router.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        server.open(transport=transport)
    assert server.clients == []


def test_graceful_shutdown_as_clients_see_it(make_server: MakeServer) -> None:
    """sockjs.cyclone.shutdown's promises (see its module), on real requests."""
    server = make_server(Echo, {"heartbeat_delay": 100})
    stream, poller, socket = (server.open(transport=t) for t in TRANSPORTS_ALL)
    done: list[None] = []
    server.router.shutdown(grace=5).addCallback(done.append)
    assert stream.close_frame == socket.close_frame == (1001, "Server going away")
    assert poller.close_frame == (1001, "Server going away")  # at its next poll
    assert server.open().frames == ['c[1001,"Server going away"]']  # instead of "o"
    server.advance(5)
    assert done == [None]
    server.assert_no_timers()


@pytest.mark.parametrize("transport", TRANSPORTS_ALL)
def test_an_http_error_on_the_opening_request_is_raised(
    make_server: MakeServer, transport: str
) -> None:
    server = make_server(Echo, {"allowed_origins": ["good.example"], "check_origin_http": True})
    with pytest.raises(RuntimeError, match="answered 403"):
        server.open(transport=transport, headers={"Origin": "https://evil.example"})
    assert server.clients == []
    client = server.open(transport=transport, headers={"Origin": "https://good.example"})
    assert client.frames == ["o"]


def test_an_http_error_on_xhr_send_is_raised(make_server: MakeServer) -> None:
    server = make_server(Echo, {"max_request_body": 100})
    client = server.open(transport="xhr")
    with pytest.raises(RuntimeError, match="413"):
        client.send("x" * 200)
    client.send("small")
    assert client.received == ["small"]


# ---------------------------------------------------------------------------
# Real clients: requests, polling, going away
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS_ALL)
def test_the_application_sees_a_real_request(make_server: MakeServer, transport: str) -> None:
    rec = recorder()
    server = make_server(rec, prefix="/app")
    server.open(transport=transport, headers={"User-Agent": "pytest"})
    info = rec.log[0][1]
    assert info.get_header("Host") == "127.0.0.1"
    assert info.get_header("user-agent") == "pytest"
    assert info.transport == transport
    assert (info.get_header("Upgrade") == "websocket") is (transport == "websocket")


def test_large_messages_cross_a_websocket_both_ways(make_server: MakeServer) -> None:
    server = make_server(Echo)
    client = server.open(transport="websocket")
    big = ["é" * 70_000, "x" * 300]  # 64-bit and 16-bit frame lengths
    client.send(*big)
    assert client.received == big


def test_stop_polling_keeps_an_attached_stream_until_it_ends(make_server: MakeServer) -> None:
    rec = recorder()
    server = make_server(rec, {"response_limit": 100, "disconnect_delay": 5})
    client = server.open()
    client.stop_polling()
    conn = client.connection
    assert conn is not None
    conn.sendMessage("still attached")
    assert client.received == ["still attached"]
    conn.sendMessage("y" * 100)  # the stream reaches response_limit and ends
    conn.sendMessage("queued")  # no new stream: this waits in the session
    assert client.received == ["still attached", "y" * 100]
    server.advance(4.9)
    assert rec.log[-1][0] == "made"
    server.advance(0.1)
    assert initiator(client) == "timeout"
    client.resume_polling()
    assert client.closed and client.received == ["still attached", "y" * 100]


def test_a_poll_parked_by_a_read_stays_until_the_heartbeat(make_server: MakeServer) -> None:
    server = make_server(Echo, {"heartbeat_delay": 10, "disconnect_delay": 5})
    client = server.open(transport="xhr")
    assert client.frames == ["o"]  # reading lets the client poll again: it parks
    client.stop_polling()
    server.advance(9)
    assert initiator(client) is None
    server.advance(1)  # the heartbeat ends the poll; no new one comes
    assert client.frames == ["o", "h"]
    server.advance(4.9)
    assert initiator(client) is None
    server.advance(0.1)
    assert initiator(client) == "timeout"


def test_no_poll_at_the_end_of_open_nor_when_others_act(make_server: MakeServer) -> None:
    rec = recorder()
    server = make_server(rec, {"disconnect_delay": 5})
    quiet = server.open(transport="xhr")
    other = server.open(transport="xhr")
    other.send("hello")
    assert other.frames == ["o"]
    quiet.stop_polling()  # no receiver was ever attached after the "o" poll
    server.advance(5)
    assert initiator(quiet) == "timeout"
    assert initiator(other) is None


def test_disconnect_without_a_receiver_lets_the_session_expire(make_server: MakeServer) -> None:
    server = make_server(Echo, {"disconnect_delay": 5})
    client = server.open(transport="xhr")
    client.stop_polling()
    client.disconnect()  # nothing to drop
    assert client.closed and initiator(client) is None
    server.advance(5)
    assert initiator(client) == "timeout"


def test_a_new_open_frame_means_the_server_lost_the_session(make_server: MakeServer) -> None:
    rec = recorder()
    server = make_server(rec, {"disconnect_delay": 5})
    client = server.open(transport="xhr")
    client.stop_polling()
    conn = client.connection
    assert conn is not None
    conn.close()  # its close frame waits for a poll that does not come...
    server.advance(5)  # ...until the session is forgotten
    client.resume_polling()  # this poll makes a new session on the server
    assert client.frames == ["o", "o"]
    assert client.closed and client.close_frame is None  # "Server lost session"
    assert initiator(client) == "application"
    assert [name for name, _ in rec.log] == ["made", "lost", "made"]


def test_disconnect_from_inside_a_hook_waits_for_the_hook(make_server: MakeServer) -> None:
    clients: list[TestClient] = []
    seen: list[int] = []

    class Drops(SockJSConnection):
        def messageReceived(self, message: Any) -> None:
            clients[0].disconnect()
            seen.append(server.router.session_count)

    server = make_server(Drops)
    clients.append(server.open())
    clients[0].send("bye")
    assert seen == [1]  # still open while the hook ran
    assert server.router.session_count == 0
    assert initiator(clients[0]) == "client"


def test_polls_are_bounded(make_server: MakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_server(Echo)
    client = server.open(transport="xhr")
    assert client.connection is not None
    client.connection.sendMessage("waiting")
    monkeypatch.setattr(testing_module, "_MAX_POLLS_PER_FLUSH", 1)
    with pytest.raises(RuntimeError, match="still polling"):
        server.flush()  # one poll gets the message, the next one would park
