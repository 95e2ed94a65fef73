"""How sure each of the four targets is: bootstrap intervals and their verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from standard_coder.sch.evaluation import binned_calibration
from standard_coder.sch.stats import spearman
from standard_coder.sch.target_intervals import MIN_CHANGES, HeldOut, target_intervals

TARGETS = ("sch_above_lines_added", "nll_below_loc", "coverage_80_in_0_70_0_90",
           "calibration_r2_positive")  # fmt: skip


def held_out(n: int, *, sch_noise: float, la_noise: float, seed: int = 0,
             coverage: float = 0.8, nll_gain: float = 0.1) -> HeldOut:  # fmt: skip
    """``n`` changes whose label level is known; SCH and lines added follow it with noise."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.05, 0.9, n)
    Y = np.clip(level[:, None] + rng.normal(0, 0.05, (n, 20)), 0.0, None)
    nll = rng.normal(1.0, 0.3, n)
    return HeldOut(
        sch=level + rng.normal(0, sch_noise, n),
        lines_added=np.exp(3 * level + rng.normal(0, la_noise, n)),
        Y=Y,
        nll=nll,
        inside_80=np.clip(coverage + rng.normal(0, 0.05, n), 0, 1),
        nll_baseline=nll + nll_gain + rng.normal(0, 0.05, n),
    )


def test_figures_are_the_reported_metrics_and_a_clear_case_is_met() -> None:
    h = held_out(300, sch_noise=0.02, la_noise=2.0)
    got = target_intervals(h, resamples=300)
    y_mean = h.Y.mean(axis=1)
    above = got["sch_above_lines_added"]
    assert above["value"] == round(spearman(h.sch, y_mean) - spearman(h.lines_added, y_mean), 4)
    assert got["calibration_r2_positive"]["value"] == round(binned_calibration(h.sch, h.Y)[2], 4)
    assert got["coverage_80_in_0_70_0_90"]["value"] == round(float(h.inside_80.mean()), 4)
    assert got["nll_below_loc"]["value"] == round(float((h.nll_baseline - h.nll).mean()), 4)
    assert got["sch_ranks_above_chance"]["value"] == round(spearman(h.sch, y_mean), 4)
    for k in (*TARGETS, "sch_ranks_above_chance"):
        v = got[k]
        assert v["low"] <= v["value"] <= v["high"], k
        assert v["verdict"] == "met", k
    assert (got["n"], got["level"], got["resamples"]) == (300, 0.9, 300)
    assert target_intervals(h, resamples=300) == got  # seeded: the same run, the same intervals


def test_a_small_difference_on_few_changes_is_undecided_and_a_clear_miss_is_missed() -> None:
    few = held_out(40, sch_noise=0.3, la_noise=1.0, seed=3, nll_gain=0.0)
    got = target_intervals(few, resamples=300)
    assert got["sch_above_lines_added"]["verdict"] == "undecided"
    assert got["sch_above_lines_added"]["low"] < 0 < got["sch_above_lines_added"]["high"]
    assert got["nll_below_loc"]["verdict"] == "undecided"
    chance = held_out(60, sch_noise=0.3, la_noise=1.0, seed=3)
    chance = HeldOut(**{**chance.__dict__, "sch": np.random.default_rng(9).normal(size=60)})
    assert target_intervals(chance, resamples=300)["sch_ranks_above_chance"]["verdict"] in (
        "undecided", "missed")  # fmt: skip
    bad = held_out(300, sch_noise=2.0, la_noise=0.05, seed=1, coverage=0.45, nll_gain=-0.2)
    got = target_intervals(bad, resamples=300)
    for k in ("sch_above_lines_added", "nll_below_loc", "coverage_80_in_0_70_0_90"):
        assert got[k]["verdict"] == "missed", k
    assert got["coverage_80_in_0_70_0_90"]["high"] < 0.70


def test_too_few_changes_or_no_baseline_leave_targets_out() -> None:
    h = held_out(MIN_CHANGES - 1, sch_noise=0.02, la_noise=2.0)
    assert target_intervals(h, resamples=100) == {"level": 0.9, "resamples": 100,
                                                  "n": MIN_CHANGES - 1}  # fmt: skip
    h = held_out(60, sch_noise=0.02, la_noise=2.0)
    no_base = HeldOut(h.sch, h.lines_added, h.Y, h.nll, h.inside_80, None)
    got = target_intervals(no_base, resamples=100)
    assert "nll_below_loc" not in got and "sch_above_lines_added" in got
    constant = HeldOut(np.full(60, 0.3), h.lines_added, np.full((60, 20), 0.3), h.nll,
                       h.inside_80, h.nll_baseline)  # fmt: skip
    got = target_intervals(constant, resamples=100)  # undefined Spearman and R²: no entry
    assert "sch_above_lines_added" not in got and "calibration_r2_positive" not in got
    assert got["coverage_80_in_0_70_0_90"]["verdict"] == "met"


def test_above_bca_max_changes_the_interval_is_the_percentile_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scipy.stats import bootstrap

    import standard_coder.sch.target_intervals as ti

    h = held_out(60, sch_noise=0.3, la_noise=1.0, seed=5)
    bca = target_intervals(h, resamples=200)["coverage_80_in_0_70_0_90"]
    monkeypatch.setattr(ti, "BCA_MAX_CHANGES", 50)
    pct = target_intervals(h, resamples=200)["coverage_80_in_0_70_0_90"]
    ref = bootstrap((h.inside_80,), np.mean, n_resamples=200, confidence_level=0.9,
                    method="percentile", random_state=np.random.default_rng(0))  # fmt: skip
    assert pct["low"] == round(float(ref.confidence_interval.low), 4)
    assert pct["high"] == round(float(ref.confidence_interval.high), 4)
    assert (pct["low"], pct["high"]) != (bca["low"], bca["high"])
