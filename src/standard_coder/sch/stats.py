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
