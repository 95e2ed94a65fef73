"""Small statistics shared by the evaluation and the cross-repository prior's checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import spearmanr


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of ``a`` and ``b``; NaN under three rows or when either is constant."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def json_finite(v: Any) -> Any:
    """``v`` (nested dicts, lists, tuples) with every non-finite float as ``None``: strict JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: json_finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_finite(x) for x in v]
    return v


def binned_means(
    pred: np.ndarray, actual: np.ndarray, n_bins: int | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Changes sorted by ``pred`` into equal-count bins (default ``len // 20``, 5 to 250): each
    bin's mean ``pred`` and mean ``actual``, and R² of the bin means about the diagonal."""
    if n_bins is None:
        n_bins = int(min(250, max(5, len(pred) // 20)))
    n_bins = max(1, min(n_bins, len(pred)))
    if len(pred) == 0:
        return np.zeros(0), np.zeros(0), float("nan")
    order = np.argsort(pred, kind="stable")
    bins = np.array_split(order, n_bins)
    bp = np.array([pred[b].mean() for b in bins])
    ba = np.array([actual[b].mean() for b in bins])
    ss_tot = float(((ba - ba.mean()) ** 2).sum())
    r2 = 1.0 - float(((ba - bp) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return bp, ba, r2
