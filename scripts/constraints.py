#!/usr/bin/env python3
"""Write pip constraints pinning pyproject.toml's dependencies to their lower bounds.

    python scripts/constraints.py [OUT]

Every runtime dependency and every extra's dependency of ``[project]`` must
have a lower bound (``>=X``); it becomes ``==X``.  The result is what the
oldest test lane installs (``scripts/bootstrap.sh oldest``), so the range
pyproject.toml declares is the range the tests run.  A requirement without a
``>=`` bound is an error: its oldest version would be untested.

Only the standard library is used: bootstrap.sh runs this before any package
is installed.  Writes to OUT, or to standard output without it.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

# name, optional [extras], then the specifiers up to an optional "; marker".
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;]*)(?P<marker>;.*)?$"
)
_LOWER = re.compile(r"^>=\s*(?P<version>[0-9][0-9A-Za-z.+!-]*)$")


def lower_bound_pins(project: dict[str, Any]) -> list[str]:
    """``name==X`` for every requirement ``name>=X`` of ``project``, sorted, once each."""
    requirements: list[str] = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        requirements.extend(group)
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise ValueError(f"cannot parse requirement {requirement!r}")
        lower = [
            found.group("version")
            for spec in match.group("spec").split(",")
            if (found := _LOWER.match(spec.strip()))
        ]
        if len(lower) != 1:
            raise ValueError(f"{requirement!r}: needs exactly one '>=' lower bound")
        name = re.sub(r"[-_.]+", "-", match.group("name")).lower()
        marker = match.group("marker") or ""
        pin = f"{name}=={lower[0]}{marker}"
        if pins.setdefault(name, pin) != pin:
            raise ValueError(f"{name}: two different lower bounds ({pins[name]}, {pin})")
    return sorted(pins.values())


def main(argv: list[str]) -> int:
    with PYPROJECT.open("rb") as f:
        project = tomllib.load(f)["project"]
    try:
        pins = lower_bound_pins(project)
    except ValueError as error:
        print(f"{PYPROJECT.name}: {error}", file=sys.stderr)
        return 1
    text = (
        "# The lower bounds of pyproject.toml, pinned (written by scripts/constraints.py).\n"
        + "".join(pin + "\n" for pin in pins)
    )
    if len(argv) > 1:
        Path(argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
