"""RedisBroker on a fake clock against an in-memory Redis.

:class:`FakeRedis` plays the Redis server: it reads the RESP commands the
broker's txredisapi connections write into their ``StringTransport`` and
answers AUTH, SUBSCRIBE, UNSUBSCRIBE and PUBLISH the way Redis does
(PUBLISH fans the message out to every connection subscribed to the
channel). It can refuse connections, drop them, hold an attempt pending, or
stop answering. Real processes and a real redis-server are in tests/cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from sockjs.cyclone import SockJSConnection
from sockjs.cyclone.redisbroker import RedisAddress, RedisBroker
from sockjs.cyclone.testing import SockJSTestServer
from sockjs.protocol.redisconf import Backoff as _Backoff
from sockjs.protocol.stats import Stats


def _bulk(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return b"$%d\r\n%s\r\n" % (len(data), data)


def parse_commands(data: bytes) -> list[list[str]]:
    """RESP arrays of bulk strings (what a client writes) into lists of strings."""
    commands = []
    while data:
        head, data = data.split(b"\r\n", 1)
        assert head.startswith(b"*"), head
        args = []
        for _ in range(int(head[1:])):
            size_line, data = data.split(b"\r\n", 1)
            size = int(size_line[1:])
            args.append(data[:size].decode())
            data = data[size + 2 :]
        commands.append(args)
    return commands


class Conn:
    """One client connection as the fake server sees it."""

    def __init__(self, protocol: Any, transport: StringTransport) -> None:
        self.protocol = protocol
        self.transport = transport
        self.channels: set[str] = set()
        self.closed = False


class FakeRedis:
    """Just enough of a Redis server for pub/sub, on a fake clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.up = True
        self.answering = True
        self.hold = False
        self.password: str | None = None
        self.refuse_publish = False
        self.conns: list[Conn] = []
        self.commands: list[list[str]] = []
        self.held: list[Deferred[Any]] = []
        self.attempts = 0

    # -- the broker's Connector -----------------------------------------------------

    def connect(self, protocol: Any) -> Deferred[Any]:
        self.attempts += 1
        if self.hold:
            held: Deferred[Any] = Deferred()
            self.held.append(held)
            return held
        if not self.up:
            return fail(ConnectionRefusedError("fake redis is down"))
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.conns.append(Conn(protocol, transport))
        return succeed(protocol)

    # -- server side --------------------------------------------------------------------

    def pump(self) -> None:
        """Answer everything written so far, until nothing more happens."""
        for _ in range(1000):
            progress = False
            for conn in list(self.conns):
                data = conn.transport.value()
                if data and self.answering:
                    conn.transport.clear()
                    progress = True
                    for command in parse_commands(data):
                        self.commands.append(command)
                        self._handle(conn, command)
                if conn.transport.disconnecting and not conn.closed:
                    self._close(conn)
                    progress = True
            # txredisapi parses what follows a bulk string on the next turn.
            if self.clock.getDelayedCalls() and any(
                call.getTime() <= self.clock.seconds() for call in self.clock.getDelayedCalls()
            ):
                self.clock.advance(0)
                progress = True
            if not progress:
                return
        raise AssertionError("fake redis never settled")

    def _handle(self, conn: Conn, command: list[str]) -> None:
        name, args = command[0].upper(), command[1:]
        if name == "AUTH":
            ok = args[-1] == self.password
            self._send(conn, b"+OK\r\n" if ok else b"-WRONGPASS invalid password\r\n")
        elif name in ("SUBSCRIBE", "UNSUBSCRIBE"):
            for channel in args:
                if name == "SUBSCRIBE":
                    conn.channels.add(channel)
                else:
                    conn.channels.discard(channel)
                reply = b"*3\r\n" + _bulk(name.lower()) + _bulk(channel)
                self._send(conn, reply + b":%d\r\n" % len(conn.channels))
        elif name == "PUBLISH":
            if self.refuse_publish:
                self._send(conn, b"-READONLY You can't write against a read only replica.\r\n")
                return
            channel, message = args
            receivers = [c for c in self.conns if channel in c.channels and not c.closed]
            self._send(conn, b":%d\r\n" % len(receivers))
            for receiver in receivers:
                self.deliver(receiver, channel, message.encode())
        else:  # pragma: no cover - the broker sends nothing else
            self._send(conn, b"-ERR unknown command\r\n")

    def deliver(self, conn: Conn, channel: str, message: bytes) -> None:
        """Push a pub/sub message to a subscriber connection."""
        self._send(conn, b"*3\r\n" + _bulk("message") + _bulk(channel) + _bulk(message))

    def _send(self, conn: Conn, data: bytes) -> None:
        if not conn.closed:
            conn.protocol.dataReceived(data)

    def _close(self, conn: Conn) -> None:
        conn.closed = True
        self.conns.remove(conn)
        conn.protocol.connectionLost(Failure(ConnectionDone("closed")))

    def crash(self) -> None:
        """Redis goes away: every connection drops, new ones are refused."""
        self.up = False
        for conn in list(self.conns):
            conn.transport.loseConnection()
            self._close(conn)

    def subscribers(self) -> list[Conn]:
        return [conn for conn in self.conns if conn.channels]

    def sent(self, name: str) -> list[list[str]]:
        return [command for command in self.commands if command[0].upper() == name]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis(clock: Clock) -> FakeRedis:
    return FakeRedis(clock)


