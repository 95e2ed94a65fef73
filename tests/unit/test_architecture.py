"""The source tree's shape: no import cycle, a runner that knows no domain, modules a reader can
hold in their head.

Every import counts: module level, inside functions and under ``TYPE_CHECKING`` (a cycle hidden in
a function is still a cycle for the reader and for whoever moves that import up).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = "standard_coder"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted((SRC / PKG).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports anywhere in its source."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one.
            targets = [
                f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module
                for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # ``import a.b.c`` of an attribute path
                target = target.rpartition(".")[0]
            if target.startswith(PKG) and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_sees_function_level_and_type_checking_imports() -> None:
    # sch.py imports its stage modules at module level; the stages import the layout inside run.
    assert "standard_coder.pipelines.sch_train" in GRAPH["standard_coder.pipelines.sch"]
    assert "standard_coder.pipelines.sch_layout" in GRAPH["standard_coder.pipelines.sch_train"]
    # a TYPE_CHECKING-only import
    assert "standard_coder.runner.context" in GRAPH["standard_coder.runner.stage"]


def test_no_import_cycle_between_modules() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_runner_imports_only_runner_and_third_party() -> None:
    bad = []
    for name, deps in GRAPH.items():
        if not name.startswith(f"{PKG}.runner"):
            continue
        for dep in deps:
            # the top package holds only ``__version__`` and imports nothing
            if dep == PKG or dep.startswith(f"{PKG}.runner"):
                continue
            bad.append(f"{name} -> {dep}")
    assert not bad, "runner/ imports outside runner/: " + ", ".join(sorted(bad))


@pytest.mark.parametrize("domain", ["sch", "forecasting", "codeedit"])
def test_domain_packages_know_nothing_of_config_cli_or_pipelines(domain: str) -> None:
    bad = [
        f"{name} -> {dep}"
        for name, deps in GRAPH.items()
        if name.startswith(f"{PKG}.{domain}")
        for dep in deps
        if dep.startswith((f"{PKG}.config", f"{PKG}.cli", f"{PKG}.pipelines"))
    ]
    assert not bad, ", ".join(sorted(bad))


def test_no_source_module_exceeds_the_line_limit() -> None:
    lengths = {
        path.relative_to(SRC).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in MODULES.values()
    }
    over = {p: n for p, n in lengths.items() if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines: {over}"
