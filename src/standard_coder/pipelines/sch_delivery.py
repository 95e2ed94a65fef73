"""``train_sch`` with ``[training] predictor = "multitask"``: the PR file joined to the change
dataset, the multitask model trained on both tasks, and the delivery metrics written next to
the SCH ones (``reports/sch_evaluation.json`` key ``delivery``, ``reports/delivery_effort.png``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from standard_coder.runner.context import StageContext

if TYPE_CHECKING:
    from standard_coder.config.training import TrainingSection
    from standard_coder.sch.dataset import Dataset
    from standard_coder.sch.delivery.data import DeliverySplits

DELIVERY_PLOT = "delivery_effort.png"
MODEL_ONLY = ("enable", "pull_requests_path")


def multitask_params(t: TrainingSection) -> dict[str, Any]:
    """``[training.multitask]`` as the model's head parameters (less the file and switch)."""
    return {k: v for k, v in t.multitask.model_dump().items() if k not in MODEL_ONLY}


def baseline_params(t: TrainingSection) -> dict[str, Any]:
    """The LOC baseline of a multitask run: an MDN with the trunk's shape (SCH only)."""
    m = t.multitask
    return {"components": m.components, "hidden": list(m.hidden), "dropout": m.dropout,
            "family": "lognormal"}  # fmt: skip


def pull_request_splits(path: Path, dataset: Dataset, ctx: StageContext) -> DeliverySplits:
    """Read the PR file and join it to the dataset (train/validation/held-out PRs)."""
    from standard_coder.sch.delivery.data import join_pull_requests
    from standard_coder.sch.delivery.prs import load_pull_requests

    prs = load_pull_requests(path)
    splits = join_pull_requests(prs.merged, dataset)
    ctx.log.info(
        "pull requests: %d train, %d validation, %d held out (%d unmerged, %d without a mined "
        "commit left out)", len(splits.train), len(splits.val), len(splits.test),
        prs.n_unmerged, splits.n_dropped,
    )  # fmt: skip
    if len(splits.train) == 0:
        raise ValueError(
            f"{path}: no pull request shares a commit with the mined training history "
            "(check its commit_ids against the configured repositories)"
        )
    return splits


def fit_multitask(
    ctx: StageContext,
    t: TrainingSection,
    dataset: Dataset,
    splits: DeliverySplits,
    training: Any,
    checkpointer: Any,
    *,
    tb_dir: Path,
    seed: int,
    recency_half_life: float | None = None,
) -> Any:
    """The multitask :class:`EffortModel` trained on the dataset's train split and the PRs,
    the changes weighted by recency (``recency_half_life``; None: none), then its SCH map
    (``stage.fit_effort_model``, as for the MDN)."""
    from standard_coder.pipelines.sch_options import effort_device
    from standard_coder.sch.predictors.stage import fit_effort_model

    return fit_effort_model(dataset, "multitask", multitask_params(t), training,
                            checkpointer=checkpointer, should_stop=ctx.should_stop,
                            tb_dir=tb_dir, device=effort_device(ctx), seed=seed,
                            recency_half_life=recency_half_life, prs=splits)  # fmt: skip


def write_delivery_evaluation(
    model: Any, splits: DeliverySplits, evaluation: Path
) -> dict[str, Any]:
    """Delivery metrics on the held-out PRs, added to ``evaluation`` under ``delivery``."""
    import json

    from standard_coder.runner.atomic import atomic_write_json
    from standard_coder.sch.delivery.metrics import delivery_metrics, delivery_plot

    dist = model.regressor_.delivery(splits.test)
    metrics = delivery_metrics(dist, splits.test, splits.train)
    metrics["n_val_prs"] = len(splits.val)
    metrics["n_prs_without_mined_commit"] = splits.n_dropped
    if len(splits.test):
        delivery_plot(dist, splits.test, evaluation.parent / DELIVERY_PLOT)
        metrics["plot"] = DELIVERY_PLOT
    doc = json.loads(evaluation.read_text(encoding="utf-8"))
    doc["delivery"] = metrics
    atomic_write_json(evaluation, doc)
    return metrics