@pytest.fixture
def make_broker(clock: Clock, redis: FakeRedis) -> Iterator[Any]:
    """Brokers on the fake clock and server; stopped (and checked) at teardown."""
    brokers: list[RedisBroker] = []

    def make(origin: str = "A", url: str = "redis://127.0.0.1:6379", **kw: Any) -> RedisBroker:
        kw.setdefault("jitter", 0.0)
        broker = RedisBroker(url, reactor=clock, connect=redis.connect, origin=origin, **kw)
        brokers.append(broker)
        redis.pump()
        return broker

    yield make
    for broker in brokers:
        broker.stop()
    redis.pump()
    assert clock.getDelayedCalls() == [], "a timer outlived the brokers"


def collect(broker: RedisBroker, channel: str) -> list[Any]:
    got: list[Any] = []
    broker.subscribe(channel, got.append)
    return got


# ---------------------------------------------------------------------------
# Addresses and backoff
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6380", RedisAddress("127.0.0.1", 6380)),
        ("redis://localhost", RedisAddress("localhost", 6379)),
        ("redis://", RedisAddress("127.0.0.1", 6379)),
        ("redis://:s%40cret@h:1/0", RedisAddress("h", 1, None, "s@cret")),
        ("redis://me:pw@h:1/", RedisAddress("h", 1, "me", "pw")),
        ("redis://[::1]:7000", RedisAddress("::1", 7000)),
        ("rediss://:pw@h:1", RedisAddress("h", 1, None, "pw", tls=True)),
    ],
)
def test_redis_urls(url: str, expected: RedisAddress) -> None:
    assert RedisAddress.parse(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://h:1",
        "unix:///tmp/redis.sock",
        "redis://h:notaport",
        "redis://h:1/x",
        "redis://h:1?db=2",
    ],
)
def test_bad_redis_urls(url: str) -> None:
    with pytest.raises(ValueError, match="redis"):
        RedisAddress.parse(url)


def test_address_text_never_shows_the_password() -> None:
    assert str(RedisAddress.parse("redis://:pw@h:1")) == "redis://h:1"
    assert str(RedisAddress.parse("redis://[::1]:2")) == "redis://[::1]:2"
    assert str(RedisAddress.parse("rediss://u:pw@h:1")) == "rediss://h:1"


def test_backoff_grows_exponentially_to_the_cap() -> None:
    backoff = _Backoff(0.25, 5.0, 2.0, 0.0, lambda: 0.5)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.25, 0.5, 1, 2, 4, 5, 5, 5]
    assert backoff.delay(10_000) == 5.0  # no overflow after a very long outage


