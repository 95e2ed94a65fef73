"""A strictly increasing map of SCH onto the binned-calibration "actual" (issue 12).

``SCH = sigmoid(a + b * logit(SCH_raw))``, ``b > 0``: weighted least squares of each fitted
change's actual (the mean of its label samples inside [0, 1] h, the quantity
``binned_calibration_r2`` compares SCH with) on the raw SCH (the mean of the predicted
distribution truncated to [0, 1] h). Strictly increasing, so SCH ranks changes exactly as the
raw SCH does; the distribution itself (NLL, quantiles, coverage) is not touched.

Why (``docs/effort-models.md``, "Calibration on real repositories"): a change's label samples
are narrow (one interval's posterior), the location-shift model's distribution is wide (one
shape for every change), so its truncated mean is squeezed towards the middle of [0, 1] h and
moves little with size, while the actual of a change whose labels lie mostly above 1 h is near
1 h. On real histories the actual rose 3-10 times faster with the raw SCH than the raw SCH
itself.

Recency (issue 12, calibration): the held-out period follows the fitted one, and the level of
the actual moves with time (click 0.34 h over the training period, 0.46 h held out). The map
can weigh the fitted changes by ``0.5 ** (age / (h * n))`` (``age``: changes since, in time
order; ``h``: a half-life as a share of the ``n`` fitted changes). :func:`choose_half_life`
picks ``h`` from ``HALF_LIVES`` (``None``: no decay) the way the held-out period will be
predicted: the map of a model fitted on the earlier changes, with that half-life, scored by
the squared error of the actual on the most recent changes (the validation period). The
location-shift model uses ``DEFAULT_HALF_LIFE`` unless given a grid.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

HALF_LIVES: tuple[float | None, ...] = (None, 1.0, 0.5, 0.25, 0.125)
"""Half-lives :func:`choose_half_life` tries, as shares of the fitted changes (None: none)."""
DEFAULT_HALF_LIFE = 0.25
"""The location-shift model's default: a quarter of the fitted changes, chosen
leave-one-repository-out over eight real histories (``docs/effort-models.md``, "Calibration on
real repositories"); choosing it per repository on the validation period did worse there."""
MIN_CHANGES = 8
"""Fewer fitted changes with a label sample inside [0, 1] h: the identity map."""
SLOPE_BOUNDS = (1e-3, 25.0)
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), _EPS, 1 - _EPS)
    out: np.ndarray = np.log(p) - np.log1p(-p)
    return out


def apply_sch_map(raw: np.ndarray, a: float, b: float) -> np.ndarray:
    """``sigmoid(a + b logit(raw))``; ``(0, 1)`` is the identity (up to the clip at 1e-6)."""
    if a == 0.0 and b == 1.0:
        return np.asarray(raw, np.float64)
    out: np.ndarray = 1.0 / (1.0 + np.exp(-(a + b * _logit(raw))))
    return out


