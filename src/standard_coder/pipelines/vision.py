"""The ``vision`` pipeline ``prepare -> train -> evaluate``, declared on the runner.

Wiring only: reads the validated config, declares each stage's inputs, params and outputs (paths
from :class:`~standard_coder.pipelines.vision_layout.VisionLayout`) and the report sections.
"""

from __future__ import annotations

import html
import sys
from functools import partial
from pathlib import Path
from typing import Any

from standard_coder.config.vision import load_vision_config
from standard_coder.pipelines import vision_stages
from standard_coder.pipelines.vision_layout import VisionLayout
from standard_coder.pipelines.wiring import assemble_pipeline, package_sources, section_params
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.stage import Pipeline, Stage

# The ``[vision]`` keys each stage reads: a stage's fingerprint covers these and nothing else,
# so a key only training reads never reruns ``prepare`` (and ``retention_days``, which only
# names the run records' TTL, reruns nothing). ``dataset`` and ``data_dir`` go everywhere (the
# section's own check needs both; they change the prepared data anyway; ``data_dir`` only for
# Flowers-102, the one dataset read from it), ``model_type`` and ``img_size`` wherever images
# meet the model.
NEEDS = {"PIL": 'the vision extra (pillow): pip install -e ".[vision]"'}
"""What every vision stage imports (images are PNG/JPEG files; checked before any runs)."""
DATA_KEYS = ("dataset", "data_dir")
MODEL_KEYS = (*DATA_KEYS, "model_type", "img_size")
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "prepare": (*DATA_KEYS, "val_fraction", "test_fraction"),
    "train": (*MODEL_KEYS, "tiny_train_subset", "tiny_infer_subset", "num_steps", "eval_every",
              "train_batch_size", "eval_batch_size", "learning_rate", "weight_decay",
              "warmup_steps", "grad_clip", "prefer_mps"),
    "evaluate": (*MODEL_KEYS, "tiny_infer_subset", "eval_batch_size", "prefer_mps"),
}  # fmt: skip
SEEDED = frozenset({"prepare", "train"})  # the split and the training draw from the run seed
LABELS = {"seed": "runner.seed"}


def stage_params(section: dict[str, Any], seed: int, stage: str) -> dict[str, Any]:
    """``stage``'s params: the ``[vision]`` keys it reads, plus the seed where it draws from it."""
    keys = STAGE_KEYS[stage]
    flowers = section["dataset"] == "flowers-102"
    if not flowers:  # digits ship with scikit-learn: no folder read
        keys = tuple(k for k in keys if k != "data_dir")
    params: dict[str, Any] = {"vision": {k: section[k] for k in keys}}
    if stage in SEEDED and not (flowers and stage == "prepare"):  # Flowers' split is its own
        params["seed"] = seed
    return params


def build(config_path: Path, overrides: list[str]) -> Pipeline:
    """Build the ``vision`` pipeline from its config file plus ``--set`` overrides."""
    cfg = load_vision_config(Path(config_path), list(overrides))
    v = cfg.vision
    layout = VisionLayout(cfg.outputs.base_dir, v.dataset)
    root = cfg.config_path.parent if cfg.config_path else None
    section = section_params(v, root)

    def params(stage: str) -> dict[str, Any]:
        return stage_params(section, cfg.runner.seed, stage)

    # the run records' TTL is no stage's result: handed to the stage, outside its fingerprint
    keep = v.retention_days
    stage_code = Path(vision_stages.__file__)
    data_inputs = {"flowers": v.data_dir} if v.dataset == "flowers-102" and v.data_dir else {}
    stages = [
        Stage(
            name="prepare",
            run=vision_stages.prepare,
            named_inputs=data_inputs,
            params=params("prepare"),
            param_labels=LABELS,
            named_outputs={"data": layout.data},
            requires=NEEDS,
            code_files=[stage_code, *package_sources("vision/data.py")],
            description=f"images of {v.dataset} and their split index",
        ),
        Stage(
            name="train",
            run=partial(vision_stages.train, retention_days=keep),
            deps=("prepare",),
            named_inputs={"data": layout.data},
            params=params("train"),
            # how often it saves its work: read, never fingerprinted (a change reruns nothing)
            settings={"checkpoint_every": v.checkpoint_every},
            param_labels=LABELS,
            named_outputs={
                "model": layout.model,
                "training": layout.training,
                "val_predictions": layout.predictions / "val",
                "run": layout.training_run,
            },
            # the run's wall time and resumed step: not evaluate's input (the report shows them)
            private_outputs=(layout.training_run,),
            # a retrain stopped half-way leaves the last model, its summary and val predictions
            # whole (the loop writes val predictions at each eval); its checkpoints resume it
            staged_outputs=True,
            requires=NEEDS,
            code_files=[stage_code, *package_sources("vision")],
            device_sensitive=True,
            description=f"train the {v.model_type} model ({v.num_steps} steps, resumable)",
        ),
        Stage(
            name="evaluate",
            run=partial(vision_stages.evaluate, retention_days=keep),
            deps=("prepare", "train"),
            named_inputs={"data": layout.data, "model": layout.model, "training": layout.training},
            # not train's val predictions: a new export of them reruns nothing here
            reads=(layout.data, layout.model, layout.training),
            params=params("evaluate"),
            named_outputs={
                "evaluation": layout.evaluation,
                "figures": layout.figures,
                "predictions": layout.predictions / "test",
            },
            requires=NEEDS,
            code_files=[stage_code, *package_sources("vision")],
            device_sensitive=True,
            description="test accuracy, predictions for FiftyOne, report figures",
        ),
    ]
    return assemble_pipeline(
        "vision",
        cfg,
        stages,
        root,
        report_sections=report_sections(),
        on_finish=partial(print_summary, dataset=v.dataset),
    )