def test_backoff_jitter_stays_within_its_fraction() -> None:
    low = _Backoff(1.0, 8.0, 2.0, 0.2, lambda: 0.0)
    high = _Backoff(1.0, 8.0, 2.0, 0.2, lambda: 1.0)
    assert low.delay(3) == pytest.approx(3.2)
    assert high.delay(3) == pytest.approx(4.8)


@pytest.mark.parametrize(
    "kw",
    [
        {"initial_delay": 0},
        {"initial_delay": 6, "max_delay": 5},
        {"factor": 0.5},
        {"jitter": 1},
        {"origin": ""},
        {"origin": "has space"},
    ],
)
def test_bad_settings_are_refused(kw: dict[str, Any], clock: Clock, redis: FakeRedis) -> None:
    with pytest.raises(ValueError):
        RedisBroker(reactor=clock, connect=redis.connect, **kw)
    assert redis.attempts == 0


# ---------------------------------------------------------------------------
# Sharing channels
# ---------------------------------------------------------------------------


def test_a_message_reaches_subscribers_of_every_broker_once(
    make_broker: Any, redis: FakeRedis
) -> None:
    a, b = make_broker("A"), make_broker("B")
    got_a, got_b = collect(a, "room"), collect(b, "room")
    redis.pump()
    assert a.connected and b.connected
    assert sorted(a.channels) == ["room"]

    done: list[Any] = []
    a.publish("room", {"n": 1}).addCallback(done.append)
    assert got_a == [{"n": 1}]  # local subscribers at once, before Redis answers
    assert got_b == [] and done == []
    redis.pump()
    assert got_b == [{"n": 1}]
    assert got_a == [{"n": 1}]  # the echo from Redis was skipped
    assert done == [None]
    assert redis.sent("PUBLISH") == [["PUBLISH", "sockjs:room", 'A {"n":1}']]


def test_order_per_publisher_is_kept(make_broker: Any, redis: FakeRedis) -> None:
    a, b = make_broker("A"), make_broker("B")
    got_b = collect(b, "ch")
    redis.pump()
    for n in range(50):
        a.publish("ch", n)
    redis.pump()
    assert got_b == list(range(50))


def test_one_redis_subscription_per_channel(make_broker: Any, redis: FakeRedis) -> None:
    a = make_broker("A")
    first = a.subscribe("ch", lambda m: None)
    second = a.subscribe("ch", lambda m: None)
    redis.pump()
    assert redis.sent("SUBSCRIBE") == [["SUBSCRIBE", "sockjs:ch"]]
    assert a.subscriber_count("ch") == 2
    a.unsubscribe(first)
    redis.pump()
    assert redis.sent("UNSUBSCRIBE") == []
    a.unsubscribe(second)
    a.unsubscribe(second)  # idempotent
    redis.pump()
    assert redis.sent("UNSUBSCRIBE") == [["UNSUBSCRIBE", "sockjs:ch"]]
    assert a.channels == frozenset()


def test_an_ended_subscription_gets_nothing_more(make_broker: Any, redis: FakeRedis) -> None:
    a, b = make_broker("A"), make_broker("B")
    got: list[Any] = []
    subscription = b.subscribe("ch", got.append)
    redis.pump()
    a.publish("ch", "x")
    b.unsubscribe(subscription)  # while the message is on its way
    redis.pump()
    assert got == []


def test_prefix_separates_applications(make_broker: Any, redis: FakeRedis) -> None:
    a = make_broker("A", prefix="app1:")
    b = make_broker("B", prefix="app2:")
    got = collect(b, "ch")
    redis.pump()
    a.publish("ch", "x")
    redis.pump()
    assert got == []
    assert redis.sent("PUBLISH")[0][1] == "app1:ch"


