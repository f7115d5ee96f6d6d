"""Structured log events: documented names, levels and fields (sockjs.cyclone.logevents).

Every test drives a real router in memory under a ``Clock`` (see
``helpers``) and reads what the ``logs`` fixture, a ``twisted.logger``
observer on the global publisher, captured. The documentation
(docs/operations.rst) promises these names and fields; log pipelines match
on them, so they are checked here one by one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helpers
import pytest
from twisted.internet.defer import Deferred
from twisted.logger import (
    FilteringLogObserver,
    LogEvent,
    LogLevel,
    LogLevelFilterPredicate,
    LogPublisher,
    jsonFileLogObserver,
)
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import Protocol, Side, State

from sockjs.cyclone import MultiplexConnection, SockJSConnection, logevents
from sockjs.cyclone.logevents import (
    APP_EXCEPTION,
    EVENTS,
    INTERNAL_ERROR,
    LIMIT_HIT,
    REQUEST_REJECTED,
    SESSION_CLOSED,
    SESSION_OPENED,
    TRANSPORT_ERROR,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.rst"

#: Fields every event of a given name carries (besides ``sockjs_event``).
FIELDS = {
    SESSION_OPENED: {"router", "transport", "ip"},
    SESSION_CLOSED: {"router", "transport", "code", "reason", "initiator"},
    REQUEST_REJECTED: {"router", "route", "method", "status", "kind", "detail"},
    TRANSPORT_ERROR: {"router", "kind", "detail", "code", "status", "ip"},
    LIMIT_HIT: {"router", "kind", "limit", "detail", "code", "status", "ip"},
    APP_EXCEPTION: {"router", "hook", "log_failure"},
    INTERNAL_ERROR: {"router", "route", "method", "log_failure"},
}
LEVELS = {
    SESSION_OPENED: LogLevel.debug,
    SESSION_CLOSED: LogLevel.debug,
    REQUEST_REJECTED: LogLevel.info,
    TRANSPORT_ERROR: LogLevel.info,
    LIMIT_HIT: LogLevel.warn,
    APP_EXCEPTION: LogLevel.error,
    INTERNAL_ERROR: LogLevel.critical,
}


def sockjs_events(logs: helpers.LogCapture, name: str | None = None) -> list[LogEvent]:
    """Captured events that carry ``sockjs_event`` (of one name, if given)."""
    found = [event for event in logs.events if "sockjs_event" in event]
    return [event for event in found if name is None or event["sockjs_event"] == name]


def only(logs: helpers.LogCapture, name: str) -> LogEvent:
    """The single event of that name."""
    (event,) = sockjs_events(logs, name)
    return event


def check_shape(event: LogEvent) -> None:
    """Name, namespace, level and fields as documented."""
    name = event["sockjs_event"]
    assert name in EVENTS
    assert event["log_namespace"] == logevents.NAMESPACE
    assert event["log_level"] is LEVELS[name]
    missing = FIELDS[name] - set(event)
    assert not missing, (name, missing)


class WS:
    """A minimal RFC 6455 client on a :class:`helpers.Client` (masked frames)."""

    def __init__(self, server: helpers.Server, path: str = "/000/s1/websocket") -> None:
        self.conn = server.client()
        lines = [
            f"GET {server.prefix}{path} HTTP/1.1",
            "Host: 127.0.0.1:8081",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
        ]
        self.conn.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = self.conn.new_data()
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), data
        self.peer = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
        self._frames: list[Frame] = []
        self._feed(rest)

    def _feed(self, data: bytes) -> None:
        if data:
            self.peer.receive_data(data)
            self._frames += [e for e in self.peer.events_received() if isinstance(e, Frame)]

    def send(self, text: str) -> None:
        self.peer.send_text(text.encode())
        self._push()

    def send_binary(self, data: bytes) -> None:
        self.peer.send_binary(data)
        self._push()

    def _push(self) -> None:
        self.conn.send_raw(b"".join(self.peer.data_to_send()))

    def texts(self) -> list[str]:
        self._feed(self.conn.new_data())
        frames, self._frames = self._frames, []
        return [bytes(f.data).decode() for f in frames if f.opcode is Opcode.TEXT]

    def close_code(self) -> int:
        self._feed(self.conn.new_data())
        closes = [f for f in self._frames if f.opcode is Opcode.CLOSE]
        assert closes, self._frames
        return Close.parse(bytes(closes[-1].data)).code


# ---------------------------------------------------------------------------
# Sessions: debug level, with the close details
# ---------------------------------------------------------------------------


def test_session_opened_and_expired(logs: helpers.LogCapture) -> None:
    server = helpers.Server(settings={"disconnect_delay": 5})
    server.open()
    opened = only(logs, SESSION_OPENED)
    check_shape(opened)
    assert (opened["router"], opened["transport"], opened["ip"]) == ("/echo", "xhr", "127.0.0.1")
    assert sockjs_events(logs, SESSION_CLOSED) == []
    server.advance(5)
    closed = only(logs, SESSION_CLOSED)
    check_shape(closed)
    assert closed["router"] == "/echo"
    assert closed["transport"] == "xhr"
    assert (closed["code"], closed["reason"], closed["initiator"]) == (
        1000,
        "Session expired",
        "timeout",
    )


def test_session_closed_by_the_application(logs: helpers.LogCapture) -> None:
    class Closer(SockJSConnection):
        def messageReceived(self, message: Any) -> None:
            self.close(3001, "done")

    server = helpers.Server(Closer, prefix="/app")
    sid = server.open()
    server.send(sid, "bye")
    closed = only(logs, SESSION_CLOSED)
    check_shape(closed)
    assert (closed["router"], closed["code"], closed["reason"], closed["initiator"]) == (
        "/app",
        3001,
        "done",
        "application",
    )


def test_session_closed_by_the_client_on_a_stream(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    stream = server.poll(helpers.new_sid(), "xhr_streaming")
    stream.abort()
    closed = only(logs, SESSION_CLOSED)
    check_shape(closed)
    assert closed["transport"] == "xhr_streaming"
    assert (closed["code"], closed["initiator"]) == (1002, "client")


def test_websocket_session_events(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    ws = WS(server)
    assert ws.texts() == ["o"]
    ws.send('["hi"]')
    assert ws.texts() == ['a["hi"]']
    ws.conn.abort()
    opened = only(logs, SESSION_OPENED)
    closed = only(logs, SESSION_CLOSED)
    assert opened["transport"] == closed["transport"] == "websocket"
    assert closed["initiator"] == "client"


def test_raw_websocket_session_events(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    ws = WS(server, "/websocket")
    ws.send("hi")
    assert ws.texts() == ["hi"]
    ws.conn.abort()
    assert only(logs, SESSION_OPENED)["transport"] == "rawwebsocket"
    closed = only(logs, SESSION_CLOSED)
    check_shape(closed)
    assert closed["transport"] == "rawwebsocket"


def test_no_event_per_message(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    sid = server.open()
    before = len(logs.events)
    for _ in range(20):
        server.send(sid, "x")
        server.poll(sid)
    assert [e for e in logs.events[before:] if "sockjs_event" in e] == []


# ---------------------------------------------------------------------------
# Refused requests and transport errors: info level
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "kind", "status"),
    [
        (b"[broken", "bad_json", 500),
        (b"", "payload_expected", 500),
    ],
)
def test_request_rejected(logs: helpers.LogCapture, body: bytes, kind: str, status: int) -> None:
    server = helpers.Server()
    sid = server.open()
    response = server.send(sid, raw=body)
    assert response.status == status
    event = only(logs, REQUEST_REJECTED)
    check_shape(event)
    assert (event["router"], event["route"], event["method"]) == ("/echo", "xhr_send", "POST")
    assert (event["status"], event["kind"]) == (status, kind)
    assert event["detail"] == response.body.decode().strip()
    assert server.router.stats.dump()[f"errors_{kind}"] == 1


def test_unknown_session_is_rejected_without_its_id(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    response = server.send("secret-session-id", "x")
    assert response.status == 404
    event = only(logs, REQUEST_REJECTED)
    assert (event["kind"], event["status"], event["route"]) == ("no_session", 404, "xhr_send")
    assert "secret-session-id" not in logs.text()
    assert server.router.stats.dump()["errors_no_session"] == 1


def test_jsonp_without_callback(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    response = server.get(f"/000/{helpers.new_sid()}/jsonp")
    assert response.status == 500
    event = only(logs, REQUEST_REJECTED)
    assert (event["route"], event["method"], event["kind"]) == ("jsonp", "GET", "bad_callback")


def test_second_receiver(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    sid = server.open()
    first = server.poll(sid)
    second = server.poll(sid)
    assert second.response().body == b'c[2010,"Another connection still open"]\n'
    event = only(logs, TRANSPORT_ERROR)
    check_shape(event)
    assert (event["router"], event["kind"], event["code"]) == ("/echo", "another_connection", 2010)
    assert server.router.stats.dump()["errors_another_connection"] == 1
    first.abort()


def test_receiver_from_another_ip(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    sid = server.open()
    other = server.poll(sid, ip="10.0.0.9")
    assert other.response().body == b'c[2010,"Another connection still open"]\n'
    event = only(logs, TRANSPORT_ERROR)
    assert (event["kind"], event["code"]) == ("ip_mismatch", 2010)
    assert server.router.stats.dump()["errors_ip_mismatch"] == 1


def test_refused_upgrade(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    response = server.get("/000/s1/websocket")
    assert response.status == 400
    event = only(logs, TRANSPORT_ERROR)
    check_shape(event)
    assert (event["kind"], event["status"], event["code"]) == ("bad_upgrade", 400, None)
    assert server.router.stats.dump()["errors_bad_upgrade"] == 1


def test_websocket_broken_framing(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    ws = WS(server)
    ws.send("not json")
    assert ws.close_code() == 3000
    event = only(logs, TRANSPORT_ERROR)
    check_shape(event)
    assert (event["kind"], event["code"]) == ("bad_json", 3000)
    assert server.router.stats.dump()["errors_bad_json"] == 1


def test_websocket_binary_message(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    ws = WS(server, "/websocket")
    ws.send_binary(b"\x00\x01")
    assert ws.close_code() == 1003
    event = only(logs, TRANSPORT_ERROR)
    assert (event["kind"], event["code"]) == ("binary_message", 1003)
    assert server.router.stats.dump()["errors_binary_message"] == 1


def test_websocket_protocol_error(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    ws = WS(server)
    # An unmasked client frame is a protocol violation (RFC 6455 5.1).
    ws.conn.send_raw(b"\x81\x02hi")
    assert ws.close_code() == 1002
    event = only(logs, TRANSPORT_ERROR)
    assert (event["kind"], event["code"]) == ("ws_protocol_error", 1002)
    assert server.router.stats.dump()["errors_ws_protocol_error"] == 1


def test_hixie76_handshake_timeout(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    client = server.client()
    lines = [
        f"GET {server.prefix}/000/s1/websocket HTTP/1.1",
        "Host: localhost:8081",
        "Connection: Upgrade",
        "Upgrade: WebSocket",
        "Origin: http://localhost:8081",
        "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5",
        "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00",
    ]
    client.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
    server.advance(30)
    assert client.closed_by_server
    event = only(logs, TRANSPORT_ERROR)
    assert event["kind"] == "handshake_timeout"
    assert server.router.stats.dump()["errors_handshake_timeout"] == 1


# ---------------------------------------------------------------------------
# Limits: warn level
# ---------------------------------------------------------------------------


def test_body_over_max_request_body(logs: helpers.LogCapture) -> None:
    server = helpers.Server(settings={"max_request_body": 10})
    sid = server.open()
    response = server.send(sid, "x" * 20)
    assert response.status == 413
    event = only(logs, LIMIT_HIT)
    check_shape(event)
    assert (event["router"], event["kind"], event["limit"], event["status"]) == (
        "/echo",
        "body_too_large",
        "max_request_body",
        413,
    )
    assert sockjs_events(logs, REQUEST_REJECTED) == []
    assert server.router.stats.dump()["errors_body_too_large"] == 1


def test_body_refused_early_by_the_hardened_connection(logs: helpers.LogCapture) -> None:
    server = helpers.Server(settings={"max_request_body": 10}, hardened=True)
    response = server.post(f"/000/{helpers.new_sid()}/xhr_send", b"x" * 20)
    assert response.status == 413
    event = only(logs, LIMIT_HIT)
    check_shape(event)
    assert (event["router"], event["kind"], event["limit"]) == (
        "/echo",
        "body_too_large",
        "max_request_body",
    )
    assert event["ip"] == "127.0.0.1"
    assert server.router.stats.dump()["errors_body_too_large"] == 1


def test_head_too_large_outside_any_router(logs: helpers.LogCapture) -> None:
    server = helpers.Server(hardened=True)
    client = server.client()
    headers = [(f"X-Filler-{n}", "y") for n in range(200)]
    client.request("GET", "/elsewhere", headers=headers)
    assert client.response().status == 431
    event = only(logs, LIMIT_HIT)
    assert (event["router"], event["kind"], event["limit"], event["status"]) == (
        None,
        "head_too_large",
        "max_headers",
        431,
    )
    assert "errors_head_too_large" not in server.router.stats.dump()


def test_malformed_request_is_a_transport_error(logs: helpers.LogCapture) -> None:
    server = helpers.Server(hardened=True)
    client = server.client()
    client.send_raw(b"POST /echo/000/s/xhr_send HTTP/1.1\r\nContent-Length: 1x\r\n\r\n")
    assert client.response().status == 400
    event = only(logs, TRANSPORT_ERROR)
    assert (event["router"], event["kind"], event["status"]) == ("/echo", "bad_request", 400)
    assert server.router.stats.dump()["errors_bad_request"] == 1


def test_request_timeout(logs: helpers.LogCapture) -> None:
    server = helpers.Server(hardened=True)
    client = server.client()
    client.send_raw(b"POST /echo/000/s/xhr_send HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    server.advance(30)
    assert client.response().status == 408
    event = only(logs, LIMIT_HIT)
    assert (event["router"], event["kind"], event["limit"]) == (
        "/echo",
        "request_timeout",
        "request_timeout",
    )


def test_slow_consumer_on_a_stream(logs: helpers.LogCapture) -> None:
    server = helpers.Server(settings={"max_queued_bytes": 1000})
    stream = server.poll(helpers.new_sid(), "xhr_streaming")
    stream.producer.pauseProducing()
    conn = server.router.connections[0]
    for _ in range(12):
        conn.sendMessage("x" * 100)
    event = only(logs, LIMIT_HIT)
    check_shape(event)
    assert (event["kind"], event["limit"], event["code"]) == (
        "slow_consumer",
        "max_queued_bytes",
        1013,
    )
    closed = only(logs, SESSION_CLOSED)
    assert (closed["code"], closed["initiator"]) == (1013, "server")
    assert server.router.stats.dump()["errors_slow_consumer"] == 1
    stream.abort()


def test_slow_consumer_on_a_raw_websocket(logs: helpers.LogCapture) -> None:
    server = helpers.Server(settings={"max_queued_bytes": 1000})
    ws = WS(server, "/websocket")
    ws.conn.producer.pauseProducing()
    conn = server.router.connections[0]
    for _ in range(12):
        conn.sendMessage("x" * 100)
    event = only(logs, LIMIT_HIT)
    assert (event["kind"], event["limit"], event["code"]) == (
        "slow_consumer",
        "max_queued_bytes",
        1013,
    )
    assert server.router.stats.dump()["errors_slow_consumer"] == 1


def test_websocket_message_too_big(logs: helpers.LogCapture) -> None:
    server = helpers.Server(settings={"max_message_size": 64})
    ws = WS(server)
    ws.send('["' + "x" * 100 + '"]')
    assert ws.close_code() == 1009
    event = only(logs, LIMIT_HIT)
    check_shape(event)
    assert (event["kind"], event["limit"]) == ("message_too_big", "max_message_size")
    assert server.router.stats.dump()["errors_message_too_big"] == 1


# ---------------------------------------------------------------------------
# Application and internal errors
# ---------------------------------------------------------------------------


def test_app_exception_in_message_received(logs: helpers.LogCapture) -> None:
    class Broken(SockJSConnection):
        def messageReceived(self, message: Any) -> None:
            raise ValueError("boom")

    server = helpers.Server(Broken)
    sid = server.open()
    server.send(sid, "x")
    assert len(logs.take_failures()) == 1
    event = only(logs, APP_EXCEPTION)
    check_shape(event)
    assert event["router"] == "/echo"
    assert event["hook"].endswith("Broken.messageReceived")
    assert event["log_failure"].check(ValueError)
    assert only(logs, SESSION_CLOSED)["code"] == 1011
    assert server.router.stats.dump()["errors_app_exception"] == 1


@pytest.mark.parametrize("hook", ["connectionMade", "messageReceived", "connectionLost"])
def test_app_exception_from_a_deferred(logs: helpers.LogCapture, hook: str) -> None:
    def failing(*args: Any) -> Deferred[None]:
        return Deferred.fromCoroutine(_fail())

    conn_class = type("Async", (SockJSConnection,), {hook: failing})
    server = helpers.Server(conn_class)
    sid = helpers.new_sid()
    server.post(f"/000/{sid}/xhr")
    if hook == "messageReceived":
        server.send(sid, "x")
    if hook == "connectionLost":
        server.advance(server.options.disconnect_delay)
    assert len(logs.take_failures()) == 1
    event = only(logs, APP_EXCEPTION)
    check_shape(event)
    assert event["hook"] == f"Async.{hook}"


async def _fail() -> None:
    raise RuntimeError("async boom")


def test_app_exception_on_a_raw_websocket(logs: helpers.LogCapture) -> None:
    class Broken(SockJSConnection):
        def messageReceived(self, message: Any) -> None:
            raise ValueError("boom")

    server = helpers.Server(Broken)
    ws = WS(server, "/websocket")
    ws.send("x")
    assert ws.close_code() == 1011
    assert len(logs.take_failures()) == 1
    assert only(logs, APP_EXCEPTION)["hook"].endswith("Broken.messageReceived")


def test_app_exception_on_a_raw_websocket_deferred(logs: helpers.LogCapture) -> None:
    class Broken(SockJSConnection):
        def connectionMade(self, info: Any) -> Deferred[None]:
            return Deferred.fromCoroutine(_fail())

    server = helpers.Server(Broken)
    ws = WS(server, "/websocket")
    assert ws.conn.closed_by_server  # refused: the close code is not what this test is about
    assert len(logs.take_failures()) == 1
    assert only(logs, APP_EXCEPTION)["hook"].endswith(".Broken.connectionMade")


def test_app_exception_in_a_multiplex_channel(logs: helpers.LogCapture) -> None:
    class Channel(SockJSConnection):
        def messageReceived(self, message: Any) -> None:
            raise ValueError("channel boom")

    server = helpers.Server(MultiplexConnection.create(ch=Channel), prefix="/mx")
    sid = server.open()
    server.send(sid, "sub,ch", "msg,ch,hello")
    assert len(logs.take_failures()) == 1
    event = only(logs, APP_EXCEPTION)
    check_shape(event)
    assert (event["router"], event["topic"]) == ("/mx", "ch")
    assert event["hook"].endswith(".Channel.messageReceived")


def test_app_exception_in_a_pubsub_subscriber(logs: helpers.LogCapture) -> None:
    server = helpers.Server()
    server.router.broker.subscribe("news", lambda message: 1 / 0)
    server.router.publish("news", "x")
    assert len(logs.take_failures()) == 1
    event = only(logs, APP_EXCEPTION)
    assert (event["hook"], event["channel"]) == ("subscriber", "news")


def test_internal_error(logs: helpers.LogCapture, monkeypatch: pytest.MonkeyPatch) -> None:
    server = helpers.Server()

    def broken(*args: Any) -> None:
        raise RuntimeError("library bug")

    monkeypatch.setattr(server.router._service, "attach", broken)
    response = server.post(f"/000/{helpers.new_sid()}/xhr")
    assert response.status == 500
    assert len(logs.take_failures()) == 1
    event = only(logs, INTERNAL_ERROR)
    check_shape(event)
    assert (event["router"], event["route"], event["method"]) == ("/echo", "xhr", "POST")


# ---------------------------------------------------------------------------
# Observers: quiet at info, JSON lines
# ---------------------------------------------------------------------------


def test_normal_traffic_is_quiet_at_info(logs: helpers.LogCapture) -> None:
    publisher = LogPublisher()
    seen: list[LogEvent] = []
    publisher.addObserver(
        FilteringLogObserver(seen.append, [LogLevelFilterPredicate(LogLevel.info)])
    )
    server = helpers.Server()
    sid = server.open()
    server.send(sid, "a", "b")
    server.poll(sid)
    ws = WS(server)
    ws.send('["c"]')
    ws.conn.abort()
    server.advance(server.options.disconnect_delay)
    ours = sockjs_events(logs)
    assert {event["sockjs_event"] for event in ours} == {SESSION_OPENED, SESSION_CLOSED}
    for event in ours:
        publisher(event)
    assert seen == []


@pytest.fixture
def restore_level() -> Iterator[None]:
    yield
    logevents.set_level(LogLevel.debug)


@pytest.mark.usefixtures("restore_level")
def test_set_level_info_builds_no_session_events(logs: helpers.LogCapture) -> None:
    logevents.set_level(LogLevel.info)
    server = helpers.Server()
    sid = server.open()
    server.post(f"/000/{sid}/xhr_send", body="[")  # request_rejected is info: still built
    server.advance(server.options.disconnect_delay)
    assert [event["sockjs_event"] for event in sockjs_events(logs)] == [REQUEST_REJECTED]
    logevents.set_level(LogLevel.debug)
    server.open()
    assert len(sockjs_events(logs, SESSION_OPENED)) == 1


@pytest.mark.usefixtures("restore_level")
def test_set_level_above_error_builds_no_app_exception(logs: helpers.LogCapture) -> None:
    logevents.set_level(LogLevel.critical)
    server = helpers.Server()
    server.router.broker.subscribe("news", lambda message: 1 / 0)
    server.router.publish("news", "x")
    assert sockjs_events(logs) == []
    try:
        raise RuntimeError("library bug")
    except RuntimeError:
        logevents.internal_error("/echo", "xhr", "POST")  # critical: still built
    assert [event["sockjs_event"] for event in sockjs_events(logs)] == [INTERNAL_ERROR]
    logs.take_failures()


def test_json_lines(logs: helpers.LogCapture) -> None:
    out = io.StringIO()
    # recordSeparator="" turns RFC 7464 JSON text sequences into JSON lines.
    observer = jsonFileLogObserver(out, recordSeparator="")
    server = helpers.Server()
    sid = server.open()
    server.send(sid, raw=b"[broken")
    server.advance(server.options.disconnect_delay)
    for event in sockjs_events(logs):
        observer(event)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["sockjs_event"] for r in records] == [
        SESSION_OPENED,
        REQUEST_REJECTED,
        SESSION_CLOSED,
    ]
    rejected = records[1]
    assert rejected["kind"] == "bad_json"
    assert rejected["log_namespace"] == "sockjs.cyclone"
    assert rejected["log_level"]["name"] == "info"
    assert records[2]["initiator"] == "timeout"


def test_every_event_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in sorted(EVENTS):
        assert f"``{name}``" in text, name
        for field in FIELDS[name] - {"log_failure"}:
            assert field in text, (name, field)
