"""Receiving transports through Cyclone: xhr, xhr_streaming, jsonp, eventsource, htmlfile.

Covers PROTOCOL.md 6.3, 6.8, 6.9 and 7.1-7.7 at the byte level, client
aborts, and back-pressure through the transport's registered producer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import (
    EVENT_STREAM,
    JAVASCRIPT,
    NO_CACHE,
    PRELUDE,
    TEXT_HTML,
    LogCapture,
    Server,
    new_sid,
    recording,
)

from sockjs.cyclone import SockJSConnection
from sockjs.cyclone._service import Service
from sockjs.cyclone.handlers.receivers import ReceiverHandler

HTMLFILE_PAGE = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.CALLBACK;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""


class Closer(SockJSConnection):
    """The test server's ``/close`` service: closes with 3000 on open."""

    def connectionMade(self, info: Any) -> None:
        self.close(3000, "Go away!")


# ---------------------------------------------------------------------------
# xhr
# ---------------------------------------------------------------------------


def test_xhr_opens_a_session(server: Server) -> None:
    """Checklist 55, 64: 200 ``o\\n`` with JavaScript type, CORS, no-cache and cookie."""
    response = server.post(f"/000/{new_sid()}/xhr")
    assert response.status == 200
    assert response.body == b"o\n"
    assert response.header("Content-Type") == JAVASCRIPT
    assert response.header("Content-Length") == "2"
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Access-Control-Allow-Credentials") == "true"
    assert response.header("Cache-Control") == NO_CACHE
    assert response.header("Set-Cookie") == "JSESSIONID=dummy; path=/; HttpOnly"
    assert not response.has("Transfer-Encoding")


def test_xhr_poll_is_parked_then_released_by_a_send(server: Server) -> None:
    """Checklist 66, 73: an idle poll is held until data arrives."""
    sid = server.open()
    poll = server.poll(sid)
    server.advance(1)
    assert poll.data == b""
    assert server.send(sid, "x").status == 204
    response = poll.response()
    assert (response.status, response.body) == (200, b'a["x"]\n')
    assert response.complete
    assert not poll.closed_by_server  # keep-alive


def test_xhr_poll_released_by_an_application_send(server: Server) -> None:
    """PROTOCOL.md 6.4: a send with a receiver attached is written at once."""
    sid = server.open()
    poll = server.poll(sid)
    (conn,) = server.router.connections
    conn.sendMessage("pushed")
    assert poll.response().body == b'a["pushed"]\n'


def test_xhr_connection_is_reused_after_a_parked_poll(server: Server) -> None:
    """PROTOCOL.md 4.7: the keep-alive connection takes another request after the poll."""
    sid = server.open()
    client = server.client()
    client.post(f"/echo/000/{sid}/xhr")
    server.send(sid, "one")
    client.post(f"/echo/000/{sid}/xhr_send", b'["two"]')
    client.post(f"/echo/000/{sid}/xhr")
    bodies = [r.body for r in client.responses()]
    assert bodies == [b'a["one"]\n', b"", b'a["two"]\n']


def test_xhr_without_content_length(server: Server) -> None:
    """Checklist 82: a POST without Content-Length and body -> 200 ``o``."""
    client = server.client()
    client.request("POST", f"/echo/000/{new_sid()}/xhr", content_length=False)
    assert client.response().body == b"o\n"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Access-Control-Request-Headers": "a, b, c"}, "a, b, c"),
        ({"Access-Control-Request-Headers": ""}, None),
        ({}, None),
    ],
)
def test_xhr_allow_headers(server: Server, headers: dict[str, str], expected: str | None) -> None:
    """Checklist 45-47: Access-Control-Allow-Headers echoes a non-empty request header."""
    response = server.post(f"/000/{new_sid()}/xhr", headers=headers)
    assert response.header("Access-Control-Allow-Headers") == expected


def test_xhr_cors_echoes_origin(server: Server) -> None:
    """PROTOCOL.md 4.1 on a POST."""
    response = server.post(f"/000/{new_sid()}/xhr", headers={"Origin": "https://x.example"})
    assert response.header("Access-Control-Allow-Origin") == "https://x.example"


