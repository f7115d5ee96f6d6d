"""Scaling benchmark: 1 process vs N processes behind HAProxy, channels on Redis.

    python examples/cluster/benchmark.py [--rounds 3] [--processes 1,2]
                                         [--brokers redis,redis-streams]
                                         [--scenarios broadcast,ws-echo]
                                         [--bench-dir /path/to/harness]

Each measurement starts a fresh cluster (``run.py``'s :class:`Cluster`:
redis-server, ``examples/test_server.py --redis`` processes, HAProxy) and
points the shared load harness's generator (its ``run.sh``) at
HAProxy. A configuration is a number of processes and a broker
(``--redis`` pub/sub, or ``--redis-streams``: ``--brokers
redis,redis-streams`` compares them). The configurations alternate within
each round (1, 2, 1, 2, ...),
so machine noise hits them alike; the summary gives the median of each
metric and the median of the same-round ratios against the first
configuration. One JSON line per run goes to stdout as it finishes.

This is a measurement, not a test: nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Cluster

#: The suite's settings (bench/RESULTS.md), measured through HAProxy.
SCENARIOS: dict[str, list[str]] = {
    "broadcast": ["--conns", "1000", "--rounds", "300", "--warmup", "2", "--duration", "5"],
    "ws-echo": ["--conns", "100", "--warmup", "2", "--duration", "5"],
}
#: Where bench/run.sh and bench/compare.sh copy the shared load harness.
_HARNESS_COPY = os.environ.get("SOCKJS_BENCH_DIR") or str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sockjs-cyclone-bench"
)
PROXY_PORT = 9350  # bench/ keeps to ports 9300-9399
BASE_PORT = 9360


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSampler(threading.Thread):
    """Samples the CPU time of the cluster's processes every 50 ms."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            now = time.monotonic()
            self.samples.append((now, {name: _cpu_seconds(pid) for name, pid in self.pids.items()}))
            self.done.wait(0.05)

    def between(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds each process used from ``start`` to ``end`` (nearest samples)."""
        first = min(self.samples, key=lambda sample: abs(sample[0] - start))[1]
        last = min(self.samples, key=lambda sample: abs(sample[0] - end))[1]
        return {name: round(last[name] - first[name], 2) for name in self.pids}


def measure(
    bench_dir: Path,
    scenario: str,
    processes: int,
    window: int,
    broker: str = "redis",
    conns: int | None = None,
    max_rounds: int | None = None,
) -> dict[str, Any]:
    """One fresh cluster, one load-generator run; its JSON line plus the configuration.

    ``cluster_cpu_s`` adds what the app processes, HAProxy and Redis used
    during the measured window (the last ``wall_s`` seconds before the load
    generator finished, give or take 50 ms).
    """
    cluster = Cluster(
        processes, base_port=BASE_PORT, port=PROXY_PORT, app="test-server", broker=broker
    )
    cluster.start()
    processes_by_name = [cluster.redis, cluster.haproxy, *cluster.servers]
    sampler = CpuSampler({p.name: p.pid for p in processes_by_name if p is not None})
    sampler.start()
    try:
        # CPU and RSS figures are those of the first app process.
        command = [
            str(bench_dir / "run.sh"),
            scenario,
            cluster.url,
            "--pid",
            str(cluster.servers[0].pid),
            *SCENARIOS[scenario],
            "--window",
            str(window),
            *(["--conns", str(conns)] if conns else []),
            *(["--rounds", str(max_rounds)] if max_rounds else []),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        ended = time.monotonic()
        sampler.done.set()
        sampler.join()
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"{command} failed ({done.returncode}):\n{done.stderr}")
        result: dict[str, Any] = json.loads(lines[-1])
        cpu = sampler.between(ended - result["wall_s"] - 0.1, ended - 0.1)
        result["cluster_cpu"] = cpu
        result["cluster_cpu_s"] = round(sum(cpu.values()), 2)
        units = result.get("delivered") or result.get("msgs") or 0
        if units:
            apps = sum(seconds for name, seconds in cpu.items() if name.startswith("app"))
            result["cluster_cpu_us_per_unit"] = round(1e6 * result["cluster_cpu_s"] / units, 2)
            result["apps_cpu_us_per_unit"] = round(1e6 * apps / units, 2)
            result["redis_cpu_us_per_unit"] = round(1e6 * cpu.get("redis", 0.0) / units, 3)
    finally:
        sampler.done.set()
        cluster.stop()
        cluster.cleanup()
    result.update(scenario=scenario, processes=processes, broker=broker)
    result["config"] = f"{processes} process(es) {broker}"
    return result


_COSTS = ("cluster_cpu_us_per_unit", "apps_cpu_us_per_unit", "redis_cpu_us_per_unit")


def summarize(results: list[dict[str, Any]], configs: list[str]) -> list[str]:
    """Medians per (scenario, configuration) and median same-round ratios against configs[0]."""
    lines = []
    for scenario in dict.fromkeys(result["scenario"] for result in results):
        rows = [result for result in results if result["scenario"] == scenario]
        metric = rows[0]["metric"]
        by_config = {c: [r[metric] for r in rows if r["config"] == c] for c in configs}
        base = by_config[configs[0]]
        for config in configs:
            values = by_config[config]
            median = statistics.median(values)
            text = f"{scenario:10} {config}: median {metric} {median:,.0f}"
            text += f"  (runs: {', '.join(f'{v:,.0f}' for v in values)})"
            if config != configs[0]:
                ratios = [value / ref for value, ref in zip(values, base, strict=False) if ref]
                text += f"  ratio vs {configs[0]}: {statistics.median(ratios):.2f}x"
            lines.append(text)
        for config in configs:
            mine = [r for r in rows if r["config"] == config]
            costs = {
                key: statistics.median([r[key] for r in mine])
                for key in _COSTS
                if all(key in r for r in mine)
            }
            if costs:
                lines.append(
                    f"{scenario:10} {config}: CPU per unit, medians: cluster (apps + HAProxy + "
                    f"Redis) {costs.get('cluster_cpu_us_per_unit', 0):.1f} us, apps "
                    f"{costs.get('apps_cpu_us_per_unit', 0):.1f} us, Redis "
                    f"{costs.get('redis_cpu_us_per_unit', 0):.2f} us"
                )
        others = [r.get("other_cpu_pct") for r in rows if r.get("other_cpu_pct") is not None]
        if others:
            lines.append(f"{scenario:10} other CPU on the machine (noise): {others}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", default="1,2", help="configurations, comma-separated")
    parser.add_argument(
        "--brokers", default="redis", help="redis and/or redis-streams, comma-separated"
    )
    parser.add_argument("--scenarios", default="broadcast,ws-echo")
    parser.add_argument(
        "--window", type=int, default=1, help="messages in flight (1: the suite's setting)"
    )
    parser.add_argument("--conns", type=int, help="sessions (instead of the scenario's)")
    parser.add_argument(
        "--broadcast-rounds", type=int, help="broadcast rounds at most (instead of 300)"
    )
    parser.add_argument(
        "--bench-dir",
        type=Path,
        default=Path(os.environ.get("BENCH_DIR") or _HARNESS_COPY),
        help="the shared load harness (with run.sh and loadgen.js); default: the copy "
        "bench/run.sh sets up ($SOCKJS_BENCH_DIR or ~/.cache/sockjs-cyclone-bench)",
    )
    args = parser.parse_args(argv)
    if not (args.bench_dir / "loadgen.js").is_file():
        print(
            f"no load harness in {args.bench_dir} (run bench/run.sh once, or set --bench-dir)",
            file=sys.stderr,
        )
        return 2
    configs = [
        (int(n), broker) for n in args.processes.split(",") for broker in args.brokers.split(",")
    ]
    scenarios = args.scenarios.split(",")
    results = []
    for round_number in range(args.rounds):
        for scenario in scenarios:
            for processes, broker in configs:
                result = measure(
                    args.bench_dir,
                    scenario,
                    processes,
                    args.window,
                    broker,
                    args.conns,
                    args.broadcast_rounds,
                )
                result["round"] = round_number
                results.append(result)
                print(json.dumps(result), flush=True)
    labels = [f"{processes} process(es) {broker}" for processes, broker in configs]
    print("\n".join(summarize(results, labels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
