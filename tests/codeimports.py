"""Which modules of the package a piece of source imports at run time: the code-version guard
tests of the built-in pipelines (``test_sch_params.py``, ``test_builtin_code_versions.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

import standard_coder

PKG = Path(standard_coder.__file__).parent


def runtime_imports(nodes: list[ast.AST]) -> set[str]:
    """Package modules imported in ``nodes``, at any depth (inside functions too) but outside
    ``if TYPE_CHECKING:`` blocks, as paths relative to the package (``sch/stats.py``)."""
    out: set[str] = set()
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for name in names:
            if not name.startswith("standard_coder."):
                continue
            rel = Path(*name.split(".")[1:]).with_suffix(".py")
            if (PKG / rel).is_file():
                out.add(rel.as_posix())
        todo.extend(ast.iter_child_nodes(node))
    return out


def file_imports(rel: str) -> set[str]:
    """:func:`runtime_imports` of the package's file ``rel``."""
    return runtime_imports([ast.parse((PKG / rel).read_text())])
