"""``standard-coder eval --checkpoint PATH --config FILE`` for the vision pipeline.

Loads the model with ``map_location`` set to the chosen device, scores the test split of the
prepared data, and writes into ``<base_dir>/eval/vision-<time>/``: ``metrics.json``,
``predictions/test/predictions.jsonl`` + ``labelmap.json``, ``env_stamp.json`` and
``RETENTION.txt``; TensorBoard gets the same ``test/*`` tags as the evaluate stage, under
``<base_dir>/tb/eval-<time>/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from standard_coder.config.vision import VisionConfig
from standard_coder.pipelines.vision_layout import VisionLayout
from standard_coder.pipelines.vision_stages import load_splits, stage_device, write_evaluation


class VisionEvalError(ValueError):
    """Eval-only cannot start (missing or invalid checkpoint, no prepared data)."""


def is_vision_model(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` is a vision model (``eval`` asks before taking the sch path)."""
    from standard_coder.vision.modelfile import is_vision_checkpoint

    return is_vision_checkpoint(checkpoint)


def run_vision_eval(checkpoint: Path, cfg: VisionConfig, device: str) -> Path:
    """Evaluate ``checkpoint`` on the test split; returns the output folder.

    Raises:
        VisionEvalError: the checkpoint or the prepared data is missing or invalid.
    """
    from standard_coder.vision.data import DatasetError
    from standard_coder.vision.modelfile import CheckpointError, load_model
    from standard_coder.vision.predictions import evaluate
    from standard_coder.vision.records import run_record

    v = cfg.vision
    device = stage_device(device, v.prefer_mps)
    try:
        model, meta = load_model(checkpoint, device)  # fails fast, before any data is read
    except CheckpointError as exc:
        raise VisionEvalError(str(exc)) from None
    layout = VisionLayout(cfg.outputs.base_dir, v.dataset)
    # the images go in at the size the model was trained on (its meta), whatever [vision]
    # img_size says now: another size would not fit the model's input
    v = v.model_copy(update={"img_size": int(meta.get("img_size", v.img_size))})
    try:
        (test,) = load_splits(layout.index, v, "test")
    except DatasetError as exc:
        raise VisionEvalError(
            f"{exc} (standard-coder pipeline --config ... --to prepare)"
        ) from None
    if list(meta["labels"]) != test.label_names:
        raise VisionEvalError(f"{checkpoint}: its labels differ from {layout.index}'s")
    run_id = "vision-" + time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1000000:06d}"
    out = layout.eval_runs / run_id
    tb_dir = layout.tb / f"eval-{run_id}"
    config = json.loads(cfg.model_dump_json())
    extra = {
        "checkpoint": str(Path(checkpoint).resolve()),
        # gc removes these with the record (runner/retention.py)
        "companions": [tb_dir.relative_to(layout.base_dir).as_posix()],
    }
    step = int(meta.get("steps", 0))
    with run_record(
        out, run_id=run_id, kind="eval", config=config, seed=cfg.runner.seed, device=device,
        retention_days=v.retention_days, extra=extra,
    ):  # fmt: skip
        result = evaluate(
            model, test, batch_size=v.eval_batch_size, device=device, split="test", step=step
        )
        write_evaluation(
            result,
            list(meta["labels"]),
            out_json=out / "metrics.json",
            predictions_dir=out / "predictions" / "test",
            tb_dir=tb_dir,
            step=step,
            extra={"model_type": meta["model_type"], "device": device,
                   "checkpoint": str(checkpoint)},
        )  # fmt: skip
    return out
