#!/usr/bin/env python3
"""Table of same-run ratios from bench/run.sh results (one JSON line per run).

    python3 bench/report.py bench/results/<run>/*.jsonl

For each target: the peer's and our median metric, the median over rounds of
the same-round ratio ours/peer (throughput) and of server CPU per unit, and
whether the target is met. Rounds pair the two servers measured one after the
other; ratios from different runs are never mixed. Standard library only.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict

OURS = "cyclone-sockjs"
# Per delivery (broadcast: per_unit there is per round), per message/session,
# per session opened (idle scenarios).
CPU_KEYS = (
    "server_cpu_us_per_delivery",
    "server_cpu_us_per_unit",
    "server_cpu_us_per_session_open",
)


def load(paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        with open(path) as handle:
            rows.extend(json.loads(line) for line in handle if line.startswith("{"))
    return rows


def metric(row: dict) -> float | None:
    if "kb_per_session" in row:
        return row["kb_per_session"]
    name = row.get("metric")
    return row.get(name) if name else None


def cpu(row: dict) -> float | None:
    for key in CPU_KEYS:
        if row.get(key) is not None:
            return row[key]
    return None


def median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def fmt(value: float | None, digits: int | None = None) -> str:
    if value is None:
        return "n/a"
    if digits is None:
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}"


def check(goal: str, ratio: float | None, cpu_ratio: float | None, ours: float | None) -> str:
    """Say whether ``goal`` (``ratio>=X``, ``cpu<=X`` or ``ours<=X``) holds."""
    kind, _, bound = goal.partition("<=") if "<=" in goal else goal.partition(">=")
    value = {"ratio": ratio, "cpu": cpu_ratio}.get(kind, ours)
    if value is None:
        return "n/a"
    limit = float(bound)
    met = value <= limit if "<=" in goal else value >= limit
    return "met" if met else "not met"


def main(paths: list[str]) -> None:
    by_target: dict[str, list[dict]] = defaultdict(list)
    for row in load(paths):
        by_target[row.get("target", row.get("scenario", "?"))].append(row)
    print(
        "| target | peer | peer metric | ours | ratio ours/peer (median of rounds) "
        "| CPU/unit ours/peer | target | | rounds |"
    )
    print("|---|---|---:|---:|---:|---:|---|---|---:|")
    for name, rows in by_target.items():
        goal = rows[0].get("goal", "")
        peer = next((r["peer"] for r in rows if r.get("peer") not in (None, OURS)), "?")
        rounds: dict[int, dict[str, dict]] = defaultdict(dict)
        for row in rows:
            if "error" not in row and "peer" in row:
                rounds[row.get("round", 0)][row["peer"]] = row
        ratios, cpu_ratios = [], []
        for pair in rounds.values():
            ours, theirs = pair.get(OURS), pair.get(peer)
            if ours is None or theirs is None:
                continue
            m_ours, m_theirs = metric(ours), metric(theirs)
            if m_ours is not None and m_theirs:
                ratios.append(m_ours / m_theirs)
            c_ours, c_theirs = cpu(ours), cpu(theirs)
            if c_ours is not None and c_theirs:
                cpu_ratios.append(c_ours / c_theirs)
        ours_med = median([metric(r) for r in rows if r.get("peer") == OURS and "error" not in r])
        peer_med = median([metric(r) for r in rows if r.get("peer") == peer and "error" not in r])
        ratio, cpu_ratio = median(ratios), median(cpu_ratios)
        print(
            f"| {name} | {peer} | {fmt(peer_med)} | {fmt(ours_med)} | {fmt(ratio, 2)} "
            f"| {fmt(cpu_ratio, 2)} | {goal} | {check(goal, ratio, cpu_ratio, ours_med)} "
            f"| {len(ratios)} |"
        )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
