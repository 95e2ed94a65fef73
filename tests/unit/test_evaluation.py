"""Held-out evaluation: CRPS, calibration, the written report."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from standard_coder.sch.dataset import build_dataset
from standard_coder.sch.evaluation import (
    binned_calibration,
    calibration_parts,
    crps_from_samples,
    evaluate,
    held_out_shift,
    r3_calibration,
)
from standard_coder.sch.features.representation import RepresentationMismatch
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.predictors.stage import fit_effort_model, predict_diffs
from standard_coder.sch.predictors.train import TrainOptions

torch.set_num_threads(1)


def test_crps_from_samples_matches_closed_form_for_a_normal() -> None:
    rng = np.random.default_rng(0)
    pred = rng.normal(0.0, 1.0, (1, 20000))
    y = np.array([[0.0, 1.0, -2.0]])
    got = crps_from_samples(pred, y)[0]

    def crps(x: float) -> float:  # Gneiting & Raftery: standard normal
        return float(
            x * (2 * stats.norm.cdf(x) - 1) + 2 * stats.norm.pdf(x) - 1 / math.sqrt(math.pi)
        )

    assert got == pytest.approx(np.mean([crps(v) for v in y[0]]), abs=0.01)


def test_binned_calibration_perfect_and_uninformative() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.1, 0.9, 2000)
    Y = np.repeat(p[:, None], 4, axis=1) + rng.normal(0, 0.02, (2000, 4))
    bp, _ba, r2 = binned_calibration(p, np.clip(Y, 0, 1), n_bins=20)
    assert len(bp) == 20 and r2 > 0.98
    _, _, r2_bad = binned_calibration(rng.permutation(p), np.clip(Y, 0, 1), n_bins=20)
    assert r2_bad < 0.3


def test_evaluate_writes_every_metric_and_plots(tmp_path: Path) -> None:
    s = synthetic_changes(160, n_samples=10, seed=4)
    ds, rep = build_dataset(s.commits, (s.keys, s.samples), representation="tokens",
                            top_n_identifiers=4)  # fmt: skip
    head, training = {"components": 2, "hidden": [8]}, TrainOptions(epochs=2, batch_size=64)
    m = fit_effort_model(ds, "mdn", head, training, seed=0)
    b = fit_effort_model(ds.loc_view(), "mdn", head, training, seed=0)
    res = evaluate(m, ds, tmp_path / "reports", loc_baseline_model=b,
                   truth_pearson={"hmm": 0.7, "gap": 0.5}, n_pred_samples=50)  # fmt: skip
    on_disk = json.loads((tmp_path / "reports" / "sch_evaluation.json").read_text())
    assert on_disk == json.loads(json.dumps(res))
    for k in ("heldout_nll", "crps", "coverage_50", "coverage_80", "coverage_90", "spearman_sch",
              "spearman_lines_added", "spearman_churn", "spearman_files_touched",
              "baseline_loc_heldout_nll", "baseline_loc_crps", "baseline_loc_coverage_80",
              "binned_calibration_r2", "n_train", "n_test", "binned_calibration_r2_r3",
              "n_test_r3", "calibration_bins_r3", "binned_calibration_r2_r3_all",
              "binned_calibration_bias", "binned_calibration_slope",
              "binned_calibration_r2_centered"):  # fmt: skip
        assert k in res, k
    assert res["coverage_50"] <= res["coverage_80"] <= res["coverage_90"]
    # how sure each target is: the figures are the metrics above, on the same changes
    sure = res["target_intervals"]
    assert sure["n"] == res["n_test_normal"] and sure["level"] == 0.9
    pairs = {"sch_above_lines_added": res["spearman_sch"] - res["spearman_lines_added"],
             "nll_below_loc": res["baseline_loc_heldout_nll"] - res["heldout_nll"],
             "coverage_80_in_0_70_0_90": res["coverage_80"],
             "calibration_r2_positive": res["binned_calibration_r2"]}  # fmt: skip
    for k, figure in pairs.items():
        assert sure[k]["value"] == pytest.approx(figure, abs=1e-4), k
        assert sure[k]["low"] <= sure[k]["high"] and sure[k]["verdict"] in (
            "met", "missed", "undecided")  # fmt: skip
    assert res["work_inference_pearson_vs_truth"] == {"hmm": 0.7, "gap": 0.5}
    assert "shift_fit" not in res  # an MDN has no location-shift choices to report
    assert res["n_test"] == int((ds.split == 2).sum())
    for png in res["plots"]:
        assert (tmp_path / "reports" / png).read_bytes()[:4] == b"\x89PNG"
    # a model of another vocabulary is refused, naming the model
    with pytest.raises(RepresentationMismatch, match="do not match"):
        evaluate(b.__class__(predictor="mdn", feature_kind="tokens",
                             vocabulary_checksum="x" * 64), ds, tmp_path / "r2")  # fmt: skip
    # raw diff text for forecasting tickets
    diff = ("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1,2 @@\n-a = 1\n"
            "+while a < 10:\n+    a += compute(a)\n")  # fmt: skip
    draws = predict_diffs(m, rep, [diff, diff], n_samples=30, rng=0)
    assert draws.shape == (2, 30) and (draws >= 0).all()
    with pytest.raises(RepresentationMismatch):
        predict_diffs(b, rep, [diff])


def test_a_shift_model_reports_what_its_fit_chose(tmp_path: Path) -> None:
    s = synthetic_changes(160, n_samples=10, seed=4)
    ds, _ = build_dataset(s.commits, (s.keys, s.samples), representation="tokens",
                          top_n_identifiers=4)  # fmt: skip
    m = fit_effort_model(ds, "shift", {"shrink": [0.0]}, None, seed=0)
    res = evaluate(m, ds, tmp_path, n_pred_samples=10, plots=False)
    fit = res["shift_fit"]
    assert set(fit) == {"backbone_column", "backbone", "slope", "refinement", "components",
                        "spread", "sch_map", "location_range"}  # fmt: skip
    lo, hi = fit["location_range"]  # log hours: the fitted changes' locations, no extrapolation
    assert -20 < lo < hi < 20
    assert ds.feature_names[fit["backbone_column"]] == fit["backbone"]
    assert fit["backbone"].startswith("surface|lines_added")  # build_dataset: no prior given
    assert fit["slope"] > 0 and fit["refinement"] == 0.0 and 1 <= fit["components"] <= 4
    assert fit["spread"] in (0.0, -0.2, -0.1, 0.1, 0.2)
    assert fit == json.loads((tmp_path / "sch_evaluation.json").read_text())["shift_fit"]
    # what the features left out travels from the dataset (synthetic changes: nothing)
    nothing = {"generated_files": 0, "generated_lines_added": 0, "formatting_files": 0,
               "formatting_lines_added": 0}  # fmt: skip
    assert res["left_out"] == ds.meta["left_out"] == nothing
    assert "cross_repo_prior_unused" not in res  # no prior was given
    # why a prior was left out (another language's history) travels from the dataset too
    ds.meta["cross_repo_prior_unused"] = "it was fitted on python changes and 0% ..."
    told = evaluate(m, ds, tmp_path / "told", n_pred_samples=10, plots=False)
    assert told["cross_repo_prior_unused"] == ds.meta.pop("cross_repo_prior_unused")
    saved = json.loads((tmp_path / "told" / "sch_evaluation.json").read_text())
    assert saved["cross_repo_prior_unused"] == told["cross_repo_prior_unused"]
    # a model saved before the clip has an unbounded range: strict JSON still (null, not Infinity)
    m.regressor_.module_.loc_range.fill_(float("inf")).mul_(torch.tensor([-1.0, 1.0]).double())
    evaluate(m, ds, tmp_path / "old", n_pred_samples=10, plots=False)

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in sch_evaluation.json")

    text = (tmp_path / "old" / "sch_evaluation.json").read_text()
    assert json.loads(text, parse_constant=no_constants)["shift_fit"]["location_range"] == [
        None,
        None,
    ]


def test_metrics_are_split_into_normal_and_all_held_out_changes(tmp_path: Path) -> None:
    """Keys without suffix: normal-interval changes only; ``_all``: every held-out change."""
    s = synthetic_changes(200, n_samples=10, seed=5)
    samples = s.samples.copy()
    # every third change is a first commit / after a long gap / merge-stamped / agent-assisted,
    # labelled from a day-long fallback window: its label says nothing about the change
    odd = {k: (1, 2, 3, 4)[(i // 3) % 4] for i, k in enumerate(s.keys) if i % 3 == 0}
    for i, k in enumerate(s.keys):
        if k in odd:
            samples[i] = np.float32(20.0 - i % 7)
    pooled = {k: True for i, k in enumerate(s.keys) if i % 4 == 0}
    ds, _ = build_dataset(s.commits, (s.keys, samples), representation="tokens",
                          top_n_identifiers=4, label_kinds=odd, pooled=pooled)  # fmt: skip
    head, training = {"components": 2, "hidden": [8]}, TrainOptions(epochs=1, batch_size=64)
    m = fit_effort_model(ds, "mdn", head, training, seed=0)
    b = fit_effort_model(ds.loc_view(), "mdn", head, training, seed=0)
    res = evaluate(m, ds, tmp_path, loc_baseline_model=b, n_pred_samples=20, plots=False)
    te = ds.index(2)
    normal = te[ds.label_kind[te] == 0]
    assert res["n_test"] == len(te) and res["n_test_normal"] == len(normal) < len(te)
    assert res["label_kinds"] == {
        "normal": len(normal),
        "first": int((ds.label_kind[te] == 1).sum()),
        "after_gap": int((ds.label_kind[te] == 2).sum()),
        "merge_stamped": int((ds.label_kind[te] == 3).sum()),
        "agent_assisted": int((ds.label_kind[te] == 4).sum()),
    }
    assert sum(res["label_kinds"].values()) == res["n_test"]
    assert res["n_test_pooled"] == int(ds.pooled[te].sum()) > 0

    def rho(rows: np.ndarray) -> float:
        la = ds.surface_column("lines_added")[rows]
        return float(stats.spearmanr(la, ds.Y[rows].mean(axis=1)).statistic)

    assert res["spearman_lines_added"] == pytest.approx(rho(normal))
    assert res["spearman_lines_added_all"] == pytest.approx(rho(te))
    for k in ("heldout_nll", "crps", "coverage_80", "spearman_sch", "binned_calibration_r2",
              "baseline_loc_heldout_nll", "baseline_loc_spearman_sch"):  # fmt: skip
        assert f"{k}_all" in res, k
    # the fallback labels (about 20 h) are far from the normal ones: the metrics differ
    assert res["heldout_nll_all"] > res["heldout_nll"]
    assert res["crps_all"] > res["crps"]


def test_no_normal_held_out_change_gives_empty_metrics_not_an_error(tmp_path: Path) -> None:
    s = synthetic_changes(60, n_samples=5, seed=6)
    ds, _ = build_dataset(s.commits, (s.keys, s.samples), representation="loc",
                          label_kinds=dict.fromkeys(s.keys, 1))  # fmt: skip
    m = fit_effort_model(
        ds, "mdn", {"components": 2, "hidden": [4]}, TrainOptions(epochs=1), seed=0
    )
    res = evaluate(m, ds, tmp_path, n_pred_samples=10)
    assert res["n_test_normal"] == 0 and res["heldout_nll"] is None
    assert res["heldout_nll_all"] is not None and res["plots"]


def test_r3_calibration_scores_short_raw_intervals_only() -> None:
    rng = np.random.default_rng(3)
    minutes = rng.uniform(1, 59, 300)
    pred = minutes / 60 + rng.normal(0, 0.01, 300)
    # long intervals (whatever the prediction) and unknown ones are left out
    minutes = np.concatenate([minutes, rng.uniform(61, 600, 100), [np.nan] * 10])
    pred = np.concatenate([pred, rng.uniform(0, 1, 110)])
    bp, ba, r2, n = r3_calibration(pred, minutes)
    assert n == 300 and len(bp) == len(ba) == 15 and r2 > 0.98
    _, _, r2_level, _ = r3_calibration(pred + 0.3, minutes)  # right order, wrong level
    assert r2_level < 0
    _, _, r2_none, n_none = r3_calibration(pred[:4], minutes[:4])
    assert n_none == 4 and np.isnan(r2_none)


def test_calibration_parts_split_level_from_spread() -> None:
    ba = np.array([0.2, 0.3, 0.4, 0.5, 0.6])
    exact = calibration_parts(ba, ba)
    assert exact["binned_calibration_bias"] == pytest.approx(0.0)
    assert exact["binned_calibration_slope"] == pytest.approx(1.0)
    assert exact["binned_calibration_r2_centered"] == pytest.approx(1.0)
    # right order and spread, 0.2 h too low: R² is negative, the level-free R² is 1
    low = ba - 0.2
    _, _, r2 = binned_calibration(low, ba[:, None], n_bins=5)
    parts = calibration_parts(low, ba)
    assert r2 < 0 and parts["binned_calibration_bias"] == pytest.approx(-0.2)
    assert parts["binned_calibration_r2_centered"] == pytest.approx(1.0)
    # squeezed SCH (a tenth of the actual's spread): slope 10
    squeezed = 0.4 + (ba - 0.4) / 10
    assert calibration_parts(squeezed, ba)["binned_calibration_slope"] == pytest.approx(10.0)
    assert math.isnan(calibration_parts(np.zeros(1), np.zeros(1))["binned_calibration_slope"])


def test_held_out_shift_reports_commit_density_and_label_level_per_period() -> None:
    s = synthetic_changes(100, n_samples=4, seed=7)
    ds, _ = build_dataset(s.commits, (s.keys, s.samples), representation="loc")
    test = ds.split == 2
    # fitted: a quarter of the intervals short, labels 0.3 h; held out: none short, 0.6 h
    iv = np.where(test, 500.0, np.where(np.arange(len(ds)) % 4 == 0, 20.0, 300.0))
    Y = np.where(test[:, None], 0.6, 0.3) * np.ones_like(ds.Y)
    shifted = dataclasses.replace(ds, label_interval_minutes=iv, Y=Y.astype(np.float32))
    got = held_out_shift(shifted)
    fitted_short = float((iv[~test] < 60).mean())
    assert got == {
        "share_short_intervals_fitted": round(fitted_short, 3),
        "share_short_intervals_held_out": 0.0,
        "mean_actual_fitted": 0.3,
        "mean_actual_held_out": 0.6,
    }
    assert 0.2 < fitted_short < 0.3
