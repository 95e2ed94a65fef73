"""The three-state chain (``break_state``): its kernels against the two-state kernels where
breaks never happen, and a fit that learns breaks inside sessions. (Every break-state kernel,
with and without the opening phase, against exact enumeration: ``test_start_phase.py``.)"""

from __future__ import annotations

import numpy as np
import pytest

from standard_coder.sch.work_inference import NeuralHMM
from standard_coder.sch.work_inference.base import NORMAL
from standard_coder.sch.work_inference.break_rate import break_rates, cell_hours
from standard_coder.sch.work_inference.ffbs import fit_pass
from standard_coder.sch.work_inference.ffbs4 import (
    day_empty_logprob4,
    fit_pass4,
)

NO_PHASE = (0.0, False)
"""``(q, phase)``: the break-state kernels without the opening phase, the three-state chain."""


def test_without_breaks_the_chain_is_the_two_state_one() -> None:
    """``b = 0``: no break is ever entered, and the pass is the two-state pass."""
    rng = np.random.default_rng(2)
    n, n_cells = 5_000, 8
    y = (rng.random(n) < 0.03).astype(np.uint8)
    cell = rng.integers(0, n_cells, n).astype(np.int32)
    start = np.zeros(n, dtype=np.bool_)
    start[[0, 2_000]] = True
    y[[0, 2_000]] = 1
    se = rng.uniform(0.01, 0.2, (n_cells, 3))
    se[:, 2] = 0.0
    g2, g3 = np.zeros(n), np.zeros(n)
    c2, c3 = np.zeros((n_cells, 4)), np.zeros((n_cells, 6))
    bufs = (np.empty(n, dtype=np.int64), np.empty(n))
    two = fit_pass(y, cell, start, se[:, :2].copy(), 0.05, c2, np.empty((n, 2)), *bufs, g2, True)
    work = np.empty((n, 4))
    three = fit_pass4(y, cell, start, se, 0.05, 0.5, *NO_PHASE, c3, work, *bufs, g3, True)
    np.testing.assert_allclose(three[:3], two, rtol=1e-12)
    np.testing.assert_allclose(g3, g2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c3[:, :4], c2, rtol=1e-9, atol=1e-9)
    assert c3[:, 5].sum() == 0.0 and three[3] == 0.0  # no expected entry into a break
    day = np.repeat(np.arange(5), n // 5)
    from standard_coder.sch.work_inference.ffbs import day_empty_logprob

    np.testing.assert_allclose(
        day_empty_logprob4(cell, day, 5, se[:, 0], se[:, 1], se[:, 2], 0.05, 0.5, *NO_PHASE),
        day_empty_logprob(cell, day, 5, se[:, 0], se[:, 1], 0.05),
        rtol=1e-12,
    )


def _sessions_with_breaks(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One author: an evening session on about one day in four, at an hour jittered by up to
    two hours, coding in bouts of about 40 minutes with breaks of about 40 minutes between
    them. Commit times and the true coding minutes since the previous commit."""
    rng = np.random.default_rng(seed)
    base = 1_704_067_200  # 2024-01-01 00:00 UTC
    coding = np.zeros(200 * 1440, dtype=bool)
    for day in range(200):
        if rng.random() > 0.25:
            continue
        t = day * 1440 + int((19 + rng.uniform(-2, 2)) * 60)
        end = t + int(rng.uniform(2, 4) * 60)
        on = True
        while t < end:
            length = int(rng.exponential(40)) + 1
            coding[t : min(t + length, end)] = on
            t += length
            on = not on
    minutes = np.flatnonzero(coding & (rng.random(coding.shape[0]) < 0.04))
    truth = np.diff(np.cumsum(coding)[minutes])
    return base + 60 * minutes.astype(np.int64), np.concatenate([[0], truth]).astype(float)


def test_a_fit_with_breaks_labels_as_its_posterior_says() -> None:
    """A fitted three-state chain (the default): tables of the grid's shape, a return rate,
    and interval labels equal to the posterior coding marginals of the whole sequence."""
    t, truth = _sessions_with_breaks(1)
    tz = np.zeros(t.shape[0])
    kw = {"epochs": 200, "time_bins": 1, "squash_minutes": 0, "random_state": 0}
    m = NeuralHMM(**kw).fit(t, tz)
    two = NeuralHMM(break_state=False, **{**kw, "epochs": 2}).fit(t, tz)  # no break tables
    b = m.b_table_
    assert b is not None and b.shape == m.s_table_.shape and np.all((b > 0) & (b < 1))
    assert 0.005 < m.r_ < 0.5
    assert two.b_table_ is None and two.r_ == 0.0
    ok = m.interval_kind_ == NORMAL
    assert np.corrcoef(truth[ok], m.expected_minutes_[ok])[0, 1] > 0.6
    post = m.posterior(t, tz)
    gamma = post["gamma"]
    assert np.isfinite(post["loglik"]) and np.all((gamma >= 0) & (gamma <= 1 + 1e-9))
    assert post["seg_start"].sum() == 1
    cum = np.concatenate([[0.0], np.cumsum(gamma)])
    minutes = t // 60 - t[0] // 60
    n_samples = 2000
    samples = m.sample_intervals(n_samples, random_state=3)
    assert np.array_equal(samples, m.sample_intervals(n_samples, random_state=3))
    checked = 0
    for i in np.flatnonzero(ok)[:40]:
        a, z = minutes[i - 1], minutes[i]
        assert m.expected_minutes_[i] == pytest.approx(cum[z + 1] - cum[a + 1], rel=1e-6, abs=1e-6)
        se = samples[i].std() / np.sqrt(n_samples) + 1e-9
        assert abs(samples[i].mean() - m.expected_minutes_[i]) < 5 * se + 0.05
        checked += 1
    assert checked >= 20
    i = int(np.flatnonzero(ok)[0])
    np.testing.assert_array_equal(m.interval_distribution(i, 30), m.sample_intervals(30)[i])


@pytest.mark.parametrize("bound", [0.01, 0.02, 1.0])
def test_any_bound_on_the_break_probability_fits(bound: float) -> None:
    """``max_break_prob`` at or below the starting break probability (0.02) starts halfway to
    the bound; every table stays within it."""
    t, _ = _sessions_with_breaks(2)
    m = NeuralHMM(epochs=20, time_bins=1, max_break_prob=bound, random_state=0).fit(
        t, np.zeros(t.shape[0])
    )
    assert m.b_table_ is not None and float(m.b_table_.max()) <= bound + 1e-12
    assert np.all(np.isfinite(m.expected_minutes_))
    with pytest.raises(ValueError, match="max_break_prob"):
        NeuralHMM(epochs=1, max_break_prob=0.0).fit(t, np.zeros(t.shape[0]))


def test_one_break_rate_for_the_whole_week_unless_by_clock() -> None:
    """``break_by_hour = False`` learns one clock-free break probability by EM (near the
    simulated author's 1 / 41 per coding minute); ``break_by_clock`` gives the network's value
    per grid cell."""
    t, truth = _sessions_with_breaks(3)
    tz = np.zeros(t.shape[0])
    kw = {"epochs": 200, "time_bins": 1, "squash_minutes": 0, "random_state": 0}
    one = NeuralHMM(break_by_hour=False, **kw).fit(t, tz)
    by_clock = NeuralHMM(break_by_clock=True, **kw).fit(t, tz)
    assert one.b_table_ is not None and by_clock.b_table_ is not None
    assert one.b_table_.shape == by_clock.b_table_.shape == one.s_table_.shape
    assert np.unique(one.b_table_).size == 1
    assert 0.01 < float(one.b_table_[0]) < 0.05  # truth: a bout of about 41 minutes
    assert np.unique(by_clock.b_table_).size > 100
    assert float(by_clock.b_table_.max()) <= by_clock.max_break_prob + 1e-12
    ok = one.interval_kind_ == NORMAL
    assert np.corrcoef(truth[ok], one.expected_minutes_[ok])[0, 1] > 0.6


def _office_hours_with_shorter_afternoon_bouts(seed: int) -> np.ndarray:
    """One author coding 9-17 on weekdays for 30 weeks, in bouts of about 60 minutes before
    noon and 12 after it, with breaks of about 25; commit times (a commit per 25 coding
    minutes on average)."""
    rng = np.random.default_rng(seed)
    coding = np.zeros(210 * 1440, dtype=bool)
    for day in range(210):
        if day % 7 >= 5:
            continue
        t, end, on = day * 1440 + 9 * 60, day * 1440 + 17 * 60, True
        while t < end:
            mean = (60 if t % 1440 < 12 * 60 else 12) if on else 25
            length = int(rng.exponential(mean)) + 1
            coding[t : min(t + length, end)] = on
            t += length
            on = not on
    minutes = np.flatnonzero(coding & (rng.random(coding.shape[0]) < 0.04))
    return 1_704_067_200 + 60 * minutes.astype(np.int64)  # 2024-01-01, a Monday


def test_the_default_break_rate_follows_the_hour_of_the_day() -> None:
    """By default each hour of the local day has its own break probability, shrunk toward
    the week's: an author whose bouts are short in the afternoon gets higher afternoon rates
    (at most ``max_break_prob``), one value per hour; an hour with no coding keeps the week's
    rate; a prior of many more coding minutes than the history holds gives one rate again."""
    t = _office_hours_with_shorter_afternoon_bouts(0)
    tz = np.zeros(t.shape[0])
    kw = {"epochs": 150, "time_bins": 1, "squash_minutes": 0, "random_state": 0}
    hourly = NeuralHMM(**kw).fit(t, tz)
    b = hourly.b_table_
    assert b is not None and b.shape == hourly.s_table_.shape
    hour = (np.arange(b.shape[0]) % 1440) // 60
    per_hour = np.array([np.unique(b[hour == h]) for h in range(24)])  # one value per hour
    assert per_hour.shape == (24, 1)
    morning, afternoon = per_hour[9:12, 0].mean(), per_hour[13:17, 0].mean()
    assert afternoon > 1.3 * morning and float(b.max()) <= hourly.max_break_prob + 1e-12
    one = NeuralHMM(break_by_hour=False, **kw).fit(t, tz)
    assert one.b_table_ is not None and np.unique(one.b_table_).size == 1
    assert morning < float(one.b_table_[0]) < afternoon
    assert per_hour[3, 0] == pytest.approx(float(np.median(per_hour[:, 0])), rel=0.2)
    flat = NeuralHMM(break_hour_prior_minutes=1e12, **kw).fit(t, tz)
    assert flat.b_table_ is not None and np.ptp(flat.b_table_) < 1e-9
    with pytest.raises(ValueError, match="break_hour_prior_minutes"):
        NeuralHMM(epochs=1, break_hour_prior_minutes=-1.0).fit(t, tz)


def test_break_rates_shrink_each_hour_toward_the_week() -> None:
    """``break_rates``: the week's rate from every cell's expected transitions, each hour's
    shrunk toward it by the prior's coding minutes (an hour without coding keeps the week's;
    no prior: the hour's own), all within ``[1e-5, b_max]``; without hours, the week's rate
    in every cell."""
    hours = cell_hours(3 * 1440 * 2, 2)  # three days of week minutes, two time bins
    assert hours.min() == 0 and hours.max() == 23 and np.all(np.bincount(hours) == 3 * 60 * 2)
    n_cb, n_cc = np.zeros(hours.shape[0]), np.zeros(hours.shape[0])
    n_cb[hours == 9], n_cc[hours == 9] = 0.1, 9.9  # hour 9: 36 breaks in 3,600 coding minutes
    n_cb[hours == 15], n_cc[hours == 15] = 0.3, 9.7  # hour 15: 108 in 3,600
    week = 144 / 7200
    cells = break_rates(n_cb, n_cc, hours, 3600.0, 0.1)
    assert cells[hours == 9][0] == pytest.approx((36 + 3600 * week) / 7200)
    assert cells[hours == 15][0] == pytest.approx((108 + 3600 * week) / 7200)
    assert np.all(cells[hours == 3] == pytest.approx(week))  # no coding there
    own = break_rates(n_cb, n_cc, hours, 0.0, 0.1)
    assert own[hours == 9][0] == pytest.approx(0.01) and own[hours == 3][0] == pytest.approx(week)
    capped = break_rates(n_cb, n_cc, hours, 0.0, 0.02)
    assert capped.max() == 0.02
    flat = break_rates(n_cb, n_cc, None, 3600.0, 0.1)
    assert flat == pytest.approx(np.full(hours.shape, week)) and flat.shape == hours.shape
