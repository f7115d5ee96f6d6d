"""Every item of the PROTOCOL.md section 11 conformance checklist has a test.

Test functions declare what they cover in their docstring, e.g.
``Checklist 25: ...``, ``Checklist 41, 42: ...`` or ``Checklist 64-66: ...``
(en dash accepted too).  This module reads the docstrings with :mod:`ast`
(nothing is imported or executed) and checks the required items are all named.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS_ROOT = Path(__file__).resolve().parent

# Every item of the PROTOCOL.md checklist must be named by some test.
REQUIRED: frozenset[int] = frozenset(range(1, 151))

_RANGE = r"\d+(?:\s*[-\u2013\u2014]\s*\d+)?"
_MENTION = re.compile(rf"\bChecklist\s+({_RANGE}(?:\s*(?:,|\band\b)\s*{_RANGE})*)")


def parse_mentions(text: str) -> set[int]:
    """Return the item numbers named by ``Checklist ...`` mentions in ``text``."""
    numbers: set[int] = set()
    for match in _MENTION.finditer(text):
        for part in re.split(r"\s*(?:,|\band\b)\s*", match.group(1)):
            bounds = [int(n) for n in re.split(r"\s*[-\u2013\u2014]\s*", part)]
            low, high = bounds[0], bounds[-1]
            if high < low:
                raise ValueError(f"backwards checklist range {part!r}")
            numbers.update(range(low, high + 1))
    return numbers


def docstrings_of_tests(path: Path) -> list[tuple[str, str]]:
    """(name, docstring) of every ``test*`` function or method defined in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            doc = ast.get_docstring(node)
            if doc:
                found.append((node.name, doc))
    return found


def covered_items(root: Path = TESTS_ROOT) -> dict[int, list[str]]:
    """Map each checklist item to the tests (``file::function``) that cover it."""
    coverage: dict[int, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if ".venv" in path.parts or "__pycache__" in path.parts:
            continue
        for name, doc in docstrings_of_tests(path):
            for number in parse_mentions(doc):
                coverage.setdefault(number, []).append(f"{path.relative_to(root)}::{name}")
    return coverage


def test_parse_mentions_forms() -> None:
    """The docstring parser understands single items, lists and ranges."""
    assert parse_mentions("Checklist 25: iframe 304") == {25}
    assert parse_mentions("Checklist 41, 42: preflight") == {41, 42}
    assert parse_mentions("Checklist 64\u201366 and 70: xhr") == {64, 65, 66, 70}
    assert parse_mentions("Checklist 1-3, 9: greeting") == {1, 2, 3, 9}
    assert parse_mentions("Checklist 12: POST -> 405 on HTTP/1.1") == {12}
    assert parse_mentions("no mention of the list here, 12") == set()


def test_every_required_item_is_covered() -> None:
    """Each required checklist item is named by at least one test docstring."""
    coverage = covered_items()
    missing = sorted(REQUIRED - coverage.keys())
    assert not missing, f"checklist items without a test: {missing}"
