"""Publish/subscribe: the broker contract and the router's local fan-out.

The broker tests use :class:`InProcessBroker` alone; the fan-out tests run
real sessions through ``sockjs.cyclone.testing`` on a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from helpers import LogCapture
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

import sockjs.cyclone._service as service_module
from sockjs.cyclone import ConnectionInfo, MultiplexConnection, SockJSConnection, SockJSRouter
from sockjs.cyclone._rawsession import RawSessionHandle
from sockjs.cyclone.pubsub import Broker, Hub, InProcessBroker, Subscription, hub_for
from sockjs.cyclone.testing import SockJSTestServer
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.frames import encode_message

MakeServer = Callable[..., SockJSTestServer]


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    """Build servers; at teardown stop each, check no timer and no subscription is left."""
    servers: list[SockJSTestServer] = []

    def make(
        connection: type[SockJSConnection], settings: dict[str, Any] | None = None, **kw: Any
    ) -> SockJSTestServer:
        server = SockJSTestServer(connection, settings, **kw)
        servers.append(server)
        return server

    yield make
    for server in servers:  # stop them all first: servers may share a clock
        server.stop()
    for server in servers:
        server.assert_no_timers()
        hub = server.service.pubsub
        assert hub._topics == {} and hub._by_root == {}, "subscriptions outlived their sessions"


# ---------------------------------------------------------------------------
# InProcessBroker
# ---------------------------------------------------------------------------


def test_broker_delivers_in_publish_order() -> None:
    broker = InProcessBroker()
    got: list[tuple[str, Any]] = []
    broker.subscribe("a", lambda m: got.append(("a", m)))
    broker.subscribe("b", lambda m: got.append(("b", m)))
    for n in range(5):
        broker.publish("a" if n % 2 else "b", n)
    assert got == [("b", 0), ("a", 1), ("b", 2), ("a", 3), ("b", 4)]


def test_broker_publish_returns_a_fired_deferred() -> None:
    broker = InProcessBroker()
    results: list[Any] = []
    broker.publish("nobody", "x").addCallback(results.append)
    assert results == [None]


def test_publish_during_delivery_is_queued_not_reentrant() -> None:
    broker = InProcessBroker()
    events: list[str] = []
    depth = 0

    def first(message: Any) -> None:
        nonlocal depth
        depth += 1
        assert depth == 1, "delivery re-entered"
        events.append(f"first:{message}")
        if message == "outer":
            done = broker.publish("c", "inner")
            assert not done.called  # queued behind the current delivery
        depth -= 1

    def second(message: Any) -> None:
        events.append(f"second:{message}")

    broker.subscribe("c", first)
    broker.subscribe("c", second)
    outer = broker.publish("c", "outer")
    assert outer.called
    assert events == ["first:outer", "second:outer", "first:inner", "second:inner"]


def test_publish_from_a_deferred_callback_is_queued() -> None:
    broker = InProcessBroker()
    got: list[Any] = []
    broker.subscribe("c", got.append)
    broker.publish("c", 1).addCallback(lambda _: broker.publish("c", 2))
    broker.publish("c", 3)
    assert got == [1, 2, 3]


def test_a_failing_subscriber_does_not_stop_the_others(logs: LogCapture) -> None:
    broker = InProcessBroker()
    got: list[Any] = []

    def bad(message: Any) -> None:
        raise RuntimeError("subscriber bug")

    broker.subscribe("c", got.append)
    broker.subscribe("c", bad)
    broker.subscribe("c", lambda m: got.append(("after", m)))
    results: list[Any] = []
    broker.publish("c", "x").addBoth(results.append)
    assert got == ["x", ("after", "x")]
    assert results == [None]
    failures = logs.take_failures()
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(RuntimeError)
    broker.publish("c", "y")  # the broker still works
    assert got[-1] == ("after", "y")


def test_unsubscribe_is_immediate_and_idempotent() -> None:
    broker = InProcessBroker()
    got: list[Any] = []
    subs: list[Subscription] = []

    def first(message: Any) -> None:
        got.append(("first", message))
        broker.unsubscribe(subs[1])  # ends the next subscriber mid-delivery

    subs.append(broker.subscribe("c", first))
    subs.append(broker.subscribe("c", lambda m: got.append(("second", m))))
    broker.publish("c", 1)
    assert got == [("first", 1)]
    assert not subs[1].active
    broker.unsubscribe(subs[1])
    broker.unsubscribe(subs[0])
    broker.unsubscribe(subs[0])
    assert broker.subscriber_count("c") == 0
    broker.publish("c", 2)
    assert got == [("first", 1)]
    assert "ended" in repr(subs[0])


def test_subscribing_during_delivery_starts_with_the_next_message() -> None:
    broker = InProcessBroker()
    late: list[Any] = []

    def first(message: Any) -> None:
        if message == 1:
            broker.subscribe("c", late.append)

    broker.subscribe("c", first)
    broker.publish("c", 1)
    broker.publish("c", 2)
    assert late == [2]


def test_in_process_broker_satisfies_the_protocol() -> None:
    broker: Broker = InProcessBroker()
    assert isinstance(broker.subscribe("c", print), Subscription)


# ---------------------------------------------------------------------------
# Per-connection helpers and the router
# ---------------------------------------------------------------------------


class Member(SockJSConnection):
    """Subscribes to ``room`` on open; ``pub:<text>`` publishes, ``uns`` leaves."""

    left: ClassVar[list[str]] = []

    def connectionMade(self, info: ConnectionInfo) -> Any:
        self.subscribe(info.get_argument("room") or "room")
        return None

    def messageReceived(self, message: Any) -> None:
        if message == "uns":
            self.unsubscribe("room")
        elif message == "close":
            self.close()
        else:
            self.publish("room", message)


def test_publish_reaches_every_subscriber_including_the_publisher(
    make_server: MakeServer,
) -> None:
    server = make_server(Member)
    clients = [server.open(transport=t) for t in ("xhr_streaming", "xhr", "websocket")]
    other_room = server.open(arguments={"room": "other"})
    clients[1].send("hello")
    assert [c.received for c in clients] == [["hello"]] * 3
    assert other_room.received == []


def test_router_publish_and_subscriber_count(make_server: MakeServer) -> None:
    server = make_server(Member)
    a, b = server.open(), server.open()
    hub = server.service.pubsub
    assert hub.subscriber_count("room") == 2
    result: list[Any] = []
    server.router.publish("room", {"n": 1}).addCallback(result.append)
    assert result == [None]
    assert a.received == b.received == [{"n": 1}]
    assert isinstance(server.router.broker, InProcessBroker)


def test_each_router_has_its_own_broker_by_default(make_server: MakeServer) -> None:
    one, two = make_server(Member), make_server(Member)
    a, b = one.open(), two.open()
    a.send("only here")
    assert a.received == ["only here"]
    assert b.received == []
    assert one.router.broker is not two.router.broker


def test_routers_sharing_a_broker_share_channels(make_server: MakeServer) -> None:
    broker = InProcessBroker()
    one = make_server(Member, broker=broker)
    two = make_server(Member, broker=broker, clock=one.clock)
    a, b = one.open(), two.open()
    b.send("across")
    assert a.received == b.received == ["across"]
    assert broker.subscriber_count("room") == 2  # one per router, not per session


def test_subscribe_twice_is_once_and_unsubscribe(make_server: MakeServer) -> None:
    class Twice(Member):
        def connectionMade(self, info: ConnectionInfo) -> Any:
            self.subscribe("room")
            self.subscribe("room")
            return None

    server = make_server(Twice)
    a, b = server.open(), server.open()
    a.send("x")
    assert b.received == ["x"]
    b.send("uns")
    b.send("uns")  # not subscribed any more: no effect
    a.send("y")
    assert b.received == ["x"]
    assert a.received == ["x", "y"]
    conn = a.connection
    assert conn is not None
    assert server.service.pubsub.channels_of(conn.session) == {"room"}


@pytest.mark.parametrize("how", ["disconnect", "close", "expire", "stop"])
def test_subscriptions_end_with_the_session(make_server: MakeServer, how: str) -> None:
    broker = InProcessBroker()
    server = make_server(Member, {"disconnect_delay": 1}, broker=broker)
    a, b = server.open(transport="xhr"), server.open()
    hub = server.service.pubsub
    assert hub.subscriber_count("room") == 2
    if how == "disconnect":
        a.disconnect()
    elif how == "close":
        a.send("close")
    elif how == "expire":
        a.stop_polling()
        server.advance(1)
    else:
        server.stop()
    expected = 0 if how == "stop" else 1
    assert hub.subscriber_count("room") == expected
    assert broker.subscriber_count("room") == expected
    if how != "stop":
        server.publish("room", "after")
        assert b.received == ["after"]
    if how == "stop":
        assert hub._by_root == {}


def test_refused_session_keeps_no_subscription(make_server: MakeServer) -> None:
    class Refuses(SockJSConnection):
        def connectionMade(self, info: ConnectionInfo) -> bool:
            self.subscribe("room")
            return False

    server = make_server(Refuses)
    client = server.open()
    assert client.close_frame == (3000, "Go away!")
    assert server.service.pubsub.subscriber_count("room") == 0


def test_subscribe_from_connection_lost_is_ignored(make_server: MakeServer) -> None:
    class Late(SockJSConnection):
        def connectionLost(self) -> None:
            self.subscribe("room")
            self.publish("room", "bye")

    server = make_server(Late)
    watcher = server.open()
    assert watcher.connection is not None
    watcher.connection.subscribe("room")
    server.open().disconnect()
    assert server.service.pubsub.subscriber_count("room") == 1
    assert watcher.received == ["bye"]


def test_deferred_connection_made_can_subscribe(make_server: MakeServer) -> None:
    gate: Deferred[None] = Deferred()

    class Slow(SockJSConnection):
        def connectionMade(self, info: ConnectionInfo) -> Deferred[None]:
            self.subscribe("room")
            return gate

    server = make_server(Slow)
    client = server.open()
    server.publish("room", "early")
    gate.callback(None)
    assert client.received == ["early"]


def test_published_messages_keep_their_order_with_direct_sends(make_server: MakeServer) -> None:
    class Mixed(SockJSConnection):
        def connectionMade(self, info: ConnectionInfo) -> None:
            self.subscribe("room")

        def messageReceived(self, message: Any) -> None:
            self.sendMessage("before")
            self.publish("room", message)
            self.sendMessage("after")

    server = make_server(Mixed)
    client = server.open(transport="xhr")
    client.send("p1", "p2")
    assert client.received == ["before", "p1", "after", "before", "p2", "after"]


def test_session_closed_by_a_delivery_publishes_after_it(make_server: MakeServer) -> None:
    """Re-entrancy at the router: a close caused by a delivery queues its own publish."""

    class Announcer(SockJSConnection):
        def connectionMade(self, info: ConnectionInfo) -> None:
            self.subscribe("room")

        def connectionLost(self) -> None:
            self.publish("room", "someone left")

    server = make_server(Announcer, {"max_queued_bytes": 100})
    # An xhr client between two polls: no receiver is attached to its session.
    slow, fast = server.open(transport="xhr"), server.open()
    slow.stop_polling()  # its messages queue up in the session
    server.publish("room", "x" * 200)  # over max_queued_bytes: the slow session closes
    assert slow.close_info is not None
    assert slow.close_info.code == 1013
    assert fast.received == ["x" * 200, "someone left"]


def test_channel_names_must_be_strings(make_server: MakeServer) -> None:
    server = make_server(Member)
    with pytest.raises(TypeError):
        server.router.publish(b"room", "x")  # type: ignore[arg-type]


def test_unencodable_message_is_logged_and_others_still_flow(
    make_server: MakeServer, logs: LogCapture
) -> None:
    server = make_server(Member)
    client = server.open()
    server.publish("room", {1, 2})
    assert len(logs.take_failures()) == 1
    server.publish("room", "fine")
    assert client.received == ["fine"]


def test_hub_for_refuses_foreign_sessions() -> None:
    class Plain:
        conn = None

    with pytest.raises(TypeError, match="publish/subscribe"):
        hub_for(Plain())  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Encoded once per process
# ---------------------------------------------------------------------------


def test_a_message_is_encoded_once_for_1000_subscribers(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(Member)
    clients = [server.open() for _ in range(1000)]
    calls: list[Any] = []

    def counting(message: Any) -> str:
        calls.append(message)
        return encode_message(message)

    monkeypatch.setattr(service_module, "encode_message", counting)
    server.publish("room", {"big": "x" * 1000})
    assert len(calls) == 1
    assert all(client.pop_messages() == [{"big": "x" * 1000}] for client in clients)
    assert server.router.broker.subscriber_count("room") == 1  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# A broker other than the default (the seam a Redis broker plugs into)
# ---------------------------------------------------------------------------


class RecordingBroker:
    """A :class:`Broker` that records the calls a networked broker would get."""

    def __init__(self) -> None:
        self.inner = InProcessBroker()
        self.calls: list[tuple[str, str]] = []

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        self.calls.append(("publish", channel))
        return self.inner.publish(channel, message)

    def subscribe(self, channel: str, callback: Callable[[Any], None]) -> Subscription:
        self.calls.append(("subscribe", channel))
        return self.inner.subscribe(channel, callback)

    def unsubscribe(self, subscription: Subscription) -> None:
        self.calls.append(("unsubscribe", subscription.channel))
        self.inner.unsubscribe(subscription)


def test_one_broker_subscription_per_channel_per_router(make_server: MakeServer) -> None:
    broker = RecordingBroker()
    server = make_server(Member, broker=broker)
    clients = [server.open() for _ in range(3)]
    clients[0].send("hi")
    assert broker.calls == [("subscribe", "room"), ("publish", "room")]
    for client in clients:
        client.disconnect()
    assert broker.calls[-1] == ("unsubscribe", "room")
    assert broker.inner.subscriber_count("room") == 0


def test_failing_broker_subscribe_leaves_no_state(make_server: MakeServer) -> None:
    class Down(RecordingBroker):
        def subscribe(self, channel: str, callback: Callable[[Any], None]) -> Subscription:
            raise ConnectionError("broker down")

    server = make_server(Echo, broker=Down())
    conn = server.open().connection
    assert conn is not None
    with pytest.raises(ConnectionError):
        conn.subscribe("room")
    assert server.service.pubsub.subscriber_count("room") == 0


class Echo(SockJSConnection):
    def messageReceived(self, message: Any) -> None:
        self.sendMessage(message)


# ---------------------------------------------------------------------------
# Raw WebSocket sessions and multiplex channels
# ---------------------------------------------------------------------------


class FakeSocket:
    """The RawSocket a raw WebSocket handler would be."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    def send_text(self, text: str) -> None:
        self.sent.append(text)

    transport = None

    def close_socket(self, close: CloseInfo) -> None:
        self.closed = (close.code, close.reason)


