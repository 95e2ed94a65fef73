"""``standard-coder eval``: score a trained effort model without retraining anything.

By default the held-out split of the pipeline's dataset; with ``repos``, fresh repositories are
mined, labelled by work inference and featurised with the *checkpoint's* representation.
Everything is checked before anything is written: a bad checkpoint leaves no trace.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.config import FlagshipConfig
from standard_coder.pipelines.sch_layout import EVALUATION_FILE, SchLayout
from standard_coder.runner.console import say_warning
from standard_coder.runner.jsonfile import read_json_object_or_none

log = logging.getLogger("standard_coder.eval")


class EvalError(ValueError):
    """The checkpoint or the data to evaluate is unusable (the message names the path)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_checkpoint(checkpoint: Path, cfg: FlagshipConfig, device: str) -> tuple[Any, Any]:
    """The model and the representation it was trained on, or :class:`EvalError`."""
    from standard_coder.pipelines.sch_effort import read_effort_model, read_representation

    if checkpoint.is_dir():  # a run's model folder: the file in it is what is meant
        inside = checkpoint / "model.pt"
        hint = (
            f": give {inside}"
            if inside.is_file()
            else " (give a run's <base_dir>/models/<predictor>/model.pt)"
        )
        raise EvalError(f"{checkpoint}: is a folder, expected a model checkpoint file{hint}")
    if not checkpoint.is_file():
        raise EvalError(f"{checkpoint}: checkpoint not found")
    try:
        with checkpoint.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise EvalError(f"{checkpoint}: cannot read it ({exc.strerror or exc})") from None
    if head != b"PK\x03\x04":  # torch.save writes a zip archive (a cut one is said below)
        raise EvalError(
            f"{checkpoint}: not a model checkpoint (give a run's <base_dir>/models/<predictor>/"
            "model.pt)"
        )
    rep_dir = _layout(cfg).change_rep
    config = cfg.config_path if cfg.config_path and cfg.config_path.is_file() else None
    try:
        rep = read_representation(rep_dir, config_path=config)
    except ValueError as exc:  # ModelUnreadable
        raise EvalError(str(exc)) from None
    try:
        model = read_effort_model(checkpoint, device, config_path=config)
    except ValueError as exc:  # ModelUnreadable, RepresentationMismatch
        raise EvalError(str(exc)) from None
    expected = rep.vocabulary_checksum_
    if model.feature_kind != "loc" and model.vocabulary_checksum != expected:
        raise EvalError(
            f"{checkpoint}: trained on another feature vocabulary "
            f"({model.vocabulary_checksum[:12]} != {expected[:12]} in {rep_dir}); "
            "retrain it or point --config at the run that produced it"
        )
    return model, rep


def _layout(cfg: FlagshipConfig) -> SchLayout:
    return SchLayout(cfg.outputs.base_dir, cfg.training.predictor)


