"""The bench/ tools run and compute what they say (no load is generated here).

Speed itself is never asserted: these only check that the report's ratios
and verdicts come out of the numbers given, that the micro-benchmark runs,
and that the plot is drawn when matplotlib is there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _line(peer: str, round_: int, rate: float, cpu: float, **extra: object) -> str:
    row = {
        "peer": peer,
        "round": round_,
        "metric": "msgs_per_s",
        "msgs_per_s": rate,
        "server_cpu_us_per_unit": cpu,
        "target": "ws-echo-100-node",
        "goal": "ratio>=0.7",
        **extra,
    }
    return json.dumps(row) + "\n"


def test_report_gives_the_median_of_same_round_ratios(tmp_path: Path) -> None:
    results = tmp_path / "ws-echo-100-node.jsonl"
    results.write_text(
        _line("sockjs-node", 1, 100.0, 10.0)
        + _line("cyclone-sockjs", 1, 50.0, 20.0)
        + _line("sockjs-node", 2, 200.0, 10.0)
        + _line("cyclone-sockjs", 2, 160.0, 12.0)
        + _line("sockjs-node", 3, 100.0, 10.0)
        + _line("cyclone-sockjs", 3, 90.0, 11.0)
        + _line("cyclone-sockjs", 4, 999.0, 1.0, error="no output")
    )
    out = subprocess.run(
        [sys.executable, str(BENCH / "report.py"), str(results)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (row,) = [line for line in out.splitlines() if line.startswith("| ws-echo-100-node")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    # Ratios 0.5, 0.8, 0.9 -> median 0.8; CPU ratios 2.0, 1.2, 1.1 -> 1.2.
    assert cells[4] == "0.80"
    assert cells[5] == "1.20"
    assert cells[7] == "met"
    assert cells[8] == "3"


def test_micro_benchmark_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "micro.py"), "--number", "20", "--repeat", "1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Session.send -> websocket frame" in out
    assert out.count(" ns") >= 10


def test_plot_is_drawn(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # a bench tool, not a test dependency
    lines = tmp_path / "sweep.jsonl"
    rows = [
        {"peer": peer, "round": r, "conns": c, "msgs_per_s": 10.0 * c, "server_cpu_us_per_unit": 9}
        for peer in ("cyclone-sockjs", "sockjs-node")
        for r in (1, 2)
        for c in (10, 100)
    ]
    lines.write_text("".join(json.dumps(row) + "\n" for row in rows) + '{"error": "x"}\n')
    png = tmp_path / "plot.png"
    subprocess.run(
        [sys.executable, str(BENCH / "plot.py"), "--png", str(png), str(lines)],
        capture_output=True,
        check=True,
    )
    assert png.read_bytes().startswith(b"\x89PNG")
