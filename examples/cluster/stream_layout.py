"""Stream layout: one Redis stream per channel, or one for all channels?

    python examples/cluster/stream_layout.py [--channels 1,10,100,1000] [--rate 2000]
                                             [--seconds 4] [--share 1.0]

Starts its own ``redis-server`` (127.0.0.1, a free port, no persistence),
one writer and two reader processes, and measures, for each number of
channels C:

* ``per-channel``: the writer XADDs to ``ch:<n>`` (C streams); each reader
  blocks in ``XREAD`` on the streams of the channels it subscribes to;
* ``one stream``: the writer XADDs to one stream with the channel in the
  entry; each reader blocks in ``XREAD`` on that stream and drops the
  entries of channels it does not subscribe to.

The writer publishes ``--rate`` messages a second, round robin over the
channels; each reader subscribes to ``--share`` of them.  Printed per run:
Redis CPU per published message, reader CPU per received entry, entries
each reader received.  A measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import _cpu_seconds as _cpu_seconds_of
from run import Cluster


class Resp:
    """A minimal blocking RESP client (commands out, parsed replies in)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def send(self, *args: str | int) -> None:
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))

    def reply(self) -> object:
        line = self.file.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest


def reader(port: int, layout: str, channels: int, share: float, seconds: float) -> None:
    """Read until ``seconds`` pass; print received-entry count and CPU seconds."""
    client = Resp(port)
    wanted = list(range(max(1, round(channels * share))))
    keys = ["all"] if layout == "one" else [f"ch:{n}" for n in wanted]
    wanted_names = {str(n).encode() for n in wanted}
    ids = ["0-0"] * len(keys)  # the streams are empty (FLUSHALL after each run)
    received = 0
    start = time.process_time()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        client.send("XREAD", "COUNT", 500, "BLOCK", 500, "STREAMS", *keys, *ids)
        streams = client.reply() or []
        for key, entries in streams:  # type: ignore[misc]
            index = keys.index(key.decode())
            for entry_id, fields in entries:
                ids[index] = entry_id.decode()
                if layout == "one" and fields[1] not in wanted_names:
                    continue
                received += 1
    print(received, time.process_time() - start, flush=True)


def run_once(port: int, redis_pid: int, layout: str, args: argparse.Namespace, c: int) -> str:
    argv = [sys.executable, __file__, "--reader", str(port), layout, str(c), str(args.share)]
    argv.append(str(args.seconds + 1))
    readers = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(0.5)  # readers blocked in XREAD
    writer = Resp(port)
    batch = max(1, args.rate // 100)  # 100 pipelined batches a second
    redis_cpu = _cpu_seconds_of(redis_pid)
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        for _ in range(batch):
            n = sent % c
            if layout == "one":
                writer.send("XADD", "all", "MAXLEN", "~", 10000, "*", "c", n, "m", "x" * 32)
            else:
                writer.send("XADD", f"ch:{n}", "MAXLEN", "~", 10000, "*", "m", "x" * 32)
            sent += 1
        for _ in range(batch):
            writer.reply()
        time.sleep(max(0.0, started + sent / args.rate - time.monotonic()))
    redis_cpu = _cpu_seconds_of(redis_pid) - redis_cpu
    results = [reader.communicate(timeout=30)[0].split() for reader in readers]
    writer.send("FLUSHALL")
    writer.reply()
    got = [int(r[0]) for r in results]
    cpu = sum(float(r[1]) for r in results)
    return (
        f"C={c:<5} {layout:11} sent {sent:6}  redis {1e6 * redis_cpu / sent:6.1f} us/msg  "
        f"readers {1e6 * cpu / max(1, sum(got)):6.1f} us/entry  received {got}"
    )


def main() -> int:
    """Measure both layouts for each number of channels."""
    if len(sys.argv) > 1 and sys.argv[1] == "--reader":
        port, layout, c, share, seconds = sys.argv[2:7]
        reader(int(port), layout, int(c), float(share), float(seconds))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="1,10,100,1000")
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--share", type=float, default=1.0, help="channels each reader wants")
    args = parser.parse_args()
    cluster = Cluster(1, workdir=Path(tempfile.mkdtemp(prefix="stream-layout-")))
    cluster.start_redis()
    assert cluster.redis is not None
    try:
        for c in (int(n) for n in args.channels.split(",")):
            for layout in ("per-channel", "one"):
                print(run_once(cluster.redis_port, cluster.redis.pid, layout, args, c), flush=True)
    finally:
        cluster.stop_redis()
        cluster.cleanup()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
