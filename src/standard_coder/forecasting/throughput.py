"""Daily team throughput in SCH per working day, learned from past sprints.

A past sprint's rate is ``done_sch / days`` where ``days`` is the completion day when the scope
was finished (the team ran out of committed work then) and ``workdays`` otherwise.

Three models share one shape (keyword-only ``__init__``, ``fit(rates) -> self``,
``sample(n_sims, n_days, rng)``):

* :class:`LognormalThroughput` (default, chosen by the backtest in docs/forecasting.md): one
  draw per simulated sprint from a lognormal fitted to the positive rates (the share of
  zero-rate sprints as a point mass at 0), kept for every day of that sprint.
* :class:`BootstrapThroughput`: each simulated sprint draws one past sprint's rate and keeps it
  for every day. No shape assumption, but it cannot produce a rate the team has not shown,
  which costs it with short histories; its Brier score was slightly worse.
* :class:`DailyBootstrapThroughput`: an independent past rate per day (the peer's approach).
  Averaging ten independent days shrinks the spread about threefold, so it is overconfident.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from standard_coder.forecasting.inputs import HistoricalSprint

ThroughputMethod = Literal["bootstrap", "lognormal", "bootstrap_daily"]


class NotFittedError(ValueError, AttributeError):
    """A throughput model was used before ``fit``."""


class ThroughputModel(Protocol):
    """Draws a ``(n_sims, n_days)`` matrix of daily team throughput (SCH per working day)."""

    def fit(self, rates: NDArray[np.floating]) -> ThroughputModel: ...

    def sample(self, n_sims: int, n_days: int, rng: np.random.Generator) -> NDArray[np.float64]: ...


def sprint_rates(sprints: Sequence[HistoricalSprint]) -> NDArray[np.float64]:
    """Each past sprint's throughput in SCH per working day."""
    return np.array([s.throughput for s in sprints], dtype=np.float64)


def _check_rates(rates: NDArray[np.floating]) -> NDArray[np.float64]:
    arr = np.asarray(rates, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("throughput needs at least one past sprint")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("throughput rates must be finite and >= 0")
    return arr


class BootstrapThroughput:
    """One past sprint's rate per simulated sprint, constant over its days."""

    def __init__(self) -> None:
        pass

    def fit(self, rates: NDArray[np.floating]) -> BootstrapThroughput:
        self.rates_ = _check_rates(rates)
        return self

    def sample(self, n_sims: int, n_days: int, rng: np.random.Generator) -> NDArray[np.float64]:
        if not hasattr(self, "rates_"):
            raise NotFittedError("BootstrapThroughput is not fitted; call fit(rates) first")
        per_sim = self.rates_[rng.integers(0, self.rates_.size, size=n_sims)]
        return np.broadcast_to(per_sim[:, None], (n_sims, n_days))


class DailyBootstrapThroughput:
    """An independent past sprint's rate for every simulated day (overconfident; for comparison)."""

    def __init__(self) -> None:
        pass

    def fit(self, rates: NDArray[np.floating]) -> DailyBootstrapThroughput:
        self.rates_ = _check_rates(rates)
        return self

    def sample(self, n_sims: int, n_days: int, rng: np.random.Generator) -> NDArray[np.float64]:
        if not hasattr(self, "rates_"):
            raise NotFittedError("DailyBootstrapThroughput is not fitted; call fit(rates) first")
        return self.rates_[rng.integers(0, self.rates_.size, size=(n_sims, n_days))]


class LognormalThroughput:
    """One lognormal draw per simulated sprint; zero-rate sprints kept as a point mass at 0.

    Args:
        min_sigma: floor on the log-space spread (a single past sprint would give 0).
    """

    def __init__(self, *, min_sigma: float = 0.05) -> None:
        self.min_sigma = min_sigma

    def fit(self, rates: NDArray[np.floating]) -> LognormalThroughput:
        arr = _check_rates(rates)
        pos = arr[arr > 0]
        self.p_zero_ = 1.0 - pos.size / arr.size
        logs = np.log(pos) if pos.size else np.zeros(1)
        self.mu_ = float(logs.mean())
        sd = float(logs.std(ddof=1)) if logs.size > 1 else 0.0
        self.sigma_ = max(sd, self.min_sigma)
        return self

    def sample(self, n_sims: int, n_days: int, rng: np.random.Generator) -> NDArray[np.float64]:
        if not hasattr(self, "mu_"):
            raise NotFittedError("LognormalThroughput is not fitted; call fit(rates) first")
        per_sim = rng.lognormal(self.mu_, self.sigma_, size=n_sims)
        if self.p_zero_ > 0:
            per_sim[rng.random(n_sims) < self.p_zero_] = 0.0
        return np.broadcast_to(per_sim[:, None], (n_sims, n_days))


def make_throughput(method: ThroughputMethod) -> ThroughputModel:
    """An unfitted throughput model by config name."""
    if method == "bootstrap":
        return BootstrapThroughput()
    if method == "lognormal":
        return LognormalThroughput()
    if method == "bootstrap_daily":
        return DailyBootstrapThroughput()
    raise ValueError(
        f"unknown throughput method {method!r}; expected bootstrap, lognormal or bootstrap_daily"
    )
