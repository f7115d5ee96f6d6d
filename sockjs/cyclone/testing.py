"""Unit-test your :class:`~sockjs.cyclone.SockJSConnection` classes in memory.

:class:`SockJSTestServer` runs a real :class:`~sockjs.cyclone.SockJSRouter`
(the same session core, glue, timers and pub/sub as in production) on a
``twisted.internet.task.Clock``; :class:`TestClient` plays a SockJS
client on it without sockets, HTTP or sleeps. Time moves only when the test
says so, so heartbeats and expiry are exact and instant::

    from sockjs.cyclone import SockJSConnection
    from sockjs.cyclone.testing import SockJSTestServer


    class Chat(SockJSConnection):
        def connectionMade(self, info):
            if info.get_argument("name") is None:
                return False                        # refused: c[3000,"Go away!"]
            self.name = info.get_argument("name")
            self.subscribe("room")

        def messageReceived(self, message):
            self.publish("room", f"{self.name}: {message}")

        def connectionLost(self):
            self.publish("room", f"{self.name} left")


    def test_chat():
        with SockJSTestServer(Chat, {"heartbeat_delay": 10}) as server:
            ann = server.open(arguments={"name": "ann"})
            bob = server.open(arguments={"name": "bob"})
            ann.send("hi")
            assert bob.pop_messages() == ["ann: hi"]
            assert ann.pop_messages() == ["ann: hi"]

            server.advance(10)
            assert bob.frames[-1] == "h"            # heartbeat after heartbeat_delay

            bob.disconnect()                        # the client goes away
            assert ann.pop_messages() == ["bob left"]
            assert bob.connection.close_info.initiator == "client"

            assert server.open().close_frame == (3000, "Go away!")
        server.assert_no_timers()                   # nothing left on the clock

What a client does, it does the way a browser's sockjs-client would:

* ``transport="xhr_streaming"`` (default) keeps one streaming receiver open
  and opens a new one when ``response_limit`` ends it; ``"xhr"`` polls
  again as soon as a poll returns; ``"websocket"`` is one WebSocket session
  (no re-polling, no disconnect delay). Clients re-poll whenever the test
  looks at them or moves time, with zero latency.
* :meth:`TestClient.send` delivers messages the way ``xhr_send`` (or a
  WebSocket text message) does: JSON-encoded, decoded by the server.
  sockjs-client only ever sends strings; other JSON values are accepted.
* :meth:`TestClient.disconnect` drops the connection (the session closes at
  once, ``close_info.initiator == "client"``); :meth:`TestClient.stop_polling`
  makes the client vanish between two polls, so the session expires after
  ``disconnect_delay`` (``initiator == "timeout"``).

Timers your application schedules are checked by :meth:`SockJSTestServer.assert_no_timers`
only if they use :attr:`SockJSTestServer.clock`: give your code the clock
(for instance as ``task.LoopingCall(...).clock = server.clock``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.cookies import SimpleCookie
from types import TracebackType
from typing import TYPE_CHECKING, Any

from twisted.internet.task import Clock

from sockjs.cyclone._session import SessionHandle
from sockjs.cyclone.conninfo import ConnectionInfo
from sockjs.cyclone.multiplex import escape_topic
from sockjs.cyclone.router import SockJSRouter
from sockjs.protocol import transports
from sockjs.protocol.clientip import client_ip
from sockjs.protocol.encoding import decode_payload
from sockjs.protocol.session import Output, Receiver, SessionState

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from sockjs.cyclone._service import Service
    from sockjs.cyclone._session import CloseInfo
    from sockjs.cyclone.conn import SockJSConnection
    from sockjs.cyclone.pubsub import Broker

__all__ = ["ChannelClient", "ClientClosedError", "SockJSTestServer", "TestClient"]

#: Transports a :class:`TestClient` can use.
TRANSPORTS = {
    "xhr_streaming": transports.XHR_STREAMING,
    "xhr": transports.XHR,
    "websocket": transports.WEBSOCKET,
}

# Clients re-poll in a loop until all are parked; a session that answers
# every poll at once forever (an application bug) must not hang the test.
_MAX_POLLS_PER_FLUSH = 100_000


class ClientClosedError(RuntimeError):
    """The test used a client whose session is over (it saw a close frame or went away)."""


class SockJSTestServer:
    """A real router on a fake clock, with in-memory clients.

    ``user_settings`` are the router's settings, as given to
    :class:`~sockjs.cyclone.SockJSRouter` (times in seconds). ``broker``
    shares pub/sub channels with other routers (see
    :mod:`sockjs.cyclone.pubsub`); pass the same ``clock`` to several
    servers to move their time together. Use it as
    a context manager (or call :meth:`stop`) so no session outlives the test.
    """

    def __init__(
        self,
        connection_class: type[SockJSConnection],
        user_settings: Mapping[str, Any] | None = None,
        prefix: str = "/test",
        *,
        broker: Broker | None = None,
        clock: Clock | None = None,
    ) -> None:
        #: The fake reactor every timer of this server runs on.
        self.clock = clock if clock is not None else Clock()
        #: The router under test (``urls``, ``stats``, ``broadcast``, ``publish``...).
        self.router = SockJSRouter(
            connection_class, prefix, user_settings, reactor=self.clock, broker=broker
        )
        #: Every client opened so far, in order.
        self.clients: list[TestClient] = []
        self._session_ids = itertools.count(1)
        self._flushing = False
        # > 0 while the harness is calling into the router (and so maybe into
        # application hooks): clients act only once that call has returned.
        self._busy = 0

    @property
    def service(self) -> Service:
        """The router's service (sessions, registry, options)."""
        return self.router._service

    @property
    def connections(self) -> list[SockJSConnection]:
        """The application connections currently open."""
        return self.router.connections

    def open(
        self,
        ip: str = "127.0.0.1",
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        arguments: Mapping[str, str | Sequence[str]] | None = None,
        transport: str = "xhr_streaming",
    ) -> TestClient:
        """Open a session the way a client does; its ``connectionMade`` has run.

        ``ip`` is the peer address (``X-Forwarded-For`` in ``headers`` counts
        only for ``trusted_proxies``, as in production); ``headers``,
        ``cookies`` and ``arguments`` (query string) reach the application's
        :class:`~sockjs.cyclone.ConnectionInfo`.
        """
        wire = TRANSPORTS.get(transport)
        if wire is None:
            raise ValueError(f"unknown transport {transport!r}; use one of {sorted(TRANSPORTS)}")
        if transport in self.router.options.disabled_transports:
            raise ValueError(f"transport {transport!r} is disabled on this router")
        if self.service._stopped:
            raise RuntimeError("this server was stopped; make a new one")
        client = TestClient(self, wire, ip, headers, cookies, arguments)
        self.clients.append(client)
        with self._calling():
            client._open(None if transport == "websocket" else f"t{next(self._session_ids)}")
        self.flush()
        return client

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` ahead, timer by timer.

        Between two timers, clients do what real ones would (a poll answered
        by a heartbeat is followed by a new poll), so sessions of live
        clients never expire by accident.
        """
        if seconds < 0:
            raise ValueError("time does not go backwards")
        target = self.clock.seconds() + seconds
        self.flush()
        while True:
            calls: list[Any] = list(self.clock.getDelayedCalls())
            due = [when for when in (float(call.getTime()) for call in calls) if when <= target]
            step_to = min(due, default=target)
            with self._calling():
                self.clock.advance(max(0.0, step_to - self.clock.seconds()))
            self.flush()
            if not due:
                return

    def flush(self) -> None:
        """Let every client make the requests it would make now (re-polls).

        Called from inside an application hook (the harness is already
        calling the router), it does nothing: a real client's next request
        cannot arrive before the hook returns, and the harness flushes then.
        """
        if self._flushing or self._busy:
            return
        self._flushing = True
        try:
            for _ in range(_MAX_POLLS_PER_FLUSH):
                waiting = [client for client in self.clients if client._wants_poll()]
                if not waiting:
                    return
                for client in waiting:
                    client._poll()
            raise RuntimeError("clients are still polling after 100000 polls")
        finally:
            self._flushing = False

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Publish on the router's broker (``router.publish``)."""
        with self._calling():
            deferred = self.router.publish(channel, message)
        self.flush()
        return deferred

    def stop(self) -> None:
        """Close every session (``1001``, initiator ``"server"``) and cancel the router's timer."""
        with self._calling():
            self.router.stop()

    @contextmanager
    def _calling(self) -> Iterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1

    def assert_no_timers(self) -> None:
        """Fail if any delayed call is still pending on :attr:`clock`."""
        calls = self.clock.getDelayedCalls()
        if calls:
            listed = "\n  ".join(str(call) for call in calls)
            raise AssertionError(f"{len(calls)} delayed call(s) left on the clock:\n  {listed}")

    def __enter__(self) -> SockJSTestServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class _Request:
    """A fake receiving request: the ``Receiver.token`` the session writes to."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.finished = False

    def connection_info(self) -> ConnectionInfo:
        return self.client._connection_info()

    def begin_response(self, handle: SessionHandle) -> None:
        self.client._handle = handle

    def write_output(self, output: Output) -> None:
        if self.finished:
            return
        for chunk in output.chunks:
            self.client._chunk_received(chunk)
        if output.end:
            self.finished = True
            self.client._response_ended()

    def abort_response(self) -> None:
        # The router is stopping: the connection is dropped without a frame.
        if not self.finished:
            self.finished = True
            self.client._gone = True

    def respond(self, status: int, headers: Any, body: bytes, **kwargs: Any) -> None:
        # A plain HTTP answer instead of a session (a stopped router's 503).
        self.abort_response()


class TestClient:
    """One SockJS client of a :class:`SockJSTestServer` (made by :meth:`~SockJSTestServer.open`).

    Reading :attr:`frames`, :attr:`received`, :attr:`closed` or
    :attr:`close_frame` first lets the client poll, as a real one would have.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        server: SockJSTestServer,
        wire: transports.Wire,
        ip: str,
        headers: Mapping[str, str] | None,
        cookies: Mapping[str, str] | None,
        arguments: Mapping[str, str | Sequence[str]] | None,
    ) -> None:
        self.server = server
        #: Transport name (``xhr_streaming``, ``xhr`` or ``websocket``).
        self.transport = wire.name
        self.ip = ip
        #: The session id (``None`` for WebSocket sessions, which have none).
        self.session_id: str | None = None
        self._wire = wire
        self._headers = {_header_name(name): value for name, value in (headers or {}).items()}
        self._cookies: SimpleCookie = SimpleCookie()
        if cookies:
            for name, value in cookies.items():
                self._cookies[name] = value
            self._headers.setdefault(
                "Cookie", "; ".join(f"{name}={value}" for name, value in cookies.items())
            )
        elif "Cookie" in self._headers:
            self._cookies.load(self._headers["Cookie"])
        self._arguments = {
            name: [value] if isinstance(value, str) else list(value)
            for name, value in (arguments or {}).items()
        }
        self._handle: SessionHandle | None = None
        self._request: _Request | None = None
        self._frames: list[str] = []
        self._received: list[Any] = []
        self._popped = 0
        self._close_frame: tuple[int, str] | None = None
        self._needs_poll = False
        self._polling = True
        self._gone = False

    # -- what the client saw ----------------------------------------------------------

    @property
    def frames(self) -> list[str]:
        """Every frame received, in order: ``o``, ``h``, ``a[...]``, ``c[...]``."""
        self.server.flush()
        return list(self._frames)

    @property
    def received(self) -> list[Any]:
        """Every application message received so far, decoded, in order."""
        self.server.flush()
        return list(self._received)

    def pop_messages(self) -> list[Any]:
        """Messages received since the previous call (all of them the first time)."""
        self.server.flush()
        fresh = self._received[self._popped :]
        self._popped = len(self._received)
        return fresh

    @property
    def closed(self) -> bool:
        """True once the client saw a close frame, went away or was dropped."""
        self.server.flush()
        return self._close_frame is not None or self._gone

    @property
    def close_frame(self) -> tuple[int, str] | None:
        """``(code, reason)`` of the close frame received, if any."""
        self.server.flush()
        return self._close_frame

    @property
    def connection(self) -> SockJSConnection | None:
        """The application's connection object (``None`` if it refused the session)."""
        return self._handle.conn if self._handle is not None else None

    @property
    def close_info(self) -> CloseInfo | None:
        """How the session ended (code, reason, initiator), as ``connectionLost`` sees it."""
        return self._handle.close_info if self._handle is not None else None

    # -- what the client does ---------------------------------------------------------

    def send(self, *messages: Any) -> None:
        """Send messages in one request, as ``xhr_send`` (or one WebSocket message) does."""
        if self._gone or self._close_frame is not None:
            raise ClientClosedError("this client's session is over; open a new client")
        handle = self._handle
        service = self.server.service
        if self.session_id is not None and service.session(self.session_id) is not handle:
            raise ClientClosedError("the server no longer knows this session (404)")
        assert handle is not None
        # Through JSON and the server's own decoder, exactly what the app would get.
        messages_in = decode_payload(json.dumps(list(messages)))
        with self.server._calling():
            handle.deliver(messages_in)
        self.server.flush()

    def advance(self, seconds: float) -> None:
        """Move the server's clock (see :meth:`SockJSTestServer.advance`)."""
        self.server.advance(seconds)

    def disconnect(self) -> None:
        """The client goes away: its connection drops (PROTOCOL.md 6.8).

        An attached receiver is lost, so the session closes at once and
        ``connectionLost`` sees ``close_info.initiator == "client"``.
        """
        if self._gone:
            return
        self._gone = True
        self._polling = False
        request, handle = self._request, self._handle
        if request is not None and not request.finished and handle is not None:
            request.finished = True
            with self.server._calling():
                handle.receiver_lost(request)
                if self._wire is transports.WEBSOCKET:
                    self._socket_closed(handle)
        self.server.flush()

    def stop_polling(self) -> None:
        """The client vanishes between two polls: no new receiving request.

        An attached receiver is released as though its response had ended,
        so the session waits ``disconnect_delay`` and then expires
        (``close_info.initiator == "timeout"``). :meth:`resume_polling`
        brings the client back before that.
        """
        if self._wire is transports.WEBSOCKET:
            raise TypeError("WebSocket sessions do not expire; use disconnect()")
        self._polling = False
        self._needs_poll = False
        request, handle = self._request, self._handle
        if request is not None and not request.finished and handle is not None:
            request.finished = True
            receiver = handle.core.receiver
            with self.server._calling():
                if receiver is not None and receiver.token is request:
                    handle.core.detach(self.server.service.now())
                handle.settle()

    def resume_polling(self) -> None:
        """Poll again after :meth:`stop_polling` (messages queued meanwhile arrive)."""
        if self._wire is transports.WEBSOCKET or self._gone:
            return
        self._polling = True
        self._needs_poll = self._request is None or self._request.finished
        self.server.flush()

    def channel(self, name: str) -> ChannelClient:
        """Open multiplex channel ``name`` on this session (sends ``sub,<topic>``)."""
        return ChannelClient(self, name)

    # -- internals ----------------------------------------------------------------------

    def _open(self, session_id: str | None) -> None:
        self.session_id = session_id
        service = self.server.service
        request = _Request(self)
        self._request = request
        if session_id is not None:
            service.attach_receiver(request, session_id, self._wire)  # type: ignore[arg-type]
            return
        # A SockJS WebSocket: an anonymous session with an unlimited receiver (7.8).
        now = service.now()
        core = service.registry.create_anonymous(now)
        handle = SessionHandle(service, core, self._connection_info())
        self._handle = handle
        result = core.attach(Receiver(self._wire, token=request, limited=False), now)
        request.write_output(result.output)
        if result.opened:
            handle.opened()
        else:  # pragma: no cover - a fresh session always opens
            handle.settle()

    def _connection_info(self) -> ConnectionInfo:
        service = self.server.service
        return ConnectionInfo(
            ip=client_ip(self.ip, self._headers, service.trusted_proxies),
            cookies=self._cookies,
            arguments=self._arguments,
            headers=self._headers,
            path=service.prefix,
            transport=self.transport,
        )

    def _wants_poll(self) -> bool:
        return self._needs_poll and self._polling and not self._gone

    def _poll(self) -> None:
        self._needs_poll = False
        assert self.session_id is not None
        service = self.server.service
        if service.session(self.session_id) is None:
            # Gone (expired or stopped) while nobody was polling.
            self._gone = True
            return
        request = _Request(self)
        self._request = request
        service.attach_receiver(request, self.session_id, self._wire)  # type: ignore[arg-type]

    def _chunk_received(self, chunk: bytes) -> None:
        frame = chunk.decode("utf-8")
        if self._wire is not transports.WEBSOCKET:
            frame = frame.removesuffix("\n")
        self._frames.append(frame)
        if frame.startswith("a"):
            self._received.extend(json.loads(frame[1:]))
        elif frame.startswith("c"):
            code, reason = json.loads(frame[1:])
            self._close_frame = (code, reason)

    def _response_ended(self) -> None:
        if self._wire is transports.WEBSOCKET:
            # The server closed the WebSocket after its c frame.
            self._gone = True
            if self._handle is not None:
                self._socket_closed(self._handle)
        elif self._close_frame is None:
            self._needs_poll = True  # polled again at the next flush

    @staticmethod
    def _socket_closed(handle: SessionHandle) -> None:
        # As the WebSocket handler: no disconnect delay, the session ends now.
        if handle.core.state != SessionState.CLOSED:
            handle.core.abort()
        handle.settle()

    def __repr__(self) -> str:
        return f"<TestClient {self.transport} {self.session_id or ''} gone={self._gone}>"


class ChannelClient:
    """One websocket-multiplex channel of a :class:`TestClient` (PROTOCOL.md 9).

    Made by :meth:`TestClient.channel`, which sends ``sub,<topic>``.
    """

    def __init__(self, client: TestClient, name: str) -> None:
        self.client = client
        #: The channel name as it travels (JavaScript ``escape()``).
        self.topic = escape_topic(name)
        self._closed = False
        # Only what arrives from now on belongs to this channel (a topic can be reopened).
        self._start = len(client.received)
        client.send(f"sub,{self.topic}")

    @property
    def received(self) -> list[str]:
        """Payloads of the ``msg,<topic>,...`` messages received so far."""
        return self._payloads(lambda kind: kind == "msg")

    @property
    def closed(self) -> bool:
        """True once either side unsubscribed (``uns,<topic>``)."""
        return self._closed or bool(self._payloads(lambda kind: kind == "uns"))

    def send(self, payload: str) -> None:
        """Send ``msg,<topic>,<payload>``."""
        self.client.send(f"msg,{self.topic},{payload}")

    def close(self) -> None:
        """Send ``uns,<topic>`` (the server sends nothing back)."""
        self._closed = True
        self.client.send(f"uns,{self.topic}")

    def _payloads(self, wanted: Callable[[str], bool]) -> list[str]:
        found = []
        for message in self.client.received[self._start :]:
            if not isinstance(message, str):
                continue
            kind, _, rest = message.partition(",")
            topic, _, payload = rest.partition(",")
            if topic == self.topic and wanted(kind):
                found.append(payload)
        return found


def _header_name(name: str) -> str:
    # Cyclone's HTTPHeaders spelling, so applications see what production gives them.
    return "-".join(part.capitalize() for part in name.split("-"))
