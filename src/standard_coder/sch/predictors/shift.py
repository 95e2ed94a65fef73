"""Location-shift mixture: one shape for every change, shifted by a size backbone (+ refinement).

``log hours = mu(x) + e``, ``e ~ sum_k pi_k N(m_k, s_k)`` (the shape, the same for every change),
``mu(x) = a + b * x[backbone] + w * r(x)``:

- ``x[backbone]`` is one scaled size column (``(log1p(count) - mean) / std``, so monotone in the
  count), ``b >= MIN_SLOPE``; least squares on the changes' mean log label. A ``mix`` (fixed
  non-negative weights on other columns) makes it ``x[backbone] + x @ mix``, still monotone in
  every count it weighs (docs/effort-models.md, "Combined backbone");
- ``r(x)`` is a ridge regression (all columns, penalty by generalised cross-validation) of what
  the backbone leaves; ``w`` shrinks it, 0 included;
- the backbone column, ``w`` and the number of shape components are chosen by NLL on a
  validation split the caller gives (the pipeline gives the end of the training period by
  commit time), then everything is refitted on train + validation.

With ``w = 0`` every change's distribution is the same shape moved along the log axis, so SCH
(mean truncated to [0, 1] h) and every quantile rank changes exactly as the backbone does:
the model never ranks below its backbone unless validation says the refinement helps. A shape
whose SCH is not monotone in the shift over the fitted changes' range (plus a quarter of it
on each side) is refused (fewer components are
tried), so that guarantee holds for the paper's SCH, not only for the median.

Spread: the shape may widen or narrow with the location, ``e * exp(c * (mu - m0) / u)`` (``m0``,
``u``: the fitted changes' mean and standard deviation of ``mu``; ``c`` from ``spreads``, 0 = one
shape for all; ``mu`` is clipped to the range the monotonicity check covers, so beyond it the
shape stops changing and the model is a pure shift again). ``c`` is chosen after the rest, on
the same validation rows: the slope that beats ``c = 0`` most among those whose NLL beats it by
more than ``SPREAD_SE`` standard errors of the per-change difference; a spread whose SCH is not
monotone in ``mu`` is refused like a shape (docs/effort-models.md, "Spread with size"). The
order of SCH stays the order of ``mu``.

SCH is then mapped by ``sigmoid(a + b * logit(SCH))``, ``b > 0``, fitted on the fitted changes
(``sch_map.py``): one shape for every change makes the truncated mean of the distribution
move far less with size than the changes' labels inside [0, 1] h do. The map is strictly
increasing, so the ranking guarantee above is unchanged; the distribution is not touched.

``tiebreak=True`` replaces the shrunk refinement by a *tie-break*: ``mu(x) = a + b * (x[backbone]
+ d * tanh(z(x)))``, ``z`` the standardised ridge prediction of what the backbone leaves. With
window 0, ``d`` is under half the smallest gap between two backbone values seen in fitting:
SCH is ordered by the backbone first and the refinement only orders changes with the same
backbone value (lines added has many ties among small changes). A window ``v > 0`` (backbone
units, i.e. standard deviations of ``log1p(lines added)``) lets it reorder near-ties too:
``d = v``. The windows tried (``tie_windows``) are chosen by validation NLL like ``w``; the
shape is fitted around the backbone alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.mixture import GaussianMixture
from torch import nn

from standard_coder.sch.predictors.mdn import mixture_log_prob, truncated_mean
from standard_coder.sch.predictors.sch_map import (
    DEFAULT_HALF_LIFE,
    choose_half_life,
    fit_sch_map,
    recency_weights,
)

SHRINK_GRID = (0.0, 0.25, 0.5, 1.0)
MIN_SLOPE = 1e-3
"""Floor of the backbone's slope (log hours per scaled unit): where the training labels show no
size relation the shift still orders changes by the backbone instead of tying them all."""
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-1, 4, 11))
Spread = tuple[float, float, float, float, float]
"""``(c, m0, u, lo, hi)``: spread slope, the location's standardisation, the clip of ``mu``."""
NO_SPREAD: Spread = (0.0, 0.0, 1.0, -math.inf, math.inf)
SPREADS = (-0.2, -0.1, 0.1, 0.2)
"""Spread slopes tried (log-scale change per standard deviation of the location)."""
SPREAD_SE = 0.5
"""A spread is kept when its validation NLL beats none by more than this many standard errors
of the per-change NLL difference (15 real histories: 8 gained 0.007-0.03 nats held out, 2 lost
0.005-0.011; with 1.0 three of the gains were lost)."""


