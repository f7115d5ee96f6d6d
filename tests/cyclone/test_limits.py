"""Service-wide limits and hardening, through real requests under a Clock.

* ``max_messages_per_request``: 413 on send requests, ``c[1009,...]`` on WebSockets;
* ``max_sessions`` / ``max_sessions_per_ip``: ``c[1013,...]`` instead of ``o``;
* ``check_origin_http``: 403 for other origins on the HTTP transports;
* ``X-Content-Type-Options: nosniff`` on session responses;
* no response reflects client input into HTML or script.

Each refusal must leave existing sessions alone and log one line.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from helpers import PRELUDE, LogCapture, Server, new_sid, recording
from test_websocket_handlers import WS, assert_idle, frame_texts
from twisted.logger import LogEvent

from sockjs.cyclone import SockJSConnection

TOO_MANY = b'c[1013,"Too many sessions"]\n'
TOO_MANY_FROM_IP = b'c[1013,"Too many sessions from this address"]\n'


def limit_events(logs: LogCapture, kind: str) -> list[LogEvent]:
    return [e for e in logs.events if e.get("sockjs_event") == "limit_hit" and e["kind"] == kind]


# ---------------------------------------------------------------------------
# max_messages_per_request
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xhr_send", "jsonp_send"])
def test_send_over_the_message_limit_is_refused_whole(transport: str, logs: LogCapture) -> None:
    conn_class, events = recording()
    server = Server(conn_class, settings={"max_messages_per_request": 3})
    sid = server.open()
    path = f"/000/{sid}/{transport}"
    refused = server.post(path, json.dumps(["a", "b", "c", "d"]))
    assert refused.status == 413
    assert refused.body == b"Too many messages in one request."
    assert events.messages() == []
    (event,) = limit_events(logs, "too_many_messages")
    assert (event["limit"], event["status"]) == ("max_messages_per_request", 413)
    # At the limit it is fine, and the session is intact.
    assert server.post(path, json.dumps(["a", "b", "c"])).status in (200, 204)
    assert events.messages() == ["a", "b", "c"]
    assert server.post(f"/000/{sid}/xhr").body == b'a["a","b","c"]\n'


def test_send_limit_is_a_payload_error_checked_before_the_session() -> None:
    """Like the other payload errors (3.4 order): an unknown session still gets 413."""
    server = Server(settings={"max_messages_per_request": 1})
    assert server.post(f"/000/{new_sid()}/xhr_send", "[1,2]").status == 413


def test_fifty_thousand_messages_to_a_broadcast_service(logs: LogCapture) -> None:
    """A 200 KB request carrying 50,000 messages is refused at once, not fanned out."""
    delivered: list[Any] = []

    class Broadcast(SockJSConnection):
        members: ClassVar[set[SockJSConnection]] = set()

        def connectionMade(self, info: Any) -> None:
            self.members.add(self)

        def messageReceived(self, message: Any) -> None:
            delivered.append(message)
            self.broadcast(self.members, message)

        def connectionLost(self) -> None:
            self.members.discard(self)

    # The hardened connection: plain Cyclone leaks the temporary file of bodies
    # of 100 kB and more (see test_senders.py).
    server = Server(Broadcast, "/broadcast", hardened=True)
    sids = [server.open() for _ in range(50)]
    body = json.dumps([0] * 50_000, separators=(",", ":")).encode()
    assert len(body) > 100_000
    refused = server.post(f"/000/{sids[0]}/xhr_send", body)
    assert refused.status == 413
    assert delivered == []
    assert server.router.stats.dump()["errors_too_many_messages"] == 1
    # Every member is still there and still hears a normal broadcast.
    assert server.send(sids[0], "hello").status == 204
    assert server.post(f"/000/{sids[-1]}/xhr").body == b'a["hello"]\n'
    assert len(limit_events(logs, "too_many_messages")) == 1


def test_websocket_message_over_the_limit_closes_with_1009(logs: LogCapture) -> None:
    conn_class, events = recording()
    server = Server(conn_class, settings={"max_messages_per_request": 2})
    ws = WS(server)
    assert ws.texts() == ["o"]
    ws.send('["a","b"]')
    assert ws.texts() == ['a["a"]', 'a["b"]']
    ws.send('["a","b","c"]')
    frames = ws.frames()
    assert frame_texts(frames) == ['c[1009,"Too many messages in one frame"]']
    assert ws.close_frame(frames).code == 1000
    assert ws.closed_by_server
    assert events.messages() == ["a", "b"]
    assert events.count("lost") == 1
    info = events.conns[0].close_info
    assert info is not None
    assert (info.code, info.reason, info.initiator) == (
        1009,
        "Too many messages in one frame",
        "server",
    )
    assert len(limit_events(logs, "too_many_messages")) == 1
    ws.drop()
    assert_idle(server)


# ---------------------------------------------------------------------------
# max_sessions / max_sessions_per_ip
# ---------------------------------------------------------------------------


def test_new_sessions_beyond_max_sessions_get_1013(logs: LogCapture) -> None:
    conn_class, events = recording()
    server = Server(conn_class, settings={"max_sessions": 2})
    first, second = server.open(), server.open()
    refused_sid = new_sid()
    refused = server.post(f"/000/{refused_sid}/xhr")
    assert (refused.status, refused.body) == (200, TOO_MANY)
    # Nothing was created for it: a send finds no session, the app heard nothing.
    assert server.send(refused_sid, "x").status == 404
    assert events.count("made") == 2
    stream = server.poll(new_sid(), "xhr_streaming").response()
    assert stream.chunks == [PRELUDE, TOO_MANY]
    assert stream.complete
    jsonp = server.get(f"/000/{new_sid()}/jsonp?c=cb")
    assert jsonp.body == b'cb("c[1013,\\"Too many sessions\\"]");\r\n'
    ws = WS(server)
    frames = ws.frames()
    assert frame_texts(frames) == ['c[1013,"Too many sessions"]']
    assert ws.close_frame(frames).code == 1000
    raw = WS(server, "/websocket")
    close = raw.close_frame(raw.frames())
    assert (close.code, close.reason) == (1013, "Too many sessions")
    assert len(limit_events(logs, "too_many_sessions")) == 5
    # Existing sessions are unaffected.
    for sid in (first, second):
        assert server.send(sid, "still").status == 204
        assert server.post(f"/000/{sid}/xhr").body == b'a["still"]\n'
    # A session that ends makes room for a new one.
    server.advance(5.001)
    assert server.router.session_count == 0
    assert server.post(f"/000/{new_sid()}/xhr").body == b"o\n"
    assert server.router._service.admission.sessions() == 1


def test_per_ip_limit_refuses_only_that_address(logs: LogCapture) -> None:
    server = Server(settings={"max_sessions_per_ip": 2})
    for _ in range(2):
        assert server.poll(new_sid(), ip="10.0.0.1").response().body == b"o\n"
    assert server.poll(new_sid(), ip="10.0.0.1").response().body == TOO_MANY_FROM_IP
    assert server.poll(new_sid(), ip="10.0.0.2").response().body == b"o\n"
    (event,) = limit_events(logs, "too_many_sessions")
    assert (event["limit"], event["ip"], event["code"]) == ("max_sessions_per_ip", "10.0.0.1", 1013)


def test_websocket_sessions_count_and_are_released() -> None:
    """SockJS and raw WebSockets hold a slot while open and give it back when closed."""
    conn_class, _ = recording()
    server = Server(conn_class, settings={"max_sessions": 2})
    sockjs_ws = WS(server)
    raw_ws = WS(server, "/websocket")
    limiter = server.router._service.admission
    assert limiter.sessions() == 2
    assert server.post(f"/000/{new_sid()}/xhr").body == TOO_MANY
    sockjs_ws.close()
    raw_ws.drop()
    assert limiter.sessions() == 0
    assert server.post(f"/000/{new_sid()}/xhr").body == b"o\n"


@pytest.mark.parametrize("outcome", ["refused", "raised"])
def test_refused_sessions_give_their_slot_back(outcome: str, logs: LogCapture) -> None:
    def on_open(conn: SockJSConnection, info: Any) -> Any:
        if outcome == "raised":
            raise RuntimeError("no")
        return False

    conn_class, _ = recording(on_open=on_open)
    server = Server(conn_class, settings={"max_sessions": 1})
    WS(server, "/websocket").drop()
    WS(server).drop()
    assert server.router._service.admission.sessions() == 0
    if outcome == "raised":
        assert len(logs.take_failures()) == 2


# ---------------------------------------------------------------------------
# check_origin_http
# ---------------------------------------------------------------------------

ORIGINS = {"allowed_origins": ["https://good.example"], "check_origin_http": True}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/000/{sid}/xhr"),
        ("POST", "/000/{sid}/xhr_streaming"),
        ("POST", "/000/{sid}/xhr_send"),
        ("OPTIONS", "/000/{sid}/xhr"),
        ("GET", "/000/{sid}/jsonp?c=x"),
        ("POST", "/000/{sid}/jsonp_send"),
        ("GET", "/000/{sid}/eventsource"),
        ("GET", "/000/{sid}/htmlfile?c=x"),
        ("GET", "/info"),
        ("OPTIONS", "/info"),
    ],
)
def test_other_origins_get_403(method: str, path: str, logs: LogCapture) -> None:
    server = Server(settings=ORIGINS)
    sid = new_sid()
    refused = server.request(
        method, path.format(sid=sid), headers={"Origin": "https://evil.example"}
    )
    assert refused.status == 403
    assert refused.body == b"Unverified origin."
    assert not refused.has("Access-Control-Allow-Origin")
    assert server.router.session_count == 0


def test_allowed_or_absent_origins_pass() -> None:
    server = Server(settings=ORIGINS)
    sid = new_sid()
    good = {"Origin": "https://good.example"}
    assert server.post(f"/000/{sid}/xhr", headers=good).body == b"o\n"
    assert server.post(f"/000/{sid}/xhr_send", '["x"]', headers=good).status == 204
    # No Origin at all (a <script> or an iframe): not checked.
    assert server.get(f"/000/{sid}/jsonp?c=cb").body == b'cb("a[\\"x\\"]");\r\n'
    assert server.get("/info").status == 200
    # The greeting and the iframe page are not CORS routes: never checked.
    evil = {"Origin": "https://evil.example"}
    assert server.get("", headers=evil).status == 200
    assert server.get("/iframe.html", headers=evil).status == 200


def test_origin_check_is_off_by_default() -> None:
    server = Server(settings={"allowed_origins": ["https://good.example"]})
    response = server.post(f"/000/{new_sid()}/xhr", headers={"Origin": "https://evil.example"})
    assert response.body == b"o\n"


def test_websocket_origin_check_stays_independent() -> None:
    """allowed_origins already guards upgrades (403), with or without check_origin_http."""
    server = Server(settings={"allowed_origins": ["https://good.example"]})
    client = server.client()
    client.get(
        server.prefix + "/websocket",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw==",
            "Origin": "https://evil.example",
        },
    )
    assert client.response().status == 403


# ---------------------------------------------------------------------------
# nosniff and reflected input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/000/{sid}/xhr", b""),
        ("POST", "/000/{sid}/xhr_send", b'["x"]'),
        ("POST", "/000/{sid}/xhr_send", b"[broken"),
        ("GET", "/000/{sid}/jsonp?c=cb", b""),
        ("GET", "/000/{sid}/jsonp?c=%3Cb%3E", b""),
        ("POST", "/000/{sid}/jsonp_send", b'["x"]'),
        ("GET", "/000/{sid}/htmlfile?c=cb", b""),
        ("GET", "/000/{sid}/eventsource", b""),
    ],
)
def test_session_responses_say_nosniff(method: str, path: str, body: bytes) -> None:
    server = Server()
    sid = server.open()
    server.send(sid, "queued")  # so that polls answer at once
    response = server.request(method, path.format(sid=sid), body)
    assert response.header("X-Content-Type-Options") == "nosniff"


MARKER = "<img src=x onerror=alert(1)>"
QUOTED = "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/{QUOTED}"),
        ("GET", f"/000/{QUOTED}/xhr"),
        ("GET", f"/000/sid/jsonp?c={QUOTED}"),
        ("GET", f"/000/sid/htmlfile?c={QUOTED}"),
        ("GET", f"/000/sid/htmlfile?c=x&callback={QUOTED}"),
        ("GET", f"/iframe{QUOTED}.html"),
        ("GET", f"/iframe.html?{QUOTED}"),
        ("GET", f"/info?c={QUOTED}"),
        ("POST", f"/000/sid/xhr_send?{QUOTED}"),
        ("PUT", f"/000/sid/xhr?{QUOTED}"),
        ("GET", f"/000/sid/websocket?{QUOTED}"),
    ],
)
def test_no_response_reflects_client_markup(method: str, path: str) -> None:
    """Hostile paths, queries and callbacks never come back in a body (4.6, 7.4, 7.7).

    The only echoes are the ones PROTOCOL.md prescribes, in headers: the
    ``Origin`` in ``Access-Control-Allow-Origin`` (4.1).
    """
    server = Server()
    response = server.request(method, path, headers={"Origin": MARKER})
    for needle in (MARKER.encode(), b"<img", b"onerror", QUOTED.encode()):
        assert needle not in response.body
    head = [line for line in response.raw_head.split(b"\r\n") if b"Allow-Origin" not in line]
    assert not any(b"onerror" in line for line in head)


def test_jsessionid_cookie_is_echoed_only_when_safe() -> None:
    """PROTOCOL.md 4.4: echo the client's JSESSIONID; anything unsafe becomes ``dummy``."""
    server = Server(settings={"jsessionid": True})
    sid = new_sid()
    echoed = server.post(f"/000/{sid}/xhr", headers={"Cookie": "a=1; JSESSIONID=abcdef"})
    assert echoed.header_all("Set-Cookie") == ["JSESSIONID=abcdef; path=/; HttpOnly"]
    plain = server.post(f"/000/{new_sid()}/xhr")
    assert plain.header_all("Set-Cookie") == ["JSESSIONID=dummy; path=/; HttpOnly"]
    hostile = server.post(f"/000/{new_sid()}/xhr", headers={"Cookie": 'JSESSIONID="a,b"'})
    assert hostile.header_all("Set-Cookie") == ["JSESSIONID=dummy; path=/; HttpOnly"]


