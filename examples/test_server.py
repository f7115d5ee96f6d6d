"""The SockJS test server (PROTOCOL.md section 8) on one Cyclone application.

    python examples/test_server.py [--port 8081] [--host 127.0.0.1] [--sockjs-url URL]
                                   [--static DIR] [--test-endpoints]
                                   [--redis URL | --redis-streams URL]

Services: /echo, /close, /disabled_websocket_echo, /cookie_needed_echo,
/ticker, /amplify, /broadcast, /multiplex (ann, bob, carl), and
/heartbeat_echo (heartbeat 1 s, disconnect delay 2 s) for timing tests;
/firehose is /amplify with unlimited streams (slow-consumer tests).
Under /jsonp_prefix and /no_iframe, /echo, /close, /cookie_needed_echo and
/heartbeat_echo again, with ``jsonp_prefix`` on and with the iframe page
disabled (the browser tests run sockjs-client against them).
On SIGTERM every session gets ``c[1001,"Server going away"]`` and the
process exits within ``--grace`` seconds.

With ``--redis redis://HOST:PORT`` the /broadcast service and a fourth
/multiplex channel, ``room``, go through Redis pub/sub channels, so that
several test servers (behind a load balancer) share them;
``--redis-streams redis://HOST:PORT`` shares them through a Redis stream
instead (``StreamsBroker``: nothing lost when Redis blinks). Either URL may
be ``rediss://`` (TLS) and carry a password.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, ClassVar

import cyclone.web
from twisted.internet import reactor, task
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

from sockjs.cyclone import (
    MultiplexConnection,
    SockJSConnection,
    SockJSHTTPConnection,
    SockJSRouter,
    logevents,
    shutdown,
)
from sockjs.cyclone.metrics import metrics_urls


class EchoConnection(SockJSConnection):
    """Sends every message straight back."""

    def messageReceived(self, message: Any) -> None:
        self.sendMessage(message)


class CloseConnection(SockJSConnection):
    """Closes with 3000 "Go away!" as soon as the session opens."""

    def connectionMade(self, info: Any) -> None:
        self.close(3000, "Go away!")


class TickerConnection(SockJSConnection):
    """Sends ``tick!`` every second."""

    def connectionMade(self, info: Any) -> None:
        self._ticker = task.LoopingCall(self.sendMessage, "tick!")
        self._ticker.start(1, now=False)

    def connectionLost(self) -> None:
        self._ticker.stop()


class AmplifyConnection(SockJSConnection):
    """Answers ``n`` with 2**n ``x`` characters (1 <= n <= 18), else ``xx``."""

    def messageReceived(self, message: Any) -> None:
        try:
            n = int(message)
        except (TypeError, ValueError):
            n = 1
        if not 1 <= n <= 18:
            n = 1
        self.sendMessage("x" * 2**n)


class BroadcastConnection(SockJSConnection):
    """Fans every message out to every connected client."""

    participants: ClassVar[set[BroadcastConnection]] = set()

    def connectionMade(self, info: Any) -> None:
        self.participants.add(self)

    def messageReceived(self, message: Any) -> None:
        self.broadcast(self.participants, message)

    def connectionLost(self) -> None:
        self.participants.discard(self)


class ChannelBroadcastConnection(SockJSConnection):
    """/broadcast with --redis: every message goes to the ``broadcast`` channel."""

    def connectionMade(self, info: Any) -> None:
        self.subscribe("broadcast")

    def messageReceived(self, message: Any) -> None:
        self.publish("broadcast", message)


class RoomConnection(SockJSConnection):
    """Multiplex channel ``room`` (with --redis): every member hears every message."""

    def connectionMade(self, info: Any) -> None:
        self.subscribe("room")

    def messageReceived(self, message: Any) -> None:
        self.publish("room", message)


class AnnConnection(SockJSConnection):
    def connectionMade(self, info: Any) -> None:
        self.sendMessage("Ann says hi!")

    def messageReceived(self, message: Any) -> None:
        self.sendMessage("Ann nods: " + message)


class BobConnection(SockJSConnection):
    def connectionMade(self, info: Any) -> None:
        self.sendMessage("Bob doesn't agree.")

    def messageReceived(self, message: Any) -> None:
        self.sendMessage("Bob says no to: " + message)


class CarlConnection(SockJSConnection):
    def connectionMade(self, info: Any) -> None:
        self.sendMessage("Carl says goodbye!")
        self.close()


def build_routers(
    sockjs_url: str | None, broker: Any = None, heartbeat_delay: float | None = None
) -> list[SockJSRouter]:
    """One router per test service, each with its own session table.

    With a ``broker``, /broadcast and /multiplex's ``room`` channel use it;
    ``heartbeat_delay`` (seconds) replaces every router's.
    """
    # A public test service: every origin on purpose (saying so explicitly
    # keeps each router from warning about it at start-up, docs/security.rst).
    base: dict[str, Any] = {"jsessionid": False, "allowed_origins": ["*"]}
    if sockjs_url:
        base["sockjs_url"] = sockjs_url

    def settings(**extra: Any) -> dict[str, Any]:
        chosen = {**base, **extra}
        if heartbeat_delay is not None:
            chosen["heartbeat_delay"] = heartbeat_delay
        return chosen

    channels: dict[str, type[SockJSConnection]] = {
        "ann": AnnConnection,
        "bob": BobConnection,
        "carl": CarlConnection,
    }
    broadcast: type[SockJSConnection] = BroadcastConnection
    if broker is not None:
        channels["room"] = RoomConnection
        broadcast = ChannelBroadcastConnection
    multiplex = MultiplexConnection.create(**channels)
    return [
        SockJSRouter(EchoConnection, "/echo", settings(response_limit=4096)),
        SockJSRouter(CloseConnection, "/close", settings()),
        SockJSRouter(
            EchoConnection, "/disabled_websocket_echo", settings(disabled_transports=["websocket"])
        ),
        SockJSRouter(EchoConnection, "/cookie_needed_echo", settings(jsessionid=True)),
        SockJSRouter(TickerConnection, "/ticker", settings()),
        SockJSRouter(AmplifyConnection, "/amplify", settings()),
        # /amplify with streams that never reach response_limit: slow-consumer tests.
        SockJSRouter(AmplifyConnection, "/firehose", settings(response_limit=1 << 30)),
        SockJSRouter(broadcast, "/broadcast", settings(), broker=broker),
        SockJSRouter(multiplex, "/multiplex", settings(), broker=broker),
        SockJSRouter(
            EchoConnection, "/heartbeat_echo", settings(heartbeat_delay=1, disconnect_delay=2)
        ),
        *client_services("/jsonp_prefix", settings(jsonp_prefix=True)),
        *client_services("/no_iframe", settings(disabled_transports=["iframe"])),
    ]


def client_services(path: str, settings: dict[str, Any]) -> list[SockJSRouter]:
    """The services the browser harness uses, under ``path`` and with ``settings``."""
    return [
        SockJSRouter(EchoConnection, f"{path}/echo", {**settings, "response_limit": 4096}),
        SockJSRouter(CloseConnection, f"{path}/close", settings),
        SockJSRouter(
            EchoConnection, f"{path}/cookie_needed_echo", {**settings, "jsessionid": True}
        ),
        SockJSRouter(
            EchoConnection,
            f"{path}/heartbeat_echo",
            {**settings, "heartbeat_delay": 1, "disconnect_delay": 2},
        ),
    ]


class StateHandler(cyclone.web.RequestHandler):
    """``GET /_test/state``: session counts and pending timers, for tests."""

    def initialize(self, routers: list[SockJSRouter]) -> None:
        self.routers = routers

    def get(self) -> None:
        state = {
            "sessions": {router.prefix: router.session_count for router in self.routers},
            "delayed_calls": len(reactor.getDelayedCalls()),
        }
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(state))


class NothingHereHandler(cyclone.web.RequestHandler):
    """Everything outside the services: 404 (as sockjs-node's test server)."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish("404 - Nothing here (via sockjs-cyclone test_server)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--sockjs-url", default=None, help="client library URL for the iframe page")
    parser.add_argument("--static", default=None, help="serve files of DIR at /static/")
    parser.add_argument("--test-endpoints", action="store_true", help="mount /_test/state")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--grace",
        type=float,
        default=2.0,
        help="seconds clients get to receive their close frame on SIGTERM (default 2)",
    )
    parser.add_argument(
        "--heartbeat-delay",
        type=float,
        metavar="SECONDS",
        help="heartbeat_delay of every router (short timers for tests, e.g. dead-peer tests)",
    )
    brokers = parser.add_mutually_exclusive_group()
    brokers.add_argument(
        "--redis",
        metavar="URL",
        help="share /broadcast and /multiplex channels via redis://HOST:PORT (pub/sub)",
    )
    brokers.add_argument(
        "--redis-streams",
        metavar="URL",
        help="the same through a Redis stream (StreamsBroker: lossless when Redis blinks)",
    )
    args = parser.parse_args(argv)

    broker: Any = None
    if args.redis:
        from sockjs.cyclone.redisbroker import RedisBroker

        broker = RedisBroker(args.redis)
    elif args.redis_streams:
        from sockjs.cyclone.streamsbroker import StreamsBroker

        broker = StreamsBroker(args.redis_streams)
    if broker is not None:
        reactor.addSystemEventTrigger("before", "shutdown", broker.stop)
    routers = build_routers(args.sockjs_url, broker, args.heartbeat_delay)
    if broker is not None:
        broker.report_to(*(router for router in routers if router.broker is broker))
    urls: list[Any] = []
    for router in routers:
        urls.extend(router.urls)
    urls.extend(metrics_urls(*routers, path="/metrics"))  # Prometheus, see docs/operations.rst
    if args.test_endpoints:
        urls.append((r"/_test/state", StateHandler, {"routers": routers}))
    if args.static:
        urls.append((r"/static/(.*)", cyclone.web.StaticFileHandler, {"path": args.static}))
    urls.append((r"/.*", NothingHereHandler))
    settings: dict[str, Any] = {} if args.verbose else {"log_function": lambda handler: None}
    app = cyclone.web.Application(urls, **settings)
    app.protocol = SockJSHTTPConnection  # early 413, chunked bodies, slow-client limits

    # INFO and above: sessions opening and closing are debug events (docs/operations.rst),
    # which then need not be built at all.
    info_and_above = LogLevelFilterPredicate(LogLevel.info)
    logevents.set_level(LogLevel.info)
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(textFileLogObserver(sys.stderr), [info_and_above])],
        redirectStandardIO=False,
    )
    port = reactor.listenTCP(args.port, app, interface=args.host)
    # SIGTERM (Twisted's handler stops the reactor): every session gets
    # c[1001,"Server going away"] and the process exits within --grace seconds.
    reactor.addSystemEventTrigger(
        "before", "shutdown", shutdown, routers, grace=args.grace, ports=[port]
    )
    print(f"listening on http://{args.host}:{port.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
