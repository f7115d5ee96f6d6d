"""websocket-multiplex channels over one SockJS session (PROTOCOL.md section 9).

The client side is an ``xhr_streaming`` receiver plus ``xhr_send`` requests,
so every multiplex frame goes through Cyclone as real bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import LogCapture, Server, new_sid
from twisted.internet.defer import Deferred

from sockjs.cyclone import MultiplexConnection, SockJSConnection
from sockjs.cyclone.multiplex import ChannelSession


class Log:
    """What the channel connections did, in order: (channel, event, value)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []
        self.conns: dict[str, list[SockJSConnection]] = {}

    def of(self, name: str, event: str | None = None) -> list[tuple[str, Any]]:
        return [(e, v) for n, e, v in self.events if n == name and event in (None, e)]


def channel(
    name: str,
    log: Log,
    greeting: str | None = None,
    reply: str | None = None,
    on_open: Any = None,
    on_message: Any = None,
    on_close: Any = None,
) -> type[SockJSConnection]:
    """A channel connection class in the style of the sockjs multiplex demo."""

    class Channel(SockJSConnection):
        def connectionMade(self, info: Any) -> Any:
            log.events.append((name, "made", info))
            log.conns.setdefault(name, []).append(self)
            if greeting is not None:
                self.sendMessage(greeting)
            return on_open(self) if on_open is not None else None

        def messageReceived(self, message: Any) -> None:
            log.events.append((name, "message", message))
            if on_message is not None:
                on_message(self, message)
            elif reply is not None:
                self.sendMessage(reply + message)

        def connectionLost(self) -> None:
            log.events.append((name, "lost", None))
            if on_close is not None:
                on_close(self)

    return Channel


