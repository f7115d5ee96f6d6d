"""One broker in a process of its own, driven through stdin, for the cluster tests.

    python tests/cluster/broker_probe.py URL ORIGIN [--pubsub] [--retention N]
                                         [--buffer-bytes N] [--channel CH]

Subscribes to ``--channel`` (``ch``) and prints one JSON line per event:
``{"connected": true}`` once Redis is there, ``{"got": MESSAGE}`` for each
message received, ``{"loss": {...}}`` for each loss the streams broker
reports (its ``on_loss`` hook), ``{"counters": {...}, "buffered": BYTES}``
when asked. Reads
commands, one per line: ``publish JSON``, ``publish-range PREFIX N``
(PREFIX-0 ... PREFIX-<N-1>), ``counters``, ``stop``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twisted.internet import reactor, stdio, task
from twisted.logger import globalLogBeginner, textFileLogObserver
from twisted.protocols.basic import LineReceiver


def emit(event: dict[str, Any]) -> None:
    """One event on stdout, as a JSON line."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class Commands(LineReceiver):
    """Reads the test's commands from stdin."""

    delimiter = b"\n"

    def __init__(self, broker: Any, channel: str) -> None:
        self.broker = broker
        self.channel = channel

    def lineReceived(self, line: bytes) -> None:
        verb, _, rest = line.decode().partition(" ")
        if verb == "publish":
            self.broker.publish(self.channel, json.loads(rest))
        elif verb == "publish-range":
            prefix, count = rest.split()
            for n in range(int(count)):
                self.broker.publish(self.channel, f"{prefix}-{n}")
        elif verb == "counters":
            buffered = getattr(self.broker, "buffered_bytes", 0)
            emit({"counters": self.broker.counters, "buffered": buffered})
        elif verb == "stop":
            self.broker.stop().addBoth(lambda _: reactor.stop())


def main() -> None:
    """Start the broker and serve the commands until ``stop``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("origin")
    parser.add_argument("--pubsub", action="store_true", help="RedisBroker instead of streams")
    parser.add_argument("--retention", type=int, default=100_000)
    parser.add_argument("--buffer-bytes", type=int, default=4 << 20)
    parser.add_argument("--channel", default="ch")
    args = parser.parse_args()
    # Log lines go to stderr (the test keeps them); events to stdout.
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    if args.pubsub:
        from sockjs.cyclone.redisbroker import RedisBroker

        broker: Any = RedisBroker(args.url, origin=args.origin)
    else:
        from sockjs.cyclone.streamsbroker import StreamsBroker

        broker = StreamsBroker(
            args.url,
            origin=args.origin,
            retention=args.retention,
            buffer_bytes=args.buffer_bytes,
            on_loss=lambda loss: emit(
                {"loss": {"kind": str(loss.kind), "count": loss.count, "channel": loss.channel}}
            ),
        )
    broker.subscribe(args.channel, lambda message: emit({"got": message}))

    def wait_connected() -> None:
        if broker.connected:
            poll.stop()
            emit({"connected": True})

    poll = task.LoopingCall(wait_connected)
    poll.start(0.02)
    stdio.StandardIO(Commands(broker, args.channel))
    reactor.run()


if __name__ == "__main__":
    main()