@dataclass
class ShiftConfig:
    """Everything needed to rebuild a :class:`ShiftNet` (stored in the checkpoint)."""

    n_features: int
    components: int = 4
    """Most shape components tried (1 .. components; the fitted count is in ``n_used``)."""
    min_hours: float = 1.0 / 120.0
    family: str = "lognormal"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ShiftNet(nn.Module):
    """The fitted numbers as buffers (``state_dict`` round-trips through ``model.pt``)."""

    intercept: torch.Tensor
    coef: torch.Tensor
    log_pi: torch.Tensor
    offset: torch.Tensor
    scale: torch.Tensor
    choice: torch.Tensor
    tie_coef: torch.Tensor
    tie_bias: torch.Tensor
    tie_scale: torch.Tensor
    sch_map: torch.Tensor
    spread: torch.Tensor
    loc_range: torch.Tensor

    def __init__(self, cfg: ShiftConfig) -> None:
        super().__init__()
        self.cfg = cfg
        k = cfg.components
        self.register_buffer("intercept", torch.zeros((), dtype=torch.float64))
        self.register_buffer("coef", torch.zeros(cfg.n_features, dtype=torch.float64))
        self.register_buffer("log_pi", torch.full((k,), -1e4, dtype=torch.float64))
        self.register_buffer("offset", torch.zeros(k, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(k, dtype=torch.float64))
        # the choice, for reports: backbone column, its slope, shrinkage w, components used
        self.register_buffer("choice", torch.tensor([-1.0, 0.0, 0.0, 0.0], dtype=torch.float64))
        # tie-break: + tie_scale * tanh(x @ tie_coef + tie_bias) (tie_scale 0: none)
        self.register_buffer("tie_coef", torch.zeros(cfg.n_features, dtype=torch.float64))
        self.register_buffer("tie_bias", torch.zeros((), dtype=torch.float64))
        self.register_buffer("tie_scale", torch.zeros((), dtype=torch.float64))
        # SCH = sigmoid(a + b logit(truncated mean)) (sch_map.py; (0, 1): the identity)
        self.register_buffer("sch_map", torch.tensor([0.0, 1.0], dtype=torch.float64))
        # the shape's width moves with the location: [c, m0, u, lo, hi], the width times
        # f = exp(c * (clip(mu, lo, hi) - m0) / u)
        self.register_buffer("spread", torch.tensor(NO_SPREAD, dtype=torch.float64))
        # the location is clipped to the fitted changes' range (models from before: unbounded)
        self.register_buffer("loc_range", torch.tensor([-math.inf, math.inf], dtype=torch.float64))

    def location(self, x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        out: torch.Tensor = self.intercept + x @ self.coef
        out = out + self.tie_scale * torch.tanh(x @ self.tie_coef + self.tie_bias)
        lo, hi = self.loc_range.tolist()
        return out.clamp(lo, hi)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log_pi, loc, scale)`` per row, ``(batch, K)`` on the log-hours axis."""
        mu = self.location(x)[:, None]
        return _shape_at(self.log_pi, self.offset, self.scale, mu, self.spread.tolist())

    def set_fit(self, fit: ShiftFit) -> None:
        k = len(fit.weights)
        with torch.no_grad():
            self.intercept.fill_(fit.intercept)
            self.coef.copy_(torch.as_tensor(fit.coef))
            self.log_pi.fill_(-1e4)
            self.log_pi[:k] = torch.as_tensor(np.log(fit.weights))
            self.offset.zero_()
            self.offset[:k] = torch.as_tensor(fit.offsets)
            self.scale.fill_(1.0)
            self.scale[:k] = torch.as_tensor(fit.scales)
            self.choice.copy_(torch.tensor([fit.backbone, fit.slope, fit.shrink, k],
                                           dtype=torch.float64))  # fmt: skip
            self.tie_coef.zero_()
            if fit.tie_coef is not None:
                self.tie_coef.copy_(torch.as_tensor(fit.tie_coef))
            self.tie_bias.fill_(fit.tie_bias)
            self.tie_scale.fill_(fit.tie_scale)
            self.sch_map.copy_(torch.tensor([fit.sch_a, fit.sch_b], dtype=torch.float64))
            self.spread.copy_(torch.tensor(fit.spread, dtype=torch.float64))
            self.loc_range.copy_(torch.tensor(fit.loc_range, dtype=torch.float64))

    def describe(self) -> dict[str, Any]:
        """What the fit chose, for reports: the backbone's column and slope (log hours per
        standard deviation), the refinement weight, the shape's components, the spread slope,
        the SCH map ``(a, b)`` and the range the location is clipped to (log hours)."""
        col, slope, shrink, k = self.choice.tolist()
        return {"backbone_column": int(col), "slope": slope, "refinement": shrink,
                "components": int(k), "spread": float(self.spread[0]),
                "sch_map": self.sch_map.tolist(),
                "location_range": [float(v) for v in self.loc_range]}  # fmt: skip

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              *args: Any, **kwargs: Any) -> None:  # fmt: skip
        # a checkpoint from before the tie-break (the SCH map, the spread) has none: the identity
        old = state_dict.get(prefix + "spread")
        if old is not None and old.numel() == 3:  # [c, m0, u] from before the clip
            state_dict[prefix + "spread"] = torch.cat([old.double(), self.spread[3:].clone()])
        for name in ("tie_coef", "tie_bias", "tie_scale", "sch_map", "spread", "loc_range"):
            state_dict.setdefault(prefix + name, getattr(self, name).clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


@dataclass
class ShiftFit:
    """One fitted location-shift model (numpy)."""

    intercept: float
    coef: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray
    scales: np.ndarray
    backbone: int
    slope: float
    shrink: float
    selection: list[dict[str, float | None]] = field(default_factory=list)
    tie_coef: np.ndarray | None = None
    tie_bias: float = 0.0
    tie_scale: float = 0.0
    sch_a: float = 0.0
    sch_b: float = 1.0
    sch_half_life: float | None = None
    """Recency half-life of the SCH map (share of the fitted changes; None: no decay)."""
    sch_half_life_scores: dict[str, float] = field(default_factory=dict)
    spread: Spread = NO_SPREAD
    """``(c, m0, u, lo, hi)``: the shape's width is multiplied by
    ``exp(c * (clip(mu, lo, hi) - m0) / u)``."""
    loc_range: tuple[float, float] = (-math.inf, math.inf)
    """The location is clipped to the fitted changes' range: a change larger (or smaller) than
    any the model learned from is predicted as the largest (smallest) one, never extrapolated."""

    def location(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float64)
        out: np.ndarray = self.intercept + X @ self.coef
        if self.tie_coef is not None and self.tie_scale:
            out = out + self.tie_scale * np.tanh(X @ self.tie_coef + self.tie_bias)
        clipped: np.ndarray = np.clip(out, *self.loc_range)
        return clipped

    def best_val(self) -> float:
        """The lowest validation NLL among the tries with the chosen spread (NaN: none)."""
        c = self.spread[0]
        vals = [v for r in self.selection
                if r.get("spread", c) == c and (v := r["val_nll"]) is not None]  # fmt: skip
        return min(vals) if vals else math.nan

    def components(self, mu: np.ndarray) -> _Parts:
        """``(log_pi, loc, scale)``, ``(n, K)`` on the log-hours axis, at locations ``mu``."""
        return _components(self.weights, self.offsets, self.scales, mu, self.spread)

    def change_nll(self, X: np.ndarray, Y: np.ndarray, min_hours: float) -> np.ndarray:
        """Per change: the mean negative log density of its label samples (hours, Jacobian)."""
        lp = mixture_log_prob(*self.components(self.location(X)),
                              torch.as_tensor(np.asarray(Y, np.float64)), "lognormal",
                              min_hours).numpy()  # fmt: skip
        out: np.ndarray = -lp.mean(axis=1)
        return out

    def nll(self, X: np.ndarray, Y: np.ndarray, weight: np.ndarray, min_hours: float) -> float:
        """Weighted mean negative log density per label sample (hours, with the Jacobian)."""
        return float((self.change_nll(X, Y, min_hours) * weight).sum() / max(weight.sum(), 1e-12))


_Parts = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _shape_at(log_pi: torch.Tensor, offset: torch.Tensor, scale: torch.Tensor, mu: torch.Tensor,
              spread: Sequence[float]) -> _Parts:  # fmt: skip
    """The shape at each location ``mu`` (``(n, 1)``): ``(log_pi, mu + f * offset, f * scale)``,
    ``f`` the spread factor ``exp(c * (clip(mu, lo, hi) - m0) / u)``. The fitted model
    (:class:`ShiftNet`) and the fit (:class:`ShiftFit`) both go through here."""
    c, m0, u, lo, hi = spread
    f = torch.exp(c * (mu.clamp(lo, hi) - m0) / u)
    return log_pi.expand(len(mu), -1), mu + f * offset[None, :], f * scale[None, :]


def _components(weights: np.ndarray, offsets: np.ndarray, scales: np.ndarray, mu: np.ndarray,
                spread: Spread) -> _Parts:  # fmt: skip
    """:func:`_shape_at` for a fit's numpy shape at locations ``mu`` (``(n,)``)."""
    m = torch.as_tensor(np.asarray(mu, np.float64))[:, None]
    return _shape_at(torch.as_tensor(np.log(weights)), torch.as_tensor(offsets),
                     torch.as_tensor(scales), m, spread)  # fmt: skip


