"""The vision, audio and code-edit stages' code versions cover the domain code they run.

Their stage bodies share one module per pipeline (``vision_stages.py``, ...) and import their
domain modules inside the function, so the check reads each stage's own function (and the
module's helpers it calls), then follows the domain modules it reaches (``sch`` stages:
``test_sch_params.py``). A module missing from a code version leaves the stage skipped with
outputs the new code would not make (session 51: ``source_separation`` ran ``audio/windows.py``
without it in its code version)."""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

import pytest

from codeimports import PKG, file_imports, runtime_imports

DOMAINS = ("vision/", "audio/", "codeedit/", "sch/", "forecasting/", "pipelines/")
NOT_CODE = {"pipelines/wiring.py"}
"""The helpers every stage reads its params through (``section_from_params``), and
layouts (``pipelines/*_layout.py``): paths, not results (a moved output reruns the stage)."""


def _stage_imports(run: object) -> set[str]:
    """What the stage function, the module-level code of its module and the module's functions
    it calls (transitively) import at run time (a ``functools.partial``: its function's)."""
    while isinstance(run, functools.partial):
        run = run.func
    tree = ast.parse(Path(inspect.getsourcefile(run) or "").read_text())  # type: ignore[arg-type]
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    top = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
    called, todo = set(), [getattr(run, "__name__", "")]
    while todo:
        name = todo.pop()
        if name in called or name not in functions:
            continue
        called.add(name)
        todo.extend(n.id for n in ast.walk(functions[name]) if isinstance(n, ast.Name))
    return runtime_imports([*top, *(functions[n] for n in called)])


def _reached(start: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        rel = todo.pop()
        if rel in seen or not rel.startswith(DOMAINS):
            continue
        seen.add(rel)
        if rel not in NOT_CODE and not rel.endswith("_layout.py"):
            todo.extend(file_imports(rel))
    return seen


@pytest.mark.parametrize("pipeline", ["vision", "audio", "codeedit"])
def test_each_stage_code_version_covers_the_modules_its_function_runs(
    tmp_path: Path, pipeline: str
) -> None:
    from standard_coder.pipelines import BUILTINS

    config = tmp_path / "pipeline_config.toml"
    config.write_text(f'[pipeline]\nname = "{pipeline}"\n')
    module, builder = BUILTINS[pipeline].split(":")
    pipe = getattr(__import__(module, fromlist=[builder]), builder)(config, [])
    for stage in pipe.stages:
        code = {Path(p).resolve().relative_to(PKG).as_posix() for p in stage.code_files or ()}
        missing = {
            rel
            for rel in _reached(_stage_imports(stage.run))
            if rel not in code and rel not in NOT_CODE and not rel.endswith("_layout.py")
        }
        assert not missing, (pipeline, stage.name, sorted(missing))
