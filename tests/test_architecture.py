"""The shape of the package: layers, imports pointing down, no cycle, small modules.

docs/architecture.rst explains the layers. Every import counts here: module
level, inside functions and under ``if TYPE_CHECKING:``. A new module must
be given a layer below, so that its place is a decision, not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sockjs"

#: The adapter's layers, lowest first. A module may import modules of its
#: own layer or of lower ones (and the core, which is below them all).
LAYERS: list[tuple[str, set[str]]] = [
    (
        "L0 interfaces, log events, fences",
        {
            "_clock",
            "_types",
            "_telemetry",
            "logevents",
            "conninfo",
            "_twisted",
            "_websockets",
            "proto",
            "stats",
        },
    ),
    ("L1 the callback guard, WebSocket framing", {"_guard", "wsstream"}),
    ("L2 session glue", {"_session", "_rawsession"}),
    ("L3 channels, pub/sub, the service, connections", {"multiplex", "pubsub", "_service", "conn"}),
    (
        "L4 HTTP connection and handlers",
        {
            "httpconn",
            "handlers",
            "handlers.base",
            "handlers.static",
            "handlers.receivers",
            "handlers.senders",
            "handlers.streams",
            "handlers.upgrade",
            "handlers.websocket",
        },
    ),
    ("L5 router, shutdown", {"_shutdown", "router"}),
    ("the public package", {""}),
    (
        "paths kept for the add-ons",
        {"testing", "metrics", "redisbroker", "streamsbroker"},
    ),
]
#: sockjs.addons: optional parts built on the adapter, above all of it.
ADDON_LAYERS: list[tuple[str, set[str]]] = [
    ("A0 add-on plumbing", {"", "_memclient", "_redislink"}),
    ("A1 add-ons", {"_testclient", "redisbroker", "streamsbroker", "metrics"}),
    ("A2 the testing harness", {"testing"}),
]
#: Lines the adapter (sockjs/cyclone) may have in all, and one module of either part.
MAX_ADAPTER_LINES = 5000
MAX_MODULE_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The module of ``sockjs`` an imported name lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Every ``sockjs`` module ``module`` imports, wherever the import statement is."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{alias.name}" for alias in node.names]
            names = [name if name in MODULES else base for name in names]
        else:
            continue
        for name in names:
            target = _target(name) if name.startswith("sockjs") else None
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def _layer(module: str) -> int:
    """-1 for the core, then the index in LAYERS, then in ADDON_LAYERS (above the adapter).

    The shims that keep the add-ons' old ``sockjs.cyclone.*`` paths sit above
    the add-ons they re-export.
    """
    if module == "sockjs.protocol" or module.startswith("sockjs.protocol."):
        return -1
    if module == "sockjs.addons" or module.startswith("sockjs.addons."):
        short = module.removeprefix("sockjs.addons").removeprefix(".")
        for index, (_, members) in enumerate(ADDON_LAYERS):
            if short in members:
                return len(LAYERS) - 1 + index
        raise AssertionError(f"{module} has no layer: add it to ADDON_LAYERS in {__file__}")
    short = module.removeprefix("sockjs.cyclone").removeprefix(".")
    for index, (_, members) in enumerate(LAYERS):
        if short in members:
            return index if index < len(LAYERS) - 1 else len(LAYERS) + len(ADDON_LAYERS)
    raise AssertionError(f"{module} has no layer: add it to LAYERS in {__file__}")


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        if module != "sockjs":
            _layer(module)


def test_imports_point_down() -> None:
    upward = [
        f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
        for module, targets in GRAPH.items()
        if module != "sockjs"
        for target in targets
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_the_core_imports_nothing_of_the_adapter() -> None:
    for module, targets in GRAPH.items():
        if _layer(module) == -1:
            assert all(_layer(target) == -1 for target in targets), module


def test_no_import_cycle() -> None:
    """Every import counts: module level, function-local and TYPE_CHECKING ones."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_modules_are_small() -> None:
    large = {str(path.relative_to(ROOT)): _lines(path) for path in MODULES.values()}
    assert {name: n for name, n in large.items() if n > MAX_MODULE_LINES} == {}


def test_the_adapter_stays_small() -> None:
    adapter = sum(_lines(path) for path in (PACKAGE / "cyclone").rglob("*.py"))
    assert adapter <= MAX_ADAPTER_LINES