def _dataset_for_repos(repos: Sequence[Path], cfg: FlagshipConfig, rep: Any, work: Path) -> Any:
    """Mine, label and featurise other repositories with the checkpoint's representation.

    The same builders as the stages (``sch_mine.mine``, ``sch_train.load_histories`` and
    ``label_commits``), run in-process into the temporary folder ``work``.
    """
    from standard_coder.pipelines.sch_mine import mine
    from standard_coder.pipelines.sch_options import mine_options
    from standard_coder.pipelines.sch_train import (
        label_commits,
        label_info_of,
        load_histories,
        session_weights,
    )
    from standard_coder.sch.dataset import TEST, build_dataset
    from standard_coder.sch.mining.mine import MiningError
    from standard_coder.sch.mining.store import iter_commits

    opts = mine_options(
        cfg.repos, cfg.filters, work, commit_files=rep.commit_files, commit_body=rep.commit_body
    )
    db = work / "mined.sqlite"
    say = _progress_line
    say(f"mining {len(repos)} repositor{'y' if len(repos) == 1 else 'ies'} (--repos)")
    try:
        mine([Path(r).resolve() for r in repos], db, opts, show_table=False)
    except MiningError as exc:  # a path that is not a git repository is bad input here
        bad = "; ".join(
            why if str(path) in why else f"{path}: {why}" for path, why in exc.failed.items()
        )
        raise EvalError(f"--repos: cannot mine {bad}") from None
    histories = load_histories(db)
    if not histories:
        raise EvalError(f"{', '.join(map(str, repos))}: no commits of the configured languages")
    say(f"inferring the coding time of {len(histories):,} authors' commits")
    labels = label_commits(
        histories,
        cfg.training,
        cfg.training.work_inference,
        out_dir=work / "work_inference",
        seed=cfg.runner.seed,
    )
    assert labels is not None  # only a stage's stop request returns None
    contents = rep.kind == "hybrid"
    say("reading the changes and scoring the model on them")
    records = {
        (r.repo, r.commit_id): r for r in iter_commits(db, with_files=True, with_contents=contents)
    }
    # build_dataset gives labels, surface counts and squash-free rows; X is then recomputed with
    # the checkpoint's representation (the one build_dataset fits here is discarded).
    kinds, pooled = label_info_of(labels, db)
    ds, _ = build_dataset(
        records.values(),
        (list(labels.keys), labels.samples_hours),
        representation=rep.kind,
        skip_generated=rep.skip_generated,
        skip_formatting=rep.skip_formatting,
        commit_subject=rep.commit_subject,
        commit_files=rep.commit_files,
        commit_body=rep.commit_body,
        test_fraction=0.5,
        seed=cfg.runner.seed,
        label_kinds=kinds,
        pooled=pooled,
        session_weights=session_weights(labels),
    )
    rows = [records[(str(a), str(b))] for a, b in zip(ds.repo, ds.commit_id, strict=True)]
    meta = {**ds.meta, "checksum": rep.checksum_, "vocabulary_checksum": rep.vocabulary_checksum_}
    return replace(
        ds, X=rep.transform(rows), split=np.full(len(ds), TEST, dtype=ds.split.dtype), meta=meta
    )


def _progress_line(text: str) -> None:
    """One line on stderr while ``eval --repos`` works (minutes on a large history)."""
    sys.stderr.write(f"eval: {text}\n")
    sys.stderr.flush()


