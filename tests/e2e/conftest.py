"""Fixtures for the end-to-end tests (real sockjs-client in Chromium and Node).

Processes: one ``examples/test_server.py`` for the whole session (stopped by
PID at the end), one in-process static file server for the cross-origin page,
and (in the modules) one Chromium and one Node process.  Everything listens
on 127.0.0.1 only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helper modules sit next to this file; make them importable whatever
# pytest's import mode is.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_support import (
    MATRIX,
    ServerProcess,
    StaticServer,
    client_problem,
    missing,
    prepare_static_dir,
    start_server,
)

_STARTED: list[float] = []  # when the first e2e fixture ran


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``e2e`` marker (also declared in pyproject.toml)."""
    config.addinivalue_line("markers", "e2e: a real browser / real sockjs-client end to end")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``e2e``."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the transports x origins matrix observed in this run."""
    if not MATRIX:
        return
    tr = terminalreporter
    tr.section("sockjs-client e2e matrix (transport x client environment)")
    # chromium same-origin, chromium cross-origin, node
    columns = sorted(
        {(env, origin) for env, _, origin in MATRIX}, key=lambda c: (c[0], c[1] != "same-origin")
    )
    transports = list(dict.fromkeys(t for _, t, _ in MATRIX))
    names = [f"{env} {origin}".strip() for env, origin in columns]
    rows = [
        [transport] + [MATRIX.get((env, transport, origin), "-") for env, origin in columns]
        for transport in transports
    ]
    widths = [max(len(r[i]) for r in [["", *names], *rows]) + 2 for i in range(len(names) + 1)]
    tr.write_line("".join(n.ljust(w) for n, w in zip(["", *names], widths, strict=True)))
    for row in rows:
        tr.write_line("".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    if _STARTED:
        tr.write_line(f"(e2e wall time: {time.monotonic() - _STARTED[0]:.1f} s)")


@pytest.fixture(scope="session")
def e2e_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scratch directory: static files, server log, screenshots."""
    _STARTED.append(time.monotonic())
    return tmp_path_factory.mktemp("sockjs-e2e")


@pytest.fixture(scope="session")
def static_dir(e2e_tmp: Path) -> Path:
    """The pages plus sockjs.min.js, served same-origin and cross-origin."""
    problem = client_problem()
    if problem:
        missing(problem)
    return prepare_static_dir(e2e_tmp / "static")


@pytest.fixture(scope="session")
def sockjs_server(static_dir: Path, e2e_tmp: Path) -> Iterator[ServerProcess]:
    """``examples/test_server.py --port 0 --static <static_dir>``, one per session."""
    try:
        server = start_server(static_dir, e2e_tmp / "test_server.log")
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()
    output = server.output()
    bad = [frag for frag in ("Traceback", "Unhandled") if frag in output]
    if bad:
        pytest.fail(
            f"test server output contains {bad} (log {server.log_path}):\n{output}", pytrace=False
        )


@pytest.fixture(scope="session")
def cross_origin_server(static_dir: Path) -> Iterator[StaticServer]:
    """The same pages from http://localhost:<other port> (another origin and site)."""
    server = StaticServer(static_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shots_dir(e2e_tmp: Path) -> Path:
    """Where failure screenshots and reports go."""
    path = e2e_tmp / "failures"
    path.mkdir(exist_ok=True)
    return path