@pytest.mark.parametrize("value", [{1, 2}, float("nan"), [float("inf")]], ids=repr)
def test_values_json_cannot_encode_are_refused(
    value: Any, make_broker: Any, redis: FakeRedis
) -> None:
    a = make_broker("A")
    got = collect(a, "ch")
    redis.pump()
    failures: list[Failure] = []
    a.publish("ch", value).addErrback(failures.append)
    assert len(failures) == 1 and failures[0].check(TypeError, ValueError)
    assert got == [] and redis.sent("PUBLISH") == []


def test_redis_gets_the_message_before_local_subscribers(
    make_broker: Any, redis: FakeRedis
) -> None:
    a = make_broker("A")
    written: list[bytes] = []
    a.subscribe("ch", lambda m: written.append(b"".join(c.transport.value() for c in redis.conns)))
    redis.pump()
    a.publish("ch", "x")
    assert b"PUBLISH" in written[0]


@pytest.mark.parametrize(
    "payload",
    [b"no-tag-here", b"X not json", b"X ", b"\xff\xfe", b"X NaN", b"X " + b"[" * 100_000],
    ids=["untagged", "bad-json", "empty", "not-utf8", "nan", "deep"],
)
def test_malformed_messages_are_counted_and_dropped(
    payload: bytes, make_broker: Any, redis: FakeRedis
) -> None:
    a = make_broker("A")
    got = collect(a, "ch")
    redis.pump()
    (subscriber,) = redis.subscribers()
    redis.deliver(subscriber, "sockjs:ch", payload)
    redis.deliver(subscriber, "other:ch", b'X "not ours"')
    redis.deliver(subscriber, "sockjs:ch", b'X "fine"')
    redis.pump()
    assert got == ["fine"]
    assert a.counters["redis_bad_message"] == 1


def test_numbers_stay_json(make_broker: Any, redis: FakeRedis) -> None:
    a, b = make_broker("A"), make_broker("B")
    got = collect(b, "ch")
    redis.pump()
    messages = ["12", 12, 1.5, None, True, [1, "2"], "x y z", {"é": "☃ \u2028"}]
    for message in messages:
        a.publish("ch", message)
    redis.pump()
    assert got == messages


# ---------------------------------------------------------------------------
# Outages
# ---------------------------------------------------------------------------


def test_local_delivery_goes_on_while_redis_is_down(
    make_broker: Any, redis: FakeRedis, clock: Clock
) -> None:
    a, b = make_broker("A"), make_broker("B")
    got_a, got_b = collect(a, "ch"), collect(b, "ch")
    redis.pump()
    redis.crash()
    assert not a.connected
    done: list[Any] = []
    a.publish("ch", "while down").addCallback(done.append)
    assert got_a == ["while down"] and done == [None]
    assert a.counters["redis_not_published"] == 1

    redis.up = True
    clock.advance(0.25)
    redis.pump()
    assert a.connected and b.connected
    assert got_b == []  # not replayed: pub/sub delivers at most once
    a.publish("ch", "back")
    redis.pump()
    assert got_b == ["back"]


def test_lost_connection_is_reported_and_retried_with_backoff(
    make_broker: Any, redis: FakeRedis, clock: Clock, logs: Any
) -> None:
    a = make_broker("A")
    stats = Stats()
    a.report_to(stats)
    collect(a, "one")
    collect(a, "two")
    redis.pump()
    redis.crash()
    assert a.counters["redis_disconnected"] == 1  # once per outage, not per connection
    assert stats.errors == {"redis_disconnected": 1}
    assert "Lost redis://127.0.0.1:6379" in logs.text()

    attempts = redis.attempts
    clock.advance(0.24)
    assert redis.attempts == attempts  # not before the first delay
    clock.advance(0.01)
    assert redis.attempts == attempts + 2  # both connections try again
    # Refused: 0.25 s, then 0.5 s, 1 s, ... between attempts.
    for delay in (0.25, 0.5, 1.0, 2.0):
        clock.advance(delay - 0.01)
        assert redis.attempts == attempts + 2
        clock.advance(0.01)
        attempts += 2
        assert redis.attempts == attempts + 2
    assert a.counters["redis_connect_failed"] == 10
    assert stats.errors["redis_connect_failed"] == 10

    redis.up = True
    clock.advance(4.0)
    redis.pump()
    assert a.connected
    assert "Reconnected to redis://127.0.0.1:6379 after" in logs.text()
    # Both channels were subscribed again on the new connection.
    assert sorted(redis.subscribers()[0].channels) == ["sockjs:one", "sockjs:two"]
    # A later outage starts the backoff from the beginning again.
    redis.crash()
    attempts = redis.attempts
    clock.advance(0.25)
    assert redis.attempts == attempts + 2
    assert a.counters["redis_disconnected"] == 2
    assert logs.unclaimed_failures() == []