def test_second_poll_gets_2010_and_the_first_is_unaffected(server: Server) -> None:
    """Checklist 75: while a poll is parked, a second one gets c[2010,...]."""
    sid = server.open()
    first = server.poll(sid)
    second = server.poll(sid)
    response = second.response()
    assert response.status == 200
    assert response.body == b'c[2010,"Another connection still open"]\n'
    assert first.data == b""
    server.send(sid, "still works")
    assert first.response().body == b'a["still works"]\n'


def test_http10_poll_closes_the_connection(server: Server) -> None:
    """PROTOCOL.md 4.7: HTTP/1.0 answers carry a length and close the socket."""
    client = server.client()
    client.request("POST", f"/echo/000/{new_sid()}/xhr", version="HTTP/1.0")
    response = client.response()
    assert (response.body, response.header("Connection")) == (b"o\n", "close")
    assert response.header("Content-Length") == "2"
    assert client.closed_by_server


def test_close_service_polls() -> None:
    """Checklist 128: on /close, polls return o, then the close frame, then it again."""
    closer = Server(Closer, "/close")
    sid = new_sid()
    bodies = [closer.post(f"/000/{sid}/xhr").body for _ in range(3)]
    assert bodies == [b"o\n", b'c[3000,"Go away!"]\n', b'c[3000,"Go away!"]\n']


# ---------------------------------------------------------------------------
# xhr_streaming
# ---------------------------------------------------------------------------


def test_xhr_streaming(server: Server) -> None:
    """Checklist 76-79, 81: head, prelude chunk, ``o`` chunk, one chunk per frame."""
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    response = stream.response()
    assert response.status == 200
    assert response.header("Content-Type") == JAVASCRIPT
    assert response.header("Transfer-Encoding") == "chunked"
    assert not response.has("Content-Length")
    assert response.header("Access-Control-Allow-Origin") == "*"
    assert response.header("Cache-Control") == NO_CACHE
    assert response.header("Set-Cookie") == "JSESSIONID=dummy; path=/; HttpOnly"
    assert response.chunks == [PRELUDE, b"o\n"]
    assert not response.complete
    server.send(sid, "x")
    server.send(sid, "y", "z")
    assert stream.response().chunks == [PRELUDE, b"o\n", b'a["x"]\n', b'a["y"]\n', b'a["z"]\n']
    assert stream.producer is not None


def test_xhr_streaming_response_limit(server: Server) -> None:
    """Checklist 80, 136: 4096-byte limit ends after the 31st 134-byte frame; resume without o."""
    limited = Server(settings={"response_limit": 4096})
    sid = new_sid()
    stream = limited.poll(sid, "xhr_streaming")
    message = "x" * 128
    for _ in range(30):
        limited.send(sid, message)
    response = stream.response()
    assert not response.complete
    assert stream.producer is not None
    limited.send(sid, message)
    response = stream.response()
    assert response.complete
    chunks = response.chunks or []
    assert chunks[:2] == [PRELUDE, b"o\n"]
    assert len(chunks) == 33
    assert all(chunk == b'a["' + message.encode() + b'"]\n' for chunk in chunks[2:])
    assert all(len(chunk) == 134 for chunk in chunks[2:])
    assert stream.producer is None
    assert not stream.closed_by_server  # HTTP/1.1: terminating chunk, keep-alive
    # The session stays open: buffered messages go to the next stream, no new "o".
    limited.send(sid, "later")
    again = limited.poll(sid, "xhr_streaming")
    assert again.response().chunks == [PRELUDE, b'a["later"]\n']


def test_second_stream_gets_2010(server: Server) -> None:
    """Checklist 131: prelude, c[2010,...], end; the first stream keeps working."""
    sid = new_sid()
    first = server.poll(sid, "xhr_streaming")
    second = server.poll(sid, "xhr_streaming")
    response = second.response()
    assert response.chunks == [PRELUDE, b'c[2010,"Another connection still open"]\n']
    assert response.complete
    server.send(sid, "x")
    assert first.response().chunks == [PRELUDE, b"o\n", b'a["x"]\n']


