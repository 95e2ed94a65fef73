"""The codeedit evaluation of trained models and the Stage-2 report (issue 19, item 5).

``evaluate_models`` (after ``sft_stage1`` and ``srl_stage2``): each model (SFT only = the Stage-1
model; SFT + SRL = the Stage-2 model) answers every CanItEdit test task and every held-out test
record with an ``<action>``; the part-1 evaluator runs the CanItEdit answers against the hidden
tests (pass@1 = success rate, ExcessCode, rules per task) and the held-out answers are scored by
exact match and similarity with ``post``. Answers go to the stage's ledger as they are generated,
so an interrupted run resumes at the next answer. ``stage2_report`` renders
``reports/training/stage2.md`` from the run's records.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.config.codeedit_train import CodeEditTrainSection
from standard_coder.pipelines.codeedit_layout import CodeEditLayout
from standard_coder.pipelines.codeedit_train import SETTINGS_KEYS, _quiet, _section, read_split
from standard_coder.runner.atomic import atomic_write_json, atomic_write_text
from standard_coder.runner.jsonfile import read_json_object
from standard_coder.runner.stage import Stage

if TYPE_CHECKING:
    from standard_coder.codeedit.records import EditRecord
    from standard_coder.runner.context import StageContext

MODELS = {"sft": "SFT only (Stage 1)", "sft_srl": "SFT + SRL (Stage 2)"}
EVAL_KEYS = frozenset({"eval_max_tasks", "heldout_max_tasks", "max_new_tokens"})


def canitedit_records(records: list[EditRecord], cap: int | None) -> list[EditRecord]:
    """One record per CanItEdit task (the descriptive instruction when there is one)."""
    by_task: dict[str, EditRecord] = {}
    for rec in records:
        if not rec.tests or rec.post is None:
            continue
        tid = str(rec.metadata.get("task_id", rec.id))
        if tid not in by_task or rec.instruction_style == "descriptive":
            by_task[tid] = rec
    out = list(by_task.values())
    return out[:cap] if cap else out


def _task_id(rec: EditRecord) -> str:
    return str(rec.metadata.get("task_id", rec.id))


def _answers(
    ctx: StageContext, name: str, recs: list[EditRecord], max_new_tokens: int
) -> dict[str, str] | None:
    """``{record id: answer}`` of model ``name``, from the ledger or generated (None: stopped)."""
    from standard_coder.codeedit import prompts
    from standard_coder.codeedit.lm import load_model
    from standard_coder.codeedit.validator import generate_answers

    model_dir = ctx.inputs[name]
    key = hashlib.sha256(
        (model_dir / "training.json").read_bytes() + str(max_new_tokens).encode()
    ).hexdigest()
    ledger = ctx.ledger(f"answers_{name}")
    out: dict[str, str] = {}
    model = tokenizer = None
    reused = 0
    for rec in recs:
        if ledger.is_done(rec.id, key):
            got = ledger.get(rec.id)
            out[rec.id] = str(got[1]) if got else ""
            reused += 1
            continue
        if ctx.should_stop():
            return None
        if model is None:
            model, tokenizer = load_model(model_dir, ctx.device)
        messages = prompts.prompt_messages(rec, prompts.SYSTEM_ACTION)
        answer = generate_answers(
            model, tokenizer, [messages], max_new_tokens=max_new_tokens, device=ctx.device
        )[0]
        ledger.mark_done(rec.id, key, answer)
        out[rec.id] = answer
    ctx.log.info("%s: %d answers generated, %d reused from the ledger", name,
                 len(recs) - reused, reused)  # fmt: skip
    return out


def evaluate_models(ctx: StageContext) -> None:
    """SFT-only vs SFT + SRL: CanItEdit success, ExcessCode, rules; held-out exact match."""
    from standard_coder.codeedit.compare import best_model, heldout_outcome, summarize_heldout
    from standard_coder.codeedit.errors import SandboxStopped
    from standard_coder.codeedit.evaluator import Task
    from standard_coder.codeedit.evaluator import evaluate as run_eval
    from standard_coder.codeedit.sandbox import Limits

    _quiet()
    t = _section(ctx)
    timeout = float(ctx.params["eval_timeout_s"])
    test = read_split(ctx.inputs["test"])
    canit = canitedit_records(test.get("canitedit", []), t.eval_max_tasks)
    held = [r for s, rs in sorted(test.items()) if s != "canitedit" for r in rs if r.post]
    held = held[: t.heldout_max_tasks] if t.heldout_max_tasks else held
    tasks = [Task(_task_id(r), r.pre, r.post or "", r.tests or "", r.language) for r in canit]
    limits = Limits(timeout_s=timeout, cpu_s=max(1, int(timeout)))
    results: dict[str, Any] = {}
    for name, label in MODELS.items():
        answers = _answers(ctx, name, canit + held, t.max_new_tokens)
        if answers is None:
            return  # answers so far are in the ledger; the engine reports the interrupt
        try:
            can = run_eval(
                tasks, {_task_id(r): [answers[r.id]] for r in canit}, limits, actions_only=True,
                should_stop=ctx.should_stop,
            )  # fmt: skip
        except SandboxStopped:
            return  # the answers are in the ledger; the engine reports the interrupt
        heldout = summarize_heldout([
            heldout_outcome(r.id, answers[r.id], r.pre, r.post or "", r.language) for r in held
        ])  # fmt: skip
        results[name] = {"label": label, "model": str(ctx.inputs[name]),
                         "canitedit": can, "heldout": heldout}  # fmt: skip
        ctx.log.info("%s: CanItEdit pass@1 %s %s; held-out exact %s similarity %s", name,
                     can["pass@1"], can["statuses"], heldout["exact_match"],
                     heldout["similarity"])  # fmt: skip
    sources: dict[str, int] = {}
    for r in held:
        sources[r.source] = sources.get(r.source, 0) + 1
    best = best_model(results)
    doc = {
        "models": results,
        "best": best,
        "tasks": {"canitedit": len(canit), "heldout": len(held), "heldout_sources": sources},
        "timeout_s": timeout,
        "max_new_tokens": t.max_new_tokens,
    }
    atomic_write_json(ctx.outputs["evaluation"], doc)
    ctx.set_summary(
        best=best,
        **{f"{n}_pass_at_1": r["canitedit"]["pass@1"] for n, r in results.items()},
        **{f"{n}_heldout_similarity": r["heldout"]["similarity"] for n, r in results.items()},
    )


def _read(path: Path) -> dict[str, Any]:
    """An upstream stage's JSON record; a missing or damaged one fails the report with one line
    naming it (``ValueError``)."""
    return read_json_object(path, ValueError, "run record")


def stage2_report(ctx: StageContext) -> None:
    """``reports/training/stage2.md`` from the run records (Jinja2 template)."""
    from standard_coder.codeedit.compare import best_reward_step, open_issues, render_stage2

    inp = ctx.inputs
    docs = {k: _read(inp[k]) for k in ("stage0", "stage1", "srl", "validation", "evaluation")}
    for k in ("stage0", "stage1", "srl"):  # how each run went (wall time, resumed step)
        docs[k] = {**docs[k], **_read(inp[f"{k}_run"])}
    base = _read(inp["base"]) if inp["base"].is_file() else {"path": str(inp["base"])}
    docs["base"] = base
    stats = _read(inp["stats"])
    names = (("sft_stage0", "stage0"), ("sft_stage1", "stage1"), ("srl_stage2", "srl"))
    stages = [{"name": n, "doc": docs[k]} for n, k in names]
    text = render_stage2(
        run_id=ctx.run_id, base=base, dataset=stats, stages=stages,
        validation=docs["validation"], evaluation=docs["evaluation"],
        configs=dict(ctx.params["codeedit_train"]), srl=docs["srl"],
        srl_best_step=best_reward_step(docs["srl"].get("reward_curve") or []),
        best=docs["evaluation"].get("best"), issues=open_issues(docs),
    )  # fmt: skip
    atomic_write_text(ctx.outputs["report"], text)
    ctx.log.info("wrote %s", ctx.outputs["report"])
    ctx.set_summary(best=docs["evaluation"].get("best"))


def stages(
    t: CodeEditTrainSection,
    layout: CodeEditLayout,
    params: dict[str, Any],
    code: list[Path],
    eval_timeout_s: float,
) -> list[Stage]:
    """``evaluate_models`` and ``stage2_report`` (only with the training stages)."""
    if not t.enabled:
        return []
    section = params["codeedit_train"]
    ev = {"codeedit_train": {k: v for k, v in section.items() if k in EVAL_KEYS},
          "eval_timeout_s": eval_timeout_s}  # fmt: skip
    folder = layout.base_smollm2 if t.model == "smollm2" else layout.base_model
    base_info = folder / "build.json" if t.base_model is None else t.base_model
    return [
        Stage(
            name="evaluate_models", run=evaluate_models, deps=("sft_stage1", "srl_stage2"),
            named_inputs={"test": layout.split("test"), "sft": layout.sft_stage1,
                          "sft_srl": layout.srl_stage2},
            params=ev, param_labels={"eval_timeout_s": "codeedit.eval_timeout_s"},
            named_outputs={"evaluation": layout.models_evaluation}, code_files=code,
            description="SFT only vs SFT + SRL: CanItEdit tests, held-out exact match",
        ),
        Stage(
            name="stage2_report", run=stage2_report,
            deps=("stats", "validate_stage1", "evaluate_models"),
            named_inputs={
                "stats": layout.stats, "base": base_info,
                "stage0": layout.sft_stage0 / "training.json",
                "stage1": layout.sft_stage1 / "training.json",
                "srl": layout.srl_stage2 / "training.json",
                # the report shows each run's wall time: its own input, read by it alone
                "stage0_run": layout.run_info(layout.sft_stage0),
                "stage1_run": layout.run_info(layout.sft_stage1),
                "srl_run": layout.run_info(layout.srl_stage2),
                "validation": layout.validation, "evaluation": layout.models_evaluation,
            },
            # the configs it shows, less what changes no result (the checkpoint cadence)
            params={"codeedit_train": {
                k: v for k, v in section.items() if k not in SETTINGS_KEYS
            }},
            named_outputs={"report": layout.stage2_report}, code_files=code,
            description="reports/training/stage2.md from the run records",
        ),
    ]  # fmt: skip