def test_connecting_at_start_fails_then_succeeds(
    make_broker: Any, redis: FakeRedis, clock: Clock
) -> None:
    redis.up = False
    a = make_broker("A")
    got = collect(a, "ch")
    assert not a.connected and a.counters["redis_connect_failed"] == 2
    assert a.counters["redis_disconnected"] == 0  # it never had Redis
    redis.up = True
    clock.advance(0.25)
    redis.pump()
    assert a.connected
    assert redis.sent("SUBSCRIBE") == [["SUBSCRIBE", "sockjs:ch"]]
    a.publish("ch", 1)
    assert got == [1]


def test_a_redis_that_stops_answering_is_dropped(
    make_broker: Any, redis: FakeRedis, clock: Clock
) -> None:
    a = make_broker("A", reply_timeout=2.0)
    redis.pump()
    redis.answering = False
    done: list[Any] = []
    a.publish("ch", "x").addCallback(done.append)
    clock.advance(2.0)
    redis.answering = True
    redis.pump()  # the publisher connection was aborted
    assert done == [None]  # the caller is not left waiting
    assert a.counters["redis_not_published"] == 1
    assert a.counters["redis_disconnected"] == 1
    clock.advance(0.25)
    redis.pump()
    assert a.connected


def test_an_error_reply_to_publish_is_logged(make_broker: Any, redis: FakeRedis, logs: Any) -> None:
    a = make_broker("A")
    redis.pump()
    redis.refuse_publish = True
    done: list[Any] = []
    a.publish("ch", "x").addCallback(done.append)
    redis.pump()
    assert done == [None]
    assert a.counters["redis_not_published"] == 1
    assert "PUBLISH failed: READONLY" in logs.text()
    assert a.connected  # an error reply is no reason to reconnect


def test_stop_during_auth(make_broker: Any, redis: FakeRedis) -> None:
    redis.password = "pw"
    redis.answering = False
    a = make_broker("A", url="redis://:pw@127.0.0.1:6379")
    stopped: list[Any] = []
    a.stop().addCallback(stopped.append)
    redis.answering = True
    redis.pump()
    assert stopped == [None] and not a.connected


def test_password_is_sent_before_the_connection_is_used(make_broker: Any, redis: FakeRedis) -> None:
    redis.password = "s3cret"
    a = make_broker("A", url="redis://:s3cret@127.0.0.1:6379")
    collect(a, "ch")
    redis.pump()
    assert a.connected
    assert redis.sent("AUTH") == [["AUTH", "s3cret"], ["AUTH", "s3cret"]]
    assert redis.commands.index(["SUBSCRIBE", "sockjs:ch"]) > 1


def test_refused_password_is_retried_with_backoff(
    make_broker: Any, redis: FakeRedis, clock: Clock, logs: Any
) -> None:
    redis.password = "right"
    a = make_broker("A", url="redis://:wrong@127.0.0.1:6379")
    redis.pump()
    assert not a.connected
    assert a.counters["redis_connect_failed"] == 2
    assert "refused the publisher connection's AUTH" in logs.text()
    assert redis.conns == []  # closed
    attempts = redis.attempts
    clock.advance(0.25)
    redis.pump()
    assert redis.attempts == attempts + 2