def _log_labels(Y: np.ndarray, min_hours: float) -> np.ndarray:
    out: np.ndarray = np.log(np.maximum(np.asarray(Y, np.float64), min_hours))
    return out


def _location(
    X: np.ndarray, m: np.ndarray, w: np.ndarray, backbone: int, shrink: float,
    mix: np.ndarray | None = None,
) -> tuple[float, np.ndarray, float]:  # fmt: skip
    """``a + b * x_c + shrink * ridge(x)`` fitted to the mean log labels ``m`` (weights ``w``)."""
    a, coef, b, _ = _location_tie(X, m, w, backbone, shrink, tiebreak=False, mix=mix)
    return a, coef, b


DEFAULT_MIX: dict[str, float] = {"surface|lines_added_source": 1.0}
"""The default ``backbone_mix``: lines added outside test files, weighted as the backbone
(docs/effort-models.md, "Combined backbone"). Where a representation lacks the column
(``loc``), the backbone is used alone."""


def mix_weights(mix: Mapping[str, float], feature_names: Sequence[str],
                n_features: int) -> np.ndarray | None:  # fmt: skip
    """``{feature name: weight >= 0}`` as one weight per column (None when empty). A name of
    :data:`DEFAULT_MIX` the columns lack is left out; any other is an error."""
    if not mix:
        return None
    names = list(feature_names)
    out = np.zeros(n_features)
    for name, weight in mix.items():
        if name not in names and DEFAULT_MIX.get(name) == weight:
            continue
        if name not in names:
            raise ValueError(f"backbone_mix: {name!r} is not a feature column")
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"backbone_mix: {name!r}: weight must be >= 0, got {weight}")
        out[names.index(name)] += weight
    return out if out.any() else None


