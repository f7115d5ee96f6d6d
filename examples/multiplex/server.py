"""Three chat partners on one SockJS connection: open http://127.0.0.1:8888/.

The ``/multiplex`` service speaks the websocket-multiplex protocol: the page
opens the channels ``ann``, ``bob`` and ``carl`` over a single SockJS
session, and each channel is served by its own ordinary
:class:`sockjs.cyclone.SockJSConnection` subclass:

* Ann greets you and nods at whatever you say;
* Bob disagrees with everything;
* Carl says goodbye and closes his channel (the other two stay open).

Everything the page needs is served by this process: the page itself
(``index.html`` next to this file), sockjs-client and the websocket-multiplex
client library, both from ``node_modules`` (``make demo`` or ``npm ci``
installs them; ``package.json`` pins their versions).  No CDN is involved.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cyclone.web
from twisted.internet import reactor
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
)

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent.parent / "node_modules"
PAGE = HERE / "index.html"

#: URL path -> (file, content type).  The two libraries come from npm.
STATIC_FILES = {
    "/static/sockjs.min.js": NODE_MODULES / "sockjs-client" / "dist" / "sockjs.min.js",
    "/static/multiplex_client.js": NODE_MODULES / "websocket-multiplex" / "multiplex_client.js",
}
JAVASCRIPT = "application/javascript; charset=UTF-8"
#: Where the SockJS iframe page (used by some fallback transports) loads the client.
SOCKJS_URL = "/static/sockjs.min.js"


class AnnConnection(SockJSConnection):
    """Channel ``ann``: friendly."""

    def connectionMade(self, info: Any) -> None:
        self.sendMessage("Ann says hi!")

    def messageReceived(self, message: str) -> None:
        self.sendMessage("Ann nods: " + message)


class BobConnection(SockJSConnection):
    """Channel ``bob``: contrary."""

    def connectionMade(self, info: Any) -> None:
        self.sendMessage("Bob doesn't agree.")

    def messageReceived(self, message: str) -> None:
        self.sendMessage("Bob says no to: " + message)


class CarlConnection(SockJSConnection):
    """Channel ``carl``: leaves at once.

    Closing a channel sends ``uns,carl`` to the page; the SockJS session and
    the other channels are not affected.
    """

    def connectionMade(self, info: Any) -> None:
        self.sendMessage("Carl says goodbye!")
        self.close()


#: One SockJS connection class that dispatches the three channels by name.
Multiplexed = MultiplexConnection.create(ann=AnnConnection, bob=BobConnection, carl=CarlConnection)


class FileHandler(cyclone.web.RequestHandler):
    """Serve one file, read at each request."""

    def initialize(self, path: Path, content_type: str) -> None:
        """Called by Cyclone with the route's keyword arguments."""
        self.path = path
        self.content_type = content_type

    def get(self) -> None:
        """Send the file."""
        self.set_header("Content-Type", self.content_type)
        self.set_header("Cache-Control", "no-cache")
        self.write(self.path.read_bytes())


def make_app() -> cyclone.web.Application:
    """The page, the two client libraries and the ``/multiplex`` service."""
    router = SockJSRouter(Multiplexed, "/multiplex", {"sockjs_url": SOCKJS_URL})
    routes: list[Any] = [
        (r"/", FileHandler, {"path": PAGE, "content_type": "text/html; charset=UTF-8"}),
    ]
    for url, path in STATIC_FILES.items():
        routes.append(
            (url.replace(".", r"\."), FileHandler, {"path": path, "content_type": JAVASCRIPT})
        )
    app = cyclone.web.Application(routes + router.urls)
    app.protocol = SockJSHTTPConnection  # request limits, idle timeouts
    return app


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, listen and run the reactor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8888, help="port (default 8888, 0: any)")
    args = parser.parse_args(argv)

    missing = [str(path) for path in STATIC_FILES.values() if not path.is_file()]
    if missing:
        sys.exit(
            f"missing {', '.join(missing)}: run `make demo`, or `npm ci` in the repository root"
        )

    # Warnings and errors to stderr; Cyclone's one line per request is left out.
    globalLogBeginner.beginLoggingTo(
        [
            FilteringLogObserver(
                textFileLogObserver(sys.stderr),
                [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)],
            )
        ],
        redirectStandardIO=False,
    )

    port = reactor.listenTCP(args.port, make_app(), interface=args.host)
    address = port.getHost()
    host = f"[{address.host}]" if ":" in address.host else address.host
    print(f"listening on http://{host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
