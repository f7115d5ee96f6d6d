"""A ticker over pub/sub: open http://127.0.0.1:8080/ in a few tabs.

Every second the server publishes one tick on the ``ticks`` channel and
every connected page receives it. Nothing keeps a list of clients: each
connection subscribes to the channel when it opens, the router drops the
subscription when it closes, and each tick is JSON-encoded once however
many pages listen. What a page sends is published on the same channel, so
the other pages see it between two ticks.

With the default in-process broker this fans out within one process; a
networked broker passed as ``SockJSRouter(..., broker=...)`` would fan out
to the pages of every process sharing it, with no change to this code.

The page (``index.html`` next to this file) and sockjs-client
(``node_modules/sockjs-client/dist/sockjs.min.js``, installed by ``npm ci``
in the repository root) are served by this process; nothing comes from a CDN.

    python examples/broadcast/server.py [--host 127.0.0.1] [--port 8080] [--interval 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cyclone.web
from twisted.internet import reactor as _reactor
from twisted.internet import task
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

from sockjs.cyclone import (
    ConnectionInfo,
    SockJSConnection,
    SockJSHTTPConnection,
    SockJSRouter,
)

HERE = Path(__file__).resolve().parent
PAGE = HERE / "index.html"
DEFAULT_CLIENT = HERE.parent.parent / "node_modules" / "sockjs-client" / "dist" / "sockjs.min.js"
CLIENT_URL = "/static/sockjs.min.js"
CHANNEL = "ticks"
# Twisted's zope interfaces are opaque to mypy; the reactor is used untyped.
reactor: Any = _reactor
MAX_TEXT = 200


class TickerConnection(SockJSConnection):
    """One page: hears every tick, and publishes what it sends."""

    def connectionMade(self, info: ConnectionInfo) -> None:
        self.subscribe(CHANNEL)

    def messageReceived(self, message: Any) -> None:
        if isinstance(message, str) and message.strip():
            self.publish(CHANNEL, {"type": "say", "text": message.strip()[:MAX_TEXT]})


class Ticker:
    """Publishes ``{"type": "tick", "n": ..., "clients": ...}`` on every beat."""

    def __init__(self, router: SockJSRouter) -> None:
        self.router = router
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        clients = len(self.router.connections)
        self.router.publish(CHANNEL, {"type": "tick", "n": self.count, "clients": clients})


class FileHandler(cyclone.web.RequestHandler):  # type: ignore[misc]
    """Serves one file from disk."""

    def initialize(self, path: Path, content_type: str) -> None:
        self.path = path
        self.content_type = content_type

    def get(self) -> None:
        self.set_header("Content-Type", self.content_type)
        self.set_header("Cache-Control", "no-cache")
        self.write(self.path.read_bytes())


def make_app(router: SockJSRouter, client_path: Path) -> cyclone.web.Application:
    """The page, sockjs-client and the SockJS service at ``/broadcast``."""
    routes: list[Any] = [
        (r"/", FileHandler, {"path": PAGE, "content_type": "text/html; charset=UTF-8"}),
        (
            r"/static/sockjs\.min\.js",
            FileHandler,
            {"path": client_path, "content_type": "application/javascript; charset=UTF-8"},
        ),
    ]
    app = cyclone.web.Application(router.apply_routes(routes))
    app.protocol = SockJSHTTPConnection  # request limits, idle timeouts
    return app


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, start the ticker, listen and run."""
    parser = argparse.ArgumentParser(description="SockJS pub/sub ticker example")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080, 0: any)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
    parser.add_argument(
        "--sockjs-client", type=Path, default=DEFAULT_CLIENT, help="path of sockjs.min.js"
    )
    args = parser.parse_args(argv)
    if not args.sockjs_client.is_file():
        sys.exit(f"{args.sockjs_client} not found: run `npm ci` in the repository root")
    if args.interval <= 0:
        sys.exit("--interval must be > 0")

    # Warnings and errors only (no line per request).
    to_stderr: Any = textFileLogObserver(sys.stderr)
    warnings_only: Any = LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)
    observer: Any = FilteringLogObserver(to_stderr, [warnings_only])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)

    router = SockJSRouter(TickerConnection, "/broadcast", {"sockjs_url": CLIENT_URL})
    ticker = task.LoopingCall(Ticker(router).tick)
    ticker.start(args.interval, now=False)

    port = reactor.listenTCP(args.port, make_app(router, args.sockjs_client), interface=args.host)
    address = port.getHost()
    host = f"[{address.host}]" if ":" in address.host else address.host
    print(f"listening on http://{host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
