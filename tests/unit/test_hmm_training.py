"""The neural HMM's training loop (``hmm_training``): settings read from the model, the stop
poll, and the choice among restarts."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from standard_coder.sch.work_inference.hmm import FitStopped, NeuralHMM
from standard_coder.sch.work_inference.hmm_training import TrainSettings


def _commit_times(n_days: int = 20, seed: int = 0) -> np.ndarray:
    """A weekday author: a few commits between 9:00 and 17:00 on most days."""
    rng = np.random.default_rng(seed)
    times: list[int] = []
    day0 = 1_700_000_000 - 1_700_000_000 % 86_400
    for d in range(n_days):
        if d % 7 in (5, 6):
            continue
        start = day0 + d * 86_400 + 9 * 3_600
        times += [int(t) for t in start + np.sort(rng.integers(0, 8 * 3_600, rng.integers(2, 7)))]
    return np.array(sorted(set(times)), dtype=np.int64)


def test_every_training_setting_is_a_model_parameter_of_the_same_value() -> None:
    model = NeuralHMM(epochs=7, hidden=5, restarts=3, break_by_hour=False, tol=0.01)
    settings = TrainSettings.of(model)
    params = model.get_params()
    for field in dataclasses.fields(TrainSettings):
        assert field.name in params, field.name
        assert getattr(settings, field.name) == params[field.name]


def test_a_fit_polls_should_stop_once_an_epoch_and_stops_when_told() -> None:
    times = _commit_times()
    polls: list[int] = []

    def stop_at_the_fourth() -> bool:
        polls.append(1)
        return len(polls) >= 4

    with pytest.raises(FitStopped, match="stopped at epoch 3 of 30"):
        NeuralHMM(epochs=30, random_state=0).fit(times, np.zeros_like(times),
                                                 should_stop=stop_at_the_fourth)  # fmt: skip
    assert len(polls) == 4


def test_restarts_keep_the_run_with_the_higher_likelihood() -> None:
    """Two restarts (c from 0.04 and from 0.1) go on together until 25 epochs past the
    warm-up; from there the fit is the run that had the higher likelihood, exactly as that
    start fitted alone."""
    times = _commit_times(40)
    tz = np.zeros_like(times)
    kw: dict[str, Any] = dict(epochs=40, warmup_epochs=10, random_state=0, break_by_hour=False)
    both = NeuralHMM(restarts=2, **kw).fit(times, tz)
    first = NeuralHMM(restarts=1, **kw).fit(times, tz)
    second = NeuralHMM(restarts=1, init_commit_prob=0.04 * 2.5, **kw).fit(times, tz)
    at = 35  # the choice: warm-up + 25
    assert first.loglik_history_[at - 1] != second.loglik_history_[at - 1]
    winner = max((first, second), key=lambda m: m.loglik_history_[at - 1])
    np.testing.assert_array_equal(both.loglik_history_, winner.loglik_history_)
    np.testing.assert_array_equal(both.expected_minutes_, winner.expected_minutes_)
    assert both.c_ == winner.c_ and both.epochs_run_ == 40
