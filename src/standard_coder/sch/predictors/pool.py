"""A linear pool of two effort distributions: the model's, and a size MDN's (issue 12).

``p(y | x) = (1 - w) p_model(y | x) + w p_size(y | x)``: the effort model's distribution (the
location-shift model, or whatever ``auto`` chose) pooled with an MDN fitted on the change's
size counts alone (the ``surface|*`` columns of the same features). SCH stays the model's own
(mapped) SCH, so SCH ranks changes exactly as before; only the distribution (NLL, CRPS,
coverage, quantiles, draws) is the pool.

Why (docs/effort-models.md, "A pooled distribution"): on real histories the location-shift
model's one shape and an MDN's size-dependent shapes miss the held-out labels in different
places; the log score of a linear pool is never below the weighted mean of its members' (log is
concave), and it is usually above both when they are about as good and miss differently. The
weight is fixed (``[training] pool_size_mdn``, default 0.25: a quarter for the size MDN, chosen
over 0.5 and 0.75 on 55 real histories and confirmed on 22 more, session 50), not fitted on the
validation period, which has not told held-out quality apart on these histories
("Per-repository choice").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from standard_coder.sch.predictors.distributions import EffortDistribution

SIZE_PREFIX = "surface|"
"""Feature columns the size MDN sees: the change's surface counts."""


def size_columns(feature_names: Sequence[str]) -> list[int]:
    """Indices of the size-count columns (``surface|*``) among ``feature_names``."""
    return [i for i, n in enumerate(feature_names) if str(n).startswith(SIZE_PREFIX)]


class PooledDistribution:
    """``(1 - weight) * main + weight * other``, per change; SCH is ``main``'s."""

    def __init__(self, main: EffortDistribution, other: EffortDistribution,
                 weight: float) -> None:  # fmt: skip
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"pool weight must be in [0, 1), got {weight}")
        self.main, self.other, self.weight = main, other, float(weight)

    def log_prob(self, y: np.ndarray) -> np.ndarray:
        if self.weight == 0.0:
            return self.main.log_prob(y)
        out: np.ndarray = np.logaddexp(
            np.log1p(-self.weight) + self.main.log_prob(y),
            np.log(self.weight) + self.other.log_prob(y),
        )
        return out

    def cdf(self, y: np.ndarray) -> np.ndarray:
        out: np.ndarray = (1.0 - self.weight) * self.main.cdf(y) + self.weight * self.other.cdf(y)
        return out

    def quantiles(self, levels: np.ndarray) -> np.ndarray:
        """Hours at each probability level (n, L): bisection on the pooled CDF (log axis),
        between the members' own quantiles (the pool's lies between them)."""
        lv = np.asarray(levels, np.float64)
        qa, qb = self.main.quantiles(lv), self.other.quantiles(lv)
        floor = 1e-6  # a member's quantile of 0 h (a Gaussian's mass below zero)
        lo = np.log(np.maximum(np.minimum(qa, qb), floor))
        hi = np.log(np.maximum(np.maximum(qa, qb), floor))
        n, n_levels = qa.shape
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            c = self._cdf_grid(np.exp(mid), n, n_levels)
            below = c < lv[None, :]
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        out: np.ndarray = np.exp(0.5 * (lo + hi))
        zero = self._cdf_grid(np.zeros_like(out), n, n_levels) >= lv[None, :]
        return np.where(zero, 0.0, out)

    def _cdf_grid(self, y: np.ndarray, n: int, n_levels: int) -> np.ndarray:
        out: np.ndarray = self.cdf(y.reshape(n, n_levels)).reshape(n, n_levels)
        return out

    def sample(self, n: int, generator: torch.Generator) -> np.ndarray:
        """``n`` draws per change: each from ``other`` with probability ``weight``."""
        a = self.main.sample(n, generator)
        if self.weight == 0.0:
            return a
        b = self.other.sample(n, generator)
        pick = torch.rand(a.shape, generator=generator, dtype=torch.float64).numpy()
        out: np.ndarray = np.where(pick < self.weight, b, a)
        return out

    def mean(self) -> np.ndarray:
        out: np.ndarray = (1.0 - self.weight) * self.main.mean() + self.weight * self.other.mean()
        return out

    def sch(self) -> np.ndarray:
        return self.main.sch()