def match_mean(draws: np.ndarray, target: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """``draws`` (rows in [0, 1]) shifted per row on the logit scale, ``sigmoid(logit(d) + c)``,
    so that each row's mean is ``target``: the map moves a change's SCH, this moves its draws
    with it (safeguarded Newton on ``c``; a row's order, and so its quantiles' ranks, is kept)."""
    z = _logit(draws)
    goal = np.clip(np.asarray(target, np.float64), _EPS, 1 - _EPS)
    c, lo, hi = np.zeros(len(z)), np.full(len(z), -40.0), np.full(len(z), 40.0)
    for _ in range(60):
        p = 1.0 / (1.0 + np.exp(-(z + c[:, None])))
        f = p.mean(axis=1) - goal
        if np.all(np.abs(f) < tol):
            break
        lo, hi = np.where(f < 0, c, lo), np.where(f > 0, c, hi)
        step = c - f / np.maximum((p * (1 - p)).mean(axis=1), 1e-12)
        c = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
    out: np.ndarray = 1.0 / (1.0 + np.exp(-(z + c[:, None])))
    return out


def inside_mean(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per change: whether any label sample lies in [0, 1] h, and the mean of those that do."""
    Y = np.asarray(Y, np.float64)
    inside = (Y >= 0) & (Y <= 1.0)
    ok: np.ndarray = np.asarray(inside.any(axis=1))
    actual: np.ndarray = np.where(inside, Y, 0.0).sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    return ok, actual


def fit_sch_map(raw: np.ndarray, Y: np.ndarray,
                weight: np.ndarray | None = None) -> tuple[float, float]:  # fmt: skip
    """``(a, b)`` of the map from raw SCH to the actual of label samples ``Y`` (n, S).

    Changes with weight 0 or no label sample in [0, 1] h are left out; fewer than
    ``MIN_CHANGES`` left: ``(0, 1)``.
    """
    ok, actual = inside_mean(Y)
    w = np.ones(len(ok)) if weight is None else np.asarray(weight, np.float64)
    keep = ok & (w > 0)
    if keep.sum() < MIN_CHANGES:
        return 0.0, 1.0
    r, y, sw = np.asarray(raw, np.float64)[keep], actual[keep], np.sqrt(w[keep])
    z = _logit(r)

    def resid(theta: np.ndarray) -> np.ndarray:
        out: np.ndarray = sw * (1.0 / (1.0 + np.exp(-(theta[0] + theta[1] * z))) - y)
        return out

    a0 = float(_logit(np.array([y.mean()]))[0] - z.mean())
    lo, hi = SLOPE_BOUNDS
    sol = least_squares(resid, x0=np.array([a0, 1.0]), bounds=([-50.0, lo], [50.0, hi]))
    a, b = float(sol.x[0]), float(sol.x[1])
    return (a, b) if math.isfinite(a) and math.isfinite(b) else (0.0, 1.0)


def recency_weights(n: int, half_life: float | None) -> np.ndarray:
    """``0.5 ** (age / (half_life * n))`` for ``n`` changes in time order (the last has age 0);
    ones for ``None``."""
    if half_life is None or n == 0:
        return np.ones(n)
    age = (n - 1) - np.arange(n, dtype=np.float64)
    out: np.ndarray = 0.5 ** (age / (half_life * n))
    return out


def choose_half_life(
    raw: np.ndarray,
    Y: np.ndarray,
    weight: np.ndarray,
    raw_val: np.ndarray,
    Y_val: np.ndarray,
    weight_val: np.ndarray,
    half_lives: tuple[float | None, ...] = HALF_LIVES,
) -> tuple[float | None, dict[str, float]]:
    """The half-life whose map, fitted on ``raw``/``Y`` (the earlier changes, time order) with
    recency weights, best predicts the actual of the later ``raw_val``/``Y_val`` changes.

    Score: weighted mean squared error (``weight_val``) between the mapped SCH and the actual,
    over the later changes with a label sample inside [0, 1] h. Ties and too few later changes
    (under ``MIN_CHANGES``): the first half-life (``None``). Returns the choice and every
    score (keys ``str(h)``).
    """
    ok, actual = inside_mean(Y_val)
    wv = np.asarray(weight_val, np.float64)
    keep = ok & (wv > 0)
    w = np.asarray(weight, np.float64)
    scores: dict[str, float] = {}
    if keep.sum() < MIN_CHANGES:
        return half_lives[0], scores
    best, best_err = half_lives[0], math.inf
    for h in half_lives:
        a, b = fit_sch_map(raw, Y, w * recency_weights(len(w), h))
        err = apply_sch_map(np.asarray(raw_val)[keep], a, b) - actual[keep]
        mse = float((wv[keep] * err**2).sum() / wv[keep].sum())
        scores[str(h)] = mse
        if mse < best_err - 1e-12:
            best, best_err = h, mse
    return best, scores