def _direction(n_features: int, backbone: int, mix: np.ndarray | None) -> np.ndarray:
    """The backbone's weights over the columns: 1 on ``backbone``, plus ``mix`` (>= 0)."""
    d = np.zeros(n_features)
    if mix is not None:
        d += np.asarray(mix, np.float64)
    d[backbone] += 1.0
    return d


def _location_tie(
    X: np.ndarray, m: np.ndarray, w: np.ndarray, backbone: int, shrink: float, tiebreak: bool,
    mix: np.ndarray | None = None,
) -> tuple[float, np.ndarray, float, tuple[np.ndarray, float, float] | None]:  # fmt: skip
    """:func:`_location`, and with ``tiebreak`` the tie-break ``(coef, bias, scale)`` instead of
    the shrunk refinement (``shrink`` is then the window: 0 for ties only)."""
    direction = _direction(X.shape[1], backbone, mix)
    xc = X.astype(np.float64) @ direction
    sw = w / w.sum()
    xm, mm = float(sw @ xc), float(sw @ m)
    var = float(sw @ (xc - xm) ** 2)
    b = float(sw @ ((xc - xm) * (m - mm))) / var if var > 1e-12 else 0.0
    b = max(MIN_SLOPE, b)  # a flat or negative fit still ranks by the backbone (no ties)
    a = mm - b * xm
    coef = b * direction
    if tiebreak:
        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(X, m - a - b * xc, sample_weight=w)
        z = X @ ridge.coef_
        sd = float(np.sqrt(sw @ (z - sw @ z) ** 2))
        gaps = np.diff(np.unique(xc))
        gaps = gaps[gaps > 1e-9]
        if sd <= 1e-12 or not len(gaps):
            return a, coef, b, None
        d = shrink if shrink > 0 else 0.45 * float(gaps.min())
        return a, coef, b, (ridge.coef_ / sd, -float(sw @ z) / sd, b * d)
    if shrink > 0:
        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(X, m - a - b * xc, sample_weight=w)
        coef = coef + shrink * ridge.coef_
        a += shrink * float(ridge.intercept_)
    return a, coef, b, None


