"""Predicted effort distributions (per change) with the operations evaluation needs.

Both predictors return an :class:`EffortDistribution`: log density and CDF at label samples,
quantiles, draws, the mean and the paper's SCH (mean truncated to [0, 1] hour).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from standard_coder.sch.predictors.mdn import (
    Family,
    mixture_cdf,
    mixture_log_prob,
    mixture_mean,
    mixture_sample,
    truncated_mean,
)
from standard_coder.sch.predictors.quantile import (
    quantile_at,
    quantile_cdf,
    quantile_log_prob,
    quantile_sample,
)
from standard_coder.sch.predictors.sch_map import apply_sch_map


class EffortDistribution(Protocol):
    """A batch of per-change distributions over coding hours."""

    def log_prob(self, y: np.ndarray) -> np.ndarray: ...
    def cdf(self, y: np.ndarray) -> np.ndarray: ...
    def quantiles(self, levels: np.ndarray) -> np.ndarray: ...
    def sample(self, n: int, generator: torch.Generator) -> np.ndarray: ...
    def mean(self) -> np.ndarray: ...
    def sch(self) -> np.ndarray: ...


def _t(y: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(y, np.float64))


class MixtureDistribution:
    """Gaussian or log-normal mixtures (float64 on the CPU)."""

    def __init__(
        self,
        log_pi: torch.Tensor,
        loc: torch.Tensor,
        scale: torch.Tensor,
        family: Family,
        min_hours: float,
        sch_map: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.sch_map = sch_map
        """``(a, b)`` of :func:`~standard_coder.sch.predictors.sch_map.apply_sch_map` on SCH."""
        self.log_pi = log_pi.double().cpu()
        self.loc = loc.double().cpu()
        self.scale = scale.double().cpu()
        self.family = family
        self.min_hours = min_hours

    def log_prob(self, y: np.ndarray) -> np.ndarray:
        """Log density per hour, ``y`` (n, m) -> (n, m)."""
        p = (self.log_pi, self.loc, self.scale)
        return mixture_log_prob(*p, _t(y), self.family, self.min_hours).numpy()

    def cdf(self, y: np.ndarray) -> np.ndarray:
        return mixture_cdf(self.log_pi, self.loc, self.scale, _t(y), self.family).numpy()

    def quantiles(self, levels: np.ndarray) -> np.ndarray:
        """Hours at each probability level (n, L), by bisection on the CDF (log axis)."""
        n = self.loc.shape[0]
        lv = torch.as_tensor(np.asarray(levels, np.float64))[None, :].expand(n, -1)
        lo = torch.full_like(lv, -12.0)
        hi = torch.full_like(lv, 6.0)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = mixture_cdf(self.log_pi, self.loc, self.scale, torch.exp(mid), self.family) < lv
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        out = torch.exp(0.5 * (lo + hi))
        if self.family == "gaussian":  # mass below zero: the quantile is 0 h
            out = torch.where(
                mixture_cdf(self.log_pi, self.loc, self.scale, torch.zeros_like(out), self.family)
                >= lv,
                torch.zeros_like(out),
                out,
            )
        return out.numpy()

    def sample(self, n: int, generator: torch.Generator) -> np.ndarray:
        p = (self.log_pi, self.loc, self.scale)
        return mixture_sample(*p, self.family, n, generator).numpy()

    def mean(self) -> np.ndarray:
        m = mixture_mean(self.log_pi, self.loc, self.scale, self.family)
        return m.clamp_min(0.0).numpy()

    def sch(self) -> np.ndarray:
        raw = truncated_mean(self.log_pi, self.loc, self.scale, self.family, 0.0, 1.0).numpy()
        return apply_sch_map(raw, *self.sch_map)


class QuantileDistribution:
    """Distribution implied by monotone log-hour quantiles (piecewise-linear CDF)."""

    def __init__(self, q: torch.Tensor, taus: torch.Tensor, min_hours: float) -> None:
        self.q = q.double().cpu()
        self.taus = taus.double().cpu()
        self.min_hours = min_hours

    def log_prob(self, y: np.ndarray) -> np.ndarray:
        return quantile_log_prob(self.q, self.taus, _t(y), self.min_hours).numpy()

    def cdf(self, y: np.ndarray) -> np.ndarray:
        return quantile_cdf(self.q, self.taus, _t(y)).numpy()

    def quantiles(self, levels: np.ndarray) -> np.ndarray:
        return quantile_at(self.q, self.taus, torch.as_tensor(np.asarray(levels))).numpy()

    def sample(self, n: int, generator: torch.Generator) -> np.ndarray:
        return quantile_sample(self.q, self.taus, n, generator).numpy()

    def _grid(self, m: int = 512) -> tuple[np.ndarray, np.ndarray]:
        lv = (np.arange(m) + 0.5) / m
        return lv, self.quantiles(lv)

    def mean(self) -> np.ndarray:
        out: np.ndarray = self._grid()[1].mean(axis=1)
        return out

    def sch(self) -> np.ndarray:
        """Mean of the distribution truncated to [0, 1] h (midpoint rule on the quantile grid)."""
        _, x = self._grid()
        inside = x <= 1.0
        cnt = inside.sum(axis=1)
        s = np.where(inside, x, 0.0).sum(axis=1)
        return np.where(cnt > 0, s / np.maximum(cnt, 1), 1.0)