def test_close_service_streams() -> None:
    """Checklist 129, 130, 144: prelude, o, close frame, end; then prelude + close frame."""
    closer = Server(Closer, "/close")
    sid = new_sid()
    first = closer.poll(sid, "xhr_streaming")
    response = first.response()
    assert response.chunks == [PRELUDE, b"o\n", b'c[3000,"Go away!"]\n']
    assert response.complete
    assert first.data.endswith(b"0\r\n\r\n")
    second = closer.poll(sid, "xhr_streaming").response()
    assert second.chunks == [PRELUDE, b'c[3000,"Go away!"]\n']
    assert second.complete


def test_http10_streaming_is_raw_and_closes() -> None:
    """Checklist 143: no Transfer-Encoding, no Content-Length, raw bytes, socket closed."""
    closer = Server(Closer, "/close")
    client = closer.client()
    client.request("POST", f"/close/000/{new_sid()}/xhr_streaming", version="HTTP/1.0")
    response = client.response()
    assert not response.has("Transfer-Encoding")
    assert not response.has("Content-Length")
    assert response.header("Connection") == "close"
    assert response.body == PRELUDE + b'o\nc[3000,"Go away!"]\n'
    assert client.closed_by_server


def test_http10_streaming_writes_frames_as_they_come(server: Server) -> None:
    """PROTOCOL.md 4.7: HTTP/1.0 streams are unframed but still flushed per frame."""
    sid = new_sid()
    client = server.client()
    client.request("POST", f"/echo/000/{sid}/xhr_streaming", version="HTTP/1.0")
    client.new_data()
    server.send(sid, "x")
    assert client.new_data() == b'a["x"]\n'
    assert not client.closed_by_server


# ---------------------------------------------------------------------------
# Client aborts (PROTOCOL.md 6.8)
# ---------------------------------------------------------------------------


def test_abort_of_a_parked_poll_closes_the_session_at_once(logs: LogCapture) -> None:
    """Checklist 133, 138: closed immediately, connectionLost once, next poll gets o."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    poll = server.poll(sid)
    assert server.delayed_calls
    poll.abort()
    assert events.count("lost") == 1
    assert server.router.session_count == 0
    assert server.delayed_calls == []
    assert server.send(sid, "x").status == 404
    assert server.post(f"/000/{sid}/xhr").body == b"o\n"
    assert events.count("made") == 2
    assert events.count("lost") == 1


def test_abort_of_a_stream_closes_the_session_at_once() -> None:
    """Checklist 132, 138: the producer is released and the session closed once."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    assert stream.producer is not None
    stream.abort()
    assert stream.producer is None
    assert events.names() == ["made", "lost"]
    assert server.router.session_count == 0
    assert server.delayed_calls == []
    again = server.poll(sid, "xhr_streaming")
    assert again.response().chunks == [PRELUDE, b"o\n"]


def test_closing_an_idle_keep_alive_connection_keeps_the_session(server: Server) -> None:
    """PROTOCOL.md 6.8 is about attached receivers only: a finished poll's socket may go."""
    client = server.client()
    sid = new_sid()
    client.post(f"/echo/000/{sid}/xhr")
    client.abort()
    assert server.router.session_count == 1
    assert server.send(sid, "x").status == 204
    assert server.post(f"/000/{sid}/xhr").body == b'a["x"]\n'


def test_abort_of_a_2010_request_leaves_the_session_alone(server: Server) -> None:
    """A rejected receiver never attached, so its disconnect changes nothing."""
    sid = server.open()
    first = server.poll(sid)
    second = server.poll(sid)
    second.abort()
    assert server.router.session_count == 1
    server.send(sid, "x")
    assert first.response().body == b'a["x"]\n'


# ---------------------------------------------------------------------------
# Back-pressure
# ---------------------------------------------------------------------------