class Mux:
    """A multiplex client: one xhr_streaming receiver, xhr_send for frames."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.sid = new_sid()
        self.stream = server.poll(self.sid, "xhr_streaming")
        self._seen = 0
        assert self.frames() == [b"h" * 2048 + b"\n", b"o\n"]

    def send(self, *frames: Any) -> None:
        assert self.server.send(self.sid, *frames).status == 204

    def frames(self) -> list[bytes]:
        chunks = self.stream.response().chunks or []
        fresh, self._seen = chunks[self._seen :], len(chunks)
        return fresh

    def messages(self) -> list[Any]:
        """Messages of the ``a`` frames written since the last call."""
        found: list[Any] = []
        for frame in self.frames():
            assert frame.startswith(b"a["), frame
            found.extend(json.loads(frame[1:]))
        return found


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def demo(log: Log) -> Server:
    """The PROTOCOL.md 9.4 demo: ann, bob and carl on /multiplex."""

    def carl_leaves(conn: SockJSConnection) -> None:
        conn.close()

    conn_class = MultiplexConnection.create(
        ann=channel("ann", log, "Ann says hi!", "Ann nods: "),
        bob=channel("bob", log, "Bob doesn't agree.", "Bob says no to: "),
        carl=channel("carl", log, "Carl says goodbye!", on_open=carl_leaves),
    )
    return Server(conn_class, "/multiplex")


def test_subscribe_fires_connection_once(demo: Server, log: Log) -> None:
    """Checklist 145, 146: sub,ann -> one connection event; a repeated sub is ignored."""
    mux = Mux(demo)
    mux.send("sub,ann")
    assert mux.messages() == ["msg,ann,Ann says hi!"]
    mux.send("sub,ann")
    assert mux.messages() == []
    made = log.of("ann", "made")
    assert len(made) == 1
    info = made[0][1]
    assert info.path == "/multiplex"
    assert info.ip == "127.0.0.1"


def test_payload_keeps_its_commas(demo: Server, log: Log) -> None:
    """Checklist 147: msg,ann,a,b delivers ``a,b``; an empty payload is ``""``."""
    mux = Mux(demo)
    mux.send("sub,ann")
    mux.messages()
    mux.send("msg,ann,a,b", "msg,ann,hello, world", "msg,ann")
    assert log.of("ann", "message") == [
        ("message", "a,b"),
        ("message", "hello, world"),
        ("message", ""),
    ]
    assert mux.messages() == [
        "msg,ann,Ann nods: a,b",
        "msg,ann,Ann nods: hello, world",
        "msg,ann,Ann nods: ",
    ]


def test_unregistered_topics_are_ignored(demo: Server, log: Log, logs: LogCapture) -> None:
    """Checklist 148: msg/sub/uns for an unknown topic -> no reply, no error."""
    mux = Mux(demo)
    mux.send("msg,x,hi", "sub,x", "uns,x", "sub,dave", "msg,dave,x")
    assert mux.messages() == []
    assert log.events == []
    assert logs.failures() == []
    assert not demo.router.connections[0].is_closed


def test_unsubscribe_fires_close_and_sends_nothing(demo: Server, log: Log) -> None:
    """Checklist 149: uns,ann closes the channel silently; later msgs are ignored."""
    mux = Mux(demo)
    mux.send("sub,ann", "sub,bob")
    mux.messages()
    mux.send("uns,ann")
    assert log.of("ann", "lost") == [("lost", None)]
    assert mux.messages() == []
    mux.send("msg,ann,late", "uns,ann")
    assert log.of("ann", "message") == []
    assert len(log.of("ann", "lost")) == 1
    # bob is untouched; ann can be opened again as a new channel.
    mux.send("msg,bob,x", "sub,ann")
    assert mux.messages() == ["msg,bob,Bob says no to: x", "msg,ann,Ann says hi!"]
    assert len(log.conns["ann"]) == 2
    assert log.conns["ann"][0] is not log.conns["ann"][1]


def test_channel_write_and_end(demo: Server, log: Log) -> None:
    """Checklist 150: write -> msg,ann,hi; end -> uns,ann once and close fired."""
    mux = Mux(demo)
    mux.send("sub,ann")
    mux.messages()
    (ann,) = log.conns["ann"]
    ann.sendMessage("hi")
    ann.sendMessage({"n": 1})
    assert mux.messages() == ["msg,ann,hi", 'msg,ann,{"n":1}']
    assert not ann.is_closed
    ann.close()
    assert ann.is_closed
    assert mux.messages() == ["uns,ann"]
    assert log.of("ann", "lost") == [("lost", None)]
    ann.close()
    ann.sendMessage("after the end")
    assert mux.messages() == []
    assert len(log.of("ann", "lost")) == 1
    assert not demo.router.connections[0].is_closed  # the SockJS session stays open


def test_channel_that_ends_itself_on_open(demo: Server, log: Log) -> None:
    """PROTOCOL.md 9.4: carl says goodbye and ends the channel."""
    mux = Mux(demo)
    mux.send("sub,carl")
    assert mux.messages() == ["msg,carl,Carl says goodbye!", "uns,carl"]
    assert [event for event, _ in log.of("carl")] == ["made", "lost"]
    mux.send("msg,carl,anyone?")
    assert log.of("carl", "message") == []


def test_channel_refusing_on_open(log: Log) -> None:
    """A channel whose connectionMade returns False is ended: the client gets uns."""
    conn_class = MultiplexConnection.create(shy=channel("shy", log, on_open=lambda conn: False))
    server = Server(conn_class, "/multiplex")
    mux = Mux(server)
    mux.send("sub,shy")
    assert mux.messages() == ["uns,shy"]
    mux.send("msg,shy,x")
    assert log.of("shy", "message") == []


def test_session_close_closes_every_channel(demo: Server, log: Log) -> None:
    """Checklist 150: closing the SockJS connection fires close on all open channels."""
    mux = Mux(demo)
    mux.send("sub,ann", "sub,bob")
    mux.messages()
    parent = demo.router.connections[0]
    parent.close()
    assert mux.frames() == [b'c[3000,"Go away!"]\n']
    assert log.of("ann", "lost") == [("lost", None)]
    assert log.of("bob", "lost") == [("lost", None)]
    assert log.conns["ann"][0].is_closed
    log.conns["ann"][0].sendMessage("too late")  # ignored, no error


def test_client_going_away_closes_every_channel(demo: Server, log: Log) -> None:
    """An aborted receiver closes the session (6.8), and with it every channel."""
    mux = Mux(demo)
    mux.send("sub,ann", "sub,bob")
    mux.stream.abort()
    assert len(log.of("ann", "lost")) == 1
    assert len(log.of("bob", "lost")) == 1


def test_session_expiry_closes_every_channel(demo: Server, log: Log) -> None:
    """Expiry (6.6) closes the channels too."""
    sid = demo.open()
    demo.send(sid, "sub,ann")
    demo.advance(5.001)
    assert log.of("ann", "lost") == [("lost", None)]


@pytest.mark.parametrize("frame", ["sub", "", 42, None, ["sub,ann"], {"sub": "ann"}, "foo,ann"])
def test_invalid_frames_are_ignored(demo: Server, log: Log, frame: Any) -> None:
    """PROTOCOL.md 9.2: invalid, unknown or out-of-order frames are silently ignored."""
    mux = Mux(demo)
    mux.send(frame, "msg,ann,unopened", "uns,bob")
    assert mux.messages() == []
    assert log.events == []
    mux.send("sub,ann", frame)
    assert mux.messages() == ["msg,ann,Ann says hi!"]
    assert [event for event, _ in log.of("ann")] == ["made"]


def test_unknown_type_on_an_open_channel_is_ignored(demo: Server, log: Log) -> None:
    """PROTOCOL.md 9.2 step 2: anything but msg/uns on an open topic is ignored."""
    mux = Mux(demo)
    mux.send("sub,ann")
    mux.messages()
    mux.send("foo,ann,x", "SUB,ann")
    assert mux.messages() == []
    assert [event for event, _ in log.of("ann")] == ["made"]


def test_channel_close_failure_is_logged_and_others_still_close(log: Log, logs: LogCapture) -> None:
    """A channel's failing connectionLost is logged; the other channels still close."""

    def explode(conn: SockJSConnection) -> None:
        raise RuntimeError("channel close failed")

    conn_class = MultiplexConnection.create(
        bad=channel("bad", log, on_close=explode), good=channel("good", log)
    )
    server = Server(conn_class, "/multiplex")
    mux = Mux(server)
    mux.send("sub,bad", "sub,good")
    server.router.connections[0].close()
    assert len(log.of("bad", "lost")) == 1
    assert len(log.of("good", "lost")) == 1
    (failure,) = logs.take_failures()
    assert failure["log_failure"].check(RuntimeError)