def _shape(
    resid: np.ndarray, w: np.ndarray, k: int, seed: int, max_points: int = 20_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``k``-component Gaussian mixture of residual log labels (rows weighted by resampling)."""
    rng = np.random.default_rng(seed)
    n, s = resid.shape
    per = max(1, min(s, max_points // max(1, n)))
    rows = rng.choice(n, size=n * per, p=w / w.sum())
    cols = rng.integers(0, s, size=rows.size)
    pts = resid[rows, cols][:, None]
    # no more components than distinct residuals (a history of a few changes): more would
    # repeat one (sklearn warns "Number of distinct clusters ... smaller than n_clusters")
    k = max(1, min(k, int(np.unique(pts).size)))
    gm = GaussianMixture(k, random_state=seed, reg_covar=1e-4, n_init=1).fit(pts)
    order = np.argsort(gm.means_[:, 0])
    return (gm.weights_[order], gm.means_[order, 0],
            np.sqrt(gm.covariances_.reshape(-1)[order]))  # fmt: skip


def sch_monotone(weights: np.ndarray, offsets: np.ndarray, scales: np.ndarray,
                 lo: float, hi: float, tol: float = 1e-9,
                 spread: Spread = NO_SPREAD) -> bool:  # fmt: skip
    """Whether SCH (mean truncated to [0, 1] h) never decreases as the shift goes lo -> hi."""
    grid = np.linspace(lo, hi, 201)
    parts = _components(weights, offsets, scales, grid, spread)
    s = truncated_mean(*parts, "lognormal").numpy()
    return bool((np.diff(s) >= -tol).all())


def _raw_sch(fit: ShiftFit, X: np.ndarray) -> np.ndarray:
    """The paper's SCH (mean truncated to [0, 1] h) of ``fit`` before the map."""
    out: np.ndarray = truncated_mean(*fit.components(fit.location(X)), "lognormal").numpy()
    return out


def _fit_one(X: np.ndarray, L: np.ndarray, w: np.ndarray, backbone: int, shrink: float,
             k: int, seed: int, tiebreak: bool = False,
             mix: np.ndarray | None = None, spread: float = 0.0) -> ShiftFit | None:  # fmt: skip
    a, coef, b, tie = _location_tie(X, L.mean(axis=1), w, backbone, shrink, tiebreak, mix)
    mu = a + X @ coef  # the shape is fitted around the backbone (the tie-break moves < a gap)
    sw = w / w.sum()
    m0 = float(sw @ mu)
    u = float(np.sqrt(sw @ (mu - m0) ** 2))
    lo, hi = float(mu.min()), float(mu.max())
    pad = 0.25 * (hi - lo) + 0.05  # the fitted changes' range and a margin for new ones
    spread5: Spread = ((spread, m0, u, lo - pad, hi + pad) if spread and u > 1e-9
                       else NO_SPREAD)  # fmt: skip
    f = np.exp(spread5[0] * (mu - spread5[1]) / spread5[2])
    pi, off, sd = _shape((L - mu[:, None]) / f[:, None], w, k, seed)
    if (k > 1 or spread5[0]) and not sch_monotone(pi, off, sd, lo - pad, hi + pad,
                                                  spread=spread5):  # fmt: skip
        return None
    reach = abs(tie[2]) if tie is not None else 0.0  # the tie-break moves a location this far
    out = ShiftFit(a, coef, pi, off, sd, backbone, b, shrink, spread=spread5,
                   loc_range=(lo - reach, hi + reach))  # fmt: skip
    if tie is not None:
        out.tie_coef, out.tie_bias, out.tie_scale = tie
    return out


def fit_shift(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    X_val: np.ndarray | None = None,
    Y_val: np.ndarray | None = None,
    weight_val: np.ndarray | None = None,
    backbones: Sequence[int] = (0,),
    shrink_grid: Sequence[float] = SHRINK_GRID,
    components: int = 4,
    min_hours: float = 1.0 / 120.0,
    seed: int = 0,
    tiebreak: bool = False,
    tie_windows: Sequence[float] = (0.0,),
    sch_map: bool = True,
    map_half_lives: Sequence[float | None] = (DEFAULT_HALF_LIFE,),
    mix: np.ndarray | None = None,
    fit_half_life: float | None = None,
    spreads: Sequence[float] = SPREADS,
) -> ShiftFit:
    """Choose (backbone, shrinkage, components) by validation NLL, then refit on everything.

    Without validation rows the first backbone, no refinement and one component are used.
    ``weight`` (per change, >= 0) weighs changes in every fit (e.g. 0 for labels that say
    nothing about the change). ``tiebreak``: the refinement only breaks ties of the backbone
    (``shrink_grid`` is then ignored, ``tie_windows`` tried instead; the fit's ``shrink`` is the
    window). ``sch_map``: fit the strictly increasing map of SCH onto the fitted changes'
    actual (``sch_map.py``; off: SCH is the raw truncated mean). The rows of ``X`` then
    ``X_val`` are taken to be in time order (the pipeline's time split): the map weighs them by
    recency, half-life ``map_half_lives[0]`` (a share of the fitted changes; ``None``: no
    decay); with several entries, the one ``choose_half_life`` picks on the validation rows.
    ``mix``: fixed weights (>= 0, one per column) added to every backbone's (a combined size).
    ``spreads``: the spread slopes tried once the rest is chosen (module docstring; ``()``: none).
    """
    X = np.asarray(X, np.float64)
    L = _log_labels(Y, min_hours)
    if mix is not None:
        mix = np.asarray(mix, np.float64)
        if mix.shape != (X.shape[1],) or not (np.isfinite(mix).all() and (mix >= 0).all()):
            raise ValueError("backbone mix must be one finite weight >= 0 per feature column")
    w = np.ones(len(X)) if weight is None else np.asarray(weight, np.float64)
    if w.sum() <= 0:
        w = np.ones(len(X))
    if tiebreak:
        shrink_grid = tuple(tie_windows) or (0.0,)
    combos = [(c, s, k) for c in backbones for s in shrink_grid for k in range(1, components + 1)]
    best = (backbones[0], shrink_grid[0] if tiebreak else 0.0, 1)
    spread = 0.0
    selection: list[dict[str, float | None]] = []
    early = (X, L, w)  # the rows before the validation ones (the map's half-life is chosen on)
    Xv: np.ndarray | None = None
    wv: np.ndarray | None = None
    if X_val is not None and Y_val is not None and len(X_val) > 0:
        Xv = np.asarray(X_val, np.float64)
        wv = np.ones(len(Xv)) if weight_val is None else np.asarray(weight_val, np.float64)
        if wv.sum() <= 0:
            wv = np.ones(len(Xv))
        scored = []
        for c, s, k in combos:
            f = _fit_one(X, L, w, c, s, k, seed, tiebreak, mix)
            if f is None:
                continue
            v = f.nll(Xv, Y_val, wv, min_hours)
            selection.append({"backbone": c, "window" if tiebreak else "shrink": s,
                              "components": k, "val_nll": v})  # fmt: skip
            scored.append((v, c, s, k))
        if scored:
            best = min(scored)[1:]
            spread = _choose_spread(X, L, w, best, seed, tiebreak, mix, Xv, Y_val, wv,
                                    min_hours, spreads, selection)  # fmt: skip
        X = np.concatenate([X, Xv])
        L = np.concatenate([L, _log_labels(Y_val, min_hours)])
        w = np.concatenate([w, wv])
    c, s, k = best
    w_map = w
    if fit_half_life is not None:  # the final fit weighs recent changes more
        w = w * recency_weights(len(w), fit_half_life)
    fit = None
    while fit is None:  # on all rows the shape may turn non-monotone: no spread, then fewer
        fit = _fit_one(X, L, w, c, s, max(k, 1), seed, tiebreak, mix, spread)
        if fit is None and spread:
            spread = 0.0  # the chosen components without the spread first
        elif fit is None:
            k -= 1  # one component without a spread is always monotone
    fit.selection = selection
    if sch_map:  # the map of SCH onto the fitted changes' actual (sch_map.py)
        lives = tuple(map_half_lives) or (None,)
        h = lives[0]
        fe = None
        if len(lives) > 1 and Xv is not None and wv is not None and Y_val is not None:
            fe = _fit_one(*early, *best, seed, tiebreak, mix, spread)  # the chosen, earlier rows
        if fe is not None and Xv is not None and wv is not None and Y_val is not None:
            h, fit.sch_half_life_scores = choose_half_life(
                _raw_sch(fe, early[0]), np.exp(early[1]), early[2], _raw_sch(fe, Xv),
                np.exp(_log_labels(Y_val, min_hours)), wv, lives)  # fmt: skip
        fit.sch_half_life = h
        fit.sch_a, fit.sch_b = fit_sch_map(_raw_sch(fit, X), np.exp(L),
                                           w_map * recency_weights(len(w), h))  # fmt: skip
    if not math.isfinite(fit.intercept):
        raise ValueError("location-shift fit failed (non-finite intercept)")
    return fit


def _choose_spread(
    X: np.ndarray, L: np.ndarray, w: np.ndarray, best: tuple[int, float, int], seed: int,
    tiebreak: bool, mix: np.ndarray | None, Xv: np.ndarray, Y_val: np.ndarray, wv: np.ndarray,
    min_hours: float, spreads: Sequence[float], selection: list[dict[str, float | None]],
) -> float:  # fmt: skip
    """The spread slope for the chosen ``best``: among the ``spreads`` whose validation NLL beats
    no spread by more than ``SPREAD_SE`` standard errors of the (weighted) per-change NLL
    difference, the one that beats it most; 0 when none does. Each try goes to ``selection``."""
    keep = wv > 0
    if not spreads or keep.sum() < 3:
        return 0.0
    base = _fit_one(X, L, w, *best, seed, tiebreak, mix)
    if base is None:
        return 0.0
    p = wv[keep] / wv[keep].sum()
    n_eff = 1.0 / float((p**2).sum())  # Kish's effective number of validation changes
    ref = base.change_nll(Xv[keep], Y_val[keep], min_hours)
    choice, gain = 0.0, 0.0
    for c in spreads:
        f = _fit_one(X, L, w, *best, seed, tiebreak, mix, float(c))
        if f is None or not c:
            continue
        d = ref - f.change_nll(Xv[keep], Y_val[keep], min_hours)  # > 0: the spread is better
        mean = float(p @ d)
        se = math.sqrt(float(p @ (d - mean) ** 2) / max(n_eff - 1.0, 1.0))
        # se ~ 0 (to rounding): every validation change gained the same, which no z-score says
        selection.append({"spread": float(c), "val_nll": float(p @ ref) - mean,
                          "val_gain_se": mean / se if se > 1e-9 * abs(mean) else None})  # fmt: skip
        if mean > SPREAD_SE * se and mean > gain:
            choice, gain = float(c), mean
    return choice
