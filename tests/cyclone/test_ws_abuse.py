"""What one hostile WebSocket client can cost (issue 18, findings 1, 2 and 10).

Each attack ends in a bounded cost and a documented answer: a close code,
a closed socket, a log event and a counter. Real frames in memory, fake
time (tests/cyclone/helpers.py).
"""

from __future__ import annotations

import helpers
import pytest
from integration.slowclients import client_frame
from test_websocket_handlers import WS, Hixie

from sockjs.cyclone import SockJSConnection

PING, CONT, TEXT, BINARY = 0x9, 0x0, 0x1, 0x2
MASK = b"\x11\x22\x33\x44"


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    return client_frame(opcode, payload, fin=fin, mask_key=MASK)


def fault_kinds(logs: helpers.LogCapture) -> list[str]:
    return [str(e["kind"]) for e in logs.events if e.get("sockjs_event") and "kind" in e]


@pytest.mark.parametrize("path", ["/000/s1/websocket", "/websocket"])
def test_a_client_that_does_not_read_stops_being_read(path: str) -> None:
    """Finding 1: the pongs of a ping flood cannot pile up while the client does not read."""
    server = helpers.Server(settings={"max_queued_bytes": 1000})
    ws = WS(server, path)
    transport = ws.conn.transport
    ws.conn.producer.pauseProducing()  # Twisted: the client's socket is full
    assert transport.producerState == "paused"  # so we stop reading it
    ws.conn.producer.resumeProducing()
    assert transport.producerState == "producing"
    ws.close()


@pytest.mark.parametrize("path", ["/000/s1/websocket", "/websocket"])
def test_pongs_count_against_max_queued_bytes(path: str, logs: helpers.LogCapture) -> None:
    """Finding 1: control frames count against the outgoing bound; past it, 1013 and TCP goes."""
    server = helpers.Server(settings={"max_queued_bytes": 1000})
    ws = WS(server, path)
    ws.conn.producer.pauseProducing()
    pings = frame(PING, b"x" * 125) * 20  # what was already in flight when we paused
    ws.send_raw(pings)
    assert ws.closed_by_server
    assert "slow_consumer" in fault_kinds(logs)
    ws.drop()
    assert server.router.connections == []


def test_too_many_fragments_close_with_1009(logs: helpers.LogCapture) -> None:
    """Finding 2: empty continuation frames cannot grow a message for ever."""
    server = helpers.Server(settings={"max_message_fragments": 100})
    ws = WS(server)
    ws.texts()
    ws.send_raw(frame(TEXT, b"[", fin=False) + frame(CONT, b"", fin=False) * 100)
    frames = ws.frames()
    assert ws.close_frame(frames).code == 1009
    assert ws.closed_by_server
    assert "too_many_fragments" in fault_kinds(logs)
    ws.drop()


def test_fragments_within_the_cap_still_make_a_message() -> None:
    server = helpers.Server(settings={"max_message_fragments": 100})
    ws = WS(server)
    ws.texts()
    parts = [b'["', b"a", b'"]']
    ws.send_raw(
        frame(TEXT, parts[0], fin=False) + frame(CONT, parts[1], fin=False) + frame(CONT, parts[2])
    )
    assert ws.texts() == ['a["a"]']
    ws.close()


def test_an_unfinished_message_has_a_time_limit(logs: helpers.LogCapture) -> None:
    """Finding 2: a message left unfinished is failed with 1008 after message_timeout."""
    server = helpers.Server(settings={"message_timeout": 5})
    ws = WS(server)
    ws.texts()
    ws.send_raw(frame(TEXT, b"[", fin=False))
    server.advance(4.9)
    assert not ws.closed_by_server
    server.advance(0.1)
    assert ws.close_frame(ws.frames()).code == 1008
    assert "message_timeout" in fault_kinds(logs)
    ws.drop()
    assert server.delayed_calls == []


def test_a_finished_message_cancels_its_time_limit() -> None:
    server = helpers.Server(settings={"message_timeout": 5, "heartbeat_delay": 100})
    ws = WS(server)
    ws.texts()
    ws.send_raw(frame(TEXT, b'["a', fin=False))
    ws.send_raw(frame(CONT, b'"]'))
    server.advance(60)
    assert ws.texts() == ['a["a"]']
    assert not ws.closed_by_server
    ws.close()


def test_a_hixie76_key_with_too_many_digits_is_a_400() -> None:
    """Finding 10: 5,000 digits used to reach int() and its size limit (500, CRITICAL)."""
    server = helpers.Server()
    client = server.client()
    client.request(
        "GET",
        "/echo/000/s1/websocket",
        headers=[
            ("Connection", "Upgrade"),
            ("Upgrade", "WebSocket"),
            ("Sec-WebSocket-Key1", "1" * 5000 + " "),
            ("Sec-WebSocket-Key2", "12998 5 Y3 1  .P00"),
        ],
    )
    assert client.response().status == 400
    assert Hixie  # the valid handshake is tested in test_websocket_handlers.py


class Binary(SockJSConnection):
    def messageReceived(self, message: object) -> None:
        self.sendMessage(message)


def test_raw_binary_passes_binary_both_ways() -> None:
    """Issue 19: with raw_binary a binary frame comes back as the same binary frame."""
    server = helpers.Server(Binary, settings={"raw_binary": True})
    ws = WS(server, "/websocket")
    ws.send_raw(frame(BINARY, b"\x00\xffbinary"))
    (echoed,) = ws.frames()
    assert (echoed.opcode.value, bytes(echoed.data)) == (BINARY, b"\x00\xffbinary")
    ws.close()


@pytest.mark.parametrize(
    ("path", "settings"), [("/websocket", {}), ("/000/s/websocket", {"raw_binary": True})]
)
def test_binary_is_refused_with_1003_elsewhere(path: str, settings: dict[str, object]) -> None:
    """Without raw_binary, and always on the SockJS endpoint (a text protocol)."""
    server = helpers.Server(Binary, settings=settings)
    ws = WS(server, path)
    ws.send_raw(frame(BINARY, b"\x00"))
    assert ws.close_frame(ws.frames()).code == 1003
    ws.drop()


def test_sending_bytes_without_raw_binary_is_a_type_error() -> None:
    server = helpers.Server(Binary)
    ws = WS(server, "/websocket")
    (conn,) = server.router.connections
    with pytest.raises(TypeError, match="raw_binary"):
        conn.sendMessage(b"bytes")
    ws.close()


def test_a_hixie76_origin_that_cannot_be_echoed_is_a_400(logs: helpers.LogCapture) -> None:
    """The 101 head echoes Origin and Host: values a header cannot carry get 400, not 500."""
    server = helpers.Server()
    client = server.client()
    client.send_raw(
        b"GET /echo/000/s1/websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
        b"Upgrade: WebSocket\r\nOrigin: http://\xe2\x82\xac.example\r\n"
        b"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
        b"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n"
    )
    assert client.response().status == 400
    assert "bad_upgrade" in fault_kinds(logs)