def run_eval(
    checkpoint: Path,
    cfg: FlagshipConfig,
    *,
    repos: Sequence[Path] = (),
    device: str = "cpu",
) -> Path:
    """Evaluate ``checkpoint``; return ``<base_dir>/eval/<eval_id>/``.

    Raises:
        EvalError: missing, truncated or incompatible checkpoint, or nothing to evaluate.
    """
    from standard_coder.runner.atomic import atomic_write_text
    from standard_coder.sch.dataset import TEST, Dataset
    from standard_coder.sch.evaluation import evaluate

    checkpoint = Path(checkpoint).resolve()
    model, rep = load_checkpoint(checkpoint, cfg, device)
    layout = _layout(cfg)
    digest = _sha256(checkpoint)
    eval_id = time.strftime("%Y%m%d-%H%M%S") + "-" + digest[:8]
    with tempfile.TemporaryDirectory(prefix="sc-eval-") as tmp:
        if repos:
            ds = _dataset_for_repos(repos, cfg, rep, Path(tmp))
            source: dict[str, Any] = {"repos": [str(Path(r).resolve()) for r in repos]}
        else:
            if not layout.dataset.exists():
                raise EvalError(f"{layout.dataset}: no dataset; run train_sch or pass --repos")
            ds = Dataset.load(layout.dataset)
            source = {"dataset": str(layout.dataset), "split": "held-out (test)"}
        te = ds.index(TEST)
        if len(te) == 0:
            raise EvalError("nothing to evaluate: the held-out split is empty")
        out = layout.eval_runs / eval_id
        out.mkdir(parents=True, exist_ok=True)
        baseline = _loc_baseline(layout.baseline, device, cfg.config_path)
        metrics = evaluate(model, ds, out, loc_baseline_model=baseline, seed=cfg.runner.seed)
    (out / EVALUATION_FILE).unlink(missing_ok=True)
    X = ds.X_loc[te] if model.feature_kind == "loc" else ds.X[te]
    pred = model.predict(X)
    inferred = ds.Y[te].astype(np.float64).mean(axis=1)
    lines = []
    for i, row in enumerate(te):
        lines.append(
            json.dumps(
                {
                    "repo": str(ds.repo[row]),
                    "commit_id": str(ds.commit_id[row]),
                    "sch": round(float(pred.sch[i]), 6),
                    "q10": round(float(pred.q10[i]), 6),
                    "q50": round(float(pred.q50[i]), 6),
                    "q90": round(float(pred.q90[i]), 6),
                    "inferred_hours": round(float(inferred[i]), 6),
                }
            )
        )
    atomic_write_text(out / "predictions.jsonl", "\n".join(lines) + "\n")
    if repos:  # every change is held out here: the model's own split says what it learned from
        metrics = {k: v for k, v in metrics.items() if k not in TRAINING_COUNTS}
        metrics.update(_training_counts(checkpoint))
    metrics = {**metrics, "checkpoint": str(checkpoint), "checkpoint_sha256": digest, **source}
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True))
    labelmap = {
        "fields": {
            "repo": "repository id (folder name + short path hash)",
            "commit_id": "git commit id",
            "sch": "Standard Coding Hours: mean of the prediction truncated to [0, 1] h",
            "q10": "10th percentile of predicted coding time",
            "q50": "median of predicted coding time",
            "q90": "90th percentile of predicted coding time",
            "inferred_hours": "mean of the commit's work-inference label samples",
        },
        "units": {k: "hours" for k in ("sch", "q10", "q50", "q90", "inferred_hours")},
        "model": {
            "predictor": model.predictor,
            "checkpoint_sha256": digest,
            "feature_kind": model.feature_kind,
            "feature_checksum": model.feature_checksum,
            "vocabulary_checksum": model.vocabulary_checksum,
        },
        "n_predictions": len(lines),
    }
    atomic_write_text(out / "labelmap.json", json.dumps(labelmap, indent=1, sort_keys=True))
    _scalars(out / "tb", metrics)
    return out


TRAINING_COUNTS = ("n_train", "n_validation")


def _loc_baseline(path: Path, device: str, config_path: Path | None) -> Any:
    """The run's LOC-only baseline (``train_sch`` output ``baseline``) to score beside the model,
    as ``sch_evaluation.json`` does; None when there is none usable (the column says ``-``, and a
    damaged one is a ``warning:`` line naming it)."""
    from standard_coder.pipelines.sch_effort import read_effort_model

    if not path.is_file():
        return None
    try:
        model = read_effort_model(path, device, config_path=config_path)
    except ValueError as exc:  # a damaged baseline must not stop the evaluation of the model
        say_warning(f"LOC baseline {exc}; scored without it", log)
        return None
    return model if model.feature_kind == "loc" else None


def _training_counts(checkpoint: Path) -> dict[str, int]:
    """``n_train`` and ``n_validation`` of the run that trained ``checkpoint``
    (``<base_dir>/models/<kind>/model.pt``: that run's ``reports/sch_evaluation.json``); empty
    when that file is gone or unreadable."""
    if len(checkpoint.parents) < 3:
        return {}
    ev = read_json_object_or_none(SchLayout(checkpoint.parents[2]).evaluation) or {}
    return {k: int(ev[k]) for k in TRAINING_COUNTS if isinstance(ev.get(k), int)}


def _scalars(tb_dir: Path, metrics: dict[str, Any]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tb_dir))
    try:
        for key, value in sorted(metrics.items()):
            if isinstance(value, int | float) and not isinstance(value, bool):
                writer.add_scalar(f"eval/{key}", float(value), 0)
    finally:
        writer.close()
