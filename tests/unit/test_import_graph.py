"""Imports point one way: no module imports, directly or indirectly, a module that imports it back.

The graph is read from the source (every import statement, `TYPE_CHECKING` ones included), so a
cycle is caught even when it would happen to work at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("runtime", "handlers", "client")


def module_paths() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        found.update(target for target in targets if target in modules and target != name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = module_paths()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_runtime_does_not_import_the_emulator_or_the_handlers(graph):
    for name, targets in graph.items():
        if name.startswith("runtime.") and not name.startswith("runtime.emulator"):
            assert not {t for t in targets if t.startswith(("runtime.emulator", "handlers", "client"))}, name


def test_the_emulator_shares_only_the_wire_module_with_the_runtime(graph):
    for name, targets in graph.items():
        if name.startswith("runtime.emulator"):
            shared = {t for t in targets if t.startswith("runtime.") and not t.startswith("runtime.emulator")}
            assert shared <= {"runtime.wire", "runtime.wire.http11", "runtime.wire.decoders"}, (name, shared)


def test_the_checker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
