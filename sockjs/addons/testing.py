"""Unit-test your :class:`~sockjs.cyclone.SockJSConnection` classes in memory.

:class:`SockJSTestServer` runs what production runs: a
:class:`~sockjs.cyclone.SockJSRouter` in a ``cyclone.web.Application`` that
uses :class:`~sockjs.cyclone.SockJSHTTPConnection`, on a
``twisted.internet.task.Clock``. :class:`TestClient` plays a SockJS client
on it with real HTTP requests and WebSocket frames, carried by in-memory
transports instead of sockets: no network, no threads, no sleeps. Time
moves only when the test says so, so heartbeats and expiry are exact and
instant::

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

Clients act as a browser's sockjs-client would, each request on an in-memory
connection of its own, and make their next receiving request lazily: when
the test reads them, sends with them or moves time. The testing page of the
documentation describes every call; :class:`TestClient` and
:class:`ChannelClient` are re-exported from ``sockjs.addons._testclient``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import cyclone.web
from twisted.internet.task import Clock

from sockjs.addons._testclient import ChannelClient, ClientClosedError, TestClient
from sockjs.cyclone.httpconn import SockJSHTTPConnection
from sockjs.cyclone.router import SockJSRouter
from sockjs.protocol import transports

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from sockjs.cyclone._service import Service
    from sockjs.cyclone.conn import SockJSConnection
    from sockjs.cyclone.pubsub import Broker

__all__ = ["ChannelClient", "ClientClosedError", "SockJSTestServer", "TestClient"]

#: Transports a :class:`TestClient` can use.
TRANSPORTS = {
    "xhr_streaming": transports.XHR_STREAMING,
    "xhr": transports.XHR,
    "websocket": transports.WEBSOCKET,
}

# Clients re-poll until they are parked; a session that answers every poll
# at once forever (an application bug) must not hang the test.
_MAX_POLLS_PER_FLUSH = 100_000


class SockJSTestServer:
    """A real router and Cyclone application on a fake clock, with in-memory clients.

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
        #: The Cyclone application the clients talk to, set up as in production.
        self.app = cyclone.web.Application(self.router.urls)
        self.app.protocol = SockJSHTTPConnection
        self.app.sockjs_clock = self.clock
        #: Every client opened so far, in order.
        self.clients: list[TestClient] = []
        self._ids = itertools.count(1)
        self._flushing = False
        self._stopped = False
        # > 0 while the harness is calling into the server (and so maybe into
        # application hooks): clients act only once that call has returned.
        self._busy = 0
        # Clients the server wrote to (or closed a connection of) since the last pump.
        self._dirty: dict[TestClient, None] = {}
        # The client whose request may open a session right now (see _observe).
        self._opening: TestClient | None = None
        self.service.session_observers.append(self._observe)

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
        ``cookies`` and ``arguments`` (query string) go with each request
        and reach the application's :class:`~sockjs.cyclone.ConnectionInfo`.
        An HTTP error answering the opening request (``503`` from a stopped
        router, ``403`` for a refused origin...) raises :class:`RuntimeError`.
        """
        wire = TRANSPORTS.get(transport)
        if wire is None:
            raise ValueError(f"unknown transport {transport!r}; use one of {sorted(TRANSPORTS)}")
        if transport in self.router.options.disabled_transports:
            raise ValueError(f"transport {transport!r} is disabled on this router")
        if self._stopped:
            raise RuntimeError("this server was stopped; make a new one")
        client = TestClient(self, wire, ip, headers, cookies, arguments)
        self.clients.append(client)
        client._open(f"{'w' if transport == 'websocket' else 't'}{next(self._ids)}")
        if client._failure is not None:
            self.clients.remove(client)
            status, body = client._failure
            if status == 503:
                raise RuntimeError("this server was stopped; make a new one")
            raise RuntimeError(f"the server answered {status} to the opening request: {body!r}")
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
        calling the server), it only reads what the server wrote: a real
        client's next request cannot arrive before the hook returns.
        """
        self._repoll(lambda: [client for client in self.clients if client._wants_poll()])

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Publish on the router's broker (``router.publish``)."""
        with self._calling():
            deferred = self.router.publish(channel, message)
        self._pump()
        return deferred

    def stop(self) -> None:
        """Close every session (``1001``, initiator ``"server"``) and cancel the router's timer."""
        self._stopped = True
        with self._calling():
            self.router.stop()
        self._pump()

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

    # -- internals ----------------------------------------------------------------------

    @contextmanager
    def _calling(self, opening: TestClient | None = None) -> Iterator[None]:
        previous, self._opening = self._opening, opening
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._opening = previous

    def _observe(self, session: Any) -> None:
        # The router's hook: each new session, while the request making it runs.
        client = self._opening
        if client is not None and client._session is None:
            client._session = session

    def _pump(self) -> None:
        """Read what the server wrote; end connections that are over (not from inside hooks)."""
        while self._dirty:
            clients = list(self._dirty)
            self._dirty.clear()
            for client in clients:
                client._read()
            if self._busy:
                self._dirty.update(dict.fromkeys(clients))  # ended once the call returns
                return
            with self._calling():
                for client in clients:
                    client._settle()

    def _repoll(self, waiting: Callable[[], list[TestClient]]) -> None:
        self._pump()
        if self._flushing or self._busy:
            return
        self._flushing = True
        try:
            for _ in range(_MAX_POLLS_PER_FLUSH):
                clients = waiting()
                if not clients:
                    return
                for client in clients:
                    client._receive()
                self._pump()
            raise RuntimeError(f"clients are still polling after {_MAX_POLLS_PER_FLUSH} polls")
        finally:
            self._flushing = False
