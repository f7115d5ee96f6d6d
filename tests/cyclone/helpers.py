"""In-memory harness for the Cyclone adapter: real HTTP bytes, fake time.

A :class:`Server` is one :class:`~sockjs.cyclone.SockJSRouter` mounted in a
``cyclone.web.Application`` and driven by a :class:`~twisted.internet.task.Clock`.
A :class:`Client` is one TCP connection to it: a protocol built by the
application, connected to a :class:`~twisted.internet.testing.StringTransport`.
Requests are raw bytes pushed through ``dataReceived``; answers are parsed
back from ``transport.value()`` by :func:`parse_responses`, which keeps the
HTTP chunk boundaries (the SockJS streaming rule "one frame per chunk" is
about them).

No sockets, no threads, no sleeps: time only moves with ``server.advance()``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cyclone.web
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from zope.interface import implementer

from sockjs.cyclone import SockJSConnection, SockJSHTTPConnection, SockJSRouter

#: Every Server built during the current test (the conftest checks and stops them).
LIVE_SERVERS: list[Server] = []

_ports = itertools.count(40000)
_session_ids = itertools.count(1)

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
JAVASCRIPT = "application/javascript; charset=UTF-8"
TEXT_PLAIN = "text/plain; charset=UTF-8"
TEXT_HTML = "text/html; charset=UTF-8"
JSON = "application/json; charset=UTF-8"
EVENT_STREAM = "text/event-stream; charset=UTF-8"
PRELUDE = b"h" * 2048 + b"\n"
NOT_FOUND = b"404 Error: Page not found\n"


def new_sid() -> str:
    """A session id not used before in this test process."""
    return f"sid{next(_session_ids)}"


# ---------------------------------------------------------------------------
# Response parsing
# ---------------------------------------------------------------------------


@dataclass
class Response:
    """One HTTP response as it went over the wire."""

    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    #: The body with any chunked framing removed.
    body: bytes = b""
    #: The HTTP chunks, in order, for ``Transfer-Encoding: chunked`` (terminator excluded).
    chunks: list[bytes] | None = None
    #: Whether the response is over (length reached or terminating chunk seen).
    #: Bodies without length or chunking end only when the socket closes.
    complete: bool = False
    #: The exact bytes of the head (status line and headers, blank line included).
    raw_head: bytes = b""

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or ``None``."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        """Every value of a header, in order."""
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def has(self, name: str) -> bool:
        """Whether the header is present at all."""
        return bool(self.header_all(name))

    @property
    def header_names(self) -> list[str]:
        """Header names, lower-cased, in order."""
        return [key.lower() for key, _ in self.headers]


def parse_responses(data: bytes) -> list[Response]:
    """Split the bytes a server wrote into responses.

    Strict about framing: a malformed chunk raises ``AssertionError`` so a
    framing bug in the adapter fails the test instead of being papered over.
    The last response may be incomplete (a stream still going).
    """
    responses: list[Response] = []
    rest = data
    while rest:
        head_end = rest.find(b"\r\n\r\n")
        assert head_end >= 0, f"incomplete response head: {rest[:200]!r}"
        raw_head = rest[: head_end + 4]
        lines = rest[:head_end].decode("latin-1").split("\r\n")
        rest = rest[head_end + 4 :]
        version, status, reason = [*lines[0].split(" ", 2), ""][:3]
        assert version in ("HTTP/1.1", "HTTP/1.0"), f"bad status line {lines[0]!r}"
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            assert sep and name == name.strip(), f"bad header line {line!r}"
            headers.append((name, value.strip()))
        response = Response(version, int(status), reason, headers, raw_head=raw_head)
        responses.append(response)
        if response.status in (204, 304) or 100 <= response.status < 200:
            response.complete = True
            continue
        if "chunked" in (response.header("Transfer-Encoding") or "").lower():
            rest = _read_chunks(response, rest)
        elif response.has("Content-Length"):
            length = int(response.header("Content-Length") or "0")
            response.body, rest = rest[:length], rest[length:]
            response.complete = len(response.body) == length
        else:
            # Delimited by the connection closing: everything left is body.
            response.body, rest = rest, b""
    return responses


def _read_chunks(response: Response, rest: bytes) -> bytes:
    chunks: list[bytes] = []
    response.chunks = chunks
    while rest:
        line_end = rest.find(b"\r\n")
        if line_end < 0:
            break
        size_text = rest[:line_end]
        assert size_text and all(c in b"0123456789abcdefABCDEF" for c in size_text), (
            f"bad chunk size line {rest[:40]!r}"
        )
        size = int(size_text, 16)
        if size == 0:
            assert rest[line_end : line_end + 4] == b"\r\n\r\n", "bad terminating chunk"
            response.complete = True
            rest = rest[line_end + 4 :]
            break
        start = line_end + 2
        if len(rest) < start + size + 2:
            break
        assert rest[start + size : start + size + 2] == b"\r\n", "chunk not followed by CRLF"
        chunks.append(rest[start : start + size])
        rest = rest[start + size + 2 :]
    response.body = b"".join(chunks)
    return rest


# ---------------------------------------------------------------------------
# Clients and servers
# ---------------------------------------------------------------------------


class Client:
    """One client TCP connection to a :class:`Server`."""

    def __init__(self, server: Server, ip: str = "127.0.0.1", port: int | None = None) -> None:
        self.server = server
        port = next(_ports) if port is None else port
        address_type = IPv6Address if ":" in ip else IPv4Address
        address = address_type("TCP", ip, port)
        self.protocol = server.app.buildProtocol(address)
        self.transport = StringTransport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8081), peerAddress=address
        )
        self.protocol.makeConnection(self.transport)
        self.lost = False
        self._read = 0

    # -- sending --------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Push bytes as if they arrived from the network."""
        assert not self.lost, "this connection is closed"
        self.protocol.dataReceived(data)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        version: str = "HTTP/1.1",
        content_length: bool = True,
    ) -> None:
        """Send one request; ``Content-Length`` is added for bodies and POSTs."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        items = list(headers.items() if isinstance(headers, Mapping) else headers or [])
        names = {name.lower() for name, _ in items}
        lines = [f"{method} {path} {version}"]
        if "host" not in names:
            lines.append("Host: 127.0.0.1:8081")
        lines.extend(f"{name}: {value}" for name, value in items)
        if content_length and "content-length" not in names and (body or method == "POST"):
            lines.append(f"Content-Length: {len(body)}")
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def post(self, path: str, body: bytes | str = b"", **kwargs: Any) -> None:
        """Shorthand for ``request("POST", ...)``."""
        self.request("POST", path, body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> None:
        """Shorthand for ``request("GET", ...)``."""
        self.request("GET", path, **kwargs)

    # -- reading --------------------------------------------------------------------

    @property
    def data(self) -> bytes:
        """Everything the server wrote on this connection."""
        return bytes(self.transport.value())

    def new_data(self) -> bytes:
        """Bytes written since the last call."""
        data = self.data
        fresh, self._read = data[self._read :], len(data)
        return fresh

    def responses(self) -> list[Response]:
        """Every response written on this connection so far."""
        return parse_responses(self.data)

    def response(self) -> Response:
        """The last (possibly still streaming) response."""
        responses = self.responses()
        assert responses, "no response was written"
        return responses[-1]

    @property
    def closed_by_server(self) -> bool:
        """Whether the server asked the transport to close."""
        return bool(self.transport.disconnecting)

    @property
    def producer(self) -> Any:
        """The producer registered on the transport (a streaming handler), if any."""
        return self.transport.producer

    # -- closing --------------------------------------------------------------------

    def abort(self) -> None:
        """The client goes away: the transport reports the connection lost."""
        if not self.lost:
            self.lost = True
            self.protocol.connectionLost(Failure(ConnectionDone()))


class Server:
    """One router mounted in a Cyclone application, with a fake clock."""

    def __init__(
        self,
        connection: type[SockJSConnection] | None = None,
        prefix: str = "/echo",
        settings: Mapping[str, Any] | None = None,
        hardened: bool = False,
        **app_settings: Any,
    ) -> None:
        self.clock = Clock()
        self.connection = connection or Echo
        self.router = SockJSRouter(self.connection, prefix, settings, reactor=self.clock)
        self.prefix = self.router.prefix
        self.app = cyclone.web.Application(self.router.urls, **app_settings)
        if hardened:
            # The opt-in connection class; its request timer must use our clock.
            self.app.protocol = SockJSHTTPConnection
            self.app.sockjs_clock = self.clock
        self.clients: list[Client] = []
        #: Called between two timers of advance(): clients that act at once
        #: on what they receive (a WebSocket client answering pings) do it here.
        self.pumps: list[Callable[[], None]] = []
        LIVE_SERVERS.append(self)

    @property
    def options(self) -> Any:
        """The router's validated options."""
        return self.router.options

    def client(self, ip: str = "127.0.0.1", port: int | None = None) -> Client:
        """Open a new client connection."""
        client = Client(self, ip, port)
        self.clients.append(client)
        return client

    def request(
        self, method: str, path: str, body: bytes | str = b"", ip: str = "127.0.0.1", **kwargs: Any
    ) -> Response:
        """One request on a fresh connection; returns its (maybe unfinished) response."""
        client = self.client(ip)
        client.request(method, self.prefix + path, body, **kwargs)
        return client.response()

    def get(self, path: str, **kwargs: Any) -> Response:
        """``GET prefix+path`` on a fresh connection."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: bytes | str = b"", **kwargs: Any) -> Response:
        """``POST prefix+path`` on a fresh connection."""
        return self.request("POST", path, body, **kwargs)

    def poll(self, sid: str, transport: str = "xhr", query: str = "", **kwargs: Any) -> Client:
        """Start a receiving request; returns the connection (the poll may be parked)."""
        client = self.client(kwargs.pop("ip", "127.0.0.1"))
        method = "POST" if transport in ("xhr", "xhr_streaming") else "GET"
        client.request(method, f"{self.prefix}/000/{sid}/{transport}{query}", **kwargs)
        return client

    def open(self, sid: str | None = None) -> str:
        """Open a session with one xhr poll (``o``); returns its id."""
        sid = sid or new_sid()
        response = self.post(f"/000/{sid}/xhr")
        assert (response.status, response.body) == (200, b"o\n"), response
        return sid

    def send(self, sid: str, *messages: Any, raw: bytes | str | None = None) -> Response:
        """``xhr_send`` of ``messages`` (JSON-encoded) or of a ``raw`` body."""
        if raw is None:
            raw = json_array(messages)
        return self.post(f"/000/{sid}/xhr_send", raw)

    def advance(self, seconds: float) -> None:
        """Move the fake clock, timer by timer; the pumps run after each one."""
        if not self.pumps:
            self.clock.advance(seconds)  # one step: exactly the sum it always was
            return
        target = self.clock.seconds() + seconds
        while True:
            due = [call.getTime() for call in self.clock.getDelayedCalls()]
            step_to = min((when for when in due if when <= target), default=target)
            self.clock.advance(max(0.0, step_to - self.clock.seconds()))
            for pump in list(self.pumps):
                pump()
            if step_to >= target:
                return

    @property
    def delayed_calls(self) -> list[Any]:
        """Pending ``callLater`` calls on this server's clock."""
        return list(self.clock.getDelayedCalls())

    @property
    def timers_but_connections(self) -> list[Any]:
        """Pending calls but the one timer of each open SockJSHTTPConnection.

        A hardened connection always has one while it waits for a request
        (idle, keep-alive, request timeouts); what is left is what sessions,
        handlers and the router scheduled.
        """
        return [
            call
            for call in self.clock.getDelayedCalls()
            if not isinstance(getattr(call.func, "__self__", None), SockJSHTTPConnection)
        ]

    def drain(self) -> None:
        """End every session the normal way: clients go away, then time passes.

        Used at teardown. Closing the client connections is what real clients
        do eventually; expiry then needs only ``disconnect_delay`` (plus the
        replays, which re-arm it), so a bounded number of steps suffices.
        """
        for client in self.clients:
            client.abort()
        step = self.options.disconnect_delay + self.options.heartbeat_delay
        for _ in range(10):
            if not self.router.session_count:
                break
            self.advance(step)

    def assert_clean(self) -> None:
        """No session, no live connection and no timer left behind."""
        assert self.router.session_count == 0, "sessions left after drain"
        assert self.router.connections == []
        assert self.clock.getDelayedCalls() == [], (
            f"timers left once every session ended: {self.clock.getDelayedCalls()}"
        )


