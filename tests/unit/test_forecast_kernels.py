"""The compiled completion-day kernel gives the numpy loop's days, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from standard_coder.forecasting import montecarlo
from standard_coder.forecasting.montecarlo import _days_until, _days_until_compiled


def _numpy_loop(cum_tp: np.ndarray, need: np.ndarray) -> np.ndarray:
    count = np.zeros(need.shape, dtype=np.int32)
    for d in range(cum_tp.shape[1]):
        count += cum_tp[:, d : d + 1] < need
    return count + 1


@pytest.mark.parametrize("case", ["rising", "negative days", "nan", "ties"])
def test_compiled_days_equal_the_numpy_loop(case: str) -> None:
    rng = np.random.default_rng(7)
    tp = rng.gamma(2.0, 3.0, size=(400, 25))
    if case == "negative days":
        tp[::3, 4] = -50.0  # a row whose cumulative throughput falls
    elif case == "ties":
        tp = np.round(tp)  # cumulative sums equal to the needs, to the bit
    cum = np.cumsum(tp, axis=1)
    efforts = np.round(rng.lognormal(1.0, 0.8, size=(400, 30)), 0 if case == "ties" else 6)
    need = np.cumsum(efforts, axis=1)
    if case == "nan":
        cum[5, 3:] = np.nan
        need[7, 10] = np.nan
    expected = _numpy_loop(cum, need)
    assert np.array_equal(_days_until_compiled(cum, need), expected)


def test_big_forecasts_take_the_compiled_path(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    cum = np.cumsum(rng.gamma(2.0, 3.0, size=(50, 10)), axis=1)
    need = np.cumsum(rng.lognormal(1.0, 0.5, size=(50, 8)), axis=1)
    small = _days_until(cum, need)
    monkeypatch.setattr(montecarlo, "COMPILED_ABOVE", 0)
    assert np.array_equal(_days_until(cum, need), small)
    assert np.array_equal(small, _numpy_loop(cum, need))
