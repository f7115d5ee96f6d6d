"""``mypy --strict`` on tests/typed_usage.py, the public API used as an application would.

The library ships ``py.typed``; these tests check that a type checker
actually reads its annotations (a wrong use is reported), that typical
application code passes ``--strict`` without a single ``type: ignore``, and
that the same code runs.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
USAGE = REPO_ROOT / "tests" / "typed_usage.py"
MYPY_TIMEOUT = 600


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    # From the repository root, so that pyproject.toml's [tool.mypy] applies
    # (cyclone has no type information) and ``sockjs`` resolves to this tree.
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=MYPY_TIMEOUT,
        check=False,
    )


def test_markers_are_shipped() -> None:
    assert (REPO_ROOT / "sockjs" / "cyclone" / "py.typed").is_file()
    assert (REPO_ROOT / "sockjs" / "protocol" / "py.typed").is_file()
    setup = (REPO_ROOT / "setup.py").read_text(encoding="utf-8")
    assert '"sockjs.cyclone": ["py.typed"]' in setup
    assert '"sockjs.protocol": ["py.typed"]' in setup


def test_usage_file_uses_no_escape_hatch() -> None:
    text = USAGE.read_text(encoding="utf-8")
    assert "# type: ignore" not in text
    assert not re.search(r"\bcast\(", text)


@pytest.mark.slow
@pytest.mark.timeout(MYPY_TIMEOUT + 60)
def test_mypy_strict_passes_on_typical_application_code() -> None:
    result = _mypy(str(USAGE.relative_to(REPO_ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.timeout(MYPY_TIMEOUT + 60)
def test_mypy_reports_a_wrong_use(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_usage.py"
    wrong.write_text(
        "from sockjs.cyclone import SockJSConnection, SockJSRouter\n"
        "router = SockJSRouter(SockJSConnection, '/x')\n"
        "router.stats.dump()['sessions_active'].upper()\n"
        "SockJSConnection.sendMessage()\n",
        encoding="utf-8",
    )
    result = _mypy(str(wrong))
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Item "float" of "float | int" has no attribute "upper"' in result.stdout
    assert "Missing positional argument" in result.stdout


def test_usage_file_runs() -> None:
    spec = importlib.util.spec_from_file_location("typed_usage", USAGE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.run()


# -- deprecation-free -------------------------------------------------------------------

_LEGACY = re.compile(r"twisted\.python(\.log\b| import log\b)|twisted\.test\.proto_helpers")


def _library_files() -> list[Path]:
    return sorted((REPO_ROOT / "sockjs").rglob("*.py"))


def _library_modules() -> list[str]:
    names = []
    for path in _library_files():
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_library_logs_through_twisted_logger_only() -> None:
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in _library_files()
        if _LEGACY.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_every_module_imports_without_a_warning() -> None:
    # A fresh interpreter with every warning an error (cyclone's own
    # DeprecationWarnings excepted, as in pyproject.toml): importing the
    # library must not touch a deprecated Twisted or Python API.
    code = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as error:\n"
        "        # Optional extras (txredisapi...) may be missing; our own modules may not.\n"
        "        if (error.name or '').startswith('sockjs'):\n"
        "            raise\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-W",
            "ignore::DeprecationWarning:cyclone",
            "-c",
            code,
            *_library_modules(),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
