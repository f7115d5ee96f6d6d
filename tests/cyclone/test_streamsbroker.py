"""StreamsBroker on a fake clock against an in-memory Redis with streams.

:class:`StreamsRedis` extends test_redisbroker's :class:`FakeRedis` with
XADD (``MAXLEN`` trimming), XRANGE, XREVRANGE and XREAD (``BLOCK``: a
blocked reader is answered by the next XADD, or with nil when its time is
up), plus the faults of the issue: connections killed with writes applied
but not answered, a Redis that stops answering, one that loses its data.
Real processes and a real redis-server are in tests/cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_redisbroker import Conn, FakeRedis, _bulk
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from sockjs.cyclone import SockJSConnection
from sockjs.cyclone.streamsbroker import Loss, LossKind, StreamsBroker
from sockjs.cyclone.testing import SockJSTestServer
from sockjs.protocol.brokerwire import encode_entry
from sockjs.protocol.stats import Stats

KEY = "sockjs:stream"


def resp(value: Any) -> bytes:
    """RESP encoding of a reply: None (nil array), str, int, list, Exception."""
    if value is None:
        return b"*-1\r\n"
    if isinstance(value, Exception):
        return f"-{value}\r\n".encode()
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(resp(item) for item in value)
    return _bulk(value)


def _key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class StreamsRedis(FakeRedis):
    """FakeRedis with just enough of Redis streams for the broker."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.streams: dict[str, list[tuple[str, list[str]]]] = {}
        self.next_id = 1
        self.blocked: dict[Conn, tuple[str, str, int, float]] = {}
        self.drop_replies = False  # apply commands but never answer (a reply lost on the way)
        self.refuse_xadd: str | None = None
        self.wrong_type = False
        self.held_protocols: list[tuple[Any, Deferred[Any]]] = []

    def _handle(self, conn: Conn, command: list[str]) -> None:
        name, args = command[0].upper(), command[1:]
        if name == "AUTH":
            super()._handle(conn, command)
        elif name == "PING":
            self._reply(
                conn, Exception("NOAUTH Authentication required.") if self.password else "PONG"
            )
        elif self.wrong_type:
            self._reply(conn, Exception("WRONGTYPE Operation against a key holding the wrong kind"))
        elif name == "XADD":
            self._xadd(conn, args)
        elif name == "XRANGE":
            key, start, end = args
            entries = self.streams.get(key, [])
            found = [e for e in entries if _key(start) <= _key(e[0]) <= _key(end)]
            self._reply(conn, [[entry_id, fields] for entry_id, fields in found])
        elif name == "XREVRANGE":
            entries = self.streams.get(args[0], [])
            self._reply(conn, [[entries[-1][0], entries[-1][1]]] if entries else [])
        elif name == "XREAD":
            count, block, key, after = int(args[1]), int(args[3]), args[5], args[6]
            found = self._after(key, after, count)
            if found:
                self._reply(conn, [[key, found]])
            else:
                self.blocked[conn] = (key, after, count, self.clock.seconds() + block / 1000)
        else:  # pragma: no cover - the broker sends nothing else
            super()._handle(conn, command)

    def _xadd(self, conn: Conn, args: list[str]) -> None:
        if self.refuse_xadd:
            self._reply(conn, Exception(self.refuse_xadd))
            return
        key, maxlen, fields = args[0], int(args[3]), args[5:]
        entry_id = f"{self.next_id}-0"
        self.next_id += 1
        entries = self.streams.setdefault(key, [])
        entries.append((entry_id, fields))
        del entries[: max(0, len(entries) - maxlen)]
        self._reply(conn, entry_id)
        for reader, (read_key, after, count, _) in list(self.blocked.items()):
            if read_key == key:
                del self.blocked[reader]
                self._reply(reader, [[key, self._after(key, after, count)]])

    def _after(self, key: str, after: str, count: int) -> list[list[Any]]:
        entries = self.streams.get(key, [])
        return [[i, f] for i, f in entries if _key(i) > _key(after)][:count]

    def _reply(self, conn: Conn, value: Any) -> None:
        if not self.drop_replies:
            self._send(conn, resp(value))

    def pump(self) -> None:
        """Answer everything, and time out blocked reads whose time is up."""
        super().pump()
        for conn, (_, _, _, deadline) in list(self.blocked.items()):
            if deadline <= self.clock.seconds() or conn.closed:
                del self.blocked[conn]
                self._reply(conn, None)
        super().pump()

    def kill_clients(self) -> None:
        """CLIENT KILL every connection (Redis stays up)."""
        for conn in list(self.conns):
            self.close(conn)

    def crash(self) -> None:
        super().crash()
        self.blocked.clear()

    def add_raw(self, data: str, key: str = KEY) -> None:
        """An entry written by someone else, straight into the stream."""
        self._xadd(Conn(None, None), [key, "MAXLEN", "~", "1000000", "*", "d", data])  # type: ignore[arg-type]

    def conn_of(self, broker: StreamsBroker, role: str) -> Conn:
        """The connection of ``broker``'s writer or reader."""
        return next(
            conn
            for conn in self.conns
            if conn.protocol.link.owner is broker and conn.protocol.link.role == role
        )

    def close(self, conn: Conn) -> None:
        """Close one connection from the server's side."""
        conn.transport.loseConnection()
        self._close(conn)
        self.blocked.pop(conn, None)

    def connect(self, protocol: Any) -> Deferred[Any]:
        if not self.hold:
            return super().connect(protocol)
        self.attempts += 1
        held: Deferred[Any] = Deferred()
        self.held_protocols.append((protocol, held))
        return held

    def release(self) -> None:
        """Let the held connection attempts through."""
        self.hold = False
        held, self.held_protocols = self.held_protocols, []
        for protocol, attempt in held:
            transport = StringTransport()
            protocol.makeConnection(transport)
            self.conns.append(Conn(protocol, transport))
            attempt.callback(protocol)

    def _send(self, conn: Conn, data: bytes) -> None:
        if conn.protocol is not None:
            super()._send(conn, data)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis(clock: Clock) -> StreamsRedis:
    return StreamsRedis(clock)


