"""The vision pipeline's stages ``prepare -> train -> evaluate`` and eval-only.

Each stage reads its settings back from ``ctx.params`` (exactly what its fingerprint covers),
its files from ``ctx.inputs`` / ``ctx.outputs``, and everything else from
:class:`~standard_coder.pipelines.vision_layout.VisionLayout`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.config.vision import VisionSection
from standard_coder.pipelines.vision_layout import VisionLayout
from standard_coder.pipelines.wiring import section_from_params
from standard_coder.runner.atomic import atomic_write_json
from standard_coder.runner.context import warn

if TYPE_CHECKING:
    from standard_coder.runner.context import StageContext
    from standard_coder.vision.data import ImageSplit
    from standard_coder.vision.predictions import EvalResult
    from standard_coder.vision.records import RunRecord
    from standard_coder.vision.train import TrainOptions

CHANNELS = {"digits": 1, "flowers-102": 3}
SUBSETS = ("tiny_train_subset", "tiny_infer_subset")
TEST_EVENTS = ".test"  # the suffix of the evaluate stage's TensorBoard event file


def _section(ctx: StageContext) -> VisionSection:
    """``[vision]`` from the stage's params: the keys it reads (``vision.STAGE_KEYS``), the
    others at their defaults, unread."""
    return section_from_params(VisionSection, ctx.params["vision"], ctx.root_dir)


def _seed(ctx: StageContext) -> int:
    return int(ctx.params["seed"])


def stage_device(resolved: str, prefer_mps: bool) -> str:
    """The runner's resolved device, except MPS when ``prefer_mps`` is off (then cpu)."""
    return "cpu" if resolved == "mps" and not prefer_mps else resolved


def train_options(v: VisionSection, seed: int) -> TrainOptions:
    """``TrainOptions`` from ``[vision]`` (the domain never sees the schema)."""
    from standard_coder.vision.train import TrainOptions

    return TrainOptions(
        num_steps=v.num_steps,
        eval_every=v.eval_every,
        train_batch_size=v.train_batch_size,
        eval_batch_size=v.eval_batch_size,
        learning_rate=v.learning_rate,
        weight_decay=v.weight_decay,
        warmup_steps=min(v.warmup_steps, v.num_steps - 1),
        grad_clip=v.grad_clip,
        seed=seed,
    )


def load_splits(index_path: Path, v: VisionSection, *names: str) -> list[ImageSplit]:
    from standard_coder.vision.data import load_split, read_index

    index = read_index(index_path)
    out = []
    for name in names:
        data = load_split(index, name, v.img_size, CHANNELS[v.dataset])
        limit = v.tiny_train_subset if name == "train" else v.tiny_infer_subset
        out.append(data.subset(limit))
    return out


def prepare(ctx: StageContext) -> None:
    """Materialise digits as PNGs, or index a Flowers-102 folder, into ``index.json``."""
    from standard_coder.vision.data import materialize_digits, read_flowers102

    v = _section(ctx)
    out = ctx.outputs["data"]
    if v.dataset == "digits":
        index = materialize_digits(
            out, val_fraction=v.val_fraction, test_fraction=v.test_fraction, seed=_seed(ctx)
        )
    else:
        assert v.data_dir is not None  # the schema requires it
        index = read_flowers102(v.data_dir)
        skipped = index.get("skipped", [])
        for bad in skipped:  # each in the run log; one [warn] line says how many, and the first
            ctx.log.info("skipped %s: cannot be decoded (%s)", bad["filepath"], bad["reason"])
        if skipped:
            first = f"{skipped[0]['filepath']} ({skipped[0]['reason']})"
            more = "; every one in index.json 'skipped'" if len(skipped) > 1 else ""
            warn(ctx, f"{v.data_dir}: {len(skipped)} unreadable image(s) left out of the index, "
                      f"cannot be decoded: {first}{more}", skipped=len(skipped))  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "index.json", index)
    counts = {s: sum(r["split"] == s for r in index["images"]) for s in ("train", "val", "test")}
    ctx.log.info("%s: %s images, %d classes", v.dataset, counts, len(index["labels"]))
    skipped_n = {"skipped": len(index["skipped"])} if index.get("skipped") else {}
    ctx.set_summary(classes=len(index["labels"]), **counts, **skipped_n)


