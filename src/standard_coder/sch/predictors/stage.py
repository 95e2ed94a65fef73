"""Stage-level entry points the pipeline wires: fit an effort model, score raw diffs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from standard_coder.runner.context import TrainingCheckpointer
from standard_coder.sch.dataset import TRAIN, VAL, Dataset
from standard_coder.sch.features.representation import (
    ChangeRepresentation,
    RepresentationMismatch,
)
from standard_coder.sch.features.tokens import language_of
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.sch_map import DEFAULT_HALF_LIFE, fit_sch_map
from standard_coder.sch.predictors.splits import (
    label_weights,
    mdn_weights,
    recency_by_time,
    time_validation_split,
)
from standard_coder.sch.predictors.train import TrainOptions, clear_curves
from standard_coder.sch.records import CommitRecord, FileChange

if TYPE_CHECKING:
    from standard_coder.sch.delivery.data import DeliverySplits

log = logging.getLogger(__name__)


def fit_effort_model(
    dataset: Dataset,
    kind: str,
    params: Mapping[str, Any] | None = None,
    training: TrainOptions | None = None,
    *,
    checkpointer: TrainingCheckpointer | None = None,
    should_stop: Callable[[], bool] | None = None,
    tb_dir: Path | None = None,
    device: str = "cpu",
    seed: int = 0,
    label_weighting: str = "off",
    recency_half_life: float | None = None,
    prs: DeliverySplits | None = None,
) -> EffortModel:
    """Train the ``kind`` predictor (``mdn``, ``quantile``, ``shift``, ``multitask``; ``auto``:
    chosen per repository, ``sch/predictors/auto.py``) on the dataset's train split.

    ``params`` are the head's parameters (e.g. ``components``, ``hidden``, ``family``),
    ``training`` the optimisation settings (defaults: ``TrainOptions()``). Early stopping uses
    the validation split. Pass ``dataset.loc_view()`` to train the LOC baseline.
    ``label_weighting`` weighs the changes in every fit (``splits.label_weights``; ``off``: the
    network predictors weigh every change 1, the shift fits weigh normal-interval labels 1).
    ``recency_half_life`` (a share of the fitted changes; None: no decay) weighs the fitted
    changes by ``0.5 ** (age / (half_life * n))``, age counted in changes by commit time, in
    every fit (:func:`splits.recency_by_time`): real histories drift, and the most recent
    changes say most about the next ones. ``multitask`` learns delivery effort from the
    pull requests ``prs`` too (their train and validation splits; the PRs are not weighted).
    An MDN or multitask fit then fits its SCH map (:func:`map_sch`).

    Raises:
        TrainingInterrupted: ``should_stop()`` turned true (checkpoint saved).
    """
    if kind == "shift":  # fitted in closed form: no curve (an older network's is replaced)
        if tb_dir is not None:
            clear_curves(tb_dir)
        return _fit_shift(dataset, params, training, seed, label_weighting, recency_half_life)
    if kind == "auto":  # params: {"rule": ..., "candidates": {name: (kind, params)}}
        from standard_coder.sch.predictors.auto import SE_MARGIN, fit_auto

        p = dict(params or {})  # no margin_se (params built by hand): today's default, 2
        return fit_auto(dataset, p["candidates"], training, rule=p.get("rule", "spearman_se"),
                        margin=p.get("margin_se", SE_MARGIN), fit=fit_effort_model,
                        checkpointer=checkpointer, should_stop=should_stop, device=device,
                        seed=seed, label_weighting=label_weighting,
                        recency_half_life=recency_half_life, tb_dir=tb_dir)  # fmt: skip
    tr, va = dataset.index(TRAIN), dataset.index(VAL)
    model = EffortModel(predictor=kind, params=params, training=training, random_state=seed,
                        device=device, feature_kind=dataset.feature_kind,
                        feature_checksum=dataset.feature_checksum,
                        vocabulary_checksum=dataset.vocabulary_checksum)  # fmt: skip
    log.info("training %s on %d changes (%d validation) on %s", kind, len(tr), len(va), device)
    w, wv = change_weights(dataset, tr, va, label_weighting, recency_half_life)
    model.fit(
        dataset.X[tr],
        dataset.Y[tr],
        X_val=dataset.X[va],
        Y_val=dataset.Y[va],
        checkpointer=checkpointer,
        should_stop=should_stop,
        tb_dir=tb_dir,
        sample_weight=w,
        sample_weight_val=wv,
        **({} if prs is None else {"prs": prs.train, "prs_val": prs.val}),
    )
    if kind in ("mdn", "multitask"):
        map_sch(model, dataset, np.concatenate([tr, va]))
    return model


SideFit = Callable[[Dataset, str, Mapping[str, Any] | None, str, str], EffortModel]
"""Fits one model: ``(view, kind, params, name, label)``; ``name`` its checkpoint and curves,
``label`` its progress bar (the pipeline's: ``train_sch``'s side models)."""


def fit_loc_baseline(
    dataset: Dataset,
    kind: str,
    params: Mapping[str, Any] | None,
    fit: SideFit,
    *,
    pool_weight: float = 0.0,
    pool_params: Mapping[str, Any] | None = None,
) -> EffortModel:
    """The LOC baseline: the ``kind`` predictor (``params``) fitted on ``dataset.loc_view()``
    (lines added and deleted) by ``fit``, as the model is fitted on every feature.

    ``pool_weight`` > 0 (the model's own pool share, ``[training] pool_size_mdn``): its
    distribution is pooled at that share with an MDN (``pool_params``) on the same two counts,
    as the model's is with an MDN on its size counts; SCH stays the predictor's. Session 41
    (docs/effort-models.md): the LOC MDN alone, the baseline before, learned no size relation on
    histories of under ~150 training changes (one optimiser step an epoch, early stopping after
    15-22 steps: the same SCH for every change), and ranked held-out changes at -0.06 to 0.08
    where lines added alone ranked at up to 0.44.
    """
    loc = dataset.loc_view()
    if not pool_weight:
        return fit(loc, kind, params, "baseline_loc", "LOC baseline")
    mdn = fit(loc, "mdn", pool_params, "baseline_loc", "LOC MDN")
    model = fit(loc, kind, params, f"baseline_loc_{kind}", "LOC baseline")
    return model.pool_with(mdn, pool_weight, range(loc.X.shape[1]))


def change_weights(
    dataset: Dataset,
    tr: np.ndarray,
    va: np.ndarray,
    label_weighting: str = "off",
    recency_half_life: float | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A network fit's weights of the training rows ``tr`` and validation rows ``va`` (None:
    every row weighs 1): ``label_weighting`` (:func:`splits.mdn_weights`) on both, times the
    recency weights (:func:`splits.recency_by_time`, ``recency_half_life``; None: none) on the
    training rows."""
    w = mdn_weights(dataset, label_weighting)
    wv = None if w is None or not w[va].sum() > 0 else w[va]
    if recency_half_life is not None and len(tr):
        w = np.ones(len(dataset)) if w is None else w.copy()
        w[tr] = w[tr] * recency_by_time(dataset, tr, recency_half_life)
    return (None if w is None or not w[tr].sum() > 0 else w[tr]), wv


def map_sch(model: EffortModel, dataset: Dataset, rows: np.ndarray) -> None:
    """Fit the MDN's (or multitask model's) SCH map (``sch_map.py``) onto the actual of the
    fitted ``rows``, weighted as the location-shift model's map is: normal-interval labels,
    recent changes more. SCH's order and the distribution stay as trained; SCH's level and
    spread follow the labels."""
    w = label_weights(dataset)[rows] * recency_by_time(dataset, rows, DEFAULT_HALF_LIFE)
    a, b = fit_sch_map(model.distribution(dataset.X[rows]).sch(), dataset.Y[rows], w)
    buf = model.regressor_.module_.sch_map
    buf.copy_(buf.new_tensor([a, b]))  # type: ignore[operator]


def _fit_shift(
    dataset: Dataset,
    params: Mapping[str, Any] | None,
    training: TrainOptions | None,
    seed: int,
    label_weighting: str = "off",
    recency_half_life: float | None = None,
) -> EffortModel:
    early, late = time_validation_split(dataset)
    w = label_weights(dataset, label_weighting)
    model = EffortModel(predictor="shift", params=params, training=training, random_state=seed,
                        feature_kind=dataset.feature_kind,
                        feature_checksum=dataset.feature_checksum,
                        vocabulary_checksum=dataset.vocabulary_checksum)  # fmt: skip
    log.info("fitting shift on %d changes (%d most recent choose its options)", len(early),
             len(late))  # fmt: skip
    return model.fit(dataset.X[early], dataset.Y[early], X_val=dataset.X[late],
                     Y_val=dataset.Y[late], sample_weight=w[early], sample_weight_val=w[late],
                     feature_names=dataset.feature_names,
                     fit_half_life=recency_half_life)  # fmt: skip


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def _hunk_sizes(header: str) -> list[int] | None:
    """Old and new line counts of a ``@@ -a,b +c,d @@`` header (an omitted count is 1); None
    for a bare ``@@`` (a hand-written hunk: every line up to the next header is read)."""
    m = _HUNK.match(header)
    if m is None:
        return None
    return [int(m.group(1) or 1), int(m.group(2) or 1)]


class TruncatedDiff(ValueError):
    """A hunk of a diff ends before the lines its ``@@`` header counts (a cut-off paste)."""


def parse_unified_diff(text: str, *, strict: bool = False) -> tuple[FileChange, ...]:
    """Split ``git diff`` text (with headers) into headerless per-file hunks.

    A hunk holds the lines its ``@@`` header counts, no more: what follows the last one (a
    ``git format-patch`` mail's ``-- `` signature and version) is not read as a change.

    Raises:
        TruncatedDiff: with ``strict``, a hunk holds fewer lines than its header counts (it
            names the file and the hunk).
    """
    files: list[FileChange] = []
    path: str | None = None
    body: list[str] = []

    def cut_short() -> None:
        if strict and in_hunk and left is not None and (left[0] > 0 or left[1] > 0):
            header = next(ln for ln in reversed(body) if ln.startswith("@@"))
            raise TruncatedDiff(
                f"{path or 'unknown'}: the hunk {header.split(' @@')[0]} @@ ends "
                f"{max(left)} line(s) short of what its header counts (a cut-off diff?)"
            )

    def flush() -> None:
        if path is None and not body:
            return
        p = path or "unknown"
        add = sum(1 for ln in body if ln.startswith("+"))
        dele = sum(1 for ln in body if ln.startswith("-"))
        files.append(FileChange(path=p, old_path=old, language=language_of(p), lines_added=add,
                                lines_deleted=dele, is_binary=False,
                                diff="\n".join(body) + "\n"))  # fmt: skip

    in_hunk = False
    old: str | None = None  # a renamed file's path before (``git diff -M``'s "rename from")
    left: list[int] | None = None  # old and new lines the hunk's header says are to come
    for line in text.splitlines():
        if in_hunk and not line.startswith(("@@", "diff --git ")):
            body.append(line)
            if left is not None and not line.startswith("\\"):  # "\ No newline at end of file"
                left[0] -= 0 if line.startswith("+") else 1
                left[1] -= 0 if line.startswith("-") else 1
                in_hunk = left[0] > 0 or left[1] > 0
            continue
        if line.startswith("diff --git "):
            cut_short()
            flush()
            path, body, in_hunk, old = line.rsplit(" b/", 1)[-1], [], False, None
            continue
        if not in_hunk and line.startswith("rename from "):
            old = line[len("rename from ") :]
            continue
        if not in_hunk and line.startswith("+++ "):
            tgt = line[4:].strip()
            if tgt != "/dev/null":
                path = tgt[2:] if tgt.startswith("b/") else tgt
            continue
        if not in_hunk and line.startswith(
            (
                "--- ",
                "index ",
                "new file",
                "deleted file",
                "similarity",
                "rename ",
                "old mode",
                "new mode",
            )
        ):
            continue
        if line.startswith("@@"):
            cut_short()
            in_hunk, left = True, _hunk_sizes(line)
            body.append(line)
            continue
    cut_short()
    flush()
    return tuple(files)


def diff_records(diffs: list[str]) -> list[CommitRecord]:
    """Wrap raw diff texts as commits (no contents: AST features stay zero)."""
    return [
        CommitRecord(repo="ticket", commit_id=str(i), author_id="", author_name="", authored_at=0,
                     author_tz_offset_min=0, committed_at=0, files=parse_unified_diff(d))
        for i, d in enumerate(diffs)
    ]  # fmt: skip


def predict_diffs(
    model: EffortModel,
    rep: ChangeRepresentation,
    diffs: list[str],
    *,
    n_samples: int = 200,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Coding-hour draws (len(diffs) x n_samples) for raw unified diff texts (tickets).

    Raises:
        RepresentationMismatch: ``rep`` is not the representation the model was trained on.
    """
    if model.vocabulary_checksum != rep.vocabulary_checksum_ or (
        model.feature_checksum and model.feature_checksum != rep.checksum_
    ):
        where = getattr(model, "path_", "<in-memory model>")
        raise RepresentationMismatch(
            f"{where}: model was trained on another feature representation "
            f"({model.vocabulary_checksum[:12]} != {rep.vocabulary_checksum_[:12]})"
        )
    if not diffs:
        return np.zeros((0, n_samples))
    X = rep.transform(diff_records(diffs))
    return model.sample(X, n_samples, rng)
