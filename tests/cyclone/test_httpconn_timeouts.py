"""SockJSHTTPConnection's idle and keep-alive timeouts, with real bytes under a Clock.

Security finding: a socket that sends nothing, or a keep-alive socket after
one response, stayed open for ever (the 408 covered partial requests only),
so file descriptors could run out. Now each connection has one timer:
``idle_timeout`` until its first complete request head, ``keepalive_timeout``
between a finished response and the next request (both closed without an
answer), ``request_timeout`` while a request arrives (408). A pending
response (a parked poll, a stream) and an upgraded WebSocket have none.
The timer is lazy: it may fire before the deadline (it is then armed
again) but never after it, so a keep-alive request re-arms nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Client, LogCapture, Server, new_sid
from test_websocket_handlers import WS

from sockjs.cyclone import SockJSHTTPConnection

EPSILON = 0.001
IDLE = SockJSHTTPConnection.idle_timeout
KEEPALIVE = SockJSHTTPConnection.keepalive_timeout


def timers_of(server: Server, client: Client) -> list[Any]:
    """The pending calls of one client's connection (at most one, always)."""
    return [c for c in server.delayed_calls if getattr(c.func, "__self__", None) is client.protocol]


def transport_errors(logs: LogCapture, kind: str) -> list[Any]:
    return [
        event
        for event in logs.events
        if event.get("sockjs_event") == "transport_error" and event["kind"] == kind
    ]


def test_defaults_close_a_silent_socket_within_90_seconds() -> None:
    """Like nginx's ``keepalive_timeout 75s``."""
    assert IDLE == KEEPALIVE == 75.0
    assert SockJSHTTPConnection.request_timeout == 30.0


def test_a_socket_that_sends_nothing_is_closed_without_an_answer(logs: LogCapture) -> None:
    server = Server(hardened=True)
    client = server.client()
    (timer,) = timers_of(server, client)
    assert timer.getTime() == IDLE
    server.advance(IDLE - EPSILON)
    assert not client.closed_by_server
    server.advance(EPSILON)
    assert client.closed_by_server
    assert client.data == b""  # there is no request to answer
    (event,) = transport_errors(logs, "idle_timeout")
    assert (event["router"], event["ip"], event["status"]) == (None, "127.0.0.1", None)
    assert "errors_idle_timeout" not in server.router.stats.dump()  # no router known
    assert timers_of(server, client) == []


def test_empty_lines_do_not_keep_a_connection_open() -> None:
    server = Server(hardened=True)
    client = server.client()
    for _ in range(7):
        server.advance(10)
        client.send_raw(b"\r\n")
    server.advance(IDLE - 70)
    assert client.closed_by_server and client.data == b""


