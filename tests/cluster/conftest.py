"""Fixtures for the cluster tests: real redis-server, HAProxy and test servers.

The cluster is the one ``examples/cluster/run.py`` starts (its
:class:`Cluster` class, with ``examples/test_server.py --redis`` as the app
and HAProxy configured from ``examples/cluster/haproxy.cfg``), everything on
127.0.0.1 and free ports, stopped by PID at teardown. The tests skip only
when ``redis-server`` or ``haproxy`` is not installed (``make test``
installs both through scripts/bootstrap.sh).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SCRIPT = REPO_ROOT / "examples" / "cluster" / "run.py"
# Output fragments that mean a process hit an exception it did not handle.
BAD_OUTPUT = ("Unhandled", "Traceback")


def _load_run_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cluster_run", RUN_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its classes then name a module that exists
    spec.loader.exec_module(module)
    return module


run = _load_run_module()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``cluster`` (``pytest -m cluster``)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.cluster)


def _require_binaries() -> None:
    for binary in ("redis-server", "haproxy"):
        if shutil.which(binary) is None and shutil.which(binary, path="/usr/sbin:/usr/bin") is None:
            pytest.skip(
                f"{binary} is not installed (scripts/bootstrap.sh test installs the Debian "
                f"packages redis-server and haproxy)"
            )


def check_output(cluster: Any) -> None:
    """Fail if any app process printed an unhandled exception."""
    for server in cluster.servers:
        text = server.output()
        bad = [fragment for fragment in BAD_OUTPUT if fragment in text]
        if bad:
            pytest.fail(f"{server.name} printed {bad}:\n{text}", pytrace=False)


StartCluster = Callable[..., Any]


@pytest.fixture
def cluster_run() -> ModuleType:
    """``examples/cluster/run.py`` as a module."""
    return run


@pytest.fixture
def start_cluster() -> Iterator[StartCluster]:
    """Start a two-process cluster of ``app`` on demand; stop it (by PID) at teardown."""
    _require_binaries()
    started: list[Any] = []

    def start(app: str = "test-server", **options: Any) -> Any:
        """``options``: the :class:`Cluster`'s (``broker``, ``redis_args``...)."""
        app_args = ["--test-endpoints"] if app == "test-server" else []
        cluster = run.Cluster(2, base_port=0, port=0, app=app, app_args=app_args, **options)
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.stop()
    try:
        for cluster in started:
            check_output(cluster)
    finally:
        for cluster in started:
            cluster.cleanup()


@pytest.fixture
def redis_only() -> Iterator[Callable[..., Any]]:
    """Start just redis-server (a :class:`Cluster` without apps) on demand; stop it at teardown."""
    _require_binaries()
    started: list[Any] = []

    def start(**options: Any) -> Any:
        cluster = run.Cluster(1, base_port=0, port=0, app="test-server", **options)
        started.append(cluster)
        cluster.start_redis()
        return cluster

    yield start
    for cluster in started:
        cluster.stop()
        cluster.cleanup()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One cluster shared by the tests of a module that do not break it."""
    _require_binaries()
    shared = run.Cluster(2, base_port=0, port=0, app="test-server", app_args=["--test-endpoints"])
    shared.start()
    try:
        yield shared
    finally:
        shared.stop()
        try:
            check_output(shared)
        finally:
            shared.cleanup()