def test_raw_websocket_sessions_receive_messages_verbatim(make_server: MakeServer) -> None:
    server = make_server(Member)
    socket = FakeSocket()
    info = ConnectionInfo("127.0.0.1", SimpleCookieType(), {}, {}, "/test", "rawwebsocket")
    raw = RawSessionHandle(server.service, socket, info)
    raw.open()
    sockjs_client = server.open()
    server.publish("room", "plain text")
    server.publish("room", [1, "two"])
    assert socket.sent == ["plain text", '[1,"two"]']
    assert sockjs_client.received == ["plain text", [1, "two"]]
    raw.close()
    assert server.service.pubsub.subscriber_count("room") == 1


def SimpleCookieType() -> Any:  # noqa: N802 - reads like the type it builds
    from http.cookies import SimpleCookie

    return SimpleCookie()


class Ticks(SockJSConnection):
    """A multiplex channel that subscribes to ``ticks`` and publishes what it gets."""

    def connectionMade(self, info: ConnectionInfo) -> None:
        self.subscribe("ticks")

    def messageReceived(self, message: Any) -> None:
        if message == "stop":
            self.unsubscribe("ticks")
        elif message == "end":
            self.close()
        else:
            self.publish("ticks", message)


class Quiet(SockJSConnection):
    def connectionMade(self, info: ConnectionInfo) -> None:
        self.subscribe("ticks")


