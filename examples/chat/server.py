"""A chat room over SockJS: open http://127.0.0.1:8888/ in two tabs.

The page (``index.html`` next to this file) and the sockjs-client library
(``node_modules/sockjs-client/dist/sockjs.min.js``, installed by ``make demo``
or ``npm ci``) are served by this same process, so nothing is fetched from a
CDN.  The chat service lives at ``/chat``.

Messages between page and server are JSON objects:

* page -> server: ``{"type": "join", "name": ...}`` once, then
  ``{"type": "say", "text": ...}``;
* server -> page: ``welcome`` (to the newcomer, with the participants'
  names), ``joined`` / ``left`` (to everyone else) and ``message`` (to all,
  the sender included).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import cyclone.web
from twisted.internet import reactor
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

import sockjs.cyclone

HERE = Path(__file__).resolve().parent
PAGE = HERE / "index.html"
DEFAULT_CLIENT = HERE.parent.parent / "node_modules" / "sockjs-client" / "dist" / "sockjs.min.js"
#: Where the page and the SockJS iframe page load sockjs-client from.
CLIENT_URL = "/static/sockjs.min.js"

MAX_NAME_LENGTH = 32
MAX_TEXT_LENGTH = 2000


class ChatConnection(sockjs.cyclone.SockJSConnection):  # type: ignore[misc]
    """One browser tab in the chat room."""

    #: Everyone who has joined.  The example keeps its own set; the router
    #: itself knows nothing about rooms.
    participants: ClassVar[set[ChatConnection]] = set()

    name: str | None = None

    def connectionMade(self, info: Any) -> None:
        """A tab connected; it becomes a participant once it sends its name."""
        self.name = None

    def messageReceived(self, message: str) -> None:
        """Handle ``join`` and ``say``; ignore anything else."""
        if not isinstance(message, str):
            return  # sockjs-client sends strings; any other JSON value is not ours
        try:
            data = json.loads(message)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if data.get("type") == "join" and self.name is None:
            self._join(_clean(data.get("name"), MAX_NAME_LENGTH) or "anonymous")
        elif data.get("type") == "say" and self.name is not None:
            text = _clean(data.get("text"), MAX_TEXT_LENGTH)
            if text:
                self._broadcast({"type": "message", "name": self.name, "text": text})

    def connectionLost(self) -> None:
        """The tab went away (closed, reloaded or timed out)."""
        if self in self.participants:
            self.participants.discard(self)
            self._broadcast({"type": "left", "name": self.name})

    def _join(self, name: str) -> None:
        self.name = name
        others = sorted(str(conn.name) for conn in self.participants)
        self._broadcast({"type": "joined", "name": name})
        self.participants.add(self)
        self.sendMessage(_encode({"type": "welcome", "name": name, "participants": others}))

    def _broadcast(self, event: dict[str, Any]) -> None:
        text = _encode(event)
        # A copy: sending may end a session, and with it change the set.
        for conn in list(self.participants):
            conn.sendMessage(text)


def _clean(value: object, limit: int) -> str:
    """A stripped, length-limited string, or ``""`` for anything else."""
    if not isinstance(value, str):
        return ""
    return value.strip()[:limit]


def _encode(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


class FileHandler(cyclone.web.RequestHandler):  # type: ignore[misc]
    """Serve one file, read at each request so that edits show on reload."""

    def initialize(self, path: Path, content_type: str) -> None:
        """Called by Cyclone with the route's keyword arguments."""
        self.path = path
        self.content_type = content_type

    def get(self) -> None:
        """Send the file."""
        self.set_header("Content-Type", self.content_type)
        self.set_header("Cache-Control", "no-cache")
        self.write(self.path.read_bytes())


def make_app(client_path: Path) -> cyclone.web.Application:
    """The page, sockjs-client and the chat service in one application."""
    router = sockjs.cyclone.SockJSRouter(ChatConnection, "/chat", {"sockjs_url": CLIENT_URL})
    routes = [
        (r"/", FileHandler, {"path": PAGE, "content_type": "text/html; charset=UTF-8"}),
        (
            CLIENT_URL.replace(".", r"\."),
            FileHandler,
            {"path": client_path, "content_type": "application/javascript; charset=UTF-8"},
        ),
    ]
    app = cyclone.web.Application(routes + router.urls)
    app.protocol = sockjs.cyclone.SockJSHTTPConnection  # request limits, idle timeouts
    return app


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, listen and run the reactor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8888, help="port (default 8888, 0: any)")
    parser.add_argument(
        "--sockjs-client",
        type=Path,
        default=DEFAULT_CLIENT,
        help="path of sockjs.min.js (default: the one npm installed)",
    )
    args = parser.parse_args(argv)

    if not args.sockjs_client.is_file():
        sys.exit(
            f"{args.sockjs_client} not found: run `make demo`, or `npm ci` in the repository root"
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

    port = reactor.listenTCP(args.port, make_app(args.sockjs_client), interface=args.host)
    address = port.getHost()
    host = f"[{address.host}]" if ":" in address.host else address.host
    print(f"listening on http://{host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