@pytest.fixture
def make_broker(clock: Clock, redis: StreamsRedis) -> Iterator[Any]:
    """Brokers on the fake clock and server; stopped (and checked) at teardown."""
    brokers: list[StreamsBroker] = []

    def make(origin: str = "A", **kw: Any) -> StreamsBroker:
        kw.setdefault("jitter", 0.0)
        kw.setdefault("url", "redis://127.0.0.1:6379")
        broker = StreamsBroker(reactor=clock, connect=redis.connect, origin=origin, **kw)
        brokers.append(broker)
        redis.pump()
        return broker

    yield make
    for broker in brokers:
        broker.stop()
    redis.pump()
    assert clock.getDelayedCalls() == [], "a timer outlived the brokers"


def collect(broker: StreamsBroker, channel: str) -> list[Any]:
    got: list[Any] = []
    broker.subscribe(channel, got.append)
    return got


def losses_of(broker: StreamsBroker) -> list[Loss]:
    found: list[Loss] = []
    broker.on_loss = found.append
    return found


# ---------------------------------------------------------------------------
# Sharing channels
# ---------------------------------------------------------------------------


def test_a_message_reaches_every_subscriber_once(make_broker: Any, redis: StreamsRedis) -> None:
    a, b = make_broker("A"), make_broker("B")
    got_a, got_b = collect(a, "room"), collect(b, "room")
    assert a.connected and b.connected
    done: list[Any] = []
    a.publish("room", {"n": 1}).addCallback(done.append)
    assert got_a == [{"n": 1}] and done == [None]  # local subscribers at once
    assert got_b == []
    redis.pump()
    assert got_b == [{"n": 1}]
    assert got_a == [{"n": 1}]  # its own entry was skipped
    assert a.buffered_bytes == 0
    assert redis.sent("XADD")[0][:7] == ["XADD", KEY, "MAXLEN", "~", "100000", "*", "d"]


def test_order_and_channels_are_kept(make_broker: Any, redis: StreamsRedis) -> None:
    a, b = make_broker("A", read_count=7), make_broker("B", read_count=7)
    got_one, got_two = collect(b, "one"), collect(b, "two")
    for n in range(50):
        a.publish("one" if n % 3 else "two", n)
    redis.pump()
    assert got_one == [n for n in range(50) if n % 3]
    assert got_two == [n for n in range(50) if not n % 3]
    messages = ["12", 12, 1.5, None, True, [1, "2"], "x y z", {"é": "☃ \u2028"}]
    for message in messages:
        a.publish("ch 3", message)
    got = collect(b, "ch 3")
    redis.pump()
    assert got == messages


def test_a_subscription_needs_no_redis_command(make_broker: Any, redis: StreamsRedis) -> None:
    a, b = make_broker("A"), make_broker("B")
    commands = len(redis.commands)
    subscription = b.subscribe("late", lambda m: None)
    assert b.subscriber_count("late") == 1
    b.unsubscribe(subscription)
    b.unsubscribe(subscription)
    assert b.subscriber_count("late") == 0 and len(redis.commands) == commands
    a.publish("late", "nobody here")
    redis.pump()  # read, not decoded, not delivered