def test_pause_queues_and_resume_writes(server: Server) -> None:
    """A paused stream queues messages in the session; resume writes them as one frame."""
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    stream.new_data()
    producer = stream.producer
    producer.pauseProducing()
    for index in range(50):
        server.send(sid, f"m{index}")
    assert stream.new_data() == b""
    producer.resumeProducing()
    expected = "a[" + ",".join(f'"m{index}"' for index in range(50)) + "]\n"
    assert stream.response().chunks[-1] == expected.encode()
    server.send(sid, "after")
    assert stream.response().chunks[-1] == b'a["after"]\n'


def test_resume_with_nothing_queued_writes_nothing(server: Server) -> None:
    """Resuming an idle stream is harmless."""
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    stream.new_data()
    stream.producer.pauseProducing()
    stream.producer.resumeProducing()
    assert stream.new_data() == b""
    stream.producer.stopProducing()


def test_max_queued_bytes_while_paused_closes_with_1013() -> None:
    """Past max_queued_bytes the session closes: c[1013,"Slow consumer: ..."]."""
    conn_class, events = recording()
    server = Server(conn_class, settings={"max_queued_bytes": 100})
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    stream.producer.pauseProducing()
    (conn,) = events.conns
    for _ in range(9):
        conn.sendMessage("0123456789")  # 12 bytes each once encoded: 108 > 100 at the 9th
    response = stream.response()
    assert response.chunks == [PRELUDE, b"o\n", b'c[1013,"Slow consumer: too many queued bytes"]\n']
    assert response.complete
    assert events.count("lost") == 1
    assert conn.is_closed
    # The close is remembered for the next receiver, as any close is.
    replay = server.poll(sid, "xhr_streaming").response()
    assert replay.chunks == [PRELUDE, b'c[1013,"Slow consumer: too many queued bytes"]\n']


def test_pause_from_a_finished_handler_is_ignored() -> None:
    """A producer that is no longer the session's receiver cannot pause the session."""
    limited = Server(settings={"response_limit": 10})
    sid = new_sid()
    stream = limited.poll(sid, "xhr_streaming")
    producer = stream.producer
    limited.send(sid, "0123456789")  # ends the stream
    assert producer is not None and stream.producer is None
    follower = limited.poll(sid, "xhr_streaming")
    producer.pauseProducing()
    producer.resumeProducing()
    limited.send(sid, "y")
    assert follower.response().chunks[-1] == b'a["y"]\n'


# ---------------------------------------------------------------------------
# jsonp
# ---------------------------------------------------------------------------


def test_jsonp(server: Server) -> None:
    """Checklist 83, 88: percent-decoded callback, frame JSON-encoded again."""
    sid = new_sid()
    response = server.get(f"/000/{sid}/jsonp?c=%63allback")
    assert response.status == 200
    assert response.body == b'callback("o");\r\n'
    assert response.header("Content-Type") == JAVASCRIPT
    assert response.header("Cache-Control") == NO_CACHE
    assert not response.has("Access-Control-Allow-Origin")
    server.send(sid, "x")
    assert server.get(f"/000/{sid}/jsonp?c=callback").body == b'callback("a[\\"x\\"]");\r\n'


def test_jsonp_callback_alias_and_precedence(server: Server) -> None:
    """PROTOCOL.md 7.4: ``callback=`` is an alias; ``c`` wins when both are given."""
    assert server.get(f"/000/{new_sid()}/jsonp?callback=cb").body == b'cb("o");\r\n'
    assert server.get(f"/000/{new_sid()}/jsonp?callback=no&c=yes").body == b'yes("o");\r\n'


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
@pytest.mark.parametrize("query", ["", "?c=", "?callback=", "?d=x"])
def test_callback_required(server: Server, transport: str, query: str) -> None:
    """Checklist 84, 86, 106: missing or empty callback -> 500, no session."""
    sid = new_sid()
    response = server.get(f"/000/{sid}/{transport}{query}")
    assert response.status == 500
    assert response.body == b'"callback" parameter required'
    assert response.header("Cache-Control") == NO_CACHE
    assert server.router.session_count == 0
    assert server.send(sid, "x").status == 404