def test_connection_lost_during_auth_is_a_failed_attempt(
    make_broker: Any, redis: FakeRedis, clock: Clock
) -> None:
    redis.password = "pw"
    redis.answering = False  # AUTH stays unanswered
    a = make_broker("A", url="redis://:pw@127.0.0.1:6379")
    redis.crash()
    assert a.counters["redis_connect_failed"] == 2
    assert a.counters["redis_disconnected"] == 0
    redis.up, redis.answering = True, True
    clock.advance(0.25)
    redis.pump()
    assert a.connected


# ---------------------------------------------------------------------------
# Stopping
# ---------------------------------------------------------------------------


def test_stop_closes_both_connections(make_broker: Any, redis: FakeRedis, clock: Clock) -> None:
    a = make_broker("A")
    stopped: list[Any] = []
    a.stop().addCallback(stopped.append)
    assert stopped == []
    redis.pump()
    assert stopped == [None] and redis.conns == []
    assert not a.connected
    assert a.counters["redis_disconnected"] == 0  # a shutdown is not an outage
    clock.advance(60)
    assert redis.attempts == 2  # and nothing reconnects


def test_stop_cancels_a_pending_retry(make_broker: Any, redis: FakeRedis, clock: Clock) -> None:
    redis.up = False
    a = make_broker("A")
    assert len(clock.getDelayedCalls()) == 2
    stopped: list[Any] = []
    a.stop().addCallback(stopped.append)
    assert stopped == [None] and clock.getDelayedCalls() == []


def test_stop_cancels_an_attempt_in_progress(make_broker: Any, redis: FakeRedis) -> None:
    redis.hold = True
    a = make_broker("A")
    assert len(redis.held) == 2
    stopped: list[Any] = []
    a.stop().addCallback(stopped.append)
    assert stopped == [None]
    for held in redis.held:
        assert held.called
        held.addErrback(lambda failure: failure.trap(CancelledError))


def test_publish_after_stop_stays_local(make_broker: Any, redis: FakeRedis) -> None:
    a = make_broker("A")
    got = collect(a, "ch")
    a.stop()
    redis.pump()
    a.publish("ch", "x")
    assert got == ["x"] and redis.sent("PUBLISH") == []


# ---------------------------------------------------------------------------
# With routers
# ---------------------------------------------------------------------------


class Room(SockJSConnection):
    def connectionMade(self, info: Any) -> None:
        self.subscribe("room")

    def messageReceived(self, message: Any) -> None:
        self.publish("room", message)


def test_sessions_of_two_routers_share_a_room(
    make_broker: Any, redis: FakeRedis, clock: Clock
) -> None:
    broker_a, broker_b = make_broker("A"), make_broker("B")
    with (
        SockJSTestServer(Room, broker=broker_a, clock=clock) as one,
        SockJSTestServer(Room, broker=broker_b, clock=clock) as two,
    ):
        broker_a.report_to(one.router)
        broker_a.report_to(one.router)  # the same router twice counts once
        ann, bob = one.open(), two.open()
        redis.pump()
        ann.send("hi from one")
        redis.pump()
        bob.send("hi from two")
        redis.pump()
        assert ann.pop_messages() == ["hi from one", "hi from two"]
        assert bob.pop_messages() == ["hi from one", "hi from two"]

        redis.crash()
        ann.send("alone")
        assert ann.pop_messages() == ["alone"]
        assert bob.pop_messages() == []
        stats = one.router.stats.dump()
        assert stats["errors_redis_disconnected"] == 1
        assert stats["errors_redis_not_published"] == 1
        redis.up = True
        clock.advance(0.25)
        redis.pump()
        bob.send("back")
        redis.pump()
        assert ann.pop_messages() == ["back"]
        ann.disconnect()
        bob.disconnect()
        redis.pump()
    assert redis.sent("UNSUBSCRIBE") == [
        ["UNSUBSCRIBE", "sockjs:room"],
        ["UNSUBSCRIBE", "sockjs:room"],
    ]


def test_report_to_needs_a_router_or_stats(make_broker: Any) -> None:
    with pytest.raises(TypeError):
        make_broker("A").report_to(object())
