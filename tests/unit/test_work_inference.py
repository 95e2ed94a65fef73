"""Work-inference models: interface contract, gap baseline, neural HMM, FFBS statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from standard_coder.sch.teamsim.team import TeamSpec, load_truth, simulate_team
from standard_coder.sch.work_inference import (
    GapModel,
    NeuralHMM,
    NotFittedError,
    WorkInferenceModel,
)
from standard_coder.sch.work_inference.base import FIRST, LONG_GAP, NORMAL

DAY = 86400


@pytest.fixture(scope="module")
def author_times(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out = tmp_path_factory.mktemp("sim")
    res = simulate_team(out, TeamSpec(n_authors=1, weeks=4), seed=11)
    tr = load_truth(res.truth_path)
    t = np.array([c.authored_at for c in tr.commits])
    tz = np.array([c.tz_offset_min for c in tr.commits])
    truth = np.array([c.coding_minutes for c in tr.commits], dtype=float)
    return t, tz, truth


@pytest.fixture(scope="module")
def fitted_hmm(author_times: tuple[np.ndarray, np.ndarray, np.ndarray]) -> NeuralHMM:
    t, tz, _ = author_times
    return NeuralHMM(
        learning_rate=0.05, epochs=60, squash_minutes=0, time_bins=1, random_state=3
    ).fit(t, tz)


@pytest.mark.parametrize("model", [GapModel(), NeuralHMM(epochs=2)])
def test_contract_not_fitted_and_params(model: WorkInferenceModel) -> None:
    with pytest.raises(NotFittedError):
        model.interval_distribution(0)
    with pytest.raises(NotFittedError):
        model.sample_intervals(3)
    assert "random_state" in model.get_params()
    with pytest.raises(TypeError):
        type(model)(1)  # type: ignore[misc]  # keyword-only
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.array([1.0, 2.0]), np.array([0]))


def test_gap_model_git_hours() -> None:
    t = np.array([0, 60 * 30, 60 * 30 + 60 * 200, 60 * 30 + 60 * 200 + 60 * 5]) + 1_700_000_000
    m = GapModel(max_gap_minutes=120, session_start_minutes=30).fit(t, np.zeros(4))
    assert m.expected_minutes_.tolist() == [30, 30, 30, 5]
    assert m.interval_kind_.tolist() == [FIRST, NORMAL, NORMAL, NORMAL]
    assert m.interval_distribution(1).tolist() == [30.0] * 200
    # input order is kept, groups are separate authors
    perm = np.array([2, 0, 3, 1])
    g = GapModel().fit(t[perm], np.zeros(4), groups=np.array([0, 0, 1, 1]))
    assert g.interval_kind_.tolist() == [NORMAL, FIRST, NORMAL, FIRST]


def test_hmm_outputs_shapes_and_determinism(
    fitted_hmm: NeuralHMM, author_times: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    t, tz, _ = author_times
    m = fitted_hmm
    n = t.shape[0]
    assert m.expected_minutes_.shape == (n,) and m.n_commits_ == n
    assert 0.005 < m.c_ < 0.2
    assert m.s_table_.shape == (10080,) and np.all((m.s_table_ > 0) & (m.s_table_ < 1))
    assert (np.diff(m.loglik_history_) > 0).mean() > 0.8  # gradient ascent on the likelihood
    assert m.loglik_history_[-1] > m.loglik_history_[0]
    s1 = m.sample_intervals(50)
    s2 = m.sample_intervals(50)
    assert np.array_equal(s1, s2)
    assert not np.array_equal(s1, m.sample_intervals(50, random_state=99))
    ok = m.interval_kind_ == NORMAL
    assert np.all(s1[ok] <= np.ceil(m.interval_minutes_[ok] + 1)[:, None])
    assert np.all(s1 >= 0)
    again = NeuralHMM(
        learning_rate=0.05, epochs=60, squash_minutes=0, time_bins=1, random_state=3
    ).fit(t, tz)
    assert np.array_equal(again.expected_minutes_, m.expected_minutes_)
    assert np.array_equal(again.interval_distribution(5), m.interval_distribution(5))


def test_ffbs_mean_matches_forward_backward_marginals(
    fitted_hmm: NeuralHMM, author_times: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    """FFBS sample mean ~ sum of the smoothed marginals gamma over the interval."""
    t, tz, _ = author_times
    m = fitted_hmm
    post = m.posterior(t, tz)
    assert post["seg_start"].sum() == 1  # one segment: minute index = minute - first minute
    gamma = post["gamma"]
    minutes = t // 60 - t[0] // 60
    cum = np.concatenate([[0.0], np.cumsum(gamma)])
    n_samples = 4000
    samples = m.sample_intervals(n_samples, random_state=5)
    checked = 0
    for i in range(1, t.shape[0]):
        a, b = minutes[i - 1], minutes[i]
        if b - a < 20:
            continue
        g_sum = cum[b + 1] - cum[a + 1]
        assert m.expected_minutes_[i] == pytest.approx(g_sum, rel=1e-6, abs=1e-6)
        mean = samples[i].mean()
        se = samples[i].std() / np.sqrt(n_samples) + 1e-9
        assert abs(mean - g_sum) < 5 * se + 0.05, (i, mean, g_sum, se)
        # whole paths, not independent minutes: wider than the per-minute Bernoulli sum
        var_indep = float(np.sum(gamma[a + 1 : b + 1] * (1 - gamma[a + 1 : b + 1])))
        if b - a > 90 and var_indep > 5:
            assert samples[i].var() > 1.5 * var_indep
        checked += 1
        if checked >= 25:
            break
    assert checked >= 10


def test_hmm_convergence_stop_truncates_the_same_fit(
    author_times: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """``tol`` (off by default) ends the fit in its last quarter once the log-likelihood rose
    by less than ``tol * |loglik|`` over 20 epochs; the epochs that ran are those of the full
    fit (a truncation, not another fit)."""
    t, tz, _ = author_times
    kw = {"epochs": 120, "time_bins": 1, "warmup_epochs": 20, "random_state": 5}
    full = NeuralHMM(**kw).fit(t, tz)
    stopped = NeuralHMM(tol=0.05, **kw).fit(t, tz)
    assert full.tol == 0.0 and full.epochs_run_ == 120 == full.loglik_history_.size
    assert stopped.epochs_run_ == 90  # the first epoch of the last quarter
    assert stopped.loglik_history_.size == stopped.epochs_run_
    np.testing.assert_array_equal(
        stopped.loglik_history_, full.loglik_history_[: stopped.epochs_run_]
    )
    h = stopped.loglik_history_
    assert (h[-1] - h[-21]) < 0.05 * abs(h[-1])
    assert np.all(np.isfinite(stopped.expected_minutes_))


def test_hmm_long_gaps_history_window_and_squash() -> None:
    rng = np.random.default_rng(0)
    base = 1_704_096_000  # 2024-01-01 08:00 UTC
    days = [0, 1, 2, 3, 4, 60, 61, 62]  # a 56-day break splits the history
    t = np.sort(np.concatenate([base + d * DAY + rng.integers(0, 8 * 3600, 12) for d in days]))
    t = np.concatenate([[t[0] - 800 * DAY], t, [t[-1] + 30]])  # one ancient + one squashed
    tz = np.full(t.shape, 60)
    m = NeuralHMM(
        learning_rate=0.05, epochs=20, history_days=400, split_inactive_days=30, random_state=0
    ).fit(t, tz)
    kinds = m.interval_kind_
    assert kinds[0] == FIRST and kinds[1] == LONG_GAP  # 800 days back
    assert (kinds == LONG_GAP).sum() == 2  # and the 56-day break
    assert np.all(np.isfinite(m.expected_minutes_))
    assert np.all(m.expected_minutes_[kinds != NORMAL] <= m.fallback_window_minutes)
    assert m.expected_minutes_[-1] <= 1.0 + 1e-9  # 30 s after the previous commit
    # the ancient commit is outside the window: fitted minutes cover only the two segments
    assert m.n_minutes_ < 20 * 1440


def test_hmm_learns_office_hours(fitted_hmm: NeuralHMM) -> None:
    """Learned start probability is far higher at 10:00 on a Tuesday than at 03:00 or Sunday."""
    m = fitted_hmm
    tue_10 = (1 * 1440 + 10 * 60) * 1
    tue_03 = 1 * 1440 + 3 * 60
    sun_10 = 6 * 1440 + 10 * 60
    s = m.s_table_
    assert s[tue_10] > 5 * s[tue_03] and s[tue_10] > 5 * s[sun_10]


def test_hmm_beats_gap_on_paper_setting(tmp_path: Path) -> None:
    """Paper footnote 2 setting, 100+ commits per author: r >= 0.69 and above git-hours."""
    res = simulate_team(tmp_path, TeamSpec(n_authors=2, weeks=12), seed=21)
    tr = load_truth(res.truth_path)
    xs: list[np.ndarray] = []
    hs: list[np.ndarray] = []
    gs: list[np.ndarray] = []
    for a in res.authors:
        cs = [c for c in tr.commits if c.author == a]
        assert len(cs) >= 100
        t = np.array([c.authored_at for c in cs])
        tz = np.array([c.tz_offset_min for c in cs])
        hmm = NeuralHMM(learning_rate=0.05, epochs=400, time_bins=1, random_state=0).fit(t, tz)
        gap = GapModel().fit(t, tz)
        ok = hmm.interval_kind_ == NORMAL
        xs.append(np.array([c.coding_minutes for c in cs], dtype=float)[ok])
        hs.append(hmm.expected_minutes_[ok])
        gs.append(gap.expected_minutes_[ok])
    x = np.concatenate(xs)
    r_hmm = np.corrcoef(x, np.concatenate(hs))[0, 1]
    r_gap = np.corrcoef(x, np.concatenate(gs))[0, 1]
    assert r_hmm >= 0.69
    assert r_hmm > r_gap


def test_interval_distribution_equals_sample_row(fitted_hmm: NeuralHMM) -> None:
    rows = fitted_hmm.sample_intervals(64)
    for i in (1, 7, fitted_hmm.n_commits_ - 1):
        assert np.array_equal(fitted_hmm.interval_distribution(i, 64), rows[i])
    with pytest.raises(IndexError):
        fitted_hmm.interval_distribution(fitted_hmm.n_commits_)


def test_degenerate_histories_are_labelled() -> None:
    """Single-commit authors and same-minute commits (pooled through groups) still get labels."""
    base = 1_704_186_000
    t = np.array([base, base + 10, base + 20, base + 3600, base + 7 * DAY])
    groups = np.array([0, 1, 1, 1, 2])
    m = NeuralHMM(learning_rate=0.05, epochs=3, random_state=0).fit(t, np.zeros(5), groups=groups)
    assert m.interval_kind_.tolist() == [FIRST, FIRST, NORMAL, NORMAL, FIRST]
    assert m.expected_minutes_[2] == 0.0  # same minute as the previous commit
    assert np.all(np.isfinite(m.sample_intervals(10)))