@pytest.mark.parametrize("transport", ["jsonp", "htmlfile"])
@pytest.mark.parametrize("callback", ["%20", "*", "abc(", "abc%28", "a</script>", "x" * 257])
def test_callback_invalid(server: Server, transport: str, callback: str) -> None:
    """Checklist 85, 107: illegal characters -> 500 invalid "callback" parameter."""
    response = server.get(f"/000/{new_sid()}/{transport}?c={callback}")
    assert response.status == 500
    assert response.body == b'invalid "callback" parameter'
    assert server.router.session_count == 0


def test_jsonp_close_service() -> None:
    """Checklist 95: on /close, x("o"), then the close frame twice."""
    closer = Server(Closer, "/close")
    sid = new_sid()
    bodies = [closer.get(f"/000/{sid}/jsonp?c=x").body for _ in range(3)]
    assert bodies == [b'x("o");\r\n'] + [b'x("c[3000,\\"Go away!\\"]");\r\n'] * 2


# ---------------------------------------------------------------------------
# eventsource
# ---------------------------------------------------------------------------


def test_eventsource(server: Server) -> None:
    """Checklist 96-100: prelude, data: events, % escaped as %25."""
    sid = new_sid()
    stream = server.poll(sid, "eventsource")
    response = stream.response()
    assert response.status == 200
    assert response.header("Content-Type") == EVENT_STREAM
    assert response.header("Cache-Control") == NO_CACHE
    assert response.chunks == [b"\r\n", b"data: o\r\n\r\n"]
    server.send(sid, "x")
    server.send(sid, raw=b'["  \\u0000\\n\\r "]')
    server.send(sid, "100%")
    assert stream.response().chunks[2:] == [
        b'data: a["x"]\r\n\r\n',
        b'data: a["  \\u0000\\n\\r "]\r\n\r\n',
        b'data: a["100%25"]\r\n\r\n',
    ]


def test_eventsource_response_limit() -> None:
    """Checklist 101: with limit 4096, one 4096-character echo ends the stream."""
    server = Server(settings={"response_limit": 4096})
    sid = new_sid()
    stream = server.poll(sid, "eventsource")
    server.send(sid, "x" * 4096)
    response = stream.response()
    assert response.complete
    assert response.chunks[-1] == b'data: a["' + b"x" * 4096 + b'"]\r\n\r\n'


# ---------------------------------------------------------------------------
# htmlfile
# ---------------------------------------------------------------------------


def test_htmlfile(server: Server) -> None:
    """Checklist 102-105, 108: >1 KiB prelude, one script per frame, '<' escaped."""
    stream = server.client()
    stream.get(f"/echo/000/{new_sid()}/htmlfile?c=%63allback")
    response = stream.response()
    assert response.status == 200
    assert response.header("Content-Type") == TEXT_HTML
    assert response.header("Cache-Control") == NO_CACHE
    prelude, opening = response.chunks or []
    assert len(prelude) > 1024
    assert len(prelude) == 1027 + len("callback")
    assert prelude.strip() == HTMLFILE_PAGE.replace("CALLBACK", "callback").encode()
    assert opening == b'<script>\np("o");\n</script>\r\n'


def test_htmlfile_frames_and_script_escaping(server: Server) -> None:
    """Checklist 105, 108: ``</script>`` cannot end the script element."""
    sid = new_sid()
    stream = server.client()
    stream.get(f"/echo/000/{sid}/htmlfile?c=cb")
    server.send(sid, "x")
    server.send(sid, "</script><!--")
    chunks = stream.response().chunks or []
    assert chunks[2] == b'<script>\np("a[\\"x\\"]");\n</script>\r\n'
    inner = chunks[3][len(b"<script>\np(") : -len(b");\n</script>\r\n")]
    assert b"<" not in inner
    assert json.loads(inner) == 'a["</script><!--"]'