def print_summary(base_dir: Path, dataset: str = "digits") -> None:
    """What the run produced, after a successful ``pipeline`` or ``demo`` (stderr; reads one
    small JSON file)."""
    layout = VisionLayout(base_dir, dataset)
    ev = read_json_object_or_none(layout.evaluation)
    if ev is not None:
        print(
            f"{dataset} test accuracy {_fixed(ev.get('accuracy'))} on {ev.get('n_test', '-')} "
            f"images ({ev.get('model_type', '-')} model)",
            file=sys.stderr,
        )
    print(f"Predictions (FiftyOne): {layout.predictions / 'test' / 'predictions.jsonl'}",
          file=sys.stderr)  # fmt: skip
    print(f"Report: {layout.reports / 'index.html'}", file=sys.stderr)


def _figure(path: Path, alt: str) -> str:
    from standard_coder.runner.report.kit import png_file

    uri, _ = png_file(path)
    if uri is None:
        return ""
    text = html.escape(alt)
    return f'<figure><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def _fixed(value: object) -> str:
    """``0.2333`` for a number (as the evaluation section shows accuracy), ``—`` for none."""
    return f"{value:.4f}" if isinstance(value, int | float) else "—"


def _training_section(given: SectionInput) -> str:
    layout = VisionLayout(given.base_dir)
    doc = read_json_object_or_none(layout.training)
    if doc is None:
        return "<p>No vision training yet.</p>"
    doc.update(read_json_object_or_none(layout.training_run) or {})  # wall time, resumed step
    resumed = doc.get("resumed_from_step")
    how = (
        f" (resumed from its checkpoint at step {resumed}; the time is over all its runs)"
        if isinstance(resumed, int) and not isinstance(resumed, bool)
        else ""
    )
    facts = (
        f"<p>{html.escape(str(doc.get('model_type')))} model, "
        f"{doc.get('n_parameters')} parameters, {doc.get('steps')} steps on "
        f"{html.escape(str(doc.get('device')))} in {doc.get('train_seconds')} s{how}; "
        f"final val accuracy {_fixed(doc.get('val_accuracy'))}</p>"
    )
    return facts + _figure(layout.figures / "curves.png", "loss and val accuracy by step")


def _evaluation_section(given: SectionInput) -> str:
    layout = VisionLayout(given.base_dir)
    doc = read_json_object_or_none(layout.evaluation)
    if doc is None:
        return "<p>No vision evaluation yet.</p>"
    per_class = doc.get("per_class_accuracy") or {}
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{'—' if a is None else f'{a:.3f}'}</td></tr>"
        for k, a in per_class.items()
    )
    return (
        f"<p>Test accuracy <b>{doc.get('accuracy', 0):.4f}</b>, loss {doc.get('loss', 0):.4f} "
        f"on {doc.get('n_test')} images.</p>"
        f"<table><tr><th>class</th><th>accuracy</th></tr>{rows}</table>"
        + _figure(layout.figures / "confusion.png", "confusion matrix (rows: true class)")
        + _figure(
            layout.figures / "misclassified.png", "misclassified test images (true→predicted)"
        )
    )


def report_sections() -> tuple[ReportSection, ...]:
    """The vision pipeline's sections of the run report."""
    return (
        ReportSection("Vision training", _training_section, nav="Training"),
        ReportSection("Vision evaluation", _evaluation_section, nav="Evaluation"),
    )
