"""Post-hoc calibration of an effort model, fitted on the most recent training period.

Two maps, both fitted on changes the model did not see (the caller fits the model on the
earlier part of the training period and gives the later part; ``predictor = "auto"`` does so):

- **PIT map** ``G`` (quantile recalibration, Kuleshov et al. 2018): the calibrated CDF is
  ``G(F(y))`` with ``F`` the model's CDF and ``G`` the (smoothed) distribution of the
  validation labels' PIT values ``F(y)``. ``G`` is piecewise linear through the PIT quantiles
  at ``j / K``, mixed with the identity (``PIT_SHRINK``) so it is strictly increasing; the
  density is ``G'(F(y)) f(y)``, quantiles ``F^-1(G^-1(q))``. It moves every central interval
  and the NLL together; a model whose intervals are too wide (coverage above nominal) gets
  narrower ones.
- **SCH map**: ``SCH = sigmoid(a + b * logit(SCH_raw))``, ``b > 0``, least squares of the
  validation changes' "actual" (the mean of their label samples inside [0, 1] h, as the
  binned calibration of ``sch/evaluation.py`` defines it) on the raw SCH (the truncated mean
  of the model's distribution). Strictly increasing, so it never changes how SCH ranks
  changes. Why it is needed (``docs/effort-models.md``, "Calibration on real repositories"):
  a change's label samples are narrow (one interval's posterior), the predictive
  distribution is wide (it covers every change of that size), so the truncated mean of the
  predictive distribution is squeezed towards the middle of [0, 1] h and changes little
  with size, while the actual of a change whose labels are mostly above 1 h is near 1 h.

``fit_calibration`` returns both; :class:`CalibratedDistribution` applies them to any
:class:`~standard_coder.sch.predictors.distributions.EffortDistribution`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import least_squares

from standard_coder.sch.predictors.distributions import EffortDistribution

PIT_SHRINK = 0.1
"""Weight of the identity in the PIT map (keeps it strictly increasing and tempers a small
validation period)."""
MAX_KNOTS = 10
"""Most interior knots of the PIT map (one per ``MIN_CHANGES_PER_KNOT`` validation changes)."""
MIN_CHANGES_PER_KNOT = 5
MIN_CHANGES = 8
"""Fewer validation changes than this: no calibration (identity)."""
SCH_SLOPE_BOUNDS = (1e-3, 25.0)
_EPS = 1e-6


@dataclass
class Calibration:
    """The fitted maps (plain floats and lists: stored in ``model.pt``)."""

    pit_x: list[float]
    """Knots of ``G`` on the model's PIT axis, 0 ... 1, increasing."""
    pit_g: list[float]
    """``G`` at the knots, 0 ... 1, strictly increasing."""
    sch_a: float = 0.0
    sch_b: float = 1.0
    n_changes: int = 0
    loc: float = 0.0
    """Location/scale map on the log-hours axis: ``log y = c + loc + scale (log y_model - c)``."""
    scale: float = 1.0
    center: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(pit_x=[float(v) for v in d["pit_x"]], pit_g=[float(v) for v in d["pit_g"]],
                   sch_a=float(d["sch_a"]), sch_b=float(d["sch_b"]),
                   n_changes=int(d.get("n_changes", 0)), loc=float(d.get("loc", 0.0)),
                   scale=float(d.get("scale", 1.0)),
                   center=float(d.get("center", 0.0)))  # fmt: skip

    @classmethod
    def identity(cls) -> Calibration:
        return cls(pit_x=[0.0, 1.0], pit_g=[0.0, 1.0])

    def g(self, p: np.ndarray) -> np.ndarray:
        return np.interp(p, self.pit_x, self.pit_g)

    def g_inv(self, q: np.ndarray) -> np.ndarray:
        return np.interp(q, self.pit_g, self.pit_x)

    def g_slope(self, p: np.ndarray) -> np.ndarray:
        x, g = np.asarray(self.pit_x), np.asarray(self.pit_g)
        slopes = np.diff(g) / np.diff(x)
        i = np.clip(np.searchsorted(x, p, side="right") - 1, 0, len(slopes) - 1)
        out: np.ndarray = slopes[i]
        return out

    def sch(self, raw: np.ndarray) -> np.ndarray:
        return _sch_map(np.asarray(raw, np.float64), self.sch_a, self.sch_b)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    out: np.ndarray = np.log(p) - np.log1p(-p)
    return out


