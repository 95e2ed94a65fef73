"""A stage's params must have a faithful JSON form: anything else is refused before any stage
runs, naming the stage and the key (it was turned into its text: a numpy array's abbreviated
text skipped a changed stage, a function's or a set's text reran it on every run, a NaN failed
after the stage ran)."""

from __future__ import annotations

import enum
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from enginetools import run
from standard_coder.runner.definition import StageView
from standard_coder.runner.errors import PipelineDefinitionError
from standard_coder.runner.paramvalues import param_problem
from standard_coder.runner.stage import Pipeline, Stage


class Mode(enum.Enum):
    FAST = "fast"


class Size(enum.Enum):
    SMALL = (32, 32)


@pytest.mark.parametrize(
    ("params", "key", "words"),
    [
        ({"weights": np.arange(2000)}, "weights", "ndarray of shape (2000,): give a list"),
        ({"fn": lambda x: x}, "fn", "function (its text holds a memory address)"),
        ({"s": {"alpha", "beta"}}, "s", "a set has no fixed order"),
        ({"x": float("nan")}, "x", "nan has no JSON form"),
        ({"train": {"layers": [64, float("inf")]}}, "train.layers[1]", "inf has no JSON form"),
        ({"obj": object()}, "obj", "a object has no JSON form"),
        ({"t": {(1, 2): 3}}, "t", "keys must be text"),
        ({"n": np.float64("nan")}, "n", "nan has no JSON form"),
        ({"cls": Mode}, "cls", "a class (test_paramvalues.Mode): give its name as a string"),
    ],
)
def test_values_without_a_faithful_json_form_are_named(
    params: dict[str, object], key: str, words: str
) -> None:
    found = param_problem(params)
    assert found is not None and found[0] == key and words in found[1], found


def test_values_whose_text_is_the_value_pass_and_read_as_json(tmp_path: Path) -> None:
    params = {"p": Path("/data/x"), "d": date(2026, 1, 2), "m": Mode.FAST, "i": np.int64(3),
              "f": np.float32(0.5), "nested": {"a": [1, "b", None, True]},
              "k": {1: "one"}, "s": Size.SMALL}  # fmt: skip
    assert param_problem(params) is None
    stage = Stage(name="a", run=lambda ctx: None, params=params)
    view = StageView(stage, Pipeline(name="p", stages=[stage], base_dir=tmp_path), tmp_path)
    assert view.params == {"p": "/data/x", "d": "2026-01-02", "m": "fast", "i": 3, "f": 0.5,
                           "nested": {"a": [1, "b", None, True]}, "k": {"1": "one"},
                           "s": [32, 32]}  # fmt: skip


def test_a_pipeline_with_such_a_param_runs_no_stage(tmp_path: Path) -> None:
    ran: list[str] = []
    stages = [
        Stage(name="a", run=lambda ctx: ran.append("a"), outputs=()),
        Stage(
            name="b",
            run=lambda ctx: ran.append("b"),
            deps=("a",),
            params={"grid": {"lr": {0.1, 0.01}}},
        ),
    ]
    with pytest.raises(PipelineDefinitionError) as err:
        run(Pipeline(name="p", stages=stages, base_dir=tmp_path / "state"))
    assert str(err.value) == (
        "stage 'b': params.grid.lr: a set has no fixed order from one run to the next: give a "
        "sorted list"
    )
    assert ran == []