def _record(
    ctx: StageContext, kind: str, device: str, v: VisionSection, retention_days: int
) -> AbstractContextManager[RunRecord]:
    """The stage's run record (``vision_runs/<kind>-<run_id>/``), closed with its status."""
    from standard_coder.vision.records import run_record

    layout = VisionLayout(ctx.base_dir, v.dataset)
    return run_record(
        layout.runs / f"{kind}-{ctx.run_id}",
        run_id=ctx.run_id,
        kind=kind,
        config=dict(ctx.params),
        seed=ctx.seed,
        device=device,
        retention_days=retention_days,
        # the smoke-run limits this stage read (evaluate reads no training subset)
        extra={k: ctx.params["vision"][k] for k in SUBSETS if k in ctx.params["vision"]},
    )


def train(ctx: StageContext, *, retention_days: int = 90) -> None:
    """Train the configured model (resumable), exporting val predictions at each eval.

    ``retention_days``: the run record's TTL (``[vision] retention_days``, bound by the
    pipeline: no result depends on it, so it is outside the fingerprint)."""
    v = _section(ctx)
    device = stage_device(ctx.device, v.prefer_mps)
    ctx.log.info(
        "training on %s (runner device %s, prefer_mps=%s)", device, ctx.device, v.prefer_mps
    )
    with _record(ctx, "train", device, v, retention_days) as record:
        _train(ctx, v, device, record)


def _train(ctx: StageContext, v: VisionSection, device: str, record: RunRecord) -> None:
    import torch

    from standard_coder.vision.modelfile import save_model
    from standard_coder.vision.models import build_model, n_parameters
    from standard_coder.vision.predictions import evaluate as run_eval
    from standard_coder.vision.predictions import write_predictions
    from standard_coder.vision.train import TrainingInterrupted
    from standard_coder.vision.train import train as train_loop

    layout = VisionLayout(ctx.base_dir, v.dataset)
    train_data, val_data = load_splits(ctx.inputs["data"] / "index.json", v, "train", "val")
    torch.manual_seed(_seed(ctx))
    model = build_model(
        v.model_type, img_size=v.img_size, channels=CHANNELS[v.dataset],
        num_classes=len(train_data.label_names),
    )  # fmt: skip
    meta: dict[str, Any] = {
        "model_type": v.model_type,
        "img_size": v.img_size,
        "channels": CHANNELS[v.dataset],
        "labels": train_data.label_names,
        "steps": v.num_steps,
    }
    pred_dir = ctx.outputs["val_predictions"]
    evaluated: list[int] = []  # the steps whose val predictions this process wrote

    def on_eval(step: int, result: EvalResult) -> None:
        write_predictions(pred_dir, result.rows, result_labels)
        evaluated.append(step)
        ctx.log.info("step %d: val accuracy %.4f, loss %.4f", step, result.accuracy, result.loss)

    result_labels = train_data.label_names
    options = train_options(v, _seed(ctx))
    try:
        result = train_loop(
            model, train_data, val_data if len(val_data) else None, options,
            device=device,
            checkpointer=ctx.checkpointer("train", every_n_steps=ctx.settings["checkpoint_every"]),
            tb_dir=layout.tb / "vision", should_stop=ctx.should_stop, on_eval=on_eval, meta=meta,
        )  # fmt: skip
    except TrainingInterrupted:
        record.interrupted()
        return  # checkpoint saved; the engine reports the interrupt
    if not evaluated:  # resumed at the final step (an output was removed): no eval ran here
        rows: list[dict[str, Any]] = []
        if len(val_data):
            rows = run_eval(
                model, val_data, batch_size=options.eval_batch_size, device=device,
                split="val", step=result.steps, max_batches=options.max_eval_batches,
            ).rows  # fmt: skip
        write_predictions(pred_dir, rows, result_labels)
    save_model(ctx.outputs["model"], model, meta)
    # the last eval's entry: also there when training resumed from its final checkpoint (the
    # model output was removed), where no step, and so no eval, ran in this process
    val_accuracy = result.history[-1]["val_accuracy"] if result.history else None
    atomic_write_json(
        ctx.outputs["training"],
        {
            "model_type": v.model_type,
            "n_parameters": n_parameters(model),
            "device": device,
            "steps": result.steps,
            "history": result.history,
            "val_accuracy": val_accuracy,
        },
    )
    # how the run went, apart (a private output): a retrain that gives the same model changes
    # only this file, and evaluate, which reads the one above, stays cached
    atomic_write_json(
        ctx.outputs["run"],
        {"train_seconds": round(result.seconds, 3), "resumed_from_step": result.resumed_from},
    )
    ctx.set_summary(steps=result.steps, val_accuracy=val_accuracy)


