"""The fast forecast path (issue 22) gives the numpy path's report, bit for bit.

Big forecasts compute every per-ticket outcome in one compiled pass, read per-ticket day
quantiles off day counts and take percentiles from compiled order statistics; the effort draws
are transformed in place. Each piece is checked against the plain numpy formula it replaces,
and whole reports against the numpy path with the same seed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from standard_coder.forecasting import montecarlo
from standard_coder.forecasting.effort import effort_samples
from standard_coder.forecasting.forecast import ForecastOptions, forecast_sprint
from standard_coder.forecasting.inputs import (
    HistoricalOutcomes,
    HistoricalSprint,
    SprintInputs,
    Ticket,
)
from standard_coder.forecasting.montecarlo import percentiles, simulate
from standard_coder.forecasting.scenarios import ScenarioSpec


def _sim(case: str, n_sims: int = 600, n_tickets: int = 30, horizon: int = 16):
    rng = np.random.default_rng(11)
    efforts = rng.lognormal(1.0, 0.8, size=(n_sims, n_tickets))
    efforts[:, :3] = 0.0  # done tickets
    tp = rng.gamma(2.0, 4.0, size=(n_sims, horizon))
    if case == "ties":
        efforts, tp = np.round(efforts), np.round(tp)
    elif case == "falling":
        tp[::3, 5] = -60.0
    elif case == "nan":
        tp[5, 4:] = np.nan
        efforts[7, 10] = np.nan
    elif case == "nothing left":
        efforts[::4] = 0.0
    return simulate(efforts, tp, np.full(horizon, 30.0), base_capacity=30.0, sprint_days=8)


def _outcomes(sim: montecarlo.SimulationResult, compiled: bool, monkeypatch) -> dict:
    monkeypatch.setattr(montecarlo, "COMPILED_ABOVE", 0 if compiled else 10**18)
    fresh = montecarlo.SimulationResult(sim.efforts, sim.cum_throughput, sim.n_days)
    assert fresh._compiled is compiled
    return {
        "ticket_day": fresh.ticket_day,
        "sprint_day": fresh.sprint_day,
        "done": fresh.ticket_done_by_end,
        "p": fresh.ticket_probabilities(),
        "counts": fresh.ticket_day_counts(),
        "completed": fresh.completed_sch(),
        "remaining": fresh.remaining_percentiles([15, 50, 85]),
        "total": fresh.total_percentiles([15, 50, 85]),
    }


@pytest.mark.parametrize("case", ["rising", "ties", "falling", "nan", "nothing left"])
def test_compiled_outcomes_equal_the_numpy_path(case: str, monkeypatch) -> None:
    sim = _sim(case)
    fast, slow = _outcomes(sim, True, monkeypatch), _outcomes(sim, False, monkeypatch)
    for key, value in slow.items():
        np.testing.assert_array_equal(fast[key], value, err_msg=key)
    # the numpy path is the formula of the docstrings
    need = np.cumsum(sim.efforts, axis=1)
    need = need - 1e-9 * np.maximum(1.0, need)
    by_end = sim.cum_throughput[:, sim.n_days - 1 : sim.n_days]
    np.testing.assert_array_equal(slow["done"], (sim.efforts <= 0) | (need <= by_end))
    np.testing.assert_array_equal(slow["p"], slow["done"].mean(axis=0))
    for j in range(sim.efforts.shape[1]):
        days = slow["ticket_day"][:, j]
        assert np.array_equal(np.bincount(days, minlength=sim.horizon + 2), slow["counts"][j])


@pytest.mark.parametrize("n_sims", [1, 2, 7, 1000, 1001])
@pytest.mark.parametrize("q", [0.0, 0.15, 0.5, 0.85, 0.999, 1.0])
def test_ticket_day_quantile_is_numpys_inverted_cdf(n_sims: int, q: float) -> None:
    sim = _sim("rising", n_sims=n_sims, n_tickets=6)
    expected = []
    for j in range(6):
        k = int(np.ceil(np.quantile(sim.ticket_day[:, j], q, method="inverted_cdf")))
        expected.append(k if k <= sim.horizon else None)
    assert sim.ticket_day_quantile(q) == expected


@pytest.mark.parametrize(
    "case", ["continuous", "zeros", "ties", "constant", "one", "two", "huge", "nan"]
)
def test_compiled_percentiles_are_numpys_bit_for_bit(case: str) -> None:
    rng = np.random.default_rng(5)
    rows = rng.lognormal(2.0, 1.0, size=(6, 5001))
    if case == "zeros":  # most sims done: a pile of exact zeros below the rest
        rows[:, :4000] = 0.0
    elif case == "ties":
        rows = np.round(rows / 5.0)
    elif case == "constant":
        rows[:] = 3.25
    elif case == "one":
        rows = rows[:, :1]
    elif case == "two":
        rows = rows[:, :2]
    elif case == "huge":
        rows[:, 0] = 1e300
    elif case == "nan":
        rows[2, 17] = np.nan
    qs = [0, 1, 15, 50, 85, 99.9, 100]
    got = percentiles(rows, qs, compiled=True)
    want = np.percentile(rows, qs, axis=1)
    np.testing.assert_array_equal(got, want)
    assert got.tobytes() == want.tobytes()  # signed zeros too


def test_in_place_effort_draws_are_the_old_formula_and_have_the_asked_mean_and_cv() -> None:
    tickets = [Ticket(id="done", status="done", story_points=8)] + [
        Ticket(id=f"T{i}", status="todo", story_points=float(i % 4 + 1)) for i in range(6)
    ]
    got = effort_samples(
        tickets,
        n_sims=200_000,
        rng=np.random.default_rng(2),
        story_points_to_sch=2.0,
        story_points_cv=0.5,
    )
    rng = np.random.default_rng(2)
    sigma = math.sqrt(math.log1p(0.5**2))
    means = np.array([float(i % 4 + 1) for i in range(6)]) * 2.0
    cols = np.broadcast_to(means, (200_000, 6)).copy()
    cols *= np.exp(sigma * rng.standard_normal((200_000, 6)) - sigma * sigma / 2)
    assert np.array_equal(got[:, 0], np.zeros(200_000))
    assert got[:, 1:].tobytes() == cols.tobytes()
    np.testing.assert_allclose(got[:, 1:].mean(axis=0), means, rtol=0.01)
    np.testing.assert_allclose(got[:, 1:].std(axis=0) / got[:, 1:].mean(axis=0), 0.5, rtol=0.02)
    # columns not in one block (a done ticket between) go through the gather, same numbers
    mixed = [tickets[1], tickets[0], *tickets[2:]]
    again = effort_samples(
        mixed,
        n_sims=200_000,
        rng=np.random.default_rng(2),
        story_points_to_sch=2.0,
        story_points_cv=0.5,
    )
    assert again[:, [0, 2, 3, 4, 5, 6]].tobytes() == cols.tobytes()


def _sprint() -> SprintInputs:
    return SprintInputs.model_validate(
        {
            "sprint_id": "FAST-1",
            "start_date": "2026-03-02",
            "end_date": "2026-03-13",
            "members": [
                {"name": f"dev{i}", "daily_capacity_hours": 6.0, "days_off": ["2026-03-06"] * i}
                for i in range(3)
            ],
            "tickets": [
                {
                    "id": f"T-{i}",
                    "status": ["done", "todo", "in_progress", "todo", "in_review"][i % 5],
                    "story_points": float([1, 2, 3, 5][i % 4]),
                }
                for i in range(24)
            ],
        }
    )


def _history(n: int) -> HistoricalOutcomes:
    rng = np.random.default_rng(4)
    sprints = []
    for i in range(n):
        committed = float(rng.uniform(60, 110))
        sprints.append(
            HistoricalSprint(
                sprint_id=f"S{i}",
                start_date=f"2025-0{1 + i % 9}-06",
                end_date=f"2025-0{1 + i % 9}-17",
                committed_sch=round(committed, 2),
                done_sch=round(committed * rng.uniform(0.6, 1.0), 2),
                workdays=10,
                completed=False,
            )
        )
    return HistoricalOutcomes(sprints=sprints)


@pytest.mark.parametrize("method", ["lognormal", "bootstrap_daily"])
@pytest.mark.parametrize("n_history", [2, 8])
def test_same_seed_same_report_on_both_paths(method: str, n_history: int, monkeypatch) -> None:
    options = ForecastOptions(
        n_sims=3_000,
        rng_seed=13,
        throughput_method=method,
        unit="story_points",
        scenarios=(
            ScenarioSpec(name="grow", scope_growth_percent=25.0),
            ScenarioSpec(name="leave", member_leaves=("dev1",)),
        ),
    )
    sprint, history = _sprint(), _history(n_history)
    monkeypatch.setattr(montecarlo, "COMPILED_ABOVE", 10**18)
    slow = json.dumps(forecast_sprint(sprint, history, options=options), sort_keys=True)
    monkeypatch.setattr(montecarlo, "COMPILED_ABOVE", 0)
    fast = json.dumps(forecast_sprint(sprint, history, options=options), sort_keys=True)
    again = json.dumps(forecast_sprint(sprint, history, options=options), sort_keys=True)
    assert fast == slow
    assert again == fast


@pytest.mark.parametrize("scaled", [True, False])
def test_compiled_capped_cumsum_is_numpys(scaled: bool, monkeypatch) -> None:
    rng = np.random.default_rng(9)
    per_sim = rng.lognormal(3.0, 0.5, size=400)
    tp = np.broadcast_to(per_sim[:, None], (400, 12))  # the throughput models' shape
    daily = rng.gamma(2.0, 10.0, size=(400, 12))
    daily[3, 4] = np.nan
    cap = np.array([30.0, 30, 24, 30, 0, 30, 30, 18, 30, 30, 30, 6])
    base = 30.0 if scaled else None
    for throughput in (tp, daily):
        monkeypatch.setattr(montecarlo, "COMPILED_ABOVE", 10**18)
        slow = simulate(np.ones((400, 3)), throughput, cap, base_capacity=base)
        monkeypatch.setattr(montecarlo, "COMPILED_ABOVE", 0)
        fast = simulate(np.ones((400, 3)), throughput, cap, base_capacity=base)
        assert fast.cum_throughput.tobytes() == slow.cum_throughput.tobytes()
