"""The HMM's fitted window counts active time: a founder who was active for years and then
committed once more, years later, is fitted on their active years, not on that last commit."""

from __future__ import annotations

import numpy as np

from standard_coder.sch.work_inference.base import recent_active
from standard_coder.sch.work_inference.hmm import NeuralHMM

DAY = 86400


def founder_times(active_days: int = 60, late_years: float = 3.0) -> np.ndarray:
    """Commits on working days (two a day: 10:00 and 10:40) for ``active_days`` days, then one
    commit ``late_years`` later (unix seconds, sorted)."""
    t0 = 1_500_000_000 - 1_500_000_000 % DAY
    days = [d for d in range(active_days) if d % 7 < 5]
    times = [t0 + d * DAY + h for d in days for h in (10 * 3600, 10 * 3600 + 40 * 60)]
    times.append(times[-1] + int(late_years * 365 * DAY))
    return np.array(times, dtype=np.int64)


def test_recent_active_skips_inactive_gaps() -> None:
    t = founder_times()
    calendar = t >= t[-1] - 730 * DAY
    assert int(calendar.sum()) == 1  # the calendar window keeps the late commit alone
    mask = recent_active(t, history_days=730, split_inactive_days=30)
    assert mask.all()  # under 730 active days: everything
    short = recent_active(t, history_days=20, split_inactive_days=30)
    # the most recent 20 active days of the working period, plus the late commit
    kept = t[short]
    assert kept[-1] == t[-1] and kept.shape[0] < t.shape[0]
    assert (kept[-2] - kept[0]) <= 20 * DAY
    assert kept[-2] == t[-2]


def test_recent_active_edge_cases() -> None:
    assert recent_active(np.zeros(0, np.int64), 730, 30).shape == (0,)
    assert recent_active(np.array([5], np.int64), 730, 30).tolist() == [True]
    t = np.arange(0, 1000 * DAY, DAY, dtype=np.int64)  # one commit a day for 1,000 days
    mask = recent_active(t, 730, 30)
    assert int(mask.sum()) == 731 and mask[-731:].all()  # plain calendar time when always active


def test_hmm_fits_a_founder_on_their_active_years() -> None:
    t = founder_times()
    tz = np.zeros_like(t)
    model = NeuralHMM(epochs=3, warmup_epochs=1, restarts=1, random_state=0).fit(t, tz)
    # the working period's minutes (not the single late commit's)
    assert model.n_minutes_ > 50 * 1440
    labels = model.expected_minutes_
    normal = np.isfinite(model.interval_minutes_) & (model.interval_minutes_ < 60)
    assert labels.shape == t.shape and np.isfinite(labels).all()
    assert float(np.median(labels[normal] / model.interval_minutes_[normal])) > 0.5
