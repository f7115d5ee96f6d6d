"""Plot ws-echo throughput against the number of connections (bench/sweep.sh lines).

    .venv/bin/python bench/plot.py [--png docs/performance.png] results/sweep-*.jsonl

One line per server: the median over rounds of messages per second at each
connection count, with the min-max range as error bars; a second panel
shows server CPU per message. Needs matplotlib (not a test dependency).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict

LABELS = {
    "cyclone-sockjs": "sockjs-cyclone (this project)",
    "sockjs-node": "sockjs-node 0.3.24 (node 20)",
    "aiohttp-sockjs": "sockjs 0.13 on aiohttp 3.14",
    "sockjs-tornado": "sockjs-tornado 1.0.7",
    "twisted-autobahn": "bare Twisted + autobahn (no SockJS)",
    "node-ws": "bare node ws (no SockJS)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", default="docs/performance.png")
    parser.add_argument("--title", default=None)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    cpu: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for path in args.files:
        with open(path) as handle:
            for line in handle:
                row = json.loads(line)
                if "error" in row or not row.get("msgs_per_s"):
                    continue
                rate[row["peer"]][row["conns"]].append(row["msgs_per_s"])
                if row.get("server_cpu_us_per_unit"):
                    cpu[row["peer"]][row["conns"]].append(row["server_cpu_us_per_unit"])

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    for peer in sorted(rate, key=lambda p: list(LABELS).index(p) if p in LABELS else 99):
        xs = sorted(rate[peer])
        medians = [statistics.median(rate[peer][x]) for x in xs]
        low = [m - min(rate[peer][x]) for m, x in zip(medians, xs, strict=True)]
        high = [max(rate[peer][x]) - m for m, x in zip(medians, xs, strict=True)]
        style = {"linewidth": 3} if peer == "cyclone-sockjs" else {"linestyle": "--"}
        label = LABELS.get(peer, peer)
        top.errorbar(xs, medians, yerr=[low, high], marker="o", capsize=3, label=label, **style)
        cxs = sorted(cpu[peer])
        bottom.plot(
            cxs, [statistics.median(cpu[peer][x]) for x in cxs], marker="o", label=label, **style
        )
    top.set_xscale("log")
    top.set_ylabel("messages / s (median, min-max)")
    top.set_title(args.title or "ws-echo: 32-byte messages, one in flight per connection")
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8)
    bottom.set_yscale("log")
    bottom.set_xlabel("connections")
    bottom.set_ylabel("server CPU µs per message")
    bottom.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(args.png, dpi=110)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