def json_array(messages: Iterable[Any]) -> bytes:
    """A client payload: a JSON array of messages."""
    import json

    return json.dumps(list(messages)).encode()


# ---------------------------------------------------------------------------
# Application connections
# ---------------------------------------------------------------------------


class Echo(SockJSConnection):
    """Sends every message back."""

    def messageReceived(self, message: Any) -> None:
        self.sendMessage(message)


@dataclass
class Events:
    """What a :func:`recording` connection class saw, in order."""

    log: list[tuple[str, Any]] = field(default_factory=list)
    conns: list[SockJSConnection] = field(default_factory=list)
    infos: list[Any] = field(default_factory=list)

    def names(self) -> list[str]:
        """The event names only."""
        return [name for name, _ in self.log]

    def count(self, name: str) -> int:
        """How many events of that name."""
        return self.names().count(name)

    def messages(self) -> list[Any]:
        """Messages received, in order."""
        return [value for name, value in self.log if name == "message"]


Hook = Callable[[SockJSConnection, Any], Any]


def recording(
    on_open: Callable[[SockJSConnection, Any], Any] | None = None,
    on_message: Hook | None = None,
    on_close: Callable[[SockJSConnection], Any] | None = None,
    echo: bool = True,
) -> tuple[type[SockJSConnection], Events]:
    """A fresh connection class recording its hooks (echoes unless told otherwise).

    Each hook may be replaced: ``on_open(conn, info)``, ``on_message(conn, message)``
    and ``on_close(conn)``; what they return is what the hook returns (a
    Deferred or ``False`` included).
    """
    events = Events()

    class Recorder(SockJSConnection):
        def connectionMade(self, info: Any) -> Any:
            events.log.append(("made", info))
            events.conns.append(self)
            events.infos.append(info)
            if on_open is not None:
                return on_open(self, info)
            return None

        def messageReceived(self, message: Any) -> Any:
            events.log.append(("message", message))
            if on_message is not None:
                return on_message(self, message)
            if echo:
                self.sendMessage(message)
            return None

        def connectionLost(self) -> Any:
            events.log.append(("lost", None))
            if on_close is not None:
                return on_close(self)
            return None

    return Recorder, events


