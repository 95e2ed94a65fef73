"""The ``codeedit`` pipeline ``ingest -> normalize -> split -> stats -> evaluate`` on the runner.

Wiring only: reads the validated config, declares each stage's inputs, params and outputs (paths
from :class:`~standard_coder.pipelines.codeedit_layout.CodeEditLayout`) and the report sections.
Part 2 (SFT / SRL training) adds its stages after ``split``, reading ``data/processed``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from standard_coder.config.codeedit import load_codeedit_config
from standard_coder.config.codeedit_sources import ALL_SOURCES
from standard_coder.pipelines import codeedit_eval, codeedit_stages, codeedit_train
from standard_coder.pipelines.codeedit_layout import CodeEditLayout
from standard_coder.pipelines.codeedit_train import CODEEDIT_EXTRA
from standard_coder.pipelines.wiring import assemble_pipeline, package_sources, section_params
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.stage import Pipeline, Stage

PATH_KEYS = tuple(f"{s}_path" for s in ALL_SOURCES if s != "synthetic")
# The ``[codeedit]`` keys each part-1 stage reads: its fingerprint covers these (plus
# ``[runner] seed`` where it draws from it) and nothing else, so an evaluation setting never
# reruns the data stages and a filter never reruns ``ingest``.
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "ingest": ("sources", *PATH_KEYS, "download", "hf_endpoint", "strict"),
    "normalize": ("sources", "max_bytes", "languages", "near_dup_threshold", "strict"),
    "split": ("sources", "dev_fraction", "test_fraction"),
    "stats": ("sources",),
    "evaluate": ("completions", "eval_timeout_s"),
}
LABELS = {"seed": "runner.seed"}


DATA_NEEDS = {m: CODEEDIT_EXTRA for m in ("yaml", "ast_grep_py", "datasketch", "coverage")}
"""What the data and evaluation stages import (checked before any stage runs, as the training
stages' ``codeedit_train.NEEDS`` is): the synthetic source's and the evaluator's ast-grep rules
(YAML), near-duplicate removal (MinHash) and the hidden tests' coverage."""


def stage_params(
    section: dict[str, Any], seed: int, stage: str, *, seeded: bool = False
) -> dict[str, Any]:
    """``stage``'s params: the ``[codeedit]`` keys it reads (and the run seed when ``seeded``)."""
    params: dict[str, Any] = {"codeedit": {k: section[k] for k in STAGE_KEYS[stage]}}
    if seeded:
        params["seed"] = seed
    return params


def build(config_path: Path, overrides: list[str]) -> Pipeline:
    """Build the ``codeedit`` pipeline from its config file plus ``--set`` overrides."""
    cfg = load_codeedit_config(Path(config_path), list(overrides))
    c = cfg.codeedit
    layout = CodeEditLayout(cfg.outputs.base_dir)
    root = cfg.config_path.parent if cfg.config_path else None
    section, seed = section_params(c, root), cfg.runner.seed

    def params(stage: str, *, seeded: bool = False) -> dict[str, Any]:
        return stage_params(section, seed, stage, seeded=seeded)

    code = [Path(codeedit_stages.__file__)]
    domain = package_sources("codeedit")
    sources: dict[str, Path] = {
        str(s): codeedit_stages.source_input(c, s) for s in c.sources if s != "synthetic"
    }
    eval_inputs = {"test": layout.split("test")}  # the test split only: train/dev rerun nothing
    if c.completions is not None:
        eval_inputs["completions"] = c.completions
    stages = [
        Stage(
            name="ingest", run=codeedit_stages.ingest, requires=DATA_NEEDS, named_inputs=sources,
            params=params("ingest", seeded="synthetic" in c.sources), param_labels=LABELS,
            role="data",
            named_outputs={"ingested": layout.ingested}, code_files=[*code, *domain],
            description=f"read {', '.join(c.sources)} in their upstream formats",
        ),
        Stage(
            name="normalize", run=codeedit_stages.normalize, requires=DATA_NEEDS, deps=("ingest",),
            named_inputs={"ingested": layout.ingested}, params=params("normalize"), role="data",
            named_outputs={"normalized": layout.normalized}, code_files=[*code, *domain],
            description="one schema, filters, exact + near-duplicate removal",
        ),
        Stage(
            name="split", run=codeedit_stages.split, requires=DATA_NEEDS, deps=("normalize",),
            named_inputs={"normalized": layout.normalized}, params=params("split", seeded=True),
            param_labels=LABELS, role="data",
            named_outputs={"processed": layout.processed}, code_files=[*code, *domain],
            description="repo-disjoint train/dev/test (CanItEdit: test only)",
        ),
        Stage(
            name="stats", run=codeedit_stages.stats, requires=DATA_NEEDS, deps=("split",),
            # of normalize's folder, the rejections alone: its records are read through split
            named_inputs={"processed": layout.processed, "rejects": layout.rejects},
            params=params("stats"), named_outputs={"stats": layout.stats},
            code_files=[*code, *domain],
            role="data",
            description="counts per split x source x language, bytes, rejections",
        ),
        Stage(
            name="evaluate", run=codeedit_stages.evaluate, requires=DATA_NEEDS, deps=("split",),
            named_inputs=eval_inputs, reads=(layout.split("test"),), params=params("evaluate"),
            named_outputs={"evaluation": layout.evaluation}, code_files=[*code, *domain],
            description="apply completions, run hidden tests: pass@1, ExcessCode",
        ),
    ]  # fmt: skip
    train_params = {"codeedit_train": section_params(cfg.codeedit_train, root)}
    train_code = [Path(codeedit_train.__file__), *domain]
    stages += codeedit_train.stages(cfg.codeedit_train, layout, train_params, train_code, seed)
    eval_code = [Path(codeedit_eval.__file__), *train_code]
    stages += codeedit_eval.stages(
        cfg.codeedit_train, layout, train_params, eval_code, c.eval_timeout_s
    )
    import functools

    from standard_coder.pipelines.codeedit_demo import finish

    t = cfg.codeedit_train
    model = (t.base_model.name if t.base_model else t.model) if t.enabled else None
    return assemble_pipeline(
        "codeedit",
        cfg,
        stages,
        root,
        report_sections=report_sections(),
        on_finish=functools.partial(finish, model=model),
    )


def _data_section(given: SectionInput) -> str:
    doc = read_json_object_or_none(CodeEditLayout(given.base_dir).stats)
    if doc is None:
        return "<p>No code-edit dataset yet.</p>"
    counts = doc.get("counts") or {}
    rows = "".join(
        f"<tr><td>{html.escape(split)}</td><td>{html.escape(src)}</td>"
        f"<td>{html.escape(', '.join(f'{k} {v}' for k, v in langs.items()))}</td></tr>"
        for split, by_src in counts.items()
        for src, langs in by_src.items()
    )
    rejected = (doc.get("rejected") or {}).get("counts", {})
    return (
        f"<p>Records per split: {html.escape(json.dumps(doc.get('totals')))}; "
        f"rejected: {html.escape(json.dumps(rejected))}</p>"
        f"<table><tr><th>split</th><th>source</th><th>languages</th></tr>{rows}</table>"
    )


def _eval_section(given: SectionInput) -> str:
    doc = read_json_object_or_none(CodeEditLayout(given.base_dir).evaluation)
    if doc is None:
        return "<p>No code-edit evaluation yet.</p>"
    keys = ("tasks", "completions", "pass@1", "excess_code", "exact_match", "similarity",
            "mean_rules_per_task", "statuses")  # fmt: skip
    rows = "".join(f"<tr><td>{k}</td><td>{html.escape(_shown(doc.get(k)))}</td></tr>" for k in keys)
    warns = "".join(f"<li>{html.escape(str(w))}</li>" for w in doc.get("warnings") or [])
    warned = f"<h3>Warnings</h3><ul class='warns'>{warns}</ul>" if warns else ""
    return f"{warned}<table>{rows}</table>"


def _shown(value: object) -> str:
    """A figure as the report shows it: ``—`` for none, floats to 3 places, a count map as
    ``fail 1, pass 2`` (not JSON or a Python repr)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value) or "—"
    return str(value)


TRAIN_KEYS = ("steps", "resumed_from_step", "first_loss", "last_loss", "mean_reward",
              "dropped_prompts", "train_seconds", "data")  # fmt: skip


def _train_section(given: SectionInput) -> str:
    layout = CodeEditLayout(given.base_dir)
    rows = []
    for name, folder in (("sft_stage0", layout.sft_stage0), ("sft_stage1", layout.sft_stage1),
                         ("srl_stage2", layout.srl_stage2)):  # fmt: skip
        doc = read_json_object_or_none(folder / "training.json")
        if doc is None:
            continue
        doc.update(
            read_json_object_or_none(layout.run_info(folder)) or {}
        )  # wall time, resumed step
        cells = "".join(f"<td>{html.escape(_shown(doc.get(k)))}</td>" for k in TRAIN_KEYS)
        rows.append(f"<tr><td>{name}</td>{cells}</tr>")
    val = read_json_object_or_none(layout.validation)
    validated = ""
    if val is not None:
        validated = (
            f"<p>validate_stage1: success rate {html.escape(_shown(val.get('success_rate')))} "
            f"on {html.escape(_shown(val.get('tasks')))} dev task(s) "
            f"({html.escape(_shown(val.get('statuses')))})</p>"
        )
    if not rows and not validated:
        return "<p>No code-edit training yet ([codeedit_train] enabled = false).</p>"
    header = "".join(f"<th>{k}</th>" for k in ("stage", *TRAIN_KEYS))
    table = f"<table><tr>{header}</tr>{''.join(rows)}</table>" if rows else ""
    return table + validated


def _models_section(given: SectionInput) -> str:
    layout = CodeEditLayout(given.base_dir)
    doc = read_json_object_or_none(layout.models_evaluation)
    if doc is None:
        return "<p>No trained models evaluated yet ([codeedit_train] enabled = false).</p>"
    head = ("model", "CanItEdit pass@1", "ExcessCode", "rules per task", "statuses",
            "held-out exact match", "held-out similarity")  # fmt: skip
    rows = []
    for name, r in (doc.get("models") or {}).items():
        can, held = r.get("canitedit") or {}, r.get("heldout") or {}
        cells = (f"{r.get('label')} ({name}){' ★' if name == doc.get('best') else ''}",
                 can.get("pass@1"), can.get("excess_code"), can.get("mean_rules_per_task"),
                 can.get("statuses"), held.get("exact_match"), held.get("similarity"))  # fmt: skip
        rows.append("".join(f"<td>{html.escape(_shown(c))}</td>" for c in cells))
    tasks = doc.get("tasks") or {}
    note = (
        f"<p>{tasks.get('canitedit')} CanItEdit task(s), {tasks.get('heldout')} held-out "
        f"record(s); ★ best. Full report: {html.escape(str(layout.stage2_report))}</p>"
    )
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return f"{note}<table><tr>{header}</tr>{body}</table>"


def report_sections() -> tuple[ReportSection, ...]:
    """The codeedit pipeline's sections of the run report."""
    return (
        ReportSection("Code-edit data", _data_section, nav="Data"),
        ReportSection("Code-edit evaluation", _eval_section, nav="Evaluation"),
        ReportSection("Code-edit training", _train_section, nav="Training"),
        ReportSection("Code-edit models: SFT vs SFT + SRL", _models_section, nav="Models"),
    )
