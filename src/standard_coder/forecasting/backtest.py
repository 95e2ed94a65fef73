"""Rolling-origin backtest: forecast each past sprint from the sprints before it.

For sprint ``i`` (once ``min_history`` earlier sprints exist) the throughput model is fitted to
sprints ``0..i-1`` and the committed scope (``committed_sch``, one fixed block of work) is run
over the sprint's ``workdays``. Scores:

* Brier score of ``completed``: mean ``(p_i - o_i)^2``;
* the reference Brier score of the rolling base rate (share of earlier sprints that completed:
  the climatology a forecaster knew at the time) and the skill ``1 - brier / reference``;
* coverage of the P85 completion day: share of sprints whose actual completion day is on or
  before the forecast P85 day. The simulation runs on to twice the sprint's length so P85 is a
  real day even when it falls after the end. A sprint that did not complete has no completion
  day on record; it gets the day it would have finished at its own pace,
  ``workdays * committed_sch / done_sch`` (past the end by construction). Should be near 0.85;
  a Wilson 95 % interval is reported with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from standard_coder.forecasting.inputs import HistoricalSprint
from standard_coder.forecasting.montecarlo import simulate
from standard_coder.forecasting.throughput import (
    ThroughputMethod,
    make_throughput,
    sprint_rates,
)

METHODS: tuple[ThroughputMethod, ...] = ("lognormal", "bootstrap", "bootstrap_daily")
MIN_FORECASTS_TO_CHOOSE = 10
"""Backtested sprints needed before the scores can tell the throughput methods apart: with fewer,
one sprint more or less moves a Brier score by more than the methods differ."""


class BacktestError(ValueError):
    """Too few past sprints to backtest, or none that finished anything; ``fix`` says what to
    change (a caller that names the file appends it)."""

    exit_code = 2

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.fix = fix


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def backtest_method(
    sprints: Sequence[HistoricalSprint],
    *,
    method: ThroughputMethod,
    n_sims: int,
    seed: int,
    min_history: int = 3,
    horizon_factor: int = 2,
) -> dict[str, Any]:
    """Backtest one throughput method; returns the scores and one row per forecast sprint."""
    ordered = sorted(sprints, key=lambda s: s.start_date)
    if len(ordered) <= min_history:
        raise BacktestError(
            f"the backtest needs more than {min_history} past sprints (got {len(ordered)})",
            fix="add past sprints to it or lower [forecasting] backtest_min_history",
        )
    if all(s.done_sch == 0 for s in ordered):  # no pace: every forecast "covered", say why not
        raise BacktestError(
            "$.sprints: every past sprint has done_sch 0: a team that finished nothing has no "
            "pace to backtest; expected the SCH hours each sprint finished"
        )
    rows: list[dict[str, Any]] = []
    for i in range(min_history, len(ordered)):
        target = ordered[i]
        rng = np.random.default_rng([seed, i])
        model = make_throughput(method).fit(sprint_rates(ordered[:i]))
        horizon = horizon_factor * target.workdays
        tp = model.sample(n_sims, horizon, rng)
        efforts = np.full((n_sims, 1), target.committed_sch)
        sim = simulate(efforts, tp, sprint_days=target.workdays)
        p = sim.p_complete_by_end()
        p85 = sim.completion_day_quantile(0.85)
        actual = target.estimated_completion_day
        # a P85 day past the horizon (not simulated further) covers any finish within it; a
        # finish past the horizon too cannot be compared with it (None: not scored)
        actual_day = horizon + 1 if actual is None else actual
        within = True if actual_day <= horizon else None
        covered: bool | None = within if p85 is None else actual_day <= p85
        base = float(np.mean([s.completed for s in ordered[:i]]))
        rows.append(
            {
                "sprint_id": target.sprint_id,
                "history_sprints": i,
                "p_complete": round(p, 4),
                "completed": target.completed,
                "base_rate": round(base, 4),
                "p85_day": p85,
                "actual_day": None if actual is None else round(actual, 2),
                "covered": covered,
            }
        )
    p_arr = np.array([r["p_complete"] for r in rows])
    o_arr = np.array([float(r["completed"]) for r in rows])
    b_arr = np.array([r["base_rate"] for r in rows])
    brier = float(np.mean((p_arr - o_arr) ** 2))
    ref = float(np.mean((b_arr - o_arr) ** 2))
    scored = [r for r in rows if r["covered"] is not None]
    n_covered = sum(bool(r["covered"]) for r in scored)
    lo, hi = wilson_interval(n_covered, len(scored)) if scored else (0.0, 1.0)
    return {
        "n_forecasts": len(rows),
        "brier": round(brier, 5),
        "brier_reference": round(ref, 5),
        "brier_skill": None if ref == 0 else round(1 - brier / ref, 5),
        "base_rate": round(float(o_arr.mean()), 5),
        "p85_coverage": round(n_covered / len(scored), 5) if scored else None,
        "p85_coverage_ci95": [round(lo, 5), round(hi, 5)] if scored else None,
        "n_coverage_scored": len(scored),
        "n_p85_past_horizon": sum(r["p85_day"] is None for r in rows),
        "sprints": rows,
    }


def run_backtest(
    sprints: Sequence[HistoricalSprint],
    *,
    method: ThroughputMethod = "lognormal",
    n_sims: int = 10_000,
    seed: int = 7,
    min_history: int = 3,
) -> dict[str, Any]:
    """Backtest every throughput method; ``method`` is the configured one (its rows are kept).

    Returns a JSON-ready dict: ``method``, ``n_forecasts``, ``n_sims``, ``seed``,
    ``min_history``, ``methods`` (name -> scores, without rows) and ``sprints`` (rows of
    ``method``). Raises :class:`BacktestError` when there are too few sprints.
    """
    results = {
        m: backtest_method(sprints, method=m, n_sims=n_sims, seed=seed, min_history=min_history)
        for m in METHODS
    }
    chosen = results[method]
    n = chosen["n_forecasts"]
    enough = n >= MIN_FORECASTS_TO_CHOOSE
    best = min(results, key=lambda m: (results[m]["brier"], m != method))
    if enough:
        choice = f"{best} scores best on {n} backtested sprints" + (
            "" if best == method else f"; consider [forecasting] throughput_method = {best!r}"
        )
    else:
        choice = (
            f"too few past sprints to choose a method: {n} backtested "
            f"(need {MIN_FORECASTS_TO_CHOOSE}); keep {method!r} and rerun as sprints accumulate"
        )
    return {
        "schema_version": 1,
        "method": method,
        "n_forecasts": chosen["n_forecasts"],
        "n_sims": n_sims,
        "seed": seed,
        "min_history": min_history,
        "brier": chosen["brier"],
        "brier_reference": chosen["brier_reference"],
        "brier_skill": chosen["brier_skill"],
        "base_rate": chosen["base_rate"],
        "p85_coverage": chosen["p85_coverage"],
        "p85_coverage_ci95": chosen["p85_coverage_ci95"],
        "n_coverage_scored": chosen["n_coverage_scored"],
        "n_p85_past_horizon": chosen["n_p85_past_horizon"],
        "methods": {m: {k: v for k, v in r.items() if k != "sprints"} for m, r in results.items()},
        "enough_history_to_choose": enough,
        "best_method": best if enough else None,
        "method_choice": choice,
        "sprints": chosen["sprints"],
    }