def _sch_map(raw: np.ndarray, a: float, b: float) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-(a + b * _logit(raw))))
    return out


def inside_mean(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per change: whether any label sample is inside [0, 1] h, and the mean of those inside."""
    Y = np.asarray(Y, np.float64)
    inside = (Y >= 0) & (Y <= 1.0)
    ok = inside.any(axis=1)
    actual = np.where(inside, Y, 0.0).sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    return ok, actual


def fit_pit_map(pit: np.ndarray, n_changes: int) -> tuple[list[float], list[float]]:
    """``G``: the PIT values' quantiles at ``j / K`` (piecewise linear), mixed with the identity."""
    p = np.sort(np.clip(np.asarray(pit, np.float64).ravel(), 0.0, 1.0))
    k = int(min(MAX_KNOTS, max(2, n_changes // MIN_CHANGES_PER_KNOT)))
    levels = np.arange(1, k) / k
    xs = np.quantile(p, levels)
    x = np.concatenate([[0.0], xs, [1.0]])
    g = np.concatenate([[0.0], levels, [1.0]])
    x = np.maximum.accumulate(x)  # quantiles are sorted; duplicates are merged below
    keep = np.concatenate([[True], np.diff(x) > 1e-9])
    x, g = x[keep], g[keep]
    if x[-1] < 1.0:  # the last knots merged into one below 1: G reaches 1 at 1
        x, g = np.append(x, 1.0), np.append(g, 1.0)
    g[-1] = 1.0
    g = (1 - PIT_SHRINK) * g + PIT_SHRINK * x
    return [float(v) for v in x], [float(v) for v in g]


def fit_sch_map(raw: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` of ``sigmoid(a + b logit(raw))``, least squares against ``actual``."""
    raw = np.asarray(raw, np.float64)
    actual = np.asarray(actual, np.float64)
    z = _logit(raw)

    def resid(theta: np.ndarray) -> np.ndarray:
        out: np.ndarray = _sch_map(raw, float(theta[0]), float(theta[1])) - actual
        return out

    lo, hi = SCH_SLOPE_BOUNDS
    a0 = float(_logit(np.array([actual.mean()]))[0] - z.mean())
    sol = least_squares(resid, x0=np.array([a0, 1.0]), bounds=([-50.0, lo], [50.0, hi]))
    a, b = (float(v) for v in sol.x)
    if not (math.isfinite(a) and math.isfinite(b)):
        return 0.0, 1.0
    return a, b


def fit_calibration(dist: EffortDistribution, Y: np.ndarray) -> Calibration:
    """Both maps from a model's distributions ``dist`` of held-back changes and their labels.

    ``Y`` (n, S) label samples of changes the model was not fitted on (normal intervals only:
    the caller filters). Fewer than ``MIN_CHANGES`` changes: the identity.
    """
    Y = np.asarray(Y, np.float64)
    n = len(Y)
    if n < MIN_CHANGES:
        return Calibration.identity()
    x, g = fit_pit_map(dist.cdf(Y), n)
    ok, actual = inside_mean(Y)
    a, b = (0.0, 1.0)
    if ok.sum() >= MIN_CHANGES:
        a, b = fit_sch_map(dist.sch()[ok], actual[ok])
    return Calibration(pit_x=x, pit_g=g, sch_a=a, sch_b=b, n_changes=n)


def _inverse_cdf(base: EffortDistribution, P: np.ndarray, iters: int = 50) -> np.ndarray:
    """Hours at per-row probability levels ``P`` (n, m), bisection on the log-hours axis."""
    lo = np.full(P.shape, -12.0)
    hi = np.full(P.shape, 6.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        below = base.cdf(np.exp(mid)) < P
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    out: np.ndarray = np.exp(0.5 * (lo + hi))
    return out


class CalibratedDistribution:
    """``base`` with the PIT map on its CDF, density and quantiles, and the SCH map on its SCH.

    ``mean()`` is the mean of the calibrated distribution (midpoint rule over 256 levels).
    """

    def __init__(self, base: EffortDistribution, cal: Calibration) -> None:
        self.base = base
        self.cal = cal

    def log_prob(self, y: np.ndarray) -> np.ndarray:
        p = self.base.cdf(y)
        out: np.ndarray = np.log(self.cal.g_slope(p)) + self.base.log_prob(y)
        return out

    def cdf(self, y: np.ndarray) -> np.ndarray:
        return self.cal.g(self.base.cdf(y))

    def quantiles(self, levels: np.ndarray) -> np.ndarray:
        return self.base.quantiles(self.cal.g_inv(np.asarray(levels, np.float64)))

    def sample(self, n: int, generator: torch.Generator) -> np.ndarray:
        rows = len(self.sch())
        u = torch.rand(rows, n, generator=generator, dtype=torch.float64).numpy()
        return _inverse_cdf(self.base, np.clip(self.cal.g_inv(u), 1e-9, 1 - 1e-9))

    def mean(self) -> np.ndarray:
        m = 256
        lv = (np.arange(m) + 0.5) / m
        out: np.ndarray = self.quantiles(lv).mean(axis=1)
        return out

    def sch(self) -> np.ndarray:
        return self.cal.sch(self.base.sch())


MIN_HOURS = 1.0 / 120.0
SCALE_BOUNDS = (0.25, 4.0)


class LocScaleDistribution:
    """``base`` moved and stretched on the log-hours axis; SCH through the SCH map."""

    def __init__(self, base: EffortDistribution, cal: Calibration) -> None:
        self.base = base
        self.cal = cal

    def _back(self, y: np.ndarray) -> np.ndarray:
        c = self.cal
        ly = np.log(np.maximum(np.asarray(y, np.float64), MIN_HOURS))
        out: np.ndarray = np.exp(c.center + (ly - c.center - c.loc) / c.scale)
        return out

    def _fwd(self, yb: np.ndarray) -> np.ndarray:
        c = self.cal
        lb = np.log(np.maximum(yb, 1e-12))
        out: np.ndarray = np.exp(c.center + c.loc + c.scale * (lb - c.center))
        return out

    def log_prob(self, y: np.ndarray) -> np.ndarray:
        yc = np.maximum(np.asarray(y, np.float64), MIN_HOURS)
        yb = self._back(yc)
        out: np.ndarray = self.base.log_prob(yb) + np.log(yb) - np.log(self.cal.scale * yc)
        return out

    def cdf(self, y: np.ndarray) -> np.ndarray:
        return self.base.cdf(self._back(y))

    def quantiles(self, levels: np.ndarray) -> np.ndarray:
        return self._fwd(self.base.quantiles(levels))

    def sample(self, n: int, generator: torch.Generator) -> np.ndarray:
        return self._fwd(self.base.sample(n, generator))

    def mean(self) -> np.ndarray:
        m = 256
        out: np.ndarray = self.quantiles((np.arange(m) + 0.5) / m).mean(axis=1)
        return out

    def sch(self) -> np.ndarray:
        return self.cal.sch(self.base.sch())


def fit_loc_scale(dist: EffortDistribution, Y: np.ndarray) -> tuple[float, float, float]:
    """``(loc, scale, center)`` minimising the mean NLL of ``Y`` under the moved distribution."""
    from scipy.optimize import minimize

    Y = np.asarray(Y, np.float64)
    center = float(np.median(np.log(np.maximum(Y, MIN_HOURS))))
    cal = Calibration.identity()
    cal.center = center
    lo, hi = SCALE_BOUNDS

    def nll(theta: np.ndarray) -> float:
        cal.loc, cal.scale = float(theta[0]), float(np.clip(np.exp(theta[1]), lo, hi))
        v = -float(LocScaleDistribution(dist, cal).log_prob(Y).mean())
        return v if math.isfinite(v) else 1e9

    sol = minimize(nll, np.zeros(2), method="Nelder-Mead",
                   options={"xatol": 1e-3, "fatol": 1e-5, "maxiter": 400})  # fmt: skip
    loc, scale = float(sol.x[0]), float(np.clip(np.exp(sol.x[1]), lo, hi))
    if not (math.isfinite(loc) and nll(sol.x) <= nll(np.zeros(2))):
        return 0.0, 1.0, center
    return loc, scale, center