@pytest.mark.parametrize("value", [{1, 2}, float("nan")], ids=repr)
def test_values_json_cannot_encode_are_refused(value: Any, make_broker: Any) -> None:
    a = make_broker("A")
    got = collect(a, "ch")
    failures: list[Failure] = []
    a.publish("ch", value).addErrback(failures.append)
    assert len(failures) == 1 and got == [] and a.buffered_bytes == 0


# ---------------------------------------------------------------------------
# Faults: nothing lost, nothing twice
# ---------------------------------------------------------------------------


def test_messages_wait_for_redis_and_are_written_in_order(
    make_broker: Any, redis: StreamsRedis, clock: Clock, logs: Any
) -> None:
    a, b = make_broker("A"), make_broker("B")
    got_a, got_b = collect(a, "ch"), collect(b, "ch")
    redis.crash()
    assert not a.connected and a.counters["redis_disconnected"] == 1
    for n in range(5):
        a.publish("ch", n)
    assert got_a == list(range(5)) and a.buffered_bytes > 0
    assert "messages wait in the buffer" in logs.text()
    redis.up = True
    clock.advance(0.25)
    redis.pump()
    assert a.connected and b.connected and a.buffered_bytes == 0
    assert got_b == list(range(5))
    assert "writing the buffer, reading on" in logs.text()


def test_writes_applied_but_not_answered_are_not_delivered_twice(
    make_broker: Any, redis: StreamsRedis, clock: Clock
) -> None:
    a, b = make_broker("A"), make_broker("B")
    got_b = collect(b, "ch")
    losses = losses_of(b)
    redis.drop_replies = True
    for n in range(4):
        a.publish("ch", n)
    redis.pump()  # stored, unanswered
    redis.drop_replies = False
    redis.kill_clients()
    clock.advance(0.25)
    redis.pump()
    assert len(redis.streams[KEY]) == 8  # written twice...
    assert got_b == [0, 1, 2, 3]  # ...delivered once
    assert losses == [] and a.buffered_bytes == 0


def test_a_redis_that_stops_answering_is_dropped_and_written_to_again(
    make_broker: Any, redis: StreamsRedis, clock: Clock
) -> None:
    a, b = make_broker("A", reply_timeout=2.0), make_broker("B", reply_timeout=2.0)
    got_b = collect(b, "ch")
    redis.answering = False
    a.publish("ch", "x")
    clock.advance(2.0)  # the writer gives up; the reader waits block + reply_timeout
    redis.answering = True
    redis.pump()
    assert a.counters["redis_disconnected"] == 1
    clock.advance(0.25)
    redis.pump()
    assert got_b == ["x"]


def test_the_reader_resumes_from_the_last_entry_it_read(
    make_broker: Any, redis: StreamsRedis, clock: Clock
) -> None:
    a, b = make_broker("A"), make_broker("B")
    got_b = collect(b, "ch")
    lost_b = losses_of(b)
    a.publish("ch", "before")
    redis.pump()
    redis.hold = True  # B's reader cannot reconnect for now
    redis.close(redis.conn_of(b, "reader"))
    clock.advance(0.25)
    a.publish("ch", "while B was away")  # A's writer is still connected
    redis.pump()
    assert got_b == ["before"]
    redis.release()
    redis.pump()
    assert got_b == ["before", "while B was away"]
    assert lost_b == [] and redis.sent("XRANGE")[-1][2] != "0-0"


@pytest.mark.parametrize("deep", [False, True])
def test_undecodable_entries_are_counted_and_skipped(
    deep: bool, make_broker: Any, redis: StreamsRedis
) -> None:
    a, b = make_broker("A"), make_broker("B")
    stats = Stats()
    b.report_to(stats)
    got = collect(b, "ch")
    if deep:  # RecursionError in the JSON decoder
        redis.add_raw(encode_entry("X", 1, "ch", "[" * 100_000).decode())
    else:
        for data in ("not an entry", "X 1 2 ch", "X 2 2 chNaN", "X 3 99 ch"):
            redis.add_raw(data)
    a.publish("ch", "next")
    redis.pump()
    assert got == ["next"]
    assert b.counters["redis_bad_message"] == (1 if deep else 4)
    assert stats.errors["redis_bad_message"] == b.counters["redis_bad_message"]


# ---------------------------------------------------------------------------
# Losses are reported
# ---------------------------------------------------------------------------


