"""The vectorised simulator against exact answers, capacity handling and throughput models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from standard_coder.forecasting.montecarlo import simulate, team_capacity
from standard_coder.forecasting.throughput import (
    BootstrapThroughput,
    DailyBootstrapThroughput,
    LognormalThroughput,
    NotFittedError,
    make_throughput,
)


def _mc_tol(p: float, n: int) -> float:
    return 4.5 * np.sqrt(max(p * (1 - p), 1e-4) / n) + 1e-9


def test_poisson_throughput_matches_exact_answer() -> None:
    """Daily throughput ~ Poisson(lam), fixed integer efforts: P(done by day d) = Poisson tail."""
    n, lam, n_days = 40_000, 3.0, 10
    efforts = np.tile(np.array([4.0, 7.0, 5.0, 9.0]), (n, 1))  # cumulative 4, 11, 16, 25
    rng = np.random.default_rng(123)
    sim = simulate(efforts, rng.poisson(lam, size=(n, n_days)).astype(float))

    # whole scope: 25 SCH by day 10 <=> Poisson(10 lam) >= 25
    exact = stats.poisson.sf(24, lam * n_days)
    assert abs(sim.p_complete_by_end() - exact) < _mc_tol(exact, n)
    # each ticket: cumulative effort c done by the end <=> Poisson(10 lam) >= c
    for got, c in zip(sim.ticket_probabilities(), [4, 11, 16, 25], strict=True):
        want = stats.poisson.sf(c - 1, lam * n_days)
        assert abs(got - want) < _mc_tol(want, n)
    # completion-day distribution: P(day <= d) = P(Poisson(d lam) >= 25)
    cdf = np.cumsum(sim.completion_day_distribution())
    for d in range(1, n_days + 1):
        want = stats.poisson.sf(24, lam * d)
        assert abs(cdf[d] - want) < _mc_tol(want, n)
    # P50 / P85 are the exact quantiles of that discrete distribution (when away from ties)
    exact_cdf = [stats.poisson.sf(24, lam * d) for d in range(n_days + 1)]
    want_p50 = next(d for d, c in enumerate(exact_cdf) if c >= 0.5)
    assert sim.completion_day_quantile(0.5) == want_p50


def test_capacity_caps_and_scales_throughput() -> None:
    efforts = np.full((4, 1), 30.0)
    tp = np.full((4, 3), 12.0)
    # full team 10 h/day: throughput scaled by 10/10 = 1, then capped at 10 -> 30 by day 3
    sim = simulate(efforts, tp, np.array([10.0, 10.0, 10.0]), base_capacity=10.0)
    assert sim.sprint_day.tolist() == [3, 3, 3, 3]
    # half the team off on day 2: 12 * 0.5 = 6 that day -> 10 + 5 + 10 = 25 < 30
    sim = simulate(efforts, tp, np.array([10.0, 5.0, 10.0]), base_capacity=10.0)
    assert sim.p_complete_by_end() == 0.0
    assert sim.sprint_day.tolist() == [4, 4, 4, 4]  # horizon + 1: never within the horizon
    assert sim.completion_day_quantile(0.85) is None


def test_done_tickets_and_work_order() -> None:
    efforts = np.array([[0.0, 5.0, 0.0, 5.0]])
    sim = simulate(efforts, np.full((1, 4), 4.0), sprint_days=2)
    assert sim.ticket_day.tolist() == [[0, 2, 0, 3]]
    assert sim.ticket_probabilities().tolist() == [1.0, 1.0, 1.0, 0.0]
    assert sim.completed_sch().tolist() == [5.0]
    assert sim.p_complete_by_end() == 0.0
    assert sim.completion_day_quantile(0.5) == 3  # past the sprint end, within the horizon
    assert sim.remaining_by_day()[0].tolist() == [10.0, 6.0, 2.0, 0.0, 0.0]


def test_nothing_left_completes_on_day_zero() -> None:
    sim = simulate(np.zeros((3, 2)), np.ones((3, 5)))
    assert sim.p_complete_by_end() == 1.0 and sim.completion_day_quantile(0.85) == 0


def test_team_capacity_respects_days_off() -> None:
    from datetime import date

    from standard_coder.forecasting.inputs import Member

    days = [date(2026, 3, 2), date(2026, 3, 3)]
    team = [
        Member(name="a", daily_capacity_hours=6, days_off=[date(2026, 3, 3)]),
        Member(name="b", daily_capacity_hours=4),
    ]
    assert team_capacity(team, days).tolist() == [10.0, 4.0]


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="equal simulations"):
        simulate(np.ones((3, 2)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="capacity must have shape"):
        simulate(np.ones((3, 2)), np.ones((3, 5)), np.ones(4))


def test_throughput_models() -> None:
    rates = np.array([8.0, 10.0, 0.0, 12.0])
    rng = np.random.default_rng(0)
    boot = BootstrapThroughput().fit(rates).sample(20_000, 5, rng)
    assert boot.shape == (20_000, 5)
    assert np.all(boot == boot[:, :1])  # one past sprint per simulation, every day
    assert set(np.unique(boot)) <= set(rates)
    daily = DailyBootstrapThroughput().fit(rates).sample(20_000, 5, rng)
    assert not np.all(daily == daily[:, :1])
    # the iid-per-day model is far narrower over a sprint: the reason it is not the default
    assert daily.sum(axis=1).std() < 0.6 * boot.sum(axis=1).std()
    logn = LognormalThroughput().fit(rates)
    assert logn.p_zero_ == pytest.approx(0.25)
    draws = logn.sample(50_000, 3, rng)[:, 0]
    assert np.mean(draws == 0) == pytest.approx(0.25, abs=0.01)
    assert np.exp(np.mean(np.log(draws[draws > 0]))) == pytest.approx(np.exp(logn.mu_), rel=0.02)
    with pytest.raises(NotFittedError):
        BootstrapThroughput().sample(1, 1, rng)
    with pytest.raises(ValueError, match="at least one past sprint"):
        make_throughput("bootstrap").fit(np.array([]))


@settings(max_examples=60, deadline=None)
@given(
    efforts=arrays(np.float64, (8, 5), elements=st.floats(0, 20)),
    tp=arrays(np.float64, (8, 6), elements=st.floats(0, 15)),
    sprint_days=st.integers(1, 6),
)
def test_simulation_invariants(efforts: np.ndarray, tp: np.ndarray, sprint_days: int) -> None:
    sim = simulate(efforts, tp, sprint_days=sprint_days)
    day = sim.ticket_day
    positive = efforts > 0
    # tickets with effort complete in work order; done ones on day 0
    for s in range(8):
        d = day[s][positive[s]]
        assert np.all(np.diff(d) >= 0)
    assert np.all(day[~positive] == 0)
    assert np.array_equal(sim.ticket_done_by_end, day <= sprint_days)
    assert np.array_equal(sim.sprint_day, day.max(axis=1))
    p = sim.ticket_probabilities()
    assert sim.p_complete_by_end() == pytest.approx(float(np.mean(sim.ticket_done_by_end.all(1))))
    assert np.all(p >= sim.p_complete_by_end() - 1e-12)
    assert np.all(sim.completed_sch() <= sim.total_effort + 1e-9)
    rem = sim.remaining_by_day()
    assert np.all(np.diff(rem, axis=1) <= 1e-9)
    assert sim.completion_day_distribution().sum() == pytest.approx(1.0)
