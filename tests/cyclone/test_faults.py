"""Faults: failing application hooks, clients vanishing anywhere, close paths.

Real request bytes through Cyclone under a Clock (see ``helpers``):

* an exception from any application hook (``connectionMade``,
  ``messageReceived``, ``connectionLost``; raised, a failing Deferred or a
  failing coroutine) of any session kind (HTTP streaming, SockJS WebSocket,
  raw WebSocket, multiplex channel) is logged with its traceback and ends
  that session only, with 1011 ``Internal server error``;
* a client vanishing mid-request, mid-body, mid-poll, mid-stream or
  mid-WebSocket-frame leaves no session, timer, slot or buffer behind;
* ``connectionLost`` runs exactly once per session, whatever ended it.

The autouse fixture of ``conftest.py`` additionally drains every server at
teardown and fails on any leftover session, connection, timer or
unclaimed logged failure.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from typing import Any

import pytest
from helpers import PRELUDE, Events, LogCapture, Server, new_sid, recording
from test_websocket_handlers import KEY1, KEY2, WS, frame_texts, masked
from twisted.internet.defer import Deferred, fail

from sockjs.cyclone import MultiplexConnection, SockJSConnection, shutdown
from sockjs.cyclone._twisted import CLOSE_TIMEOUT

INTERNAL = 'c[1011,"Internal server error"]'


class Boom(Exception):
    """What the application raises."""


def failing(style: str) -> Callable[..., Any]:
    """A hook body that fails in the given style."""

    def sync(*args: Any) -> Any:
        raise Boom("sync")

    def deferred(*args: Any) -> Any:
        return fail(Boom("deferred"))

    async def coroutine(*args: Any) -> Any:
        raise Boom("coroutine")

    return {"sync": sync, "deferred": deferred, "coroutine": coroutine}[style]


def assert_logged_with_traceback(logs: LogCapture, count: int = 1) -> None:
    found = logs.unclaimed_failures()  # the ones since the last check
    logs.take_failures()
    assert len(found) == count, [event.get("log_format") for event in found]
    for event in found:
        failure = event["log_failure"]
        assert failure.check(Boom)
        assert "Traceback" in failure.getTraceback()


def assert_nothing_unhandled(logs: LogCapture) -> None:
    gc.collect()  # unhandled Deferred failures are reported when collected
    assert "Unhandled" not in logs.text()


def assert_clean(server: Server) -> None:
    """No session, connection, slot or timer left (once closed sessions had time to expire)."""
    server.advance(server.options.disconnect_delay + 0.001)
    service = server.router._service
    assert server.router.session_count == 0
    assert server.router.connections == []
    assert service.admission.sessions() == 0
    assert server.timers_but_connections == []  # open keep-alive connections keep theirs


# ---------------------------------------------------------------------------
# Failing hooks, every session kind
# ---------------------------------------------------------------------------


class Session:
    """One session of a given kind, driven from the client side."""

    def __init__(self, server: Server, kind: str) -> None:
        self.server = server
        self.kind = kind
        if kind == "xhr_streaming":
            self.sid = new_sid()
            self.stream = server.poll(self.sid, "xhr_streaming")
        elif kind in ("websocket", "channel"):
            self.ws = WS(server)
            if kind == "channel":
                self.ws.send(json.dumps(["sub,chan"]))
        else:
            self.ws = WS(server, "/websocket")

    def send(self, message: str) -> None:
        if self.kind == "xhr_streaming":
            assert self.server.send(self.sid, message).status == 204
        elif self.kind == "websocket":
            self.ws.send(json.dumps([message]))
        elif self.kind == "channel":
            self.ws.send(json.dumps([f"msg,chan,{message}"]))
        else:
            self.ws.send(message)

    def received(self) -> list[str]:
        """Frames (SockJS), messages (raw) or channel frames the client got so far."""
        if self.kind == "xhr_streaming":
            chunks = self.stream.response().chunks or []
            return [chunk.decode().rstrip("\n") for chunk in chunks if chunk != PRELUDE]
        if self.kind == "raw":
            frames = self.ws.frames()
            texts = frame_texts(frames)
            if frames and frames[-1].opcode.name == "CLOSE":
                close = self.ws.close_frame(frames)
                texts.append(f"close {close.code} {close.reason}")
            return texts
        return self.ws.texts()

    def drop(self) -> None:
        if self.kind == "xhr_streaming":
            self.stream.abort()
        else:
            self.ws.drop()


def server_for(kind: str, conn_class: type[SockJSConnection]) -> Server:
    if kind == "channel":
        return Server(MultiplexConnection.create(chan=conn_class, other=Echoing))
    return Server(conn_class)


class Echoing(SockJSConnection):
    def messageReceived(self, message: Any) -> None:
        self.sendMessage(message)


KINDS = ["xhr_streaming", "websocket", "raw", "channel"]
STYLES = ["sync", "deferred", "coroutine"]


def closed_with_1011(kind: str, received: list[str]) -> bool:
    if kind == "raw":
        return received[-1:] == ["close 1011 Internal server error"]
    if kind == "channel":
        return received[-1:] == ['a["uns,chan"]']
    return received[-1:] == [INTERNAL]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("kind", KINDS)
def test_failing_message_received(kind: str, style: str, logs: LogCapture) -> None:
    conn_class, events = recording(on_message=lambda conn, message: failing(style)())
    server = server_for(kind, conn_class)
    bystander = Session(server, kind)
    victim = Session(server, kind)
    victim.send("x")
    assert closed_with_1011(kind, victim.received())
    assert_logged_with_traceback(logs)
    assert events.count("made") == 2
    assert events.count("lost") == 1
    info = events.conns[1].close_info
    assert info is not None
    assert (info.code, info.reason, info.initiator) == (1011, "Internal server error", "server")
    # The other session (or channel) never noticed.
    assert not closed_with_1011(kind, bystander.received())
    assert events.conns[0].is_closed is False
    victim.drop()
    bystander.drop()
    assert events.count("lost") == 2
    assert_nothing_unhandled(logs)
    assert_clean(server)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("kind", KINDS)
def test_failing_connection_made(kind: str, style: str, logs: LogCapture) -> None:
    conn_class, events = recording(on_open=lambda conn, info: failing(style)())
    server = server_for(kind, conn_class)
    session = Session(server, kind)
    received = session.received()
    assert closed_with_1011(kind, received)
    assert_logged_with_traceback(logs)
    # The application hears nothing more of a session it did not take.
    session.drop()
    assert events.names() == ["made"]
    assert_nothing_unhandled(logs)
    assert_clean(server)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("kind", KINDS)
def test_failing_connection_lost(kind: str, style: str, logs: LogCapture) -> None:
    conn_class, events = recording(on_close=lambda conn: failing(style)())
    server = server_for(kind, conn_class)
    session = Session(server, kind)
    other = Session(server, kind)
    session.drop()
    assert events.count("lost") == 1
    assert_logged_with_traceback(logs)
    other.send("still here")
    assert other.received()[-1].endswith(('still here"]', "still here"))
    other.drop()
    assert events.count("lost") == 2
    assert_logged_with_traceback(logs)
    assert_nothing_unhandled(logs)
    assert_clean(server)


def test_channel_failure_leaves_the_other_channels_open(logs: LogCapture) -> None:
    conn_class, _ = recording(on_message=lambda conn, message: failing("sync")())
    server = Server(MultiplexConnection.create(bad=conn_class, good=Echoing))
    ws = WS(server)
    ws.texts()
    ws.send(json.dumps(["sub,bad", "sub,good", "msg,bad,x", "msg,good,y"]))
    assert ws.texts() == ['a["uns,bad"]', 'a["msg,good,y"]']
    assert_logged_with_traceback(logs)
    ws.send(json.dumps(["msg,good,z"]))
    assert ws.texts() == ['a["msg,good,z"]']
    ws.drop()
    assert_clean(server)


# ---------------------------------------------------------------------------
# Clients vanishing anywhere
# ---------------------------------------------------------------------------


def test_vanishing_mid_head() -> None:
    server = Server(hardened=True)
    client = server.client()
    client.send_raw(b"POST /echo/000/abc/xhr HTTP/1.1\r\nHost: x\r\nContent-Le")
    assert len(server.delayed_calls) == 1  # the request timer
    client.abort()
    assert_clean(server)


@pytest.mark.parametrize("size", [1000, 200_000])
def test_vanishing_mid_body(size: int) -> None:
    """A half-sent body (in memory, or spooled to a temporary file) is dropped and closed."""
    conn_class, events = recording()
    server = Server(conn_class, hardened=True)
    sid = server.open()
    client = server.client()
    head = f"POST /echo/000/{sid}/xhr_send HTTP/1.1\r\nContent-Length: {size}\r\n\r\n"
    client.send_raw(head.encode() + b'["' + b"x" * 500)
    buffer = client.protocol._contentbuffer
    client.abort()
    assert buffer.closed
    gc.collect()  # an unclosed temporary file would warn here (an error in this suite)
    assert events.messages() == []
    assert server.send(sid, "after").status == 204  # the session did not notice


def test_vanishing_mid_chunked_body() -> None:
    conn_class, events = recording()
    server = Server(conn_class, hardened=True)
    sid = server.open()
    client = server.client()
    client.send_raw(
        f"POST /echo/000/{sid}/xhr_send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + b'5\r\n["abc'
    )
    client.abort()
    assert events.messages() == []
    assert client.protocol._contentbuffer is None
    assert server.timers_but_connections == [server.router._service._timer]


@pytest.mark.parametrize("transport", ["xhr", "jsonp", "xhr_streaming", "eventsource", "htmlfile"])
def test_vanishing_receiver_ends_the_session_at_once(transport: str) -> None:
    """PROTOCOL.md 6.8 (a): mid-poll or mid-stream, the session closes now, once."""
    conn_class, events = recording()
    server = Server(conn_class, hardened=True)
    sid = server.open()
    query = "?c=cb" if transport in ("jsonp", "htmlfile") else ""
    receiver = server.poll(sid, transport, query)
    server.send(sid, "one")
    if transport in ("xhr", "jsonp"):
        receiver = server.poll(sid, transport, query)  # parked now
    receiver.abort()
    assert events.count("lost") == 1
    info = events.conns[0].close_info
    assert info is not None and (info.code, info.initiator) == (1002, "client")
    assert_clean(server)


@pytest.mark.parametrize(
    "partial",
    [
        masked(0x1, b'["hello"]')[:3],  # inside the header
        masked(0x1, b'["hello"]')[:8],  # inside the payload
        masked(0x1, b"x" * 70_000)[:20_000],  # a long frame, cut short
        masked(0x1, b'["a",', fin=False),  # between fragments
    ],
    ids=["header", "payload", "long", "fragments"],
)
@pytest.mark.parametrize("path", ["/000/s1/websocket", "/websocket"])
def test_vanishing_mid_websocket_frame(path: str, partial: bytes) -> None:
    conn_class, events = recording()
    server = Server(conn_class, hardened=True)
    ws = WS(server, path)
    ws.send_raw(partial)
    ws.drop()
    assert events.messages() == []
    assert events.count("lost") == 1
    assert_clean(server)


def test_vanishing_before_hixie76_key3() -> None:
    server = Server(hardened=True)
    client = server.client()
    head = [
        "GET /echo/000/s1/websocket HTTP/1.1",
        "Host: localhost:8081",
        "Connection: Upgrade",
        "Upgrade: WebSocket",
        "Origin: http://localhost:8081",
        f"Sec-WebSocket-Key1: {KEY1}",
        f"Sec-WebSocket-Key2: {KEY2}",
    ]
    client.send_raw(("\r\n".join(head) + "\r\n\r\n").encode() + b"abc")
    assert client.data.startswith(b"HTTP/1.1 101 ")
    assert len(server.delayed_calls) == 1  # the key3 timer
    client.abort()
    assert_clean(server)


# ---------------------------------------------------------------------------
# connectionLost exactly once, whatever ends the session
# ---------------------------------------------------------------------------


def _app_close(server: Server, events: Events, s: Session) -> None:
    events.conns[-1].close(4000, "bye")


def _client_gone(server: Server, events: Events, s: Session) -> None:
    s.drop()


def _expiry(server: Server, events: Events, s: Session) -> None:
    if s.kind == "xhr_streaming":
        server.advance(1)  # let the stream end normally first
        s.stream.abort()
    server.advance(60)


def _router_stop(server: Server, events: Events, s: Session) -> None:
    server.router.stop()


def _graceful(server: Server, events: Events, s: Session) -> None:
    done = shutdown([server.router], grace=1)
    server.advance(2)
    assert done.called


def _slow_consumer(server: Server, events: Events, s: Session) -> None:
    producer = s.stream.producer if s.kind == "xhr_streaming" else s.ws.conn.producer
    producer.pauseProducing()
    for _ in range(20):
        events.conns[-1].sendMessage("x" * 100)


def _app_error(server: Server, events: Events, s: Session) -> None:
    s.send("explode")


CLOSERS = {
    "app_close": _app_close,
    "client_gone": _client_gone,
    "expiry": _expiry,
    "router_stop": _router_stop,
    "graceful_shutdown": _graceful,
    "slow_consumer": _slow_consumer,
    "app_error": _app_error,
}


@pytest.mark.parametrize("closer", list(CLOSERS))
@pytest.mark.parametrize("kind", ["xhr_streaming", "websocket", "raw"])
def test_connection_lost_runs_exactly_once(kind: str, closer: str, logs: LogCapture) -> None:
    def on_message(conn: SockJSConnection, message: Any) -> None:
        if message == "explode":
            raise Boom("explode")
        conn.sendMessage(message)

    conn_class, events = recording(on_message=on_message)
    server = Server(conn_class, settings={"max_queued_bytes": 1000, "response_limit": 1 << 20})
    session = Session(server, kind)
    if kind == "raw" and closer == "expiry":
        session.drop()  # raw WebSockets do not expire; they only end
    else:
        CLOSERS[closer](server, events, session)
    # Whatever else happens afterwards, nothing runs connectionLost again.
    session.drop()
    server.advance(60)
    server.router.stop()
    assert events.count("lost") == 1, events.names()
    info = events.conns[0].close_info
    assert info is not None
    if closer == "app_error":
        assert_logged_with_traceback(logs)
    assert_clean(server)


def test_deferred_connection_made_outstanding_when_the_client_vanishes() -> None:
    """The app is still deciding; the client leaves; the late answer changes nothing."""
    gate: Deferred[Any] = Deferred()
    conn_class, events = recording(on_open=lambda conn, info: gate)
    server = Server(conn_class)
    ws = WS(server)
    ws.drop()
    gate.callback(None)
    assert events.count("lost") == 1
    assert_clean(server)


# ---------------------------------------------------------------------------
# Clients that stop reading for good
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/000/s1/websocket", "/websocket"])
def test_closed_websocket_of_a_client_not_reading_is_aborted(path: str) -> None:
    """Twisted closes only once the buffer is flushed: a client that never reads is aborted."""
    conn_class, events = recording()
    server = Server(conn_class, settings={"max_queued_bytes": 1000})
    ws = WS(server, path)
    ws.frames()
    transport: Any = ws.conn.transport
    ws.conn.producer.pauseProducing()
    transport.dataBuffer = b"unread"  # what a real TCP transport would still hold
    for _ in range(20):
        events.conns[0].sendMessage("x" * 100)
    assert transport.disconnecting and not getattr(transport, "disconnected", False)
    assert len(server.delayed_calls) == 1
    server.advance(CLOSE_TIMEOUT)
    assert transport.disconnected  # aborted
    ws.drop()
    assert events.count("lost") == 1
    assert_clean(server)


def test_abort_timer_is_cancelled_when_the_client_goes() -> None:
    conn_class, events = recording()
    server = Server(conn_class)
    ws = WS(server)
    ws.frames()
    transport: Any = ws.conn.transport
    transport.dataBuffer = b"unread"
    events.conns[0].close()
    assert len(server.delayed_calls) == 1
    ws.drop()
    assert_clean(server)


def test_stalled_stream_closed_for_a_slow_consumer_loses_its_connection() -> None:
    conn_class, events = recording()
    server = Server(
        conn_class, settings={"max_queued_bytes": 1000, "response_limit": 1 << 20}, hardened=True
    )
    stream = server.poll(new_sid(), "xhr_streaming")
    transport: Any = stream.transport
    stream.producer.pauseProducing()
    transport.dataBuffer = b"unread"
    for _ in range(20):
        events.conns[0].sendMessage("x" * 100)
    response = stream.response()
    assert response.complete
    assert response.chunks[-1] == b'c[1013,"Slow consumer: too many queued bytes"]\n'
    assert transport.disconnecting  # no keep-alive for a client that does not read
    server.advance(CLOSE_TIMEOUT)
    assert transport.disconnected
    stream.abort()
    assert_clean(server)


def test_stream_ending_normally_keeps_its_connection() -> None:
    server = Server(settings={"response_limit": 10}, hardened=True)
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    server.send(sid, "x" * 20)
    assert stream.response().complete
    assert not stream.transport.disconnecting
    stream.abort()


def _stalled_stream_ended_by_response_limit(server: Server, sid: str | None = None) -> Any:
    sid = sid or new_sid()
    stream = server.poll(sid, "xhr_streaming")
    transport: Any = stream.transport
    producer = stream.producer
    write = transport.write

    def write_and_fill(data: bytes) -> None:
        # As Twisted does when a write fills the socket's buffer: the bytes
        # are queued and the producer is paused, before the response ends.
        write(data)
        transport.dataBuffer = b"x" * 1000
        producer.pauseProducing()

    transport.write = write_and_fill
    server.send(sid, "x" * 20)  # past response_limit: the response ends
    transport.write = write
    assert stream.response().complete
    return stream


def test_stalled_stream_ending_normally_keeps_its_connection() -> None:
    """Closing after a complete response would race the client's next request on it."""
    server = Server(settings={"response_limit": 10}, hardened=True)
    stream = _stalled_stream_ended_by_response_limit(server)
    transport: Any = stream.transport
    assert not transport.disconnecting
    # The client goes on reading: the connection is left alone.
    transport.dataBuffer = b"x" * 500
    server.advance(CLOSE_TIMEOUT)
    transport.dataBuffer = b""
    server.advance(CLOSE_TIMEOUT)
    assert not transport.disconnecting and not transport.disconnected
    assert not server.timers_but_connections
    stream.abort()
    assert_clean(server)