def test_a_full_buffer_reports_the_loss_on_both_sides(
    make_broker: Any, redis: StreamsRedis, clock: Clock, logs: Any
) -> None:
    a, b = make_broker("A", buffer_bytes=100), make_broker("B")
    got_a, got_b = collect(a, "ch"), collect(b, "ch")
    lost_a, lost_b = losses_of(a), losses_of(b)
    a.publish("ch", "first")
    redis.pump()
    redis.crash()
    for n in range(8):
        a.publish("ch", f"message {n}")  # 19 bytes each: 5 fit in the buffer
    assert got_a[-1] == "message 7"  # local subscribers got them all
    assert [loss.kind for loss in lost_a] == [LossKind.OVERFLOW] * 3
    assert lost_a[0] == Loss(LossKind.OVERFLOW, 1, "ch", "A")
    assert a.counters["redis_buffer_overflow"] == 3
    redis.up = True
    clock.advance(0.25)
    redis.pump()
    assert got_b == ["first"] + [f"message {n}" for n in range(5)]
    a.publish("ch", "after")
    redis.pump()
    assert got_b[-1] == "after"
    assert lost_b == [Loss(LossKind.SEQUENCE_GAP, 3, None, "A")]
    assert b.counters["redis_stream_gap"] == 1
    text = logs.text()
    assert "buffer full: a message on 'ch' stayed in this process" in text
    assert "3 message(s) of A never arrived" in text


def test_a_reader_behind_the_retention_reports_the_gap(
    make_broker: Any, redis: StreamsRedis, clock: Clock, logs: Any
) -> None:
    a, b = make_broker("A", retention=5), make_broker("B", retention=5)
    got_b = collect(b, "ch")
    lost_b = losses_of(b)
    a.publish("ch", 0)
    redis.pump()
    redis.hold = True
    redis.close(redis.conn_of(b, "reader"))
    clock.advance(0.25)
    for n in range(1, 11):
        a.publish("ch", n)  # while B does not read: 0 to 5 are trimmed away
    redis.pump()
    redis.release()
    redis.pump()
    assert got_b == [0, 6, 7, 8, 9, 10]
    assert lost_b == [Loss(LossKind.RETENTION_GAP, 5)]
    assert b.counters["redis_stream_gap"] == 1
    assert "fell behind the stream's retention (or Redis lost the stream): at least 5" in (
        logs.text()
    )


def test_a_hook_can_resync_the_clients_of_this_process(
    make_broker: Any, redis: StreamsRedis, clock: Clock
) -> None:
    a, b = make_broker("A", retention=1), make_broker("B")
    got_a, got_b = collect(a, "ch"), collect(b, "ch")

    def resync(loss: Loss) -> None:
        if loss.kind in (LossKind.SEQUENCE_GAP, LossKind.RETENTION_GAP):
            b.publish_locally(loss.channel or "ch", {"resync": str(loss.kind)})

    b.on_loss = resync
    a.publish("ch", 1)
    redis.pump()
    redis.hold = True
    redis.close(redis.conn_of(b, "reader"))
    clock.advance(0.25)
    a.publish("ch", 2)
    a.publish("ch", 3)
    redis.pump()
    redis.release()
    redis.pump()
    assert got_b == [1, 3, {"resync": "retention_gap"}]
    assert got_a == [1, 2, 3]  # only B's clients were told


def test_a_redis_that_lost_the_stream_reports_one_gap(
    make_broker: Any, redis: StreamsRedis, clock: Clock
) -> None:
    a, b = make_broker("A"), make_broker("B")
    got_b = collect(b, "ch")
    lost_b = losses_of(b)
    a.publish("ch", 1)
    redis.pump()
    redis.crash()
    redis.streams.clear()  # restarted without persistence
    redis.up = True
    clock.advance(0.25)
    redis.pump()
    for _ in range(3):
        clock.advance(2.0)  # empty reads: reported once
        redis.pump()
    a.publish("ch", 2)
    redis.pump()
    assert got_b == [1, 2]
    assert lost_b == [Loss(LossKind.RETENTION_GAP)]


def test_a_refused_write_is_reported(make_broker: Any, redis: StreamsRedis, logs: Any) -> None:
    a = make_broker("A")
    lost = losses_of(a)
    redis.refuse_xadd = "OOM command not allowed when used memory > 'maxmemory'."
    a.publish("ch", "x")
    redis.pump()
    assert lost == [Loss(LossKind.REFUSED, 1, "ch", "A")]
    assert a.counters["redis_not_published"] == 1 and a.buffered_bytes == 0
    assert "XADD failed: OOM" in logs.text()