def test_pipelining_limit_never_writes_into_a_started_stream() -> None:
    """Behind a streaming response, too much pipelined data closes the connection.

    A 413 there would land inside the chunked body (found by the socket fuzzer);
    a parked poll that wrote nothing yet still gets its 413 (test_senders.py).
    """
    server = Server(hardened=True)
    client = server.client()
    client.protocol.max_pipelined_bytes = 100
    client.post(f"/echo/000/{new_sid()}/xhr_streaming")
    before = client.data
    client.send_raw(b"GET /echo HTTP/1.1\r\nX-Pad: " + b"p" * 200 + b"\r\n\r\n")
    assert client.data == before
    assert client.closed_by_server
    client.abort()
    assert server.router.session_count == 0


@pytest.mark.parametrize(
    "head",
    [
        b"GET /echo HTTP/1.1\r\n folded first line\r\nHost: x\r\n\r\n",
        b"GET /echo HTTP/1.1\r\n\tx\r\n\r\n",
    ],
)
def test_continuation_line_before_any_header_is_400(head: bytes, logs: LogCapture) -> None:
    """Found by tests/fuzz: Cyclone's header parser raised KeyError out of dataReceived."""
    server = Server(hardened=True)
    client = server.client()
    client.send_raw(head)
    assert client.response().status == 400
    assert client.closed_by_server
