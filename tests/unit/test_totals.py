"""Totals of several changes: the error correlation train_sch measures and the paired draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from standard_coder.sch.dataset import TEST, build_dataset
from standard_coder.sch.features.representation import RepresentationMismatch
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.stage import fit_effort_model
from standard_coder.sch.predictors.train import TrainOptions
from standard_coder.sch.totals import (
    calendar_windows,
    correlated_total,
    fitted_correlation,
    held_out_totals,
    paired_draws,
    sum_loading,
    total_key,
    window_correlation,
    window_coverage,
)

torch.set_num_threads(1)


def test_window_correlation_reads_a_shared_level_and_none_without_one() -> None:
    rng = np.random.default_rng(0)
    alone = rng.standard_normal(2000)
    assert abs(window_correlation(alone, 10) or 0.0) < 0.08
    # blocks of 20 share a level of variance 0.25: scores 10 apart or less share it
    level = np.repeat(rng.normal(0.0, 0.5, 100), 20)
    shared = window_correlation(level + rng.standard_normal(2000), 10)
    assert shared is not None and 0.12 < shared < 0.32
    assert window_correlation(alone[:25], 10) is None  # under three windows
    # two repositories' changes interleaved in time: windows are cut within each one
    a, b = level[:1000] + rng.standard_normal(1000), rng.standard_normal(1000)
    mixed = np.empty(2000)
    mixed[0::2], mixed[1::2] = a, b
    repo = np.array(["a", "b"] * 1000)
    assert (window_correlation(mixed, 10, repo) or 0.0) > (window_correlation(mixed, 10) or 0.0)


def test_paired_draws_keep_every_change_s_own_draws_and_widen_the_total() -> None:
    rng = np.random.default_rng(1)
    draws = rng.gamma(2.0, 0.1, (12, 2000))
    seeds = [[0, i] for i in range(12)]
    alone = draws.sum(axis=0)
    np.testing.assert_array_equal(correlated_total(draws, 0.0, [0, 9], seeds), alone)
    paired = paired_draws(draws, 0.4, rng.standard_normal(2000), seeds)
    np.testing.assert_array_equal(np.sort(paired, axis=1), np.sort(draws, axis=1))
    total = correlated_total(draws, 0.4, [0, 9], seeds)
    assert total.mean() == pytest.approx(alone.mean(), rel=1e-9)  # the total's SCH stays
    widen = np.subtract(*np.quantile(total, [0.9, 0.1])) / np.subtract(
        *np.quantile(alone, [0.9, 0.1])
    )
    # variance n(1 + (n - 1) rho) against n at rho = 0.4, n = 12: about 2.3 times the width
    assert 1.8 < widen < 2.8
    # the same total and changes draw the same; another total pairs them through another factor
    np.testing.assert_array_equal(total, correlated_total(draws, 0.4, [0, 9], seeds))
    assert not np.array_equal(total, correlated_total(draws, 0.4, [0, 10], seeds))
    assert total_key(0, ["a", "b"]) != total_key(0, ["ab"])


def test_totals_paired_by_their_loadings_pair_every_change_of_both() -> None:
    """Two tickets of 3 and 5 changes whose changes share latent correlation 0.3 pairwise:
    pairing their totals with loadings ``sum_loading`` gives the totals the correlation that
    pairing all eight changes through one factor gives (Spearman on the drawn totals)."""
    from scipy.stats import spearmanr

    rho, n = 0.3, 20_000
    rng = np.random.default_rng(2)
    draws = rng.gamma(2.0, 0.1, (8, n))
    seeds = [[0, i] for i in range(8)]
    common = rng.standard_normal(n)
    whole = paired_draws(draws, rho, common, seeds)  # all eight through one factor
    want = spearmanr(whole[:3].sum(axis=0), whole[3:].sum(axis=0))[0]
    a = correlated_total(draws[:3], rho, [0, 1], seeds[:3])
    b = correlated_total(draws[3:], rho, [0, 2], seeds[3:])
    loads = [sum_loading(3, rho), sum_loading(5, rho)]
    assert loads[0] == pytest.approx(0.9 / 1.6) and sum_loading(1, rho) == rho
    assert sum_loading(0, rho) == 0.0 and sum_loading(4, 0.0) == 0.0
    paired = paired_draws(np.stack([a, b]), loads, rng.standard_normal(n), [[1], [2]])
    np.testing.assert_array_equal(np.sort(paired[0]), np.sort(a))  # each keeps its own draws
    got = spearmanr(paired[0], paired[1])[0]
    assert abs(got - want) < 0.04 and got > 0.5
    assert abs(spearmanr(a, b)[0]) < 0.03  # unpaired: independent
    # a row loading 0 stays as given, the others move
    mixed = paired_draws(np.stack([a, b]), [0.0, 0.5], common, [[1], [2]])
    np.testing.assert_array_equal(mixed[0], a)


def _dataset(level_sd: float) -> tuple[Any, Any]:
    s = synthetic_changes(400, n_samples=10, seed=3, n_repos=1)
    rng = np.random.default_rng(5)
    # a level shared by 25 consecutive commits (a hard month, a slow author): the change alone
    # does not show it, so the model's errors on neighbouring changes move together
    level = np.repeat(rng.normal(0.0, level_sd, 16), 25)
    samples = s.samples * np.exp(level)[:, None].astype(np.float32)
    ds, _rep = build_dataset(s.commits, (s.keys, samples), representation="tokens",
                             top_n_identifiers=4)  # fmt: skip
    head, training = {"components": 2, "hidden": [8]}, TrainOptions(epochs=6, batch_size=64)
    return ds, fit_effort_model(ds, "mdn", head, training, seed=0)


def test_train_measures_how_errors_move_together_and_totals_cover_with_it() -> None:
    ds, model = _dataset(0.0)
    flat = fitted_correlation(model, ds)
    ds_lvl, model_lvl = _dataset(0.7)
    moved = fitted_correlation(model_lvl, ds_lvl)
    assert flat["correlation"] < 0.1 < moved["correlation"], (flat, moved)
    assert moved["n_changes"] > 200 and moved["by_window"]["10"] is not None
    model_lvl.total_correlation_ = moved["correlation"]
    test = ds_lvl.index(TEST)
    scored = held_out_totals(model_lvl, ds_lvl, test, seed=0, n_draws=400)
    # changes with no label sample within [0, 1] h are left out, as SCH's calibration does
    assert 2 <= scored["windows"] <= len(test) // 10 and scored["correlation"] > 0.1
    # paired totals are wider, so they hold the actual total at least as often
    assert scored["coverage_80"] >= scored["coverage_80_independent"]


def test_model_file_keeps_its_correlation_and_refuses_a_bad_one(tmp_path: Path) -> None:
    _ds, model = _dataset(0.0)
    assert model.total_correlation_ == 0.0
    model.total_correlation_ = 0.25
    back = EffortModel.load(model.save(tmp_path / "model.pt"))
    assert back.total_correlation_ == 0.25
    ck = torch.load(tmp_path / "model.pt", weights_only=True)
    ck["total_correlation"] = 1.5
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(RepresentationMismatch, match=r"total_correlation 1\.5 is not in"):
        EffortModel.load(tmp_path / "bad.pt")


def test_held_out_windows_are_cut_within_each_repository() -> None:
    """Windows straddled the boundary between two repositories' changes."""
    from standard_coder.sch.totals import window_coverage

    rng = np.random.default_rng(2)
    draws, actual = rng.gamma(2.0, 0.1, (30, 200)), rng.gamma(2.0, 0.1, 30)
    seeds = [[0, i] for i in range(30)]
    repos = np.array(["a"] * 15 + ["b"] * 15)
    by_repo = window_coverage(draws, actual, 0.2, seeds, window=10, groups=repos)
    assert by_repo["windows"] == 2  # 10 of a's 15, 10 of b's 15: no window holds both
    assert window_coverage(draws, actual, 0.2, seeds, window=10)["windows"] == 3