def test_a_first_head_started_late_is_still_due_at_idle_timeout(logs: LogCapture) -> None:
    """idle_timeout counts from connect until a complete head: a partial one gets 408."""
    server = Server(hardened=True)
    client = server.client()
    server.advance(70)
    client.send_raw(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
    server.advance(5)
    response = client.response()
    assert (response.status, response.header("Connection")) == (408, "close")
    assert client.closed_by_server
    (event,) = [e for e in logs.events if e.get("sockjs_event") == "limit_hit"]
    assert (event["router"], event["kind"], event["limit"]) == (
        "/echo",
        "idle_timeout",
        "idle_timeout",
    )


def test_keepalive_timeout_runs_from_the_end_of_each_response(logs: LogCapture) -> None:
    server = Server(hardened=True)
    client = server.client()
    server.advance(50)
    client.get("/echo")
    (timer,) = timers_of(server, client)
    assert timer.getTime() == IDLE  # armed at connect, not re-armed: it fires early
    server.advance(KEEPALIVE - EPSILON)
    client.get("/echo/info")  # just in time: the connection is reused
    assert [r.status for r in client.responses()] == [200, 200]
    server.advance(KEEPALIVE - EPSILON)
    assert not client.closed_by_server
    before = client.data
    server.advance(EPSILON)
    assert client.closed_by_server and client.data == before
    (event,) = transport_errors(logs, "keepalive_timeout")
    assert event["router"] == "/echo"  # the router of the last request
    assert server.router.stats.dump()["errors_keepalive_timeout"] == 1


def test_a_parked_poll_is_not_idle() -> None:
    server = Server(settings={"heartbeat_delay": 1000, "disconnect_delay": 1000}, hardened=True)
    sid = server.open()
    poll = server.poll(sid)
    server.advance(300)
    assert poll.data == b"" and not poll.closed_by_server
    assert timers_of(server, poll) == []  # the idle timer fired, found nothing due, is gone
    server.send(sid, "late")
    assert poll.response().body == b'a["late"]\n'
    (timer,) = timers_of(server, poll)  # now the connection waits for a new request
    assert timer.getTime() == 300 + KEEPALIVE


def test_an_open_stream_is_not_idle() -> None:
    server = Server(hardened=True)
    stream = server.poll(new_sid(), "xhr_streaming")
    server.advance(200)
    response = stream.response()
    assert response.chunks is not None and response.chunks[-1] == b"h\n"  # heartbeats
    assert not stream.closed_by_server and timers_of(server, stream) == []
    stream.abort()


def test_an_upgraded_websocket_is_not_governed_by_them() -> None:
    server = Server(hardened=True)
    ws = WS(server)
    assert ws.texts() == ["o"]
    assert timers_of(server, ws.conn) == []
    server.advance(300)
    assert not ws.closed_by_server
    ws.send('["still here"]')
    assert "still here" in "".join(ws.texts())
    ws.drop()


@pytest.mark.parametrize("step", ["connected", "partial head", "partial body", "answered"])
def test_one_timer_per_connection(step: str) -> None:
    server = Server(hardened=True)
    sid = server.open()
    client = server.client()
    head = f"POST /echo/000/{sid}/xhr_send HTTP/1.1\r\nContent-Length: 5\r\n\r\n".encode()
    data = {"connected": b"", "partial head": head[:20], "partial body": head + b'["x'}
    client.send_raw(data.get(step, head + b'["x"]'))
    (timer,) = timers_of(server, client)
    expected = {"connected": IDLE, "answered": KEEPALIVE}.get(step, 30.0)
    assert timer.getTime() == expected


def test_a_connection_closing_after_its_response_keeps_no_timer() -> None:
    server = Server(hardened=True)
    client = server.client()
    client.request("GET", "/echo", version="HTTP/1.0")
    assert client.response().status == 200
    assert client.closed_by_server
    assert timers_of(server, client) == []
    refused = server.client()
    refused.send_raw(b"GET  /echo HTTP/1.1\r\n\r\n")
    assert refused.response().status == 400 and timers_of(server, refused) == []


def test_timeouts_can_be_set_per_application() -> None:
    class Quick(SockJSHTTPConnection):
        idle_timeout = 1.0
        keepalive_timeout = 2.0

    server = Server(hardened=True)
    server.app.protocol = Quick
    silent, served = server.client(), server.client()
    served.get("/echo")
    server.advance(1.0)
    assert silent.closed_by_server and not served.closed_by_server
    server.advance(1.0)
    assert served.closed_by_server


def scenario(hardened: bool) -> list[tuple[int, bytes]]:
    """SockJS over keep-alive connections: polls parked long, a connection reused late."""
    server = Server(settings={"heartbeat_delay": 100}, hardened=hardened)
    sid = new_sid()
    poller, sender, stream = server.client(), server.client(), server.client()
    poller.post(f"/echo/000/{sid}/xhr")  # o
    poller.post(f"/echo/000/{sid}/xhr")  # parked
    sender.post(f"/echo/000/{sid}/xhr_send", b'["a"]')
    poller.post(f"/echo/000/{sid}/xhr")  # parked
    stream.post(f"/echo/000/{new_sid()}/xhr_streaming")
    server.advance(KEEPALIVE - 1)  # the sender's connection is idle, not for long enough
    sender.post(f"/echo/000/{sid}/xhr_send", b'["b"]')
    poller.post(f"/echo/000/{sid}/xhr")  # parked past keepalive_timeout until the heartbeat
    server.advance(100)
    answers = [(r.status, r.body) for c in (poller, sender, stream) for r in c.responses()]
    assert not (poller.closed_by_server or stream.closed_by_server)
    for client in (poller, sender, stream):
        client.abort()
    return answers


def test_sockjs_protocol_behaviour_is_unchanged() -> None:
    """The same answers as Cyclone's own connection when no limit is reached."""
    plain = scenario(hardened=False)
    assert plain == scenario(hardened=True)
    assert plain == [
        (200, b"o\n"),
        (200, b'a["a"]\n'),
        (200, b'a["b"]\n'),
        (200, b"h\n"),
        (204, b""),
        (204, b""),
        (200, b"h" * 2048 + b"\n" + b"o\n" + b"h\n"),
    ]
