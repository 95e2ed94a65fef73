"""codeedit item 5 without a model: held-out scoring of action answers, the choice of the best
model, the open issues read off run records, and ``reports/training/stage2.md``'s template."""

from __future__ import annotations

import pytest

pytest.importorskip("ast_grep_py", reason="the codeedit extra is not installed")

from standard_coder.codeedit.compare import (
    best_model,
    best_reward_step,
    heldout_outcome,
    open_issues,
    render_stage2,
    summarize_heldout,
)
from standard_coder.codeedit.evaluator import Task, run_completion
from standard_coder.codeedit.prompts import action_answer

ACTION = {"type": "ast_grep", "language": "python", "mode": "cli",
          "cli": "sg run -p 'len($A)' -r 'size($A)'"}  # fmt: skip
PRE, POST = "n = len(xs)\n", "n = size(xs)\n"


def test_heldout_scores_gold_garbage_and_wrong_actions() -> None:
    gold = heldout_outcome("a", action_answer(ACTION), PRE, POST, "python")
    assert gold == {"id": "a", "status": "applied", "exact_match": True, "similarity": 1.0}
    garbage = heldout_outcome("b", "x = 1 ) ( <act", PRE, POST, "python")
    assert garbage["status"] == "invalid_action" and garbage["similarity"] == 0.0
    other = dict(ACTION, cli="sg run -p 'print($A)' -r 'log($A)'")
    unchanged = heldout_outcome("c", action_answer(other), PRE, POST, "python")
    assert unchanged["status"] == "no_change" and not unchanged["exact_match"]
    assert 0.5 < unchanged["similarity"] < 1.0
    doc = summarize_heldout([gold, garbage, unchanged])
    assert doc["records"] == 3 and doc["exact_match"] == pytest.approx(1 / 3, abs=1e-4)
    assert doc["statuses"] == {"applied": 1, "invalid_action": 1, "no_change": 1}
    assert summarize_heldout([])["exact_match"] is None


def test_actions_only_evaluation_does_not_run_prose_as_code() -> None:
    task = Task("t", PRE, POST, "assert n == 2\n")
    out = run_completion(task, "n = 2\n", actions_only=True)
    assert out.status == "invalid_action"  # an action model that wrote no action
    assert run_completion(task, "xs = [1, 2]\nn = len(xs)\n").status == "pass"


def test_best_model_by_pass_then_exact_then_similarity() -> None:
    def r(p: float, e: float, s: float) -> dict[str, object]:
        return {"canitedit": {"pass@1": p}, "heldout": {"exact_match": e, "similarity": s}}

    assert best_model({"sft": r(0.5, 0, 0), "sft_srl": r(0.25, 1, 1)}) == "sft"
    assert best_model({"sft": r(0.5, 0, 0.2), "sft_srl": r(0.5, 0, 0.3)}) == "sft_srl"
    assert best_model({"sft": r(0, 0, 0), "sft_srl": r(0, 0, 0)}) == "sft"  # tie: simpler
    assert best_model({}) is None
    assert best_reward_step([[1, -0.2], [2, 0.7], [3, 0.7]]) == (2, 0.7)
    assert best_reward_step([]) is None


RECORDS = {
    "base": {"kind": "tiny-llama", "parameters": 139584, "vocab_size": 512, "seed": 0,
             "spec": {"hidden_size": 64, "num_layers": 2}},
    "stage0": {"steps": 8, "resumed_from_step": 4, "first_loss": 6.2, "last_loss": 5.9,
               "train_seconds": 4.0, "device": "cpu", "data": {"commitpackft": 12}},
    "stage1": {"steps": 8, "resumed_from_step": None, "first_loss": 6.1, "last_loss": 5.6,
               "train_seconds": 6.0, "device": "cpu", "data": {"synthetic": 24}},
    "srl": {"steps": 2, "resumed_from_step": None, "mean_reward": -0.2, "train_seconds": 6.0,
            "device": "cpu", "data": {"teacher_steps": 24}, "prompts": 24, "seen_prompts": 4,
            "dropped_prompts": 4, "reward_curve": [[1, -0.2], [2, -0.2]],
            "options": {"num_generations": 4}},
    "validation": {"tasks": 3, "success_rate": 0.0, "statuses": {"unparseable": 3}},
    "evaluation": {
        "best": "sft",
        "tasks": {"canitedit": 4, "heldout": 2, "heldout_sources": {"ocedataft": 2}},
        "models": {
            name: {"label": name.upper(), "model": f"models/{name}",
                   "canitedit": {"pass@1": 0.25, "excess_code": 0.5, "mean_rules_per_task": 1.0,
                                 "statuses": {"pass": 1, "invalid_action": 3}},
                   "heldout": {"exact_match": 0.5, "similarity": 0.75}}
            for name in ("sft", "sft_srl")
        },
    },
}  # fmt: skip


def test_open_issues_come_from_the_records() -> None:
    issues = open_issues(RECORDS)
    text = "\n".join(issues)
    assert "randomly initialised tiny Llama (139584" in text
    assert "0 of 3" in text and "dropped every SRL prompt (4 of 4)" in text
    assert (
        "CPU only" in text
        and "stage0 was interrupted and resumed from its checkpoint at step 4" in text
    )
    assert "curve lacks" not in text  # the curve has every step (docs/codeedit.md)
    assert "Only 4 CanItEdit" in text
    gpu = {**RECORDS, "stage0": {**RECORDS["stage0"], "device": "cuda", "resumed_from_step": None}}
    assert not any("CPU only" in i or "resumed" in i for i in open_issues(gpu))


def test_stage2_markdown_has_data_configs_metrics_srl_best_and_issues() -> None:
    r = RECORDS
    names = (("sft_stage0", "stage0"), ("sft_stage1", "stage1"), ("srl_stage2", "srl"))
    stages = [{"name": n, "doc": r[k]} for n, k in names]
    md = render_stage2(
        run_id="run-1", base=r["base"], stages=stages, validation=r["validation"],
        evaluation=r["evaluation"], configs={"stage0_steps": 8, "lora": False}, srl=r["srl"],
        srl_best_step=(1, -0.2), best="sft", issues=open_issues(r),
        dataset={"totals": {"train": 51, "test": 10},
                 "counts": {"train": {"commitpackft": {"python": 10, "go": 2}}}},
    )  # fmt: skip
    assert md.startswith("# Code-edit training") and "run `run-1`" in md
    assert "| train | commitpackft | 12 |" in md  # languages summed per source
    assert "| sft_stage0 | commitpackft: 12 |" in md
    assert "| `stage0_steps` | `8` |" in md
    assert "| sft_stage0 | 8 | 4 | 6.2 → 5.9 | — | 4 | cpu |" in md
    assert "| sft_stage1 | 8 | — | 6.1 → 5.6 | — | 6 | cpu |" in md  # not resumed: no step
    assert "| SFT (`sft`) | 0.25 | 0.5 | 1 |" in md and "0.75 |" in md
    assert "dropped 4 of\n4 prompts" in md and "Highest mean reward -0.2 at step 1" in md
    assert "**Best checkpoint**: `models/sft`" in md
    assert "- The Stage-1 validator reproduced no dev edit" in md
    assert "&#" not in md and "&lt;" not in md  # Markdown: nothing HTML-escaped