@pytest.fixture
def multiplexed(make_server: MakeServer) -> SockJSTestServer:
    return make_server(MultiplexConnection.create(ticks=Ticks, quiet=Quiet, echo=Echo))


def test_channels_subscribe_and_receive_with_their_topic(multiplexed: SockJSTestServer) -> None:
    one, two = multiplexed.open(), multiplexed.open(transport="websocket")
    a, b = one.channel("ticks"), two.channel("ticks")
    quiet = two.channel("quiet")
    a.send("tick 1")
    assert a.received == b.received == quiet.received == ["tick 1"]
    multiplexed.publish("ticks", {"n": 2})
    assert b.received == ["tick 1", '{"n":2}']
    assert two.received == [
        "msg,ticks,tick 1",
        "msg,quiet,tick 1",
        'msg,ticks,{"n":2}',
        'msg,quiet,{"n":2}',
    ]


def test_channel_messages_are_encoded_once_per_topic(
    multiplexed: SockJSTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = [multiplexed.open() for _ in range(50)]
    for client in clients:
        client.channel("ticks")
        client.channel("quiet")
    calls: list[Any] = []

    def counting(message: Any) -> str:
        calls.append(message)
        return encode_message(message)

    monkeypatch.setattr(service_module, "encode_message", counting)
    multiplexed.publish("ticks", "t")
    assert sorted(calls) == ["msg,quiet,t", "msg,ticks,t"]
    assert all(c.pop_messages() == ["msg,ticks,t", "msg,quiet,t"] for c in clients)


def test_channel_unsubscribe_close_and_reopen(multiplexed: SockJSTestServer) -> None:
    client = multiplexed.open()
    ticks = client.channel("ticks")
    hub = multiplexed.service.pubsub
    ticks.send("stop")  # the channel unsubscribes itself
    assert hub.subscriber_count("ticks") == 0
    ticks.close()  # uns,ticks
    again = client.channel("ticks")
    again.send("one")
    assert again.received == ["one"]
    again.send("end")  # the server ends the channel: uns,ticks
    assert again.closed
    multiplexed.publish("ticks", "nobody hears this")
    assert client.received[-1] == "uns,ticks"
    assert hub.subscriber_count("ticks") == 0  # the closed channel's slot was dropped


def test_client_uns_drops_the_channel_subscription(multiplexed: SockJSTestServer) -> None:
    client = multiplexed.open()
    other = multiplexed.open()
    other.channel("quiet")
    client.channel("ticks").close()
    hub = multiplexed.service.pubsub
    multiplexed.publish("ticks", "x")
    assert hub.subscriber_count("ticks") == 1  # only the other session's channel
    assert client.received == []
    assert other.received == ["msg,quiet,x"]


def test_channel_session_resolution(multiplexed: SockJSTestServer) -> None:
    client = multiplexed.open()
    client.channel("ticks")
    parent = client.connection
    assert isinstance(parent, MultiplexConnection)
    channel_conn = parent._channels.open["ticks"].conn
    hub = multiplexed.service.pubsub
    assert hub_for(channel_conn.session) is hub
    assert isinstance(hub, Hub)
    assert hub.channels_of(channel_conn.session) == {"ticks"}
    assert hub.channels_of(parent.session) == set()
    client.disconnect()
    assert hub.subscriber_count("ticks") == 0


def test_router_accepts_a_broker_argument() -> None:
    broker = InProcessBroker()
    clock = Clock()
    router = SockJSRouter(Echo, "/x", broker=broker, reactor=clock)
    assert router.broker is broker
    assert clock.getDelayedCalls() == []


def test_reopened_channel_replaces_the_closed_ones_slot(multiplexed: SockJSTestServer) -> None:
    client = multiplexed.open()
    client.channel("ticks")
    parent = client.connection
    assert isinstance(parent, MultiplexConnection)
    old = parent._channels.open["ticks"]
    client.send("uns,ticks")  # ending the channel drops its subscription at once
    hub = multiplexed.service.pubsub
    assert hub.subscriber_count("ticks") == 0
    client.channel("ticks")
    new = parent._channels.open["ticks"]
    assert hub.subscriber_count("ticks") == 1
    assert hub.channels_of(old) == set()
    assert hub.channels_of(new) == {"ticks"}
    hub.drop(old)  # the old channel no longer holds anything
    hub.unsubscribe(old, "ticks")
    assert hub.channels_of(new) == {"ticks"}
    hub.drop(new)  # what ChannelSet.end calls to drop a channel at once
    assert hub.subscriber_count("ticks") == 0
    assert hub.channels_of(parent.session) == set()