def test_htmlfile_response_limit() -> None:
    """Checklist 109: with limit 4096, one 4096-character echo ends the stream."""
    server = Server(settings={"response_limit": 4096})
    sid = new_sid()
    stream = server.client()
    stream.get(f"/echo/000/{sid}/htmlfile?c=cb")
    server.send(sid, "x" * 4096)
    assert stream.response().complete


# ---------------------------------------------------------------------------
# Failures inside the adapter
# ---------------------------------------------------------------------------


def test_unexpected_error_before_the_response_is_500(
    server: Server, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PROTOCOL.md 4.6: an internal exception -> 500 ``500 - Internal Server Error``, logged."""

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Service, "attach", broken)
    response = server.post(f"/000/{new_sid()}/xhr")
    assert response.status == 500
    assert response.body == b"500 - Internal Server Error"
    (failure,) = logs.take_failures()
    assert failure["log_failure"].check(RuntimeError)


def test_unexpected_error_after_a_finished_response_writes_nothing_more(
    server: Server, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure once the poll's answer is complete is logged; the answer stands."""
    original = Service.attach

    def half_broken(self: Service, handler: ReceiverHandler, *args: Any) -> None:
        original(self, handler, *args)
        raise RuntimeError("after the answer")

    monkeypatch.setattr(Service, "attach", half_broken)
    client = server.client()
    client.post(f"/echo/000/{new_sid()}/xhr")
    (response,) = client.responses()
    assert response.body == b"o\n"
    assert len(logs.take_failures()) == 1


def test_unexpected_error_after_the_stream_started_releases_the_session(
    server: Server, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the head went out ends the stream and frees the session."""
    original = Service.attach

    def half_broken(self: Service, handler: ReceiverHandler, *args: Any) -> None:
        original(self, handler, *args)
        raise RuntimeError("after the head")

    monkeypatch.setattr(Service, "attach", half_broken)
    sid = new_sid()
    stream = server.poll(sid, "xhr_streaming")
    response = stream.response()
    assert response.complete
    assert response.chunks == [PRELUDE, b"o\n"]
    assert len(logs.take_failures()) == 1
    monkeypatch.undo()
    again = server.poll(sid, "xhr_streaming").response()
    assert b"2010" not in again.body
    server.drain()
    server.assert_clean()


# ---------------------------------------------------------------------------
# The hardened connection class
# ---------------------------------------------------------------------------


def test_parked_poll_and_abort_with_the_hardened_connection() -> None:
    """SockJSHTTPConnection keeps the same parking and abort behaviour."""
    conn_class, events = recording()
    server = Server(conn_class, hardened=True)
    sid = server.open()
    poll = server.poll(sid)
    assert poll.data == b""
    server.send(sid, "x")
    assert poll.response().body == b'a["x"]\n'
    poll.post(f"/echo/000/{sid}/xhr")
    poll.abort()
    assert events.names() == ["made", "message", "lost"]
    assert server.router.session_count == 0
    assert server.timers_but_connections == []


def test_request_pipelined_behind_a_parked_poll_does_not_close_the_session() -> None:
    """A finished request on the connection is not the client going away (6.8)."""
    conn_class, events = recording()
    server = Server(conn_class)
    sid = server.open()
    client = server.client()
    client.post(f"/echo/000/{sid}/xhr")
    client.get("/echo")
    assert events.count("lost") == 0
    server.send(sid, "x")
    assert b'a["x"]\n' in client.data


def test_pipelined_request_waits_for_the_parked_poll_with_the_hardened_connection() -> None:
    """A request pipelined behind a parked poll is answered after it, in order."""
    server = Server(hardened=True)
    sid = server.open()
    client = server.client()
    client.post(f"/echo/000/{sid}/xhr")
    client.get("/echo/info")
    assert client.data == b""
    server.send(sid, "x")
    first, second = client.responses()
    assert first.body == b'a["x"]\n'
    assert second.status == 200
    assert second.header("Content-Type") == "application/json; charset=UTF-8"
