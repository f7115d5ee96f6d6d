"""Socket-level fuzzing against ``examples/test_server.py``.

The server helpers live in ``tests/integration`` (a package); make ``tests/``
importable whatever pytest's import mode and whichever directory is
collected first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here talks to a real server over sockets and takes a while."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)
