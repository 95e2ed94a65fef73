"""Stage selection semantics and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from standard_coder.runner.errors import RunnerError, StageNotFound
from standard_coder.runner.selection import select

NAMES = ["mine", "label", "train", "forecast"]


def test_default_is_everything() -> None:
    assert select(NAMES) == NAMES


def test_stages_wins_and_keeps_canonical_order() -> None:
    assert select(NAMES, stages=["forecast", "mine"], from_stage="train") == ["mine", "forecast"]


def test_from_to_inclusive() -> None:
    assert select(NAMES, from_stage="label", to_stage="train") == ["label", "train"]
    assert select(NAMES, from_stage="train") == ["train", "forecast"]
    assert select(NAMES, to_stage="mine") == ["mine"]


@pytest.mark.parametrize(
    "kwargs", [{"stages": ["nope"]}, {"from_stage": "nope"}, {"to_stage": "nope"}]
)
def test_unknown_names_list_valid_ones(kwargs: dict[str, object]) -> None:
    with pytest.raises(StageNotFound) as err:
        select(NAMES, **kwargs)  # type: ignore[arg-type]
    assert "nope" in str(err.value) and "mine, label, train, forecast" in str(err.value)
    assert isinstance(err.value, RunnerError) and err.value.exit_code == 2


def test_from_after_to_fails() -> None:
    with pytest.raises(StageNotFound, match="comes after"):
        select(NAMES, from_stage="train", to_stage="label")


def test_plan_table_says_skip_once_not_up_to_date_twice(capsys: pytest.CaptureFixture[str]) -> None:
    from standard_coder.runner.engine import StagePlan
    from standard_coder.runner.front import print_plan

    print_plan(
        [
            StagePlan(stage="mine", run=False, reason="up to date"),
            StagePlan(stage="train", run=True, reason="params changed: lr 1 -> 2"),
            StagePlan(stage="report", run=True, reason="new", selected=False),
        ],
        as_json=False,
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["mine", "skip", "up", "to", "date"]
    assert lines[1].split()[:4] == ["train", "would", "run", "params"]
    assert lines[2].split()[:2] == ["report", "stale"] and lines[2].endswith("(not selected)")


def test_a_stage_the_configuration_leaves_out_is_said_why_and_a_typo_gets_the_nearest() -> None:
    """``--stages forecast`` without sprint files said "no such stage", as for a typo."""
    why = {"forecast": "[forecasting] sprint_inputs_path is unset"}
    names = NAMES[:3]
    for kwargs in ({"stages": ["forecast"]}, {"to_stage": "forecast"}):
        with pytest.raises(StageNotFound) as err:
            select(names, left_out=why, **kwargs)  # type: ignore[arg-type]
        assert str(err.value).endswith(
            "'forecast': left out of this run's pipeline: [forecasting] sprint_inputs_path is unset"
        )
    with pytest.raises(StageNotFound, match=r"'trian': no such stage; did you mean 'train'\?"):
        select(names, stages=["trian"], left_out=why)


def test_the_flagship_says_why_its_forecast_is_left_out(tmp_path: Path) -> None:
    from standard_coder.pipelines.sch import build

    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text('[outputs]\nbase_dir = "out"\n')
    pipe = build(cfg, [])
    assert "sprint_inputs_path and historical_outcomes_path are unset" in pipe.left_out["forecast"]
