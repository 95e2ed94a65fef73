"""Flagship stage params hold config-relative paths: a moved project folder stays cached."""

from __future__ import annotations

import json
from pathlib import Path

from standard_coder.pipelines.sch import build

CONFIG = """
[outputs]
base_dir = "sc-output"

[repos]
include_paths = ["repos/*"]

[training]
truth_path = "repos/truth.json"

[forecasting]
sprint_inputs_path = "sprint_inputs.json"
historical_outcomes_path = "/elsewhere/historical_outcomes.json"
"""


def _params(folder: Path) -> dict[str, object]:
    folder.mkdir(parents=True)
    (folder / "pipeline_config.toml").write_text(CONFIG)
    pipe = build(folder / "pipeline_config.toml", [])
    return {s.name: json.loads(json.dumps(dict(s.params), default=str)) for s in pipe.stages}


def test_params_are_the_same_wherever_the_project_folder_is(tmp_path: Path) -> None:
    a, b = _params(tmp_path / "a"), _params(tmp_path / "moved" / "b")
    assert a == b
    training = a["train_sch"]["training"]  # type: ignore[index]
    assert training["truth_path"] == "repos/truth.json"
    forecasting = a["forecast"]["forecasting"]  # type: ignore[index]
    assert forecasting["sprint_inputs_path"] == "sprint_inputs.json"
    # a path outside the project folder stays absolute
    assert forecasting["historical_outcomes_path"] == "/elsewhere/historical_outcomes.json"
