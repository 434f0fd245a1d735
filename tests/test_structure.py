"""Import structure: no import circle anywhere in `nstcli`, and the engine imports no
front end.

The graph covers every module of `nstcli` and every import in it, function-level ones
included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nstcli"


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets += [base] + [f"{base}.{alias.name}" for alias in node.names]
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    assert "nstcli.training.export" in graph["nstcli.training.upscaler"]  # inside main()


def test_no_import_circle_anywhere() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("layer", ["nstcli.cli", "nstcli.bot", "nstcli.render", "nstcli.training"])
def test_engine_imports_no_front_end_or_training(layer: str) -> None:
    """The engine is what every front end stands on; it imports none of them, nor training
    code (patch sampling, degradation, trainers)."""
    bad = {
        module: sorted(t for t in targets if t == layer or t.startswith(layer + "."))
        for module, targets in import_graph().items()
        if module.startswith("nstcli.engine")
    }
    assert {module: targets for module, targets in bad.items() if targets} == {}
