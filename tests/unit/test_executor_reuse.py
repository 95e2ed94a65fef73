"""``ctx.map`` details: a cluster executor is made once per run (one client for every map of
every stage) and closed at the run's end; the local process pool runs the item functions of a
pipeline loaded from a file (``[pipeline] entry = "file.py:build"``)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from standard_coder.runner.engine import run_pipeline
from standard_coder.runner.executor import InProcessExecutor, register_executor
from standard_coder.runner.front import load_pipeline
from standard_coder.runner.stage import Pipeline, Stage

MADE: list[str] = []
CLOSED: list[str] = []


class _Cluster(InProcessExecutor):
    """A registered backend (``cluster://...``) that records when it is made and closed."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        MADE.append(spec)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any],
            should_stop: Callable[[], bool]) -> Iterator[tuple[Any, Any]]:  # fmt: skip
        assert self.spec not in CLOSED, "map on a closed executor"
        yield from super().map(fn, items, should_stop)

    def close(self) -> None:
        CLOSED.append(self.spec)


def _double(x: int) -> int:
    return 2 * x


def _stage(name: str, out: Path) -> Stage:
    def run(ctx: Any) -> None:
        first = [r for _, r in ctx.map(_double, [1, 2, 3])]
        second = [r for _, r in ctx.map(_double, [4, 5])]
        out.write_text(json.dumps(first + second))

    return Stage(name=name, run=run, outputs=(out,))


def test_one_cluster_executor_per_run(tmp_path: Path) -> None:
    register_executor("cluster", _Cluster)
    MADE.clear()
    CLOSED.clear()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    pipe = Pipeline(name="p", stages=(_stage("a", a), _stage("b", b)), base_dir=tmp_path / "out",
                    executor="cluster://127.0.0.1:1")  # fmt: skip
    result = run_pipeline(pipe, install_signals=False)
    assert result.exit_code == 0, result.message
    assert json.loads(a.read_text()) == json.loads(b.read_text()) == [2, 4, 6, 8, 10]
    assert MADE == ["cluster://127.0.0.1:1"]  # four maps in two stages: one executor
    assert CLOSED == ["cluster://127.0.0.1:1"]  # closed once, when the run ended


PIPELINE_FILE = """
    from pathlib import Path
    from standard_coder.runner.stage import Pipeline, Stage

    HERE = Path(__file__).parent


    def square(x):
        import os
        return [x * x, os.getpid()]


    def run(ctx):
        got = dict(ctx.map(square, list(range(8))))
        (HERE / "out.json").write_text(__import__("json").dumps(got, sort_keys=True))


    def build(config_path, overrides):
        return Pipeline(name="filepool", base_dir=HERE / "sc-output", workers=2,
                        stages=(Stage(name="squares", run=run, outputs=(HERE / "out.json",)),))
"""


def test_local_pool_runs_item_functions_of_a_file_pipeline(tmp_path: Path) -> None:
    import os

    (tmp_path / "pipe.py").write_text(textwrap.dedent(PIPELINE_FILE))
    config = tmp_path / "pipeline.toml"
    config.write_text('[pipeline]\nentry = "pipe.py:build"\n')
    pipe, root = load_pipeline(config, [], {})
    result = run_pipeline(pipe, root=root, install_signals=False)
    assert result.exit_code == 0, result.message
    got = json.loads((tmp_path / "out.json").read_text())
    assert {int(k): v[0] for k, v in got.items()} == {i: i * i for i in range(8)}
    assert os.getpid() not in {v[1] for v in got.values()}  # the pool's processes ran them


def test_a_map_over_a_generator_ends_with_its_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Session 38: mining's ``ctx.map`` over chunks (a generator) printed ``mining chunks: 0``
    and, done in under 5 s, never a later line: the count now closes the map."""
    out = tmp_path / "c.json"

    def run(ctx: Any) -> None:
        got = [r for _, r in ctx.map(_double, (i for i in range(3)), desc="chunks")]
        out.write_text(json.dumps(got))

    pipe = Pipeline(name="p", stages=(Stage(name="c", run=run, outputs=(out,)),),
                    base_dir=tmp_path / "out")  # fmt: skip
    result = run_pipeline(pipe, install_signals=False)
    assert result.exit_code == 0, result.message
    err = capsys.readouterr().err
    assert "  chunks: 0\n" in err and "  chunks: 3/3\n" in err
