#!/usr/bin/env python3
"""Table of a before/after run: is this checkout slower than the baseline?

    python3 bench/report_ab.py [--tolerance PCT] bench/results/<run>-vs-<sha>/*.jsonl

Reads the JSON lines of ``bench/run.sh --baseline REF`` (one per run; the
baseline's runs have peer ``cyclone-sockjs-baseline``, the current
checkout's ``cyclone-sockjs``). For each target: the scenario's metric and
the server CPU per unit, the median of each side, the median over rounds of
the same-round ratio current/baseline, and a verdict. Throughputs are better
higher; KB per session and CPU per unit are better lower. A metric is a
REGRESSION when the current checkout is more than PCT % (default 5) worse:
ratio below 1 - PCT/100 where higher is better, above 1 + PCT/100 where lower
is. Ratios from different rounds or runs are never mixed.

Exit status 1 if any metric regressed or a target gave no complete round
(nothing then shows it did not regress). Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass

from report import cpu, fmt, load, median, metric

BASELINE = "cyclone-sockjs-baseline"
CURRENT = "cyclone-sockjs"

# What one unit of each metric is, for "server CPU µs per <unit>".
UNITS = {"msgs": "msg", "roundtrips": "round trip", "delivered": "delivery", "sessions": "session"}


def higher_is_better(row: dict) -> bool:
    if "higher_is_better" in row:
        return bool(row["higher_is_better"])
    return "kb_per_session" not in row


def cpu_unit(row: dict) -> str:
    if row.get("server_cpu_us_per_delivery") is not None:
        return "delivery"
    if row.get("server_cpu_us_per_session_open") is not None:
        return "session open"
    name = str(row.get("metric", ""))
    return UNITS.get(name.removesuffix("_per_s"), "unit")


def verdict(ratio: float | None, higher: bool, tolerance: float) -> str:
    """'ok', 'REGRESSION' (more than tolerance % worse) or 'n/a' (no ratio)."""
    if ratio is None:
        return "n/a"
    worse_pct = (1 - ratio) * 100 if higher else (ratio - 1) * 100
    # The epsilon keeps "exactly the tolerance" ok despite float rounding.
    return "REGRESSION" if worse_pct > tolerance + 1e-9 else "ok"


@dataclass
class Line:
    """One target's figures: metric, then CPU per unit."""

    target: str
    metric: str
    better: str  # "higher", "lower", or "?" with no successful run
    base: float | None
    cur: float | None
    ratio: float | None
    verdict: str
    unit: str
    cpu_base: float | None
    cpu_cur: float | None
    cpu_ratio: float | None
    cpu_verdict: str
    rounds: int
    failed: int
    other_cpu: float | None


def summarise(target: str, rows: list[dict], tolerance: float) -> Line:
    good = [r for r in rows if "error" not in r and r.get("peer") in (BASELINE, CURRENT)]
    sample = next((r for r in good if metric(r) is not None), {})
    higher = higher_is_better(sample)
    by_round: dict[object, dict[str, dict]] = defaultdict(dict)
    for row in good:
        by_round[row.get("round", 0)][row["peer"]] = row
    ratios, cpu_ratios = [], []
    for pair in by_round.values():
        base, cur = pair.get(BASELINE), pair.get(CURRENT)
        if base is None or cur is None:
            continue  # a round where one side failed says nothing about the other
        m_base, m_cur = metric(base), metric(cur)
        # (an RSS delta can come out <= 0 on a quiet idle run: no ratio then)
        if m_base is not None and m_base > 0 and m_cur is not None:
            ratios.append(m_cur / m_base)
        c_base, c_cur = cpu(base), cpu(cur)
        if c_base is not None and c_base > 0 and c_cur is not None:
            cpu_ratios.append(c_cur / c_base)
    ratio, cpu_ratio = median(ratios), median(cpu_ratios)
    side = {peer: [r for r in good if r["peer"] == peer] for peer in (BASELINE, CURRENT)}
    return Line(
        target=target,
        metric=str(sample.get("metric", "?")),
        better=("higher" if higher else "lower") if sample else "?",
        base=median([metric(r) for r in side[BASELINE]]),
        cur=median([metric(r) for r in side[CURRENT]]),
        ratio=ratio,
        verdict=verdict(ratio, higher, tolerance),
        unit=cpu_unit(sample) if sample else "?",
        cpu_base=median([cpu(r) for r in side[BASELINE]]),
        cpu_cur=median([cpu(r) for r in side[CURRENT]]),
        cpu_ratio=cpu_ratio,
        cpu_verdict=verdict(cpu_ratio, False, tolerance),
        rounds=len(ratios),
        failed=len(rows) - len(good),
        other_cpu=median([r.get("other_cpu_pct") for r in good]),
    )


def table(rows: list[dict], tolerance: float) -> tuple[list[str], list[Line]]:
    by_target: dict[str, list[dict]] = defaultdict(list)
    for row in rows:  # targets in the order they were measured
        by_target[row.get("target", row.get("scenario", "?"))].append(row)
    lines = [summarise(name, runs, tolerance) for name, runs in by_target.items()]
    refs = sorted(
        {f"{r['baseline_ref']} ({r['baseline_sha'][:12]})" for r in rows if "baseline_ref" in r}
    )
    out = [
        f"Baseline {', '.join(refs) or BASELINE} against this checkout; "
        f"ratios are current/baseline, medians of same-round ratios; tolerance {tolerance:g} %.",
        "",
        "| target | metric | better | baseline | current | current/baseline | "
        "| server CPU µs per | baseline | current | current/baseline | | rounds | other CPU % |",
        "|---|---|---|---:|---:|---:|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for ln in lines:
        rounds = f"{ln.rounds}" + (f" ({ln.failed} runs failed)" if ln.failed else "")
        out.append(
            f"| {ln.target} | {ln.metric} | {ln.better} "
            f"| {fmt(ln.base)} | {fmt(ln.cur)} | {fmt(ln.ratio, 3)} | {ln.verdict} "
            f"| {ln.unit} | {fmt(ln.cpu_base)} | {fmt(ln.cpu_cur)} | {fmt(ln.cpu_ratio, 3)} "
            f"| {ln.cpu_verdict} | {rounds} | {fmt(ln.other_cpu, 0)} |"
        )
    bad = [ln.target for ln in lines if "REGRESSION" in (ln.verdict, ln.cpu_verdict)]
    missing = [ln.target for ln in lines if "n/a" in (ln.verdict, ln.cpu_verdict)]
    out.append("")
    if bad:
        out.append(f"REGRESSION (more than {tolerance:g} % worse): {', '.join(bad)}")
    if missing:
        out.append(f"no complete round, nothing measured: {', '.join(missing)}")
    if not bad and not missing:
        out.append(f"ok: no target more than {tolerance:g} % worse than the baseline")
    return out, lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tolerance", type=float, default=5.0, metavar="PCT")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    out, lines = table(load(args.files), args.tolerance)
    print("\n".join(out))
    ok = all(ln.verdict == "ok" and ln.cpu_verdict == "ok" for ln in lines)
    return 0 if ok and lines else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
