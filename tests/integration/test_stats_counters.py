"""Integration: the router counters, read through ``/metrics`` of examples/test_server.py.

Each test scrapes the Prometheus endpoint before and after some traffic over
real sockets and checks how the counters moved, for every transport, for
refused requests and limit hits, for heartbeats and for expiry
(``/heartbeat_echo``: heartbeat 1 s, disconnect delay 2 s). Scrapes are
parsed with ``prometheus_client``'s own text parser.

The server is this module's own (so no other test moves its counters), and
each test uses sessions of its own; a counter that other sessions of this
module could move in the background (expiries of earlier polling sessions)
is only checked where no such session exists. Waits are bounded polls, never
assumptions about speed.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from sockjs.cyclone.metrics import METRIC_NAMES

from .conftest import ServerProcess
from .rawhttp import RawHTTP, new_session_id, request, xhr_poll, xhr_send

TIMEOUT = 5.0
#: Upper bound for things that happen on the server's timers (1-2 s).
TIMER_WAIT = 15.0

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def srv(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A test server for this module only."""
    return server_factory()


def scrape(port: int) -> Samples:
    resp = request(port, "GET", "/metrics")
    assert resp.status == 200, resp
    found: Samples = {}
    for family in text_string_to_metric_families(resp.body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def get(found: Samples, name: str, **labels: str) -> float:
    return found.get((f"sockjs_{name}", tuple(sorted(labels.items()))), 0.0)


class Counters:
    """A scrape taken now, to compare later scrapes against."""

    def __init__(self, port: int, router: str) -> None:
        self.port = port
        self.router = router
        self.before = scrape(port)

    def delta(self, name: str, **labels: str) -> float:
        """How much ``sockjs_<name>{router, **labels}`` moved since the first scrape."""
        after = scrape(self.port)
        labels["router"] = self.router
        return get(after, name, **labels) - get(self.before, name, **labels)

    def wait(self, name: str, expected: float, **labels: str) -> float:
        """Scrape until the delta reaches ``expected`` (or TIMER_WAIT passes); return it."""
        deadline = time.monotonic() + TIMER_WAIT
        while True:
            moved = self.delta(name, **labels)
            if moved >= expected or time.monotonic() > deadline:
                return moved
            time.sleep(0.05)


def path(prefix: str, sid: str, transport: str) -> str:
    return f"{prefix}/000/{sid}/{transport}"


WSConnect = Callable[[str], ClientConnection]


@pytest.fixture
def ws_connect(srv: ServerProcess) -> Iterator[WSConnect]:
    """Open ``websockets`` clients, all closed at teardown."""
    with contextlib.ExitStack() as stack:

        def open_ws(url_path: str) -> ClientConnection:
            return stack.enter_context(
                connect(
                    f"ws://127.0.0.1:{srv.port}{url_path}",
                    proxy=None,
                    open_timeout=TIMEOUT,
                    close_timeout=TIMEOUT,
                    ping_interval=None,
                    max_size=None,
                )
            )

        yield open_ws


# ---------------------------------------------------------------------------
# The endpoint
# ---------------------------------------------------------------------------


def test_metrics_endpoint_parses_with_the_documented_names(srv: ServerProcess) -> None:
    resp = request(srv.port, "GET", "/metrics")
    assert resp.status == 200
    assert (resp.header("Content-Type") or "").startswith("text/plain")
    families = list(text_string_to_metric_families(resp.body.decode()))
    names = [f.name + ("_total" if f.type == "counter" else "") for f in families]
    assert names == list(METRIC_NAMES)
    routers = {
        sample.labels["router"]
        for family in families
        for sample in family.samples
        if family.name == "sockjs_messages_sent"
    }
    assert {"/echo", "/close", "/heartbeat_echo", "/broadcast", "/multiplex"} <= routers


# ---------------------------------------------------------------------------
# Every transport
# ---------------------------------------------------------------------------


def _send(port: int, sid: str, message: str, prefix: str = "/echo") -> None:
    resp = xhr_send(port, prefix, sid, json.dumps([message]).encode())
    assert resp.status == 204, resp


def _stream(port: int, method: str, url: str, sid: str, first: bytes) -> None:
    """Open a streaming receiver, echo one message over it, then go away."""
    with RawHTTP(port, timeout=TIMEOUT) as conn:
        conn.send(method, url)
        head = conn.read_head()
        assert head.status == 200, head
        seen = b""
        while first not in seen:
            seen += conn.read_chunk()
        _send(port, sid, "hello")
        while b"hello" not in seen:
            seen += conn.read_chunk()


STREAMING = {
    "xhr_streaming": ("POST", "xhr_streaming", b"o\n"),
    "eventsource": ("GET", "eventsource", b"data: o"),
    "htmlfile": ("GET", "htmlfile?c=cb", b'p("o")'),
}


@pytest.mark.parametrize("transport", sorted(STREAMING))
def test_streaming_transports(srv: ServerProcess, transport: str) -> None:
    counters = Counters(srv.port, "/echo")
    sid = new_session_id()
    method, route, first = STREAMING[transport]
    _stream(srv.port, method, path("/echo", sid, route), sid, first)
    # The client went away: the session closes at once (no disconnect delay).
    assert counters.wait("sessions_closed_total", 1, transport=transport) == 1
    assert counters.delta("sessions_opened_total", transport=transport) == 1
    assert counters.delta("sessions_active", transport=transport) == 0
    assert counters.delta("messages_received_total") == 1
    assert counters.delta("messages_sent_total") == 1
    assert counters.delta("connections_opened_total") == 1
    assert counters.delta("connections_active") == 0
    assert counters.delta("bytes_received_total") == len(json.dumps(["hello"]))
    # Heads, prelude and frames of the stream, and the xhr_send answer.
    assert counters.delta("bytes_sent_total") > len(first) + len("hello")
    assert counters.delta("sessions_expired_total") == 0


def test_xhr_polling(srv: ServerProcess) -> None:
    counters = Counters(srv.port, "/echo")
    sid = new_session_id()
    assert xhr_poll(srv.port, "/echo", sid).body == b"o\n"
    _send(srv.port, sid, "hello")
    assert xhr_poll(srv.port, "/echo", sid).body == b'a["hello"]\n'
    assert counters.delta("sessions_opened_total", transport="xhr") == 1
    assert counters.delta("sessions_active", transport="xhr") == 1  # until it expires
    assert counters.delta("connections_opened_total") == 2
    assert counters.delta("messages_received_total") == 1
    assert counters.delta("messages_sent_total") == 1
    assert counters.delta("bytes_received_total") == len(json.dumps(["hello"]))


def test_jsonp_polling(srv: ServerProcess) -> None:
    counters = Counters(srv.port, "/echo")
    sid = new_session_id()
    poll = path("/echo", sid, "jsonp?c=cb")
    assert request(srv.port, "GET", poll).body == b'cb("o");\r\n'
    body = b"d=" + json.dumps(["hello"]).encode()
    resp = request(
        srv.port,
        "POST",
        path("/echo", sid, "jsonp_send"),
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
        body=body,
    )
    assert (resp.status, resp.body) == (200, b"ok")
    assert b"hello" in request(srv.port, "GET", poll).body
    assert counters.delta("sessions_opened_total", transport="jsonp") == 1
    assert counters.delta("sessions_active", transport="jsonp") == 1
    assert counters.delta("messages_received_total") == 1
    assert counters.delta("messages_sent_total") == 1
    assert counters.delta("bytes_received_total") == len(body)


def test_websocket(srv: ServerProcess, ws_connect: WSConnect) -> None:
    counters = Counters(srv.port, "/echo")
    ws = ws_connect(path("/echo", new_session_id(), "websocket"))
    assert ws.recv(timeout=TIMEOUT) == "o"
    assert counters.wait("sessions_active", 1, transport="websocket") == 1
    assert counters.delta("connections_active") == 1
    ws.send('["hello"]')
    assert ws.recv(timeout=TIMEOUT) == 'a["hello"]'
    ws.close()
    assert counters.wait("sessions_closed_total", 1, transport="websocket") == 1
    assert counters.delta("sessions_opened_total", transport="websocket") == 1
    assert counters.delta("sessions_active", transport="websocket") == 0
    assert counters.delta("connections_active") == 0
    assert counters.delta("messages_received_total") == 1
    assert counters.delta("messages_sent_total") == 1
    assert counters.delta("bytes_received_total") > len('["hello"]')  # framing included
    assert counters.delta("bytes_sent_total") > len('a["hello"]')


def test_raw_websocket(srv: ServerProcess, ws_connect: WSConnect) -> None:
    counters = Counters(srv.port, "/echo")
    ws = ws_connect("/echo/websocket")
    ws.send("hello")
    assert ws.recv(timeout=TIMEOUT) == "hello"
    ws.close()
    assert counters.wait("sessions_closed_total", 1, transport="rawwebsocket") == 1
    assert counters.delta("sessions_opened_total", transport="rawwebsocket") == 1
    assert counters.delta("messages_received_total") == 1
    assert counters.delta("messages_sent_total") == 1


# ---------------------------------------------------------------------------
# Errors and limits
# ---------------------------------------------------------------------------


def test_refused_requests(srv: ServerProcess) -> None:
    counters = Counters(srv.port, "/amplify")
    sid = new_session_id()
    assert xhr_poll(srv.port, "/amplify", sid).body == b"o\n"
    assert xhr_send(srv.port, "/amplify", sid, b"[broken").status == 500
    assert xhr_send(srv.port, "/amplify", sid, b"").status == 500
    assert xhr_send(srv.port, "/amplify", new_session_id(), b'["x"]').status == 404
    assert request(srv.port, "GET", path("/amplify", sid, "jsonp")).status == 500
    assert request(srv.port, "GET", path("/amplify", sid, "websocket")).status == 400
    assert counters.delta("errors_total", kind="bad_json") == 1
    assert counters.delta("errors_total", kind="payload_expected") == 1
    assert counters.delta("errors_total", kind="no_session") == 1
    assert counters.delta("errors_total", kind="bad_callback") == 1
    assert counters.delta("errors_total", kind="bad_upgrade") == 1
    assert counters.delta("messages_received_total") == 0


def test_second_receiver(srv: ServerProcess) -> None:
    counters = Counters(srv.port, "/amplify")
    sid = new_session_id()
    assert xhr_poll(srv.port, "/amplify", sid).body == b"o\n"
    with RawHTTP(srv.port, timeout=TIMEOUT) as parked:
        parked.send("POST", path("/amplify", sid, "xhr"))
        # The first poll is parked once the server counts its connection.
        assert counters.wait("connections_active", 1) == 1
        second = xhr_poll(srv.port, "/amplify", sid)
        assert second.body == b'c[2010,"Another connection still open"]\n'
    assert counters.delta("errors_total", kind="another_connection") == 1


def test_body_over_the_limit(srv: ServerProcess) -> None:
    counters = Counters(srv.port, "/amplify")
    # SockJSHTTPConnection refuses it from Content-Length, before the body.
    with RawHTTP(srv.port, timeout=TIMEOUT) as conn:
        conn.send_raw(
            f"POST /amplify/000/{new_session_id()}/xhr_send HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n".encode()
        )
        assert conn.read_head().status == 413
    assert counters.delta("errors_total", kind="body_too_large") == 1


def test_websocket_faults(srv: ServerProcess, ws_connect: WSConnect) -> None:
    counters = Counters(srv.port, "/amplify")
    ws = ws_connect(path("/amplify", new_session_id(), "websocket"))
    assert ws.recv(timeout=TIMEOUT) == "o"
    ws.send("not json")
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 3000

    big = ws_connect(path("/amplify", new_session_id(), "websocket"))
    assert big.recv(timeout=TIMEOUT) == "o"
    big.send('["' + "x" * (1024 * 1024) + '"]')
    with pytest.raises(ConnectionClosed) as closed:
        big.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    assert counters.wait("sessions_closed_total", 2, transport="websocket") == 2
    assert counters.delta("errors_total", kind="bad_json") == 1
    assert counters.delta("errors_total", kind="message_too_big") == 1


# ---------------------------------------------------------------------------
# Timers: heartbeats and expiry (/heartbeat_echo: 1 s and 2 s)
# ---------------------------------------------------------------------------


def test_heartbeats(srv: ServerProcess) -> None:
    counters = Counters(srv.port, "/heartbeat_echo")
    sid = new_session_id()
    with RawHTTP(srv.port, timeout=TIMEOUT) as conn:
        conn.send("POST", path("/heartbeat_echo", sid, "xhr_streaming"))
        assert conn.read_head().status == 200
        chunks: list[bytes] = []
        deadline = time.monotonic() + TIMER_WAIT
        while chunks.count(b"h\n") < 2 and time.monotonic() < deadline:
            chunks.append(conn.read_chunk())
        assert chunks.count(b"h\n") == 2
    assert counters.delta("heartbeats_sent_total") >= 2
    assert counters.wait("sessions_closed_total", 1, transport="xhr_streaming") == 1
    assert counters.delta("sessions_expired_total") == 0


def test_expiry(srv: ServerProcess) -> None:
    counters = Counters(srv.port, "/heartbeat_echo")
    sid = new_session_id()
    assert xhr_poll(srv.port, "/heartbeat_echo", sid).body == b"o\n"
    assert counters.delta("sessions_active", transport="xhr") == 1
    # No further poll: the session expires after disconnect_delay (2 s).
    assert counters.wait("sessions_expired_total", 1) == 1
    assert counters.delta("sessions_closed_total", transport="xhr") == 1
    assert counters.delta("sessions_active", transport="xhr") == 0
    resp = xhr_send(srv.port, "/heartbeat_echo", sid, b'["late"]')
    assert resp.status == 404
    assert counters.delta("errors_total", kind="no_session") == 1
