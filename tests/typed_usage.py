"""The public API used the way an application would, checked by ``mypy --strict``.

``tests/test_typed_usage.py`` runs mypy on this file (it must stay clean
with no ``type: ignore``) and also runs :func:`run` so that the code is not
only well typed but true. ``assert_type`` pins the types the library
promises; it does nothing at run time.

Nothing here starts a reactor or opens a socket: the routers run on
``twisted.internet.task.Clock``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, assert_type

import cyclone.web
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import LogEvent

import sockjs.cyclone
from sockjs.cyclone import (
    CloseInfo,
    ConnectionInfo,
    Initiator,
    MultiplexConnection,
    SettingsError,
    SockJSConnection,
    SockJSHTTPConnection,
    SockJSRouter,
    logevents,
)
from sockjs.cyclone._types import RouterLike
from sockjs.cyclone.metrics import METRIC_NAMES, SockJSCollector, metrics_urls
from sockjs.cyclone.pubsub import Broker, InProcessBroker, Subscription
from sockjs.cyclone.testing import SockJSTestServer, TestClient


class Chat(SockJSConnection):
    """Joins a room on open, relays messages to it, says goodbye on close."""

    members: ClassVar[set[Chat]] = set()

    def connectionMade(self, info: ConnectionInfo) -> bool | None:
        name = info.get_argument("name")
        if name is None:
            return False  # refused: the client gets c[3000,"Go away!"]
        self.name: str = name
        self.members.add(self)
        self.subscribe("room")
        assert_type(info.ip, str)
        assert_type(info.transport, str)
        assert_type(info.get_header("User-Agent"), str | None)
        return None

    def messageReceived(self, message: Any) -> Deferred[None]:
        if message == "/quit":
            self.close(3001, "bye")
            return succeed(None)
        if message == "/all":
            self.broadcast(self.members, f"{self.name} shouts")
        return self.publish("room", f"{self.name}: {message}")

    def connectionLost(self) -> None:
        self.members.discard(self)
        info = self.close_info
        if info is not None:
            assert_type(info, CloseInfo)
            assert_type(info.code, int)
            assert_type(info.initiator, Initiator)
            assert info.initiator == "application" or info.initiator in Initiator


class Echo(SockJSConnection):
    """A coroutine hook: the next message waits until it returns."""

    async def messageReceived(self, message: Any) -> None:
        self.sendMessage(message)


class Ticker(SockJSConnection):
    def connectionMade(self, info: ConnectionInfo) -> None:
        self.sendMessage({"tick": 1})
        router = self.router
        if router is not None:
            # Typed by the small protocol the connection module may know of
            # (the router is a layer above it): what applications call on it.
            assert_type(router, RouterLike)
            assert isinstance(router, SockJSRouter)


Multiplexed = MultiplexConnection.create(chat=Chat, echo=Echo)


def build_application(clock: Clock) -> tuple[cyclone.web.Application, list[SockJSRouter]]:
    """Routers, the metrics endpoint and the hardened HTTP connection."""
    broker: Broker = InProcessBroker()
    chat = SockJSRouter(Chat, "/chat", {"heartbeat_delay": 10}, reactor=clock, broker=broker)
    echo = SockJSRouter(Echo, "/echo", reactor=clock)
    multiplex = SockJSRouter(Multiplexed, "/multiplex", reactor=clock, broker=broker)
    routers = [chat, echo, multiplex]
    urls: list[Any] = metrics_urls(*routers, path="/metrics")
    for router in routers:
        urls.extend(router.urls)
    app = cyclone.web.Application(urls)
    app.protocol = SockJSHTTPConnection
    return app, routers


def read_stats(router: SockJSRouter) -> dict[str, float | int]:
    stats = router.stats.dump()
    assert_type(stats, dict[str, float | int])
    assert_type(router.session_count, int)
    assert_type(router.connections, list[SockJSConnection])
    return stats


def bad_settings() -> str:
    try:
        SockJSRouter(Echo, "/bad", {"heartbeat_delay": -1}, reactor=Clock())
    except SettingsError as error:
        return str(error)
    raise AssertionError("negative heartbeat_delay accepted")


def watch_limits(event: LogEvent) -> str | None:
    """A log observer: the router of every limit hit."""
    if event.get("sockjs_event") == logevents.LIMIT_HIT:
        router: str | None = event["router"]
        return router
    return None


def run() -> None:
    """Exercise all of the above on a fake clock."""
    app, routers = build_application(Clock())
    assert app.protocol is SockJSHTTPConnection
    assert "heartbeat_delay" in bad_settings()
    assert watch_limits({"sockjs_event": "limit_hit", "router": "/chat"}) == "/chat"

    collector = SockJSCollector(routers)
    assert next(family.name for family in collector.describe()) == "sockjs_sessions_active"
    assert "sockjs_errors_total" in METRIC_NAMES

    with SockJSTestServer(Chat, {"heartbeat_delay": 10}) as server:
        ann: TestClient = server.open(arguments={"name": "ann"})
        bob = server.open(arguments={"name": "bob"}, transport="websocket")
        ann.send("hi")
        assert bob.pop_messages() == ["ann: hi"]
        messages: list[Any] = ann.pop_messages()
        assert messages == ["ann: hi"]
        server.advance(10)
        assert "h" in ann.frames
        assert server.open().close_frame == (3000, "Go away!")
        stats = read_stats(server.router)
        assert stats["sessions_active"] == 2
        assert stats["transp_websocket"] == 1
        done: Deferred[None] = server.router.publish("room", "news")
        assert done.called
        ann.send("/quit")
        assert ann.close_info == CloseInfo(3001, "bye", Initiator.APPLICATION)
        bob.disconnect()
        assert bob.close_info is not None and bob.close_info.initiator == "client"
    server.assert_no_timers()

    broker = InProcessBroker()
    seen: list[Any] = []
    subscription: Subscription = broker.subscribe("news", seen.append)
    broker.publish("news", {"n": 1})
    broker.unsubscribe(subscription)
    assert seen == [{"n": 1}]

    with SockJSTestServer(Multiplexed) as server:
        client = server.open(arguments={"name": "carl"})
        channel = client.channel("echo")
        channel.send("ping")
        assert channel.received == ["ping"]

    assert json.loads(json.dumps(read_stats(routers[1])))["sessions_active"] == 0
    assert sockjs.cyclone.__all__
    for router in routers:
        router.stop()


if __name__ == "__main__":
    run()
