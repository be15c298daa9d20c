"""The tree reads as the design: imports point one way between the rooms, and no module imports itself round."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("store", "access", "etl", "layers", "dashboard", "minqing")
# What each room may import of the others (the composition root, minqing/, may import any).
ALLOWED: dict[str, set[str]] = {
    "store": set(),
    "access": {"store"},
    "etl": {"store"},
    "layers": {"store"},
    "dashboard": {"store", "access", "layers"},
    "minqing": {"store", "access", "etl", "layers", "dashboard"},
}


def modules() -> dict[str, Path]:
    out = {}
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every project module imported anywhere in the file (top level and inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


GRAPH = {name: imports_of(path, set(modules())) - {name} for name, path in modules().items()}


@pytest.mark.parametrize("room", ROOMS)
def test_imports_point_one_way(room: str) -> None:
    wrong = sorted(f"{name} imports {target}" for name, targets in GRAPH.items() if name.split(".")[0] == room
                   for target in targets if target.split(".")[0] not in ALLOWED[room] | {room})
    assert wrong == []


def test_no_import_cycles() -> None:
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(GRAPH.get(node, ())):
            if target.endswith("__init__") or target in ROOMS:
                continue  # a package's own __init__ holds only its docstring
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_no_shims_left_in_etl() -> None:
    moved = ("schema", "publish", "rollups", "errors", "principal", "accounts", "audit", "scope")
    assert [m for m in moved if (ROOT / "etl" / f"{m}.py").exists()] == []
    assert not (ROOT / "layers" / "timewindow.py").exists()