def test_a_sprint_s_tickets_are_paired_and_keep_their_own_draws() -> None:
    from scipy.stats import spearmanr

    from standard_coder.pipelines.sch_effort import pair_tickets

    rng = np.random.default_rng(3)
    totals = {"T-1": rng.gamma(2.0, 0.2, 4000), "T-2": rng.gamma(3.0, 0.2, 4000),
              "T-3": np.zeros(4000)}  # fmt: skip
    counts, keys = {"T-1": 2, "T-2": 4, "T-3": 0}, {t: total_key(42, [t]) for t in totals}
    assert pair_tickets(totals, counts, keys, 0.0, 42) is totals  # no correlation measured
    alone = {"T-1": totals["T-1"]}
    assert pair_tickets(alone, {"T-1": 2}, keys, 0.4, 42) is alone  # one ticket: as given
    got = pair_tickets(totals, counts, keys, 0.4, 42)
    for t in totals:
        np.testing.assert_array_equal(np.sort(got[t]), np.sort(totals[t]))
    assert got["T-3"] is totals["T-3"]  # priced 0 h: pairs nothing
    # loadings 0.571 and 0.727 at rho 0.4: the totals' latent correlation about 0.64
    assert 0.5 < spearmanr(got["T-1"], got["T-2"])[0] < 0.75
    np.testing.assert_array_equal(got["T-1"], pair_tickets(totals, counts, keys, 0.4, 42)["T-1"])
    # two tickets of the same commits are two tickets: paired at their loadings, not copies
    twins = pair_tickets({"A": totals["T-1"], "B": totals["T-1"]}, {"A": 2, "B": 2},
                         {"A": keys["T-1"], "B": keys["T-1"]}, 0.4, 42)  # fmt: skip
    assert 0.4 < spearmanr(twins["A"], twins["B"])[0] < 0.75


def test_calendar_windows_cut_a_repository_s_changes_into_sprints() -> None:
    day = 86_400
    times = np.array([0, 1, 2, 15, 16, 40, 41, 42, 43, 0, 3, 5]) * day
    repos = np.array(["a"] * 9 + ["b"] * 3)
    parts = calendar_windows(times, 14, repos)
    # a: days 0-13 hold 3, days 14-27 only 2 (left out), days 28-41 hold 2 and 42-55 hold 2
    assert [p.tolist() for p in parts] == [[0, 1, 2], [9, 10, 11]]
    assert [p.tolist() for p in calendar_windows(times, 14, repos, least=2)] == [
        [0, 1, 2], [3, 4], [5, 6], [7, 8], [9, 10, 11]]  # fmt: skip
    rng = np.random.default_rng(0)
    draws = rng.gamma(2.0, 0.1, (12, 500))
    got = window_coverage(draws, draws.mean(axis=1), 0.3, [[0, i] for i in range(12)],
                          window=0, parts=parts)  # fmt: skip
    assert got["windows"] == 2 and got["coverage_80"] == 1.0