def test_channel_message_failure_closes_only_that_channel(log: Log, logs: LogCapture) -> None:
    """An exception in a channel's messageReceived is logged and ends that channel only."""

    def explode(conn: SockJSConnection, message: Any) -> None:
        raise ValueError(message)

    conn_class = MultiplexConnection.create(
        bad=channel("bad", log, on_message=explode), good=channel("good", log)
    )
    server = Server(conn_class, "/multiplex")
    mux = Mux(server)
    mux.send("sub,good", "sub,bad", "msg,bad,x")
    assert mux.messages() == ["uns,bad"]
    assert len(log.of("bad", "lost")) == 1
    assert len(logs.take_failures()) == 1
    assert log.of("good", "lost") == []
    assert not log.conns["good"][0].is_closed


def test_channel_broadcast(log: Log) -> None:
    """A channel's broadcast sends to each channel connection given."""
    conn_class = MultiplexConnection.create(room=channel("room", log))
    server = Server(conn_class, "/multiplex")
    first, second = Mux(server), Mux(server)
    first.send("sub,room")
    second.send("sub,room")
    one, two = log.conns["room"]
    one.broadcast([one, two], "everyone")
    assert first.messages() == ["msg,room,everyone"]
    assert second.messages() == ["msg,room,everyone"]


