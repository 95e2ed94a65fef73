"""How sure a held-out metric is: bootstrap intervals for the effort model's four targets.

A few dozen held-out changes cannot tell a Spearman of 0.30 from one of 0.25, nor a binned
calibration R² of −0.3 from one of +0.2 (docs/effort-models.md, "How sure a held-out figure
is"). :func:`target_intervals` resamples the held-out changes with replacement (one draw for
the model, lines added and the LOC baseline together: paired) and reports, for each target, the
figure on every change, its bootstrap interval (bias-corrected and accelerated, BCa; the plain
percentile interval for binned R², see :data:`PERCENTILE_ONLY`) and a verdict:

* ``sch_above_lines_added``: Spearman of SCH minus Spearman of lines added (above 0: met);
* ``nll_below_loc``: the LOC baseline's held-out NLL minus the model's (above 0: met);
* ``coverage_80_in_0_70_0_90``: 80 % interval coverage (inside [0.70, 0.90]: met);
* ``calibration_r2_positive``: binned calibration R² (above 0: met). A ratio of small sums
  over five to a dozen bins, it jumps as resampled changes move between bins, and its resampled
  values need not surround the figure itself: its interval is the percentile one stretched to
  hold the figure, so ``met`` and ``missed`` need both to agree.

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
from scipy.stats import bootstrap

from standard_coder.sch.predictors.sch_map import inside_mean
from standard_coder.sch.stats import binned_means, spearman

LEVEL = 0.90
"""Central share of the bootstrap distribution an interval spans."""
RESAMPLES = 1000
MIN_CHANGES = 10
"""Below this many held-out changes no interval is given (the bootstrap itself is unreliable)."""
COVERAGE_BAND = (0.70, 0.90)


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


def _statistics(h: HeldOut) -> dict[str, Callable[[np.ndarray], float]]:
    """Each target's figure as a function of the changes drawn (row indices)."""
    y_mean = h.Y.mean(axis=1)
    ok, actual = inside_mean(h.Y)

    def above_lines(i: np.ndarray) -> float:
        return spearman(h.sch[i], y_mean[i]) - spearman(h.lines_added[i], y_mean[i])

    def coverage(i: np.ndarray) -> float:
        return float(h.inside_80[i].mean())

    def calibration(i: np.ndarray) -> float:
        keep = i[ok[i]]
        return binned_means(h.sch[keep], actual[keep])[2]

    stats: dict[str, Callable[[np.ndarray], float]] = {
        "sch_above_lines_added": above_lines,
        "coverage_80_in_0_70_0_90": coverage,
        "calibration_r2_positive": calibration,
    }
    if h.nll_baseline is not None:
        base = h.nll_baseline

        def nll_below(i: np.ndarray) -> float:
            return float(base[i].mean() - h.nll[i].mean())

        stats["nll_below_loc"] = nll_below
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


PERCENTILE_ONLY = frozenset({"calibration_r2_positive"})
"""Targets whose interval is the plain percentile one, stretched to hold the figure on every
change: binned R² is a ratio of small sums that jumps as resampled changes move between bins,
so its resampled values need not surround it (BCa's bias correction then misleads too)."""


def _interval(
    stat: Callable[[np.ndarray], float],
    n: int,
    resamples: int,
    level: float,
    seed: int,
    methods: tuple[str, ...] = ("BCa", "percentile"),
) -> tuple[float, float]:
    """Bootstrap interval of ``stat`` over ``n`` changes (scipy), by the first of ``methods``
    that gives one (BCa is undefined when every resample is the same); NaN when none does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples are handled below
        for method in methods:
            res = bootstrap((np.arange(n),), stat, vectorized=False, n_resamples=resamples,
                            confidence_level=level, method=method,
                            random_state=np.random.default_rng(seed))  # fmt: skip
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
            if np.isfinite(low) and np.isfinite(high):
                return low, high
    return float("nan"), float("nan")


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
    for target, stat in _statistics(h).items():
        value = stat(every)
        if not np.isfinite(value):
            continue
        methods = ("percentile",) if target in PERCENTILE_ONLY else ("BCa", "percentile")
        low, high = _interval(stat, n, resamples, level, seed, methods)
        if not (np.isfinite(low) and np.isfinite(high)):
            continue
        if target in PERCENTILE_ONLY:  # stretched to hold the figure itself (module docstring)
            low, high = min(low, value), max(high, value)
        out[target] = {"value": round(float(value), 4), "low": round(low, 4),
                       "high": round(high, 4), "verdict": _verdict(target, low, high)}  # fmt: skip
    return out
