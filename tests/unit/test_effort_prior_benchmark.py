"""benchmarks/effort_prior.py: the monotone prior and the pool are what the docs say they are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from tests.benchmodule import load_benchmark

from standard_coder.sch.predictors.auto import RULES

ROOT = Path(__file__).resolve().parents[2]
bench = load_benchmark("effort_prior")


def test_prior_recovers_a_log_linear_size_relation_and_clips_negative_slopes() -> None:
    rng = np.random.default_rng(0)
    la = rng.integers(0, 400, 500).astype(float)
    Y = np.exp(-2.0 + 0.5 * np.log1p(la)[:, None] + 0.3 * rng.standard_normal((500, 20)))
    a, b, s = bench.fit_prior(la, Y, np.arange(500))
    assert abs(a + 2.0) < 0.05 and abs(b - 0.5) < 0.02 and abs(s - 0.3) < 0.02
    shrinking = np.repeat(np.exp(-np.log1p(la))[:, None], 20, axis=1)
    _, b_neg, _ = bench.fit_prior(la, shrinking, np.arange(500))
    assert b_neg == 0.0  # sizes that shrink the label: the prior stays flat, never decreasing


def test_pool_is_the_weighted_mixture_of_its_parts() -> None:
    la = np.array([1.0, 10.0, 100.0])
    like = bench.MixtureDistribution(torch.zeros(3, 1), torch.zeros(3, 1), torch.ones(3, 1),
                                     "lognormal", 1 / 120)  # fmt: skip
    p = bench.prior_dist((-1.0, 0.3, 0.8), la, like)
    y = np.array([[0.2], [0.5], [2.0]])
    mixed = bench.pool(like, p, 0.25)
    expected = np.log(0.25 * np.exp(like.log_prob(y)) + 0.75 * np.exp(p.log_prob(y)))
    assert np.allclose(mixed.log_prob(y), expected)
    assert np.all(np.diff(p.sch()) > 0)  # the prior's SCH rises with lines added


def test_missing_dataset_is_bad_input() -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks/effort_prior.py"), "/nonexistent"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "coding_train.npz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_selection_mode_scores_every_candidate_and_applies_the_auto_rules(tmp_path: Path) -> None:
    from tests.unit.test_effort_ranking import lines_added_history
    from tests.unit.test_effort_shift import named

    torch.set_num_threads(1)
    ds = named(lines_added_history(300))
    ds.label_kind = np.zeros(len(ds), np.int8)
    (tmp_path / "labels/datasets").mkdir(parents=True)
    ds.save(tmp_path / "labels/datasets/coding_train.npz")
    small = {"components": 2, "hidden": [8], "dropout": 0.0}
    orig = bench.TrainingSection
    bench.TrainingSection = lambda: orig(mdn=small, optim={"epochs": 2})  # tiny MDN
    try:
        row = bench.run_selection(tmp_path, seed=0)
    finally:
        bench.TrainingSection = orig
    assert set(row["val"]) == {"mdn", "shift_w0", "shift", "shift_tie", "shift_near", "pool"}
    for name, chosen in row["chosen"].items():
        # e.g. auto_all_nll -> auto_all, auto_spearman_se -> auto
        cands = bench.AUTO_SETS[max((a for a in bench.AUTO_SETS if name.startswith(a + "_")
                                     and name[len(a) + 1 :] in RULES), key=len)]  # fmt: skip
        assert chosen in cands
        assert row["test"][name] == row["test"][chosen]
    nll_pick = row["chosen"]["auto_all_nll"]
    every = bench.AUTO_SETS["auto_all"]
    assert row["val"][nll_pick]["nll"] == min(row["val"][c]["nll"] for c in every)
    # the tie-break never falls below lines added by more than its ties allow
    assert row["test"]["shift_tie"]["sp"] >= row["lines_added"] - 0.02


def test_weighting_mode_fits_auto_and_the_baseline_per_mode(tmp_path: Path) -> None:
    from tests.unit.test_effort_ranking import lines_added_history
    from tests.unit.test_effort_shift import named

    torch.set_num_threads(1)
    ds = named(lines_added_history(300))
    ds.label_kind = np.zeros(len(ds), np.int8)
    ds.label_weight = np.linspace(0.1, 1, len(ds)).astype(np.float32)
    (tmp_path / "labels/datasets").mkdir(parents=True)
    ds.save(tmp_path / "labels/datasets/coding_train.npz")
    small = {"components": 2, "hidden": [8], "dropout": 0.0}
    orig = bench.TrainingSection
    bench.TrainingSection = lambda: orig(mdn=small, optim={"epochs": 2})  # tiny MDN
    try:
        row = bench.run_weighting(tmp_path, seed=0, modes=["off", "session"])
    finally:
        bench.TrainingSection = orig
    for mode in ("off", "session"):
        m = row["modes"][mode]
        assert set(m["val"]) == {"mdn", "shift_w0"} and m["chosen"] in m["val"]
        assert m["auto"] == m["test"][m["chosen"]]
        assert np.isfinite(m["loc_nll"])
    # shift_w0 ranks exactly as lines added whatever the weights
    for mode in ("off", "session"):
        assert abs(row["modes"][mode]["test"]["shift_w0"]["sp"] - row["lines_added"]) < 1e-9