def test_escaped_channel_names(log: Log) -> None:
    """PROTOCOL.md 9.1: names are registered as JavaScript escape() spells them."""
    conn_class = MultiplexConnection.create(**{"a b": channel("space", log, "hi")})
    assert set(conn_class.channels) == {"a%20b"}
    server = Server(conn_class, "/multiplex")
    mux = Mux(server)
    mux.send("sub,a b")
    assert mux.messages() == []
    mux.send("sub,a%20b")
    assert mux.messages() == ["msg,a%20b,hi"]


def test_base_multiplex_connection_serves_no_channel() -> None:
    """MultiplexConnection itself has no channels: every frame is ignored."""
    server = Server(MultiplexConnection, "/multiplex")
    mux = Mux(server)
    mux.send("sub,ann")
    assert mux.messages() == []


def test_channel_session_is_what_channels_see(demo: Server, log: Log) -> None:
    """Each channel's ``session`` is a ChannelSession bound to its topic."""
    mux = Mux(demo)
    mux.send("sub,bob")
    (bob,) = log.conns["bob"]
    assert isinstance(bob.session, ChannelSession)
    assert bob.session.topic == "bob"
    assert not bob.session.is_closed
    bob.session.send_message("direct")
    bob.session.sendMessage("alias")
    assert mux.messages() == ["msg,bob,Bob doesn't agree.", "msg,bob,direct", "msg,bob,alias"]


def test_an_async_channel_hook_keeps_its_messages_in_order(log: Log) -> None:
    """One callback guard: a channel waits for its Deferred like a session does."""
    pending: list[Deferred[None]] = []

    class Slow(SockJSConnection):
        def messageReceived(self, message: Any) -> Deferred[None]:
            log.events.append(("slow", "message", message))
            waiting: Deferred[None] = Deferred()
            waiting.addCallback(lambda _: self.sendMessage("done " + message))
            pending.append(waiting)
            return waiting

    server = Server(MultiplexConnection.create(slow=Slow))
    mux = Mux(server)
    mux.send("sub,slow", "msg,slow,1", "msg,slow,2")
    assert [value for _, value in log.of("slow", "message")] == ["1"]
    pending.pop(0).callback(None)
    assert [value for _, value in log.of("slow", "message")] == ["1", "2"]
    pending.pop(0).callback(None)
    assert mux.messages() == ["msg,slow,done 1", "msg,slow,done 2"]


def test_a_coroutine_channel_hook_keeps_order_and_its_failure_ends_the_channel(
    log: Log, logs: LogCapture
) -> None:
    """A coroutine hook is waited for; one that raises ends that channel only, with 1011."""
    gate: Deferred[None] = Deferred()

    class Async(SockJSConnection):
        async def messageReceived(self, message: Any) -> None:
            log.events.append(("async", "message", message))
            if message == "wait":
                await gate
            if message == "boom":
                raise ValueError(message)

        def connectionLost(self) -> None:
            log.events.append(("async", "lost", self.close_info))

    server = Server(MultiplexConnection.create(a=Async, ann=channel("ann", log, reply="ok ")))
    mux = Mux(server)
    mux.send("sub,a", "sub,ann", "msg,a,wait", "msg,a,boom", "msg,ann,x")
    assert [value for _, value in log.of("async", "message")] == ["wait"]
    assert mux.messages() == ["msg,ann,ok x"]
    gate.callback(None)
    assert [value for _, value in log.of("async", "message")] == ["wait", "boom"]
    assert mux.messages() == ["uns,a"]
    (lost,) = log.of("async", "lost")
    assert (lost[1].code, lost[1].initiator) == (1011, "server")
    assert len(logs.take_failures()) == 1
    mux.send("msg,ann,y")
    assert mux.messages() == ["msg,ann,ok y"]


def test_a_deferred_channel_connection_made_holds_its_messages(log: Log) -> None:
    opened: Deferred[None] = Deferred()
    server = Server(
        MultiplexConnection.create(late=channel("late", log, on_open=lambda conn: opened))
    )
    mux = Mux(server)
    mux.send("sub,late", "msg,late,first")
    assert log.of("late", "message") == []
    opened.callback(None)
    assert [value for _, value in log.of("late", "message")] == ["first"]
