"""One process of the clustered broadcast example (run several: see run.py).

The same page and ``/broadcast`` service as ``examples/broadcast/server.py``,
with one change: the router's pub/sub channels go through Redis, so a
message published by a page on any process reaches the pages on all of them.
Only the process started with ``--ticker`` publishes the ticks, so every
page sees one tick a second whichever process serves it.

    python examples/cluster/server.py --port 8001 --redis redis://127.0.0.1:6379 --ticker
    python examples/cluster/server.py --port 8002 --redis redis://127.0.0.1:6379

``run.py`` next to this file starts Redis, N of these and HAProxy together.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet import task
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

from sockjs.cyclone import SockJSRouter
from sockjs.cyclone.redisbroker import RedisBroker

HERE = Path(__file__).resolve().parent
reactor: Any = _reactor


def _broadcast_example() -> ModuleType:
    """``examples/broadcast/server.py`` as a module (examples are not a package)."""
    path = HERE.parent / "broadcast" / "server.py"
    spec = importlib.util.spec_from_file_location("broadcast_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, connect to Redis, listen and run."""
    example = _broadcast_example()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port (default 8001, 0: any)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="redis://HOST:PORT")
    parser.add_argument("--ticker", action="store_true", help="publish a tick every --interval s")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
    parser.add_argument(
        "--sockjs-client", type=Path, default=example.DEFAULT_CLIENT, help="path of sockjs.min.js"
    )
    args = parser.parse_args(argv)
    if not args.sockjs_client.is_file():
        sys.exit(f"{args.sockjs_client} not found: run `npm ci` in the repository root")

    # Warnings and errors only: Redis outages and recoveries show up here.
    observer: Any = FilteringLogObserver(
        textFileLogObserver(sys.stderr), [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)]
    )
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)

    broker = RedisBroker(args.redis)
    reactor.addSystemEventTrigger("before", "shutdown", broker.stop)
    settings = {
        "sockjs_url": example.CLIENT_URL,
        # HAProxy runs on this machine: its X-Forwarded-For names the client.
        "trusted_proxies": ["127.0.0.1"],
    }
    router = SockJSRouter(example.TickerConnection, "/broadcast", settings, broker=broker)
    broker.report_to(router)  # errors_redis_* in router.stats.dump()
    if args.ticker:
        task.LoopingCall(example.Ticker(router).tick).start(args.interval, now=False)

    app = example.make_app(router, args.sockjs_client)
    port = reactor.listenTCP(args.port, app, interface=args.host)
    address = port.getHost()
    print(f"listening on http://{address.host}:{address.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
