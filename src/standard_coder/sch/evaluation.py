"""Held-out evaluation of an effort model -> ``sch_evaluation.json`` and three PNGs.

Definitions (test split only; a change's label samples are its inferred coding hours):

* ``heldout_nll``: mean negative log-likelihood per label sample (density per hour).
* ``crps``: CRPS of the predicted distribution against each label sample, averaged; computed
  from ``n_pred_samples`` predictive draws: ``E|X - y| - E|X - X'| / 2``.
* ``coverage_50/80/90``: share of label samples inside the central 50/80/90 % predicted interval.
* ``spearman_*``: Spearman correlation with each change's mean inferred coding time (Table I)
  for the SCH prediction and for lines added, churn (added + deleted), files touched, tokens,
  spaces.
* ``baseline_loc_*``: the same metrics for the same predictor trained on LOC features only.
* ``binned_calibration_r2`` (Fig. 6): changes sorted by SCH into equal-count bins; the "actual"
  of a change is the mean of its label samples inside [0, 1] h (SCH is the predicted mean
  truncated to [0, 1] h, so the two are comparable); R² of bin-mean actual about the diagonal
  ``actual = predicted``: ``1 - sum (a - p)^2 / sum (a - mean a)^2``.
* ``binned_calibration_bias``, ``binned_calibration_slope``, ``binned_calibration_r2_centered``
  (extras: why ``binned_calibration_r2`` is what it is): the mean of bin-mean SCH minus the
  mean of bin-mean actual (hours; the level error), the least-squares slope of bin-mean actual
  on bin-mean SCH (1: SCH spreads as the actual does; above 1: SCH is squeezed) and the R²
  once the level error is taken off every bin (what ranking and spread alone give; the level
  error costs ``n_bins * bias^2 / sum (a - mean a)^2`` of R²).
* ``distribution_pool`` (when the model pools a size MDN, ``[training] pool_size_mdn``): its
  weight, and the held-out NLL and 80 % coverage of the model alone (``unpooled_*``) and of the
  size MDN alone (``size_mdn_*``); the distribution metrics above are the pool's.
* ``binned_calibration_r2_r3`` (extra, the paper's R3 definition of Fig. 6): the same binned R²
  over the changes whose raw interval since the author's previous commit is under 1 h, with
  the raw interval as the actual (no work-inference label); ``n_test_r3`` such changes,
  ``calibration_bins_r3`` bins. NaN when fewer than ``R3_MIN_CHANGES`` (or the dataset has no
  interval column).
* ``totals`` (``sch.totals.held_out_totals``): how often the 80 % range of the total of
  ``window`` consecutive held-out changes holds their actual total, with the changes' draws
  paired at the model's error correlation as ``estimate`` and ``team_output`` sum them
  (``coverage_80``) and summed as if independent (``coverage_80_independent``); ``windows``
  scored, ``correlation`` the model's (``total_correlation`` in ``model.pt``).

Which held-out changes: the keys above are computed on changes whose label comes from a normal
interval (label kind 0: the author's previous commit is at most the inactivity split back; a
pooled author's normal intervals count). First commits and changes after a long gap are labelled
from a fallback window, not from an observed interval, so they say little about the change. The
same metrics over every held-out change carry the suffix ``_all`` (``spearman_sch_all``, ...).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from standard_coder.sch.dataset import TEST, TRAIN, VAL, Dataset, label_kind_counts
from standard_coder.sch.features._io import atomic_write_bytes, atomic_write_text
from standard_coder.sch.predictors.distributions import EffortDistribution
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.sch_map import inside_mean
from standard_coder.sch.stats import binned_means, json_finite, spearman
from standard_coder.sch.target_intervals import HeldOut, target_intervals
from standard_coder.sch.totals import held_out_totals

log = logging.getLogger(__name__)


def crps_from_samples(pred: np.ndarray, y: np.ndarray, chunk: int = 128) -> np.ndarray:
    """Per-change CRPS (averaged over label samples); ``pred`` (n, m), ``y`` (n, S)."""
    n, m = pred.shape
    out = np.empty(n)
    xs = np.sort(pred, axis=1)
    w = (2 * np.arange(1, m + 1) - m - 1) / (m * m)
    spread = (xs * w).sum(axis=1)  # = E|X - X'| / 2
    for i in range(0, n, chunk):
        p = pred[i : i + chunk, :, None]
        yy = y[i : i + chunk, None, :]
        out[i : i + chunk] = np.abs(p - yy).mean(axis=(1, 2)) - spread[i : i + chunk]
    return out


def distribution_metrics(
    dist: EffortDistribution,
    Y: np.ndarray,
    *,
    n_pred_samples: int = 200,
    seed: int = 0,
    log_prob: np.ndarray | None = None,
    cdf: np.ndarray | None = None,
) -> dict[str, float]:
    """NLL, CRPS and central-interval coverage of label samples ``Y`` (n, S); ``log_prob`` and
    ``cdf``: ``dist``'s at ``Y`` where the caller has them already."""
    nll = float(-(dist.log_prob(Y) if log_prob is None else log_prob).mean())
    draws = dist.sample(n_pred_samples, torch.Generator().manual_seed(seed))
    crps = float(crps_from_samples(draws, Y).mean())
    c = dist.cdf(Y) if cdf is None else cdf
    out = {"heldout_nll": nll, "crps": crps}
    for lvl in (50, 80, 90):
        lo = (1 - lvl / 100) / 2
        out[f"coverage_{lvl}"] = float(((c >= lo) & (c <= 1 - lo)).mean())
    return out