# ---------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------


@implementer(ILogObserver)
class LogCapture:
    """Collects Twisted log events; failures must be claimed by the test."""

    def __init__(self) -> None:
        self.events: list[LogEvent] = []
        self._claimed: set[int] = set()

    def __call__(self, event: LogEvent) -> None:
        self.events.append(event)

    def start(self) -> None:
        """Begin observing the global log publisher."""
        globalLogPublisher.addObserver(self)

    def stop(self) -> None:
        """Stop observing."""
        globalLogPublisher.removeObserver(self)

    def failures(self) -> list[LogEvent]:
        """Events logged with ``log.failure`` (or legacy ``log.err``)."""
        return [event for event in self.events if "log_failure" in event]

    def take_failures(self) -> list[LogEvent]:
        """The failures logged so far, marked as expected by the test."""
        found = self.failures()
        self._claimed.update(id(event) for event in found)
        return found

    def unclaimed_failures(self) -> list[LogEvent]:
        """Failures the test did not expect."""
        return [event for event in self.failures() if id(event) not in self._claimed]

    def text(self) -> str:
        """Every event formatted, one per line (for "no id in the logs" checks)."""
        lines = []
        for event in self.events:
            lines.append(formatEvent(event) or "")
            failure = event.get("log_failure")
            if failure is not None:
                lines.append(failure.getTraceback())
        return "\n".join(lines)
