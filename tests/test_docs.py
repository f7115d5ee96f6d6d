"""Keep the documentation true to the code.

The Sphinx build itself (warnings as errors, every reference resolved) is a
step of ``make test``; these tests check what a build cannot: that the
settings table lists exactly the settings and defaults of
:class:`~sockjs.protocol.options.Options`, that the API page covers every
public name, and that the example code shown in the docs runs.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import re
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import sockjs.cyclone
from sockjs.protocol.options import Options

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "docs"
EXAMPLES = DOCS / "examples"

# One row of a list-table: "* - ``name``", then "- <default cell>" (maybe on
# several lines), then "- <meaning>".
_ROW = re.compile(
    r"^ *\* - ``(?P<name>\w+)``\n +- (?P<default>.+?)\n +- ", re.MULTILINE | re.DOTALL
)


def _settings_rows() -> dict[str, str]:
    text = (DOCS / "settings.rst").read_text(encoding="utf-8")
    table = text.split(".. list-table::", 1)[1].split("\nReading the settings", 1)[0]
    rows = {match["name"]: match["default"] for match in _ROW.finditer(table)}
    assert rows, "no rows found in the settings table"
    return rows


def _documented_default(cell: str) -> Any:
    literal = re.fullmatch(r"``(.+?)``", cell.strip())
    if literal is None:
        return None  # prose, with the value quoted inside (checked by the caller)
    return ast.literal_eval(literal.group(1))


def test_settings_table_lists_every_setting() -> None:
    fields = [field.name for field in dataclasses.fields(Options)]
    assert list(_settings_rows()) == fields


@pytest.mark.parametrize("field", dataclasses.fields(Options), ids=lambda field: field.name)
def test_settings_table_gives_the_defaults(field: dataclasses.Field[Any]) -> None:
    rows = _settings_rows()
    actual = getattr(Options(), field.name)
    cell = rows[field.name]
    documented = _documented_default(cell)
    if documented is None:
        assert f"``{actual}``" in cell, f"{field.name}: default {actual!r} not in {cell!r}"
        return
    if isinstance(actual, (frozenset, tuple)):
        assert list(documented) == list(actual), (field.name, cell)
    else:
        assert documented == actual and type(documented) in (type(actual), int), (field.name, cell)


def test_api_page_covers_the_public_names() -> None:
    api = (DOCS / "api.rst").read_text(encoding="utf-8")
    for name in sockjs.cyclone.__all__:
        obj = getattr(sockjs.cyclone, name)
        # Documented under the package's name, or where it is defined.
        spellings = {f"sockjs.cyclone.{name}", f"{obj.__module__}.{name}"}
        assert any(f":: {spelling}\n" in api for spelling in spellings), name
    for module in ("proto", "pubsub", "testing", "stats"):
        assert f"sockjs.cyclone.{module}" in api, module


def test_docs_build_offline_without_blanket_filters() -> None:
    conf = runpy.run_path(str(DOCS / "conf.py"))
    assert not any("intersphinx" in extension for extension in conf["extensions"])
    # Warnings are silenced only one external name at a time (nitpick_ignore).
    assert "suppress_warnings" not in conf
    assert "nitpick_ignore_regex" not in conf
    assert all(kind == "py:class" for kind, _ in conf["nitpick_ignore"])


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def examples_on_path() -> Iterator[None]:
    """docs/examples/ importable (the test module imports ``room``), then restored."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield
    finally:
        sys.path.remove(str(EXAMPLES))
        sys.modules.pop("room", None)


def _example_tests() -> list[str]:
    tree = ast.parse((EXAMPLES / "test_room.py").read_text(encoding="utf-8"))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


@pytest.mark.parametrize("name", _example_tests())
def test_testing_page_example(name: str, examples_on_path: None) -> None:
    """The tests shown on docs/testing.rst pass."""
    module = _load(EXAMPLES / "test_room.py")
    test = getattr(module, name)
    assert not inspect.signature(test).parameters
    test()
