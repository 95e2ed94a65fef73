"""The codeedit pipeline's report sections show figures, not JSON or Python reprs."""

from __future__ import annotations

import json
from pathlib import Path

from standard_coder.pipelines.codeedit import report_sections
from standard_coder.pipelines.codeedit_layout import CodeEditLayout
from standard_coder.runner.report import SectionInput


def _sections(base: Path) -> dict[str, str]:
    given = SectionInput(base_dir=base, cache_dir=None, run_id=None, stamp={})
    return {s.nav or s.title: s.render(given) for s in report_sections()}


def _write(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_training_models_and_evaluation_are_tables_of_figures(tmp_path: Path) -> None:
    layout = CodeEditLayout(tmp_path)
    _write(layout.sft_stage0 / "training.json",
           {"steps": 8, "first_loss": 6.264995574951172, "last_loss": 5.957305431365967,
            "data": {"commitpackft": 13, "editpackft": 8}})  # fmt: skip
    _write(layout.run_info(layout.sft_stage0), {"train_seconds": 5.08, "resumed_from_step": None})
    _write(layout.validation, {"success_rate": 0.0, "tasks": 21, "statuses": {"unparseable": 21}})
    _write(layout.models_evaluation,
           {"best": "sft", "tasks": {"canitedit": 4, "heldout": 2},
            "models": {"sft": {"label": "SFT only", "heldout": {"similarity": 0.0},
                               "canitedit": {"pass@1": 0.0, "excess_code": None,
                                             "statuses": {"invalid_action": 4}}}}})  # fmt: skip
    _write(layout.evaluation, {"pass@1": 0.5, "similarity": 0.8548, "statuses": {"pass": 2}})
    got = _sections(tmp_path)
    train = got["Training"]
    assert "<th>train_seconds</th>" in train
    assert (
        "<tr><td>sft_stage0</td><td>8</td><td>—</td><td>6.265</td><td>5.957</td><td>—</td>"
        "<td>—</td><td>5.080</td><td>commitpackft 13, editpackft 8</td></tr>" in train
    )
    assert "validate_stage1: success rate 0.000 on 21 dev task(s) (unparseable 21)" in train
    models = got["Models"]
    assert "<td>0.000</td><td>—</td><td>—</td><td>invalid_action 4</td>" in models
    evaluation = got["Evaluation"]
    assert "<td>similarity</td><td>0.855</td>" in evaluation
    assert "<td>statuses</td><td>pass 2</td>" in evaluation
    for html in (train, models, evaluation):
        assert "None" not in html and "&quot;" not in html and "{" not in html, html


def test_the_closing_account_says_training_results_only_of_a_run_that_trains(
    tmp_path: Path,
) -> None:
    """With training off, an earlier run's training reports still on disk were said as this
    run's (and "a tiny random model" whatever the model was)."""
    from standard_coder.pipelines.codeedit_demo import finish_lines

    layout = CodeEditLayout(tmp_path)
    layout.stage2_report.parent.mkdir(parents=True)
    layout.stats.write_text(json.dumps({"totals": {"train": 51}}))
    layout.validation.write_text(json.dumps({"success_rate": 0.25, "statuses": {"pass": 1}}))
    layout.stage2_report.write_text("# report\n")
    trained = "\n".join(finish_lines(tmp_path, "tiny"))
    assert "Stage-1 actions on dev tasks: success 0.250" in trained
    assert "a tiny random model" in trained and "Training report:" in trained
    assert "a tiny random model" not in "\n".join(finish_lines(tmp_path, "smollm2"))
    off = finish_lines(tmp_path, None)
    assert not [line for line in off if "Stage-1" in line or "Training report" in line], off
    assert "training: off ([codeedit_train] enabled = false)" in off
    assert off[0] == "records per split: train 51; rejected: none"