def test_stalled_stream_whose_client_stops_reading_is_aborted() -> None:
    """Kept open after its response, but not forever if nothing is ever read."""
    server = Server(settings={"response_limit": 10}, hardened=True)
    stream = _stalled_stream_ended_by_response_limit(server)
    transport: Any = stream.transport
    server.advance(CLOSE_TIMEOUT)
    assert transport.disconnected
    stream.abort()
    assert_clean(server)


def test_stalled_stream_watchdog_ends_with_the_connection() -> None:
    """The client vanishing cancels the drain watchdog: no timer is left behind."""
    server = Server(settings={"response_limit": 10}, hardened=True)
    stream = _stalled_stream_ended_by_response_limit(server)
    stream.abort()
    assert server.timers_but_connections == [server.router._service._timer]  # session expiry
    assert_clean(server)


def test_stalled_stream_watchdog_stops_when_the_connection_streams_again() -> None:
    """A new streaming request on the connection: the client read the old response."""
    server = Server(settings={"response_limit": 10}, hardened=True)
    sid = new_sid()
    stream = _stalled_stream_ended_by_response_limit(server, sid)
    transport: Any = stream.transport
    stream.post(f"{server.prefix}/000/{sid}/xhr_streaming")  # keep-alive: same connection
    assert transport.producer is not None
    server.advance(CLOSE_TIMEOUT)  # the queued bytes (our test's) never drain
    assert not transport.disconnecting and not transport.disconnected
    stream.abort()
    assert_clean(server)
