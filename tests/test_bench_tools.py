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


def _report_cells(results: Path, target: str) -> list[str]:
    """The cells of ``target``'s row in bench/report.py's table of ``results``."""
    out = subprocess.run(
        [sys.executable, str(BENCH / "report.py"), str(results)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (row,) = [line for line in out.splitlines() if line.startswith(f"| {target}")]
    return [cell.strip() for cell in row.strip("|").split("|")]


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
    cells = _report_cells(results, "ws-echo-100-node")
    # Ratios 0.5, 0.8, 0.9 -> median 0.8; CPU ratios 2.0, 1.2, 1.1 -> 1.2.
    assert cells[4] == "0.80"
    assert cells[5] == "1.20"
    assert cells[7] == "met"
    assert cells[8] == "3"


def test_report_checks_a_cpu_goal_on_the_cpu_ratio(tmp_path: Path) -> None:
    results = tmp_path / "ws-echo-100-node.jsonl"
    goal = {"goal": "cpu<=1.0"}
    results.write_text(
        _line("sockjs-node", 1, 100.0, 10.0, **goal)
        + _line("cyclone-sockjs", 1, 90.0, 9.0, **goal)  # slower, but less CPU per message
    )
    cells = _report_cells(results, "ws-echo-100-node")
    assert (cells[4], cells[5], cells[6], cells[7]) == ("0.90", "0.90", "cpu<=1.0", "met")


def _ab_line(side: str, round_: int, target: str, **row: object) -> str:
    peer = {"base": "cyclone-sockjs-baseline", "cur": "cyclone-sockjs"}[side]
    row = {"peer": peer, "round": round_, "target": target, "other_cpu_pct": 3.0, **row}
    if "msgs_per_s" in row:
        row.update(metric="msgs_per_s", higher_is_better=True)
    if "kb_per_session" in row:
        row.update(metric="kb_per_session", higher_is_better=False)
    return json.dumps(row) + "\n"


def _ab_report(tmp_path: Path, lines: str, *flags: str) -> tuple[int, dict[str, list[str]], str]:
    """bench/report_ab.py on these lines: exit status, the cells of each target's row, output."""
    results = tmp_path / "ab.jsonl"
    results.write_text(lines)
    proc = subprocess.run(
        [sys.executable, str(BENCH / "report_ab.py"), *flags, str(results)],
        capture_output=True,
        text=True,
    )
    rows = {}
    for line in proc.stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| target"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells
    return proc.returncode, rows, proc.stdout


def _echo_rounds(rates: list[tuple[float, float]], cpus: list[tuple[float, float]]) -> str:
    return "".join(
        _ab_line("base", r, "ws-echo", msgs_per_s=rb, server_cpu_us_per_unit=cb)
        + _ab_line("cur", r, "ws-echo", msgs_per_s=rc, server_cpu_us_per_unit=cc)
        for r, ((rb, rc), (cb, cc)) in enumerate(zip(rates, cpus, strict=True), start=1)
    )


def test_ab_report_takes_the_median_of_same_round_ratios(tmp_path: Path) -> None:
    lines = _echo_rounds(
        [(100.0, 96.0), (200.0, 180.0), (100.0, 97.0)],  # ratios 0.96, 0.90, 0.97
        [(10.0, 10.4), (10.0, 11.0), (20.0, 20.4)],  # ratios 1.04, 1.10, 1.02
    )
    # A run that failed, and a round where only one side ran: neither is paired.
    lines += _ab_line("cur", 4, "ws-echo", msgs_per_s=1.0, error="no output")
    lines += _ab_line("base", 4, "ws-echo", msgs_per_s=5.0, server_cpu_us_per_unit=1.0)
    status, rows, _ = _ab_report(tmp_path, lines)
    cells = rows["ws-echo"]
    assert cells[1:3] == ["msgs_per_s", "higher"]
    assert cells[5] == "0.960"  # not 180/200 or the ratio of the medians
    assert cells[6] == "ok"
    assert cells[7] == "msg"
    assert cells[10] == "1.040"
    assert cells[11] == "ok"
    assert cells[12] == "3 (1 runs failed)"
    assert status == 0


def test_ab_report_tolerance_flag(tmp_path: Path) -> None:
    lines = _echo_rounds([(100.0, 96.0)], [(10.0, 10.4)])  # 4 % fewer msgs, 4 % more CPU
    status, rows, out = _ab_report(tmp_path, lines, "--tolerance", "3")
    assert rows["ws-echo"][6] == "REGRESSION"
    assert rows["ws-echo"][11] == "REGRESSION"
    assert "REGRESSION (more than 3 % worse): ws-echo" in out
    assert status == 1


def test_ab_report_knows_which_way_is_better(tmp_path: Path) -> None:
    lines = (
        # Throughput up 10 % and CPU per message down: better, not a regression.
        _echo_rounds([(100.0, 110.0)], [(10.0, 8.0)])
        # Memory per idle session: lower is better, so 10 % more is a regression...
        + _ab_line("base", 1, "idle-ws", kb_per_session=5.0, server_cpu_us_per_session_open=100.0)
        + _ab_line("cur", 1, "idle-ws", kb_per_session=5.5, server_cpu_us_per_session_open=90.0)
        # ...and 20 % less is fine.
        + _ab_line("base", 1, "idle-xhr", kb_per_session=5.0, server_cpu_us_per_session_open=100.0)
        + _ab_line("cur", 1, "idle-xhr", kb_per_session=4.0, server_cpu_us_per_session_open=106.0)
    )
    status, rows, _ = _ab_report(tmp_path, lines)
    assert [rows["ws-echo"][i] for i in (5, 6, 10, 11)] == ["1.100", "ok", "0.800", "ok"]
    idle = rows["idle-ws"]
    assert [idle[i] for i in (1, 2, 5, 6, 7)] == [
        "kb_per_session",
        "lower",
        "1.100",
        "REGRESSION",
        "session open",
    ]
    assert [idle[i] for i in (10, 11)] == ["0.900", "ok"]
    assert [rows["idle-xhr"][i] for i in (5, 6, 10, 11)] == ["0.800", "ok", "1.060", "REGRESSION"]
    assert status == 1


def test_ab_report_exactly_the_tolerance_is_ok(tmp_path: Path) -> None:
    lines = _echo_rounds([(100.0, 95.0)], [(10.0, 10.5)])
    status, rows, out = _ab_report(tmp_path, lines)
    assert [rows["ws-echo"][i] for i in (6, 11)] == ["ok", "ok"]
    assert "ok: no target more than 5 % worse than the baseline" in out
    assert status == 0


def test_ab_report_a_target_without_numbers_fails(tmp_path: Path) -> None:
    lines = _echo_rounds([(100.0, 100.0)], [(10.0, 10.0)]) + json.dumps(
        {"target": "broadcast", "error": "compare.sh gave no result line"}
    )
    status, rows, out = _ab_report(tmp_path, lines)
    assert rows["ws-echo"][6] == "ok"
    assert rows["broadcast"][5:7] == ["n/a", "n/a"]
    assert "no complete round, nothing measured: broadcast" in out
    assert status == 1


def test_run_sh_lists_and_checks_targets_before_starting_anything() -> None:
    listed = subprocess.run(
        [str(BENCH / "run.sh"), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(listed) == 11
    assert "idle-ws" in listed
    wrong = subprocess.run(
        [str(BENCH / "run.sh"), "--baseline", "HEAD", "no-such-target"],
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2
    assert "no target no-such-target" in wrong.stderr


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