def write_evaluation(
    result: EvalResult,
    labels: list[str],
    *,
    out_json: Path,
    predictions_dir: Path,
    tb_dir: Path,
    step: int,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Metrics JSON, predictions + labelmap and the ``test/*`` TensorBoard scalars."""
    from torch.utils.tensorboard import SummaryWriter

    from standard_coder.vision.predictions import write_predictions
    from standard_coder.vision.train import log_eval_scalars

    write_predictions(predictions_dir, result.rows, labels)
    # The test scalars have their own event file, replaced by each evaluation: an evaluate that
    # runs again (its output removed, the model rebuilt from the final checkpoint) leaves one
    # point per tag and step, as a run that never stopped.
    for old in Path(tb_dir).glob(f"events.out.tfevents.*{TEST_EVENTS}"):
        old.unlink(missing_ok=True)
    writer = SummaryWriter(log_dir=str(tb_dir), filename_suffix=TEST_EVENTS)
    try:
        log_eval_scalars(writer, "test", result, step)
    finally:
        writer.close()
    metrics = {
        "accuracy": result.accuracy,
        "loss": result.loss,
        "n_test": result.n,
        "per_class_accuracy": result.per_class_accuracy,
        "confusion_matrix": result.confusion,
        "labels": labels,
        **dict(extra),
    }
    atomic_write_json(out_json, metrics)
    return metrics


def evaluate(ctx: StageContext, *, retention_days: int = 90) -> None:
    """Score the trained model on the test split; figures for the report (``retention_days``:
    the run record's TTL, as for :func:`train`)."""
    v = _section(ctx)
    device = stage_device(ctx.device, v.prefer_mps)
    with _record(ctx, "evaluate", device, v, retention_days):
        _evaluate(ctx, v, device)


def _evaluate(ctx: StageContext, v: VisionSection, device: str) -> None:
    from standard_coder.vision import figures
    from standard_coder.vision.modelfile import load_model
    from standard_coder.vision.predictions import evaluate as run_eval

    layout = VisionLayout(ctx.base_dir, v.dataset)
    model, meta = load_model(ctx.inputs["model"], device)
    (test,) = load_splits(ctx.inputs["data"] / "index.json", v, "test")
    step = int(meta.get("steps", 0))
    result = run_eval(
        model, test, batch_size=v.eval_batch_size, device=device, split="test", step=step
    )
    metrics = write_evaluation(
        result,
        list(meta["labels"]),
        out_json=ctx.outputs["evaluation"],
        predictions_dir=ctx.outputs["predictions"],
        tb_dir=layout.tb / "vision",
        step=step,
        extra={"model_type": meta["model_type"], "device": device, "steps": step},
    )
    fig_dir = ctx.outputs["figures"]
    history = json.loads(ctx.inputs["training"].read_text(encoding="utf-8")).get("history", [])
    if history:
        figures.curves(history, fig_dir / "curves.png")
    figures.confusion(result.confusion, meta["labels"], fig_dir / "confusion.png")
    figures.misclassified(result.rows, fig_dir / "misclassified.png")
    ctx.log.info("test accuracy %.4f on %d images", metrics["accuracy"], metrics["n_test"])
    ctx.set_summary(accuracy=metrics["accuracy"], n_test=metrics["n_test"])