def test_a_hook_that_raises_is_logged(make_broker: Any, redis: StreamsRedis, logs: Any) -> None:
    a = make_broker("A", buffer_bytes=0)

    def broken(loss: Loss) -> None:
        raise RuntimeError("resync failed")

    a.on_loss = broken
    a.publish("ch", "x")
    assert len(logs.take_failures()) == 1
    a.on_loss = None
    a.publish("ch", "y")
    assert a.counters["redis_buffer_overflow"] == 2


def test_a_stream_key_of_another_type_is_retried_slowly(
    make_broker: Any, redis: StreamsRedis, clock: Clock, logs: Any
) -> None:
    redis.wrong_type = True
    a = make_broker("A")
    assert "Reading the stream failed: WRONGTYPE" in logs.text()
    reads = len(redis.sent("XREVRANGE"))
    for n in range(1, 4):  # failures 1, 2 and 4 are logged
        clock.advance(5.0)
        redis.pump()
        assert len(redis.sent("XREVRANGE")) == reads + n
    assert logs.text().count("Reading the stream failed") == 3
    # A retry due on a connection that has gone since does nothing.
    redis.close(redis.conn_of(a, "reader"))
    clock.advance(0.25)
    redis.pump()
    reads = len(redis.sent("XREVRANGE"))
    redis.wrong_type = False
    clock.advance(5.0)
    redis.pump()
    assert a.connected and redis.blocked
    assert len(redis.sent("XREVRANGE")) == reads + 1
    # stop() cancels a retry that is due.
    redis.wrong_type = True
    redis.close(redis.conn_of(a, "reader"))
    clock.advance(0.25)
    redis.pump()
    a.stop()
    assert clock.getDelayedCalls() == []


def test_a_tls_connection_is_used_once_a_reply_came_through(
    make_broker: Any, redis: StreamsRedis, clock: Clock, logs: Any
) -> None:
    # Under TLS, connectionMade comes before the handshake: PING proves it.
    a = make_broker("A", url="rediss://localhost:6380")
    assert a.connected
    assert redis.sent("PING") == [["PING"], ["PING"]]
    assert "Connected to rediss://localhost:6380" in logs.text()
    a.stop()
    redis.pump()
    redis.password = "pw"  # a PING refused counts as a failed attempt
    b = make_broker("B", url="rediss://localhost:6380")
    assert not b.connected and b.counters["redis_connect_failed"] == 2


# ---------------------------------------------------------------------------
# Settings, stopping, routers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"retention": 0},
        {"buffer_bytes": -1},
        {"read_count": 0},
        {"block": 0},
        {"initial_delay": 0},
        {"tls": object()},
    ],
)
def test_bad_settings_are_refused(kw: dict[str, Any], clock: Clock, redis: StreamsRedis) -> None:
    with pytest.raises(ValueError):
        StreamsBroker(reactor=clock, connect=redis.connect, **kw)
    assert redis.attempts == 0


def test_stop_reports_what_was_not_written(
    make_broker: Any, redis: StreamsRedis, logs: Any
) -> None:
    a = make_broker("A")
    redis.crash()
    a.publish("ch", "x")
    stopped: list[Any] = []
    a.stop().addCallback(stopped.append)
    assert stopped == [None]
    assert a.counters["redis_not_published"] == 1
    assert "Stopping with 1 message(s) not written" in logs.text()


class Room(SockJSConnection):
    def connectionMade(self, info: Any) -> None:
        self.subscribe("room")

    def messageReceived(self, message: Any) -> None:
        self.publish("room", message)


def test_sessions_of_two_routers_share_a_room(
    make_broker: Any, redis: StreamsRedis, clock: Clock
) -> None:
    broker_a, broker_b = make_broker("A"), make_broker("B")
    with (
        SockJSTestServer(Room, broker=broker_a, clock=clock) as one,
        SockJSTestServer(Room, broker=broker_b, clock=clock) as two,
    ):
        broker_b.report_to(two.router)
        ann, bob = one.open(), two.open()
        ann.send("hi from one")
        redis.pump()
        bob.send("hi from two")
        redis.pump()
        assert ann.pop_messages() == ["hi from one", "hi from two"]
        assert bob.pop_messages() == ["hi from one", "hi from two"]
        redis.crash()
        ann.send("kept for later")
        assert ann.pop_messages() == ["kept for later"]
        redis.up = True
        clock.advance(0.25)
        redis.pump()
        assert bob.pop_messages() == ["kept for later"]
        assert two.router.stats.dump()["errors_redis_disconnected"] == 1
        ann.disconnect()
        bob.disconnect()
        redis.pump()
