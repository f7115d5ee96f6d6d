"""scripts/constraints.py: pyproject.toml's lower bounds, pinned for the oldest lane."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "constraints.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("constraints", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


constraints = _load()


def _pins(dependencies: list[str], **extras: list[str]) -> list[str]:
    project: dict[str, Any] = {"dependencies": dependencies, "optional-dependencies": extras}
    pins: list[str] = constraints.lower_bound_pins(project)
    return pins


def test_every_lower_bound_becomes_a_pin() -> None:
    assert _pins(["Twisted>=22.1", "zope.interface >= 4.7.2"], redis=["txredisapi>=1.5"]) == [
        "twisted==22.1",
        "txredisapi==1.5",
        "zope-interface==4.7.2",
    ]


def test_upper_bounds_extras_and_markers() -> None:
    assert _pins(["websockets>=15,<18", "twisted[tls]>=22.1; python_version < '4'"]) == [
        "twisted==22.1; python_version < '4'",
        "websockets==15",
    ]


@pytest.mark.parametrize("requirement", ["twisted", "twisted<25", "twisted==22.1", "twisted>22"])
def test_a_requirement_without_a_lower_bound_is_refused(requirement: str) -> None:
    with pytest.raises(ValueError, match="lower bound"):
        _pins([requirement])


def test_two_lower_bounds_for_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two different"):
        _pins(["twisted>=22.1"], extra=["Twisted>=23.10"])


def test_the_project_pins_every_dependency_and_extra() -> None:
    """Run as bootstrap.sh does: one pin per requirement of pyproject.toml."""
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], check=True, capture_output=True, text=True
    ).stdout
    pins = [line for line in out.splitlines() if not line.startswith("#")]
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    requirements = list(project["dependencies"])
    for group in project["optional-dependencies"].values():
        requirements.extend(group)
    # One pin per distribution: twisted and twisted[tls] share one.
    assert sorted(_name(pin) for pin in pins) == sorted({_name(req) for req in requirements})
    assert all("==" in pin for pin in pins)


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement (PEP 503)."""
    name = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_writes_the_file_it_is_given(tmp_path: Path) -> None:
    target = tmp_path / "constraints.txt"
    subprocess.run([sys.executable, str(SCRIPT), str(target)], check=True)
    assert "twisted==" in target.read_text(encoding="utf-8")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("page", ["README.rst", "docs/quickstart.rst"])
def test_the_versions_table_gives_the_lower_bounds(page: str) -> None:
    """The "Supported versions" table's "Oldest" column is pyproject.toml's bounds."""
    text = (ROOT / page).read_text(encoding="utf-8")
    lines = text.split("Supported versions\n", 1)[1].splitlines()
    borders = [i for i, line in enumerate(lines) if line.startswith("===")][:3]
    assert len(borders) == 3, f"{page}: no simple table under 'Supported versions'"
    rows = [line.split() for line in lines[borders[1] + 1 : borders[2]]]
    oldest = {_normal(row[0]): row[1] for row in rows}
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    for pin in constraints.lower_bound_pins(project):
        name, version = pin.split(";")[0].split("==")
        assert oldest.get(name) == version, f"{page}: {name} should be {version}"
    assert oldest["python"] == project["requires-python"].removeprefix(">=")
