"""How sure a held-out metric is: bootstrap intervals for the effort model's four targets.

A few dozen held-out changes cannot tell a Spearman of 0.30 from one of 0.25, nor a binned
calibration R² of −0.3 from one of +0.2 (docs/effort-models.md, "How sure a held-out figure
is"). :func:`target_intervals` resamples the held-out changes with replacement (one draw for
the model, lines added and the LOC baseline together: paired) and reports, for each target, the
figure on every change, its bootstrap interval (bias-corrected and accelerated, BCa, up to
:data:`BCA_MAX_CHANGES` changes; the percentile interval above that, where BCa is undefined,
and for binned R², see :data:`PERCENTILE_ONLY`) and a verdict:

* ``sch_above_lines_added``: Spearman of SCH minus Spearman of lines added (above 0: met);
* ``nll_below_loc``: the LOC baseline's held-out NLL minus the model's (above 0: met);
* ``coverage_80_in_0_70_0_90``: 80 % interval coverage (inside [0.70, 0.90]: met);
* ``calibration_r2_positive``: binned calibration R² (above 0: met). A ratio of small sums
  over five to a dozen bins, it jumps as resampled changes move between bins, and its resampled
  values need not surround the figure itself: its interval is the percentile one stretched to
  hold the figure, so ``met`` and ``missed`` need both to agree;
* ``sch_ranks_above_chance`` (not one of issue 12's four: what the summary warns from):
  Spearman of SCH with the mean label (above 0: met). Undecided or missed, the model's ranking
  of this history's changes cannot be told from chance.

``verdict``: ``met`` or ``missed`` when the whole interval is on one side of the target,
``undecided`` when it straddles it (this many held-out changes cannot say). Fewer than
:data:`MIN_CHANGES` held-out changes: no target; a figure undefined on the whole set, or one
whose interval cannot be computed: no entry for it. Seeded, so a run gives the same intervals.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import bootstrap, rankdata

from standard_coder.sch.predictors.sch_map import inside_mean
from standard_coder.sch.stats import binned_means

LEVEL = 0.90
"""Central share of the bootstrap distribution an interval spans."""
RESAMPLES = 1000
MIN_CHANGES = 10
"""Below this many held-out changes no interval is given (the bootstrap itself is unreliable)."""
COVERAGE_BAND = (0.70, 0.90)
PERCENTILE_ONLY = frozenset({"calibration_r2_positive"})
"""Targets whose interval is the plain percentile one, stretched to hold the figure on every
change: binned R² is a ratio of small sums that jumps as resampled changes move between bins,
so its resampled values need not surround it (BCa's bias correction then misleads too)."""
BCA_MAX_CHANGES = 1000
"""Above this many changes the percentile interval is used: BCa's jackknife costs ``n``
evaluations of ``n - 1`` changes, and at that size its corrections are small."""
BATCH_CELLS = 2_000_000
"""Index cells per batch of resamples a batched statistic is given (memory, not speed)."""


@dataclass(frozen=True)
class HeldOut:
    """Per held-out change, what the four targets are computed from."""

    sch: np.ndarray
    lines_added: np.ndarray
    Y: np.ndarray
    """Label samples (n, S): inferred coding hours."""
    nll: np.ndarray
    """The model's mean negative log-likelihood over the change's label samples."""
    inside_80: np.ndarray
    """Share of the change's label samples inside the model's central 80 % interval."""
    nll_baseline: np.ndarray | None = None
    """The LOC baseline's per-change NLL (None: no baseline, no NLL target)."""


def _row_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman of ``x`` and ``y`` along the last axis (ties share their mean rank; a constant
    row: NaN), for a whole batch of resamples at once."""
    rx, ry = rankdata(x, axis=-1), rankdata(y, axis=-1)
    rx -= rx.mean(axis=-1, keepdims=True)
    ry -= ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt((rx**2).sum(axis=-1) * (ry**2).sum(axis=-1))
        r: np.ndarray = (rx * ry).sum(axis=-1) / scale
    return r


Statistic = Callable[[np.ndarray], Any]


def _statistics(h: HeldOut) -> dict[str, tuple[Statistic, bool]]:
    """Each target's figure as a function of the changes drawn (row indices), and whether it
    takes a batch of draws at once (indices ``(..., n)`` -> figures ``(...)``)."""
    y_mean = h.Y.mean(axis=1)
    ok, actual = inside_mean(h.Y)

    def above_lines(i: np.ndarray) -> np.ndarray:
        y = y_mean[i]
        out: np.ndarray = _row_spearman(h.sch[i], y) - _row_spearman(h.lines_added[i], y)
        return out

    def above_chance(i: np.ndarray) -> np.ndarray:
        out: np.ndarray = _row_spearman(h.sch[i], y_mean[i])
        return out

    def coverage(i: np.ndarray) -> np.ndarray:
        out: np.ndarray = h.inside_80[i].mean(axis=-1)
        return out

    def calibration(i: np.ndarray) -> float:  # one draw at a time: bins differ per draw
        keep = i[ok[i]]
        return binned_means(h.sch[keep], actual[keep])[2]

    stats: dict[str, tuple[Statistic, bool]] = {
        "sch_above_lines_added": (above_lines, True),
        "coverage_80_in_0_70_0_90": (coverage, True),
        "calibration_r2_positive": (calibration, False),
        "sch_ranks_above_chance": (above_chance, True),
    }
    if h.nll_baseline is not None:
        gain = h.nll_baseline - h.nll

        def nll_below(i: np.ndarray) -> np.ndarray:
            out: np.ndarray = gain[i].mean(axis=-1)
            return out

        stats["nll_below_loc"] = (nll_below, True)
    return stats


def _verdict(target: str, low: float, high: float) -> str:
    if target == "coverage_80_in_0_70_0_90":
        lo_band, hi_band = COVERAGE_BAND
        if lo_band <= low and high <= hi_band:
            return "met"
        return "missed" if high < lo_band or low > hi_band else "undecided"
    if low > 0:
        return "met"
    return "missed" if high <= 0 else "undecided"


def _interval(
    stat: Statistic, batched: bool, n: int, resamples: int, level: float, seed: int, bca: bool
) -> tuple[float, float]:
    """Bootstrap interval of ``stat`` over ``n`` changes (scipy): BCa if ``bca`` and defined,
    else the percentile interval of the resamples where the figure is defined (a resample
    can repeat one change, or tie every label); NaN when under half of them are."""

    def along_last(i: np.ndarray, axis: int = -1) -> Any:  # scipy passes axis=-1
        return stat(i)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples are handled below
        res = bootstrap((np.arange(n),), along_last if batched else stat, vectorized=batched,
                        n_resamples=resamples, batch=max(1, BATCH_CELLS // n),
                        confidence_level=level, method="BCa" if bca else "percentile",
                        random_state=np.random.default_rng(seed))  # fmt: skip
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if np.isfinite(low) and np.isfinite(high):
        return low, high
    draws = np.asarray(res.bootstrap_distribution, np.float64)
    draws = draws[np.isfinite(draws)]
    if len(draws) < resamples / 2:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    low, high = (float(q) for q in np.quantile(draws, [tail, 1.0 - tail]))
    return low, high


def target_intervals(
    h: HeldOut, *, resamples: int = RESAMPLES, level: float = LEVEL, seed: int = 0
) -> dict[str, Any]:
    """``{"level", "resamples", "n", <target>: {"value", "low", "high", "verdict"}}``: only
    ``level``, ``resamples`` and ``n`` under :data:`MIN_CHANGES` changes (module docstring)."""
    n = len(h.sch)
    out: dict[str, Any] = {"level": level, "resamples": resamples, "n": n}
    if n < MIN_CHANGES:
        return out
    every = np.arange(n)
    for target, (stat, batched) in _statistics(h).items():
        value = float(stat(every))
        if not np.isfinite(value):
            continue
        bca = target not in PERCENTILE_ONLY and n <= BCA_MAX_CHANGES
        low, high = _interval(stat, batched, n, resamples, level, seed, bca)
        if not (np.isfinite(low) and np.isfinite(high)):
            continue
        if target in PERCENTILE_ONLY:  # stretched to hold the figure itself (module docstring)
            low, high = min(low, value), max(high, value)
        out[target] = {"value": round(float(value), 4), "low": round(low, 4),
                       "high": round(high, 4), "verdict": _verdict(target, low, high)}  # fmt: skip
    return out