def binned_calibration(
    pred: np.ndarray, Y: np.ndarray, n_bins: int | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Bin-mean predicted SCH and bin-mean actual (label samples within [0, 1] h), and R²."""
    ok, actual = inside_mean(Y)
    return binned_means(np.asarray(pred)[ok], actual[ok], n_bins)


R3_MIN_CHANGES = 5


def calibration_parts(bp: np.ndarray, ba: np.ndarray) -> dict[str, float]:
    """Level error, slope and level-free R² of binned calibration (module docstring)."""
    nan = float("nan")
    if len(bp) < 2:
        return {"binned_calibration_bias": nan, "binned_calibration_slope": nan,
                "binned_calibration_r2_centered": nan}  # fmt: skip
    bias = float(bp.mean() - ba.mean())
    ss_tot = float(((ba - ba.mean()) ** 2).sum())
    r2c = 1.0 - float(((ba - (bp - bias)) ** 2).sum()) / ss_tot if ss_tot > 0 else nan
    var_p = float(((bp - bp.mean()) ** 2).sum())
    slope = float(((bp - bp.mean()) * (ba - ba.mean())).sum()) / var_p if var_p > 0 else nan
    return {"binned_calibration_bias": bias, "binned_calibration_slope": slope,
            "binned_calibration_r2_centered": r2c}  # fmt: skip


def r3_calibration(
    pred: np.ndarray, interval_minutes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """The paper's R3 (Fig. 6): changes with a raw interval under 1 h, actual = the interval.

    Returns bin-mean SCH, bin-mean interval (hours), R² and the number of such changes."""
    hours = np.asarray(interval_minutes, np.float64) / 60.0
    short = np.isfinite(hours) & (hours >= 0) & (hours < 1.0)
    n = int(short.sum())
    if n < R3_MIN_CHANGES:
        return np.zeros(0), np.zeros(0), float("nan"), n
    bp, ba, r2 = binned_calibration(np.asarray(pred)[short], hours[short, None])
    return bp, ba, r2, n


def _png(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def _plots(
    reports: Path,
    bp: np.ndarray,
    ba: np.ndarray,
    r2: float,
    mean_pred: np.ndarray,
    q10: np.ndarray,
    q90: np.ndarray,
    y_mean: np.ndarray,
    pit: np.ndarray,
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    out = []
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot(bp, ba, "o", ms=3, label=f"bins (R²={r2:.3f})")
    hi = float(max(1.0, *(bp.tolist() or [0]), *(ba.tolist() or [0])))
    ax.plot([0, hi], [0, hi], "k--", lw=1, label="diagonal")
    ax.set_xlabel("predicted SCH (h, bin mean)")
    ax.set_ylabel("inferred coding time in [0, 1] h (bin mean)")
    ax.set_title("Binned calibration (cf. paper Fig. 6)")
    ax.legend()
    _png(fig, reports / "sch_calibration.png")
    out.append("sch_calibration.png")

    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.errorbar(
        y_mean,
        mean_pred,
        yerr=[np.maximum(mean_pred - q10, 0), np.maximum(q90 - mean_pred, 0)],
        fmt="o",
        ms=2,
        alpha=0.4,
        elinewidth=0.5,
    )
    lim = [
        max(1e-3, float(min(y_mean.min(initial=1), mean_pred.min(initial=1)))),
        float(max(y_mean.max(initial=1), mean_pred.max(initial=1))),
    ]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean inferred coding time (h)")
    ax.set_ylabel("predicted mean (h), q10-q90 bars")
    ax.set_title("Predicted vs inferred hours (test split)")
    _png(fig, reports / "sch_predicted_vs_inferred.png")
    out.append("sch_predicted_vs_inferred.png")

    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    ax.hist(pit.ravel(), bins=20, range=(0, 1), density=True)
    ax.axhline(1.0, color="k", ls="--", lw=1)
    ax.set_xlabel("PIT = predicted CDF at label sample")
    ax.set_ylabel("density")
    ax.set_title("PIT histogram (flat = calibrated)")
    _png(fig, reports / "sch_pit_histogram.png")
    out.append("sch_pit_histogram.png")
    return out


@dataclass(frozen=True)
class _Point:
    sch: np.ndarray
    mean: np.ndarray
    q10: np.ndarray
    q90: np.ndarray


def _point_prediction(dist: EffortDistribution) -> _Point:
    """``predict()``'s sch, mean, q10 and q90 from the distribution already at hand: no second
    forward pass, and the quantile bisection at the two levels used, not all seven (each
    level's bisection runs on its own: the same values, bit for bit)."""
    q = dist.quantiles(np.array([0.1, 0.9]))
    return _Point(sch=dist.sch(), mean=dist.mean(), q10=q[:, 0], q90=q[:, 1])


def _subset_metrics(
    model: EffortModel,
    dataset: Dataset,
    rows: np.ndarray,
    loc_baseline_model: EffortModel | None,
    n_pred_samples: int,
    seed: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The module docstring's metrics over dataset ``rows``, the arrays the plots need and the
    per-change scores of the target intervals (``held_out``)."""
    res: dict[str, Any] = {}
    arrays: dict[str, Any] = {}
    if len(rows) == 0:
        nan = float("nan")
        dist_keys = ("heldout_nll", "crps", "coverage_50", "coverage_80", "coverage_90")
        res.update(dict.fromkeys(dist_keys, nan))
        res.update({f"spearman_{k}": nan for k in SPEARMAN_KEYS})
        res.update(
            binned_calibration_r2=nan,
            calibration_bins=0,
            mean_sch=nan,
            sch_q10=nan,
            sch_q90=nan,
            label_q10=nan,
            label_q90=nan,
            binned_calibration_r2_r3=nan,
            calibration_bins_r3=0,
            n_test_r3=0,
        )
        res.update(calibration_parts(np.zeros(0), np.zeros(0)))
        if loc_baseline_model is not None:
            res.update({f"baseline_loc_{k}": nan for k in (*dist_keys, "spearman_sch")})
        return res, arrays
    Y = dataset.Y[rows].astype(np.float64)
    X = dataset.features_for(model)[rows]
    dist = model.distribution(X)
    pred = _point_prediction(dist)
    y_mean = Y.mean(axis=1)
    log_prob, pit = dist.log_prob(Y), dist.cdf(Y)  # once: the metrics and the target intervals
    res.update(distribution_metrics(dist, Y, n_pred_samples=n_pred_samples, seed=seed,
                                    log_prob=log_prob, cdf=pit))  # fmt: skip
    la = dataset.surface_column("lines_added")[rows]
    ld = dataset.surface_column("lines_deleted")[rows]
    res["spearman_sch"] = spearman(pred.sch, y_mean)
    res["spearman_mean"] = spearman(pred.mean, y_mean)
    res["spearman_lines_added"] = spearman(la, y_mean)
    res["spearman_churn"] = spearman(la + ld, y_mean)
    for name in ("files_touched", "tokens", "spaces"):
        res[f"spearman_{name}"] = spearman(dataset.surface_column(name)[rows], y_mean)
    bp, ba, r2 = binned_calibration(pred.sch, Y)
    res["binned_calibration_r2"] = r2
    res["calibration_bins"] = len(bp)
    res.update(calibration_parts(bp, ba))
    res["mean_sch"] = float(pred.sch.mean())
    # how far apart the estimates lie, beside how far apart the labels do (a model can rank
    # well and still price every change near the typical one: said in the summary)
    res["sch_q10"], res["sch_q90"] = (float(q) for q in np.quantile(pred.sch, [0.1, 0.9]))
    ok, actual = inside_mean(Y)  # as SCH is, the labels' mean within [0, 1] h
    spread = np.quantile(actual[ok], [0.1, 0.9]) if ok.any() else (float("nan"),) * 2
    res["label_q10"], res["label_q90"] = (float(q) for q in spread)
    bp3, _, r2_3, n3 = r3_calibration(pred.sch, np.asarray(dataset.label_interval_minutes)[rows])
    res.update(binned_calibration_r2_r3=r2_3, calibration_bins_r3=len(bp3), n_test_r3=n3)
    base_log_prob = None
    if loc_baseline_model is not None:
        Xl = dataset.features_for(loc_baseline_model)[rows]
        bd = loc_baseline_model.distribution(Xl)
        base_log_prob = bd.log_prob(Y)
        for k, v in distribution_metrics(bd, Y, n_pred_samples=n_pred_samples, seed=seed,
                                         log_prob=base_log_prob).items():  # fmt: skip
            res[f"baseline_loc_{k}"] = v
        res["baseline_loc_spearman_sch"] = spearman(bd.sch(), y_mean)  # predict()'s sch
    arrays = {"bp": bp, "ba": ba, "mean": pred.mean, "q10": pred.q10, "q90": pred.q90,
              "y_mean": y_mean, "pit": pit}  # fmt: skip
    arrays["held_out"] = HeldOut(
        sch=np.asarray(pred.sch, np.float64),
        lines_added=np.asarray(la, np.float64),
        Y=Y,
        nll=-log_prob.mean(axis=1),
        inside_80=((pit >= 0.1) & (pit <= 0.9)).mean(axis=1),
        nll_baseline=None if base_log_prob is None else -base_log_prob.mean(axis=1),
    )
    return res, arrays


def pool_report(model: EffortModel, dataset: Dataset, rows: np.ndarray) -> dict[str, Any]:
    """The pooled distribution's parts on ``rows``: the size MDN's weight and feature count,
    and the held-out NLL and 80 % coverage of the model alone and of the size MDN alone (the
    pool's are ``heldout_nll`` and ``coverage_80``)."""
    assert model.pool_ is not None
    size_model, weight, columns = model.pool_
    out: dict[str, Any] = {"weight": weight, "size_features": len(columns)}
    if len(rows) == 0:
        return out
    Y = dataset.Y[rows].astype(np.float64)
    X = dataset.features_for(model)[rows]
    for name, dist in (("unpooled", model.unpooled_distribution(X)),
                       ("size_mdn", size_model.distribution(X[:, columns]))):  # fmt: skip
        c = dist.cdf(Y)
        out[f"{name}_heldout_nll"] = float(-dist.log_prob(Y).mean())
        out[f"{name}_coverage_80"] = float(((c >= 0.1) & (c <= 0.9)).mean())
    return out


SPEARMAN_KEYS = ("sch", "mean", "lines_added", "churn", "files_touched", "tokens", "spaces")


SHORT_INTERVAL_MINUTES = 60.0


def held_out_shift(dataset: Dataset) -> dict[str, float | None]:
    """How the held-out normal-interval changes differ from the fitted ones in what drives
    their labels' level: the share whose interval is under ``SHORT_INTERVAL_MINUTES`` (commit
    density) and the mean actual (label samples inside [0, 1] h, what binned calibration
    compares with). On real histories the actual follows commit density (Spearman 0.76 over
    110 time deciles of eleven repositories) and held-out periods were sparser on 10 of 11
    (docs/effort-models.md, "Session 10")."""
    split = np.asarray(dataset.split)
    iv = np.asarray(dataset.label_interval_minutes, np.float64)
    ok, actual = inside_mean(dataset.Y)
    normal = (np.asarray(dataset.label_kind) == 0) & np.isfinite(iv)
    out: dict[str, float | None] = {}
    for name, part in (("fitted", split != TEST), ("held_out", split == TEST)):
        k = normal & part
        out[f"share_short_intervals_{name}"] = (
            round(float((iv[k] < SHORT_INTERVAL_MINUTES).mean()), 3) if k.any() else None
        )
        out[f"mean_actual_{name}"] = (
            round(float(actual[k & ok].mean()), 3) if (k & ok).any() else None
        )
    return out


def evaluate(
    model: EffortModel,
    dataset: Dataset,
    reports_dir: Path,
    *,
    loc_baseline_model: EffortModel | None = None,
    truth_pearson: dict[str, float] | None = None,
    n_pred_samples: int = 200,
    seed: int = 0,
    plots: bool = True,
) -> dict[str, Any]:
    """Held-out metrics (module docstring) -> ``<reports_dir>/sch_evaluation.json`` + PNGs.

    The metric keys are computed on the held-out changes whose label comes from a normal
    interval (``dataset.label_kind == 0``; pooled authors' normal intervals included); the same
    metrics over every held-out change carry the suffix ``_all``. Counts: ``n_test`` (all
    held-out), ``n_test_normal``, ``n_test_pooled`` and ``label_kinds`` (held-out changes per
    kind). ``held_out_shift`` (:func:`held_out_shift`) says how the held-out period's commit
    density and label level differ from the fitted period's; ``left_out`` (when the dataset says)
    how many generated and formatting-only files its features did not count, with their lines
    added (every change of the dataset); ``cross_repo_prior_unused`` (when the dataset says) why
    the cross-repository prior was left out. The plots show the normal changes.

    Args:
        model: the effort model (trained on ``dataset``'s representation).
        dataset: the dataset; only its test split is scored.
        reports_dir: folder for ``sch_evaluation.json`` and the PNGs (created).
        loc_baseline_model: the same predictor trained on ``dataset.loc_view()``.
        truth_pearson: ``{"hmm": r, "gap": r}`` from work inference vs simulator truth.
    Returns:
        The metrics dict that was written.
    """
    reports = Path(reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    te = dataset.index(TEST)
    if len(te) == 0:
        raise ValueError("the dataset has no test rows (test_fraction too small?)")
    kinds = np.asarray(dataset.label_kind)[te]
    normal = te[kinds == 0]
    res: dict[str, Any] = {"predictor": model.predictor, "feature_kind": model.feature_kind}
    main, arrays = _subset_metrics(model, dataset, normal, loc_baseline_model, n_pred_samples,
                                   seed)  # fmt: skip
    res.update(main)
    every, arrays_all = _subset_metrics(model, dataset, te, loc_baseline_model, n_pred_samples,
                                        seed)  # fmt: skip
    res.update({f"{k}_all": v for k, v in every.items()})
    if "held_out" in arrays:  # how sure the four targets are (normal held-out changes)
        res["target_intervals"] = target_intervals(arrays["held_out"], seed=seed)
    # the ranges of totals of consecutive held-out changes (estimate's totals, paired draws)
    res["totals"] = held_out_totals(model, dataset, normal, seed=seed)
    if truth_pearson is not None:
        res["work_inference_pearson_vs_truth"] = dict(truth_pearson)
    res["n_train"] = len(dataset.index(TRAIN))
    res["n_validation"] = len(dataset.index(VAL))
    res["n_test"] = len(te)
    res["n_test_normal"] = len(normal)
    res["n_test_pooled"] = int(np.asarray(dataset.pooled)[te].sum())
    res["label_kinds"] = label_kind_counts(kinds)
    res["held_out_shift"] = held_out_shift(dataset)
    if dataset.meta.get("left_out"):  # generated / formatting-only files the features skipped
        res["left_out"] = dict(dataset.meta["left_out"])
    if dataset.meta.get("cross_repo_prior_unused"):  # another language's history
        res["cross_repo_prior_unused"] = str(dataset.meta["cross_repo_prior_unused"])
    if getattr(model, "selection_", None):  # predictor = "auto": why this model
        res["model_selection"] = model.selection_
    if (shape := model.fitted_shape()) is not None:  # the location-shift model's own choices
        column = shape.get("backbone_column")
        names = dataset.feature_names
        if isinstance(column, int) and 0 <= column < len(names):
            shape = {**shape, "backbone": names[column]}  # by name: the prior's, a count's
        res["shift_fit"] = shape
    if getattr(model, "pool_", None) is not None:  # what the pooled size MDN did
        res["distribution_pool"] = pool_report(model, dataset, normal)
    if plots:
        a, r2 = (
            (arrays, main["binned_calibration_r2"])
            if arrays
            else (arrays_all, every["binned_calibration_r2"])
        )  # no normal held-out change: plot them all
        res["plots"] = _plots(reports, a["bp"], a["ba"], r2, a["mean"], a["q10"], a["q90"],
                              a["y_mean"], a["pit"])  # fmt: skip
    res = json_finite(res)
    atomic_write_text(reports / "sch_evaluation.json", json.dumps(res, indent=1, sort_keys=True))
    log.info(
        "held-out NLL %.3f CRPS %.3f cov80 %.2f",
        *(
            res[k] if res[k] is not None else float("nan")
            for k in ("heldout_nll", "crps", "coverage_80")
        ),
    )
    return res
