"""``[training] label_weighting``: per-change training weights of the effort model (issue 12;
docs/effort-models.md, "Label weights")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.unit.test_effort_ranking import lines_added_history
from tests.unit.test_effort_shift import named

from standard_coder.config import ConfigError, load_config
from standard_coder.config.template import render_template
from standard_coder.sch.dataset import TEST, TRAIN, VAL
from standard_coder.sch.predictors.estimator import MDNRegressor
from standard_coder.sch.predictors.splits import label_weights, mdn_weights
from standard_coder.sch.predictors.stage import fit_effort_model
from standard_coder.sch.predictors.train import TrainOptions

TINY_MDN = {"components": 2, "hidden": [16], "dropout": 0.0}


def test_modes_weigh_changes_by_kind_and_closing_session_share() -> None:
    ds = lines_added_history(8)
    ds.label_kind = np.array([0, 0, 0, 1, 2, 3, 0, 0], np.int8)
    ds.label_weight = np.array([1.0, 0.25, 0.5, 1.0, 1.0, 1.0, 0.0, np.nan], np.float32)
    kind = [1, 1, 1, 0, 0, 0, 1, 1]
    assert label_weights(ds).tolist() == kind  # "off": the shift fits' weights as before
    assert label_weights(ds, "kind").tolist() == kind
    # a missing share (NaN: an older dataset) counts as a whole session
    assert label_weights(ds, "session").tolist() == [1, 0.25, 0.5, 0, 0, 0, 0, 1]
    assert label_weights(ds, "session_half").tolist() == [1, 0, 1, 0, 0, 0, 0, 1]
    assert mdn_weights(ds, "off") is None  # the networks weigh every change 1, bit for bit
    assert mdn_weights(ds, "session") == pytest.approx(label_weights(ds, "session"))
    ds.label_weight = np.zeros(8, np.float32)
    assert label_weights(ds, "session").tolist() == [1.0] * 8  # nothing left: all count
    with pytest.raises(ValueError, match="unknown label_weighting 'by_size'"):
        label_weights(ds, "by_size")


def test_mdn_learns_from_the_weighted_changes_only() -> None:
    """Half the changes carry labels near 6 minutes, half (weight 0) near 8 hours: the weighted
    fit's median sits with the first half, the unweighted one between, and weight-0 rows
    never enter a batch."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 3)).astype(np.float32)
    noisy = np.arange(n) % 2 == 1
    hours = np.where(noisy, 8.0, 0.1)[:, None] * np.exp(rng.normal(0, 0.2, (n, 16)))
    w = np.where(noisy, 0.0, 1.0)
    opt = TrainOptions(epochs=30, batch_size=256, learning_rate=1e-2)
    kw = {"training": opt, "random_state": 0, **TINY_MDN}
    med_w = MDNRegressor(**kw).fit(X, hours, sample_weight=w).predict(X).q50
    med = MDNRegressor(**kw).fit(X, hours).predict(X).q50
    assert np.median(med_w) < 0.2 < 1.0 < np.median(med)
    # the weights reach the validation loss too: weight 0 rows do not count
    reg = MDNRegressor(**kw).fit(X[:300], hours[:300], X_val=X[300:], Y_val=hours[300:],
                                 sample_weight=w[:300], sample_weight_val=w[300:])  # fmt: skip
    best = reg.train_result_.best_val
    lp = reg.distribution(X[300:][w[300:] > 0]).log_prob(hours[300:][w[300:] > 0])
    assert best == pytest.approx(-float(lp.mean()), abs=0.05)
    with pytest.raises(ValueError, match="training weights"):
        MDNRegressor(**kw).fit(X, hours, sample_weight=np.zeros(n))
    with pytest.raises(ValueError, match="training weights"):
        MDNRegressor(**kw).fit(X, hours, sample_weight=-w)


def test_fit_effort_model_off_is_the_unweighted_fit_and_auto_records_its_choice() -> None:
    torch.set_num_threads(1)
    ds = named(lines_added_history(300))
    ds.label_kind = np.where(np.arange(len(ds)) % 5 == 0, 1, 0).astype(np.int8)
    ds.label_weight = np.linspace(0, 1, len(ds)).astype(np.float32)
    opt = TrainOptions(epochs=2, batch_size=256)
    X = ds.X[ds.index(TEST)]
    # the same network as a plain fit (the stage then maps its SCH: compare the distribution)
    off = fit_effort_model(ds, "mdn", TINY_MDN, opt, seed=0).predict(X).q50
    plain = MDNRegressor(**TINY_MDN, training=opt, random_state=0).fit(
        ds.X[ds.index(TRAIN)], ds.Y[ds.index(TRAIN)], X_val=ds.X[ds.index(VAL)],
        Y_val=ds.Y[ds.index(VAL)]).predict(X).q50  # fmt: skip
    np.testing.assert_array_equal(off, plain)
    session = fit_effort_model(ds, "mdn", TINY_MDN, opt, seed=0, label_weighting="session")
    assert not np.array_equal(session.predict(X).q50, off)
    cands = {"mdn": ("mdn", TINY_MDN), "shift_w0": ("shift", {"shrink": [0.0]})}
    auto = fit_effort_model(ds, "auto", {"candidates": cands}, opt, seed=0,
                            label_weighting="session")  # fmt: skip
    assert auto.selection_["chosen"] in cands
    # every held-back normal change with a positive share is scored
    assert auto.selection_["n_validation"] > 0


def test_config_validates_the_option_and_off_keeps_old_fingerprints(tmp_path: Path) -> None:
    p = tmp_path / "pipeline_config.toml"
    p.write_text('[training]\nlabel_weighting = "sessions"\n')
    with pytest.raises(ConfigError, match=r"training\.label_weighting"):
        load_config(p)
    p.write_text('[training]\npredictor = "multitask"\nlabel_weighting = "kind"\n'
                 '[training.multitask]\npull_requests_path = "prs.json"\n')  # fmt: skip
    with pytest.raises(ConfigError, match="label_weighting"):
        load_config(p)
    assert "label_weighting =" in render_template()
    from standard_coder.pipelines.sch import build

    repo = tmp_path / "repo"
    repo.mkdir()
    text = f"[repos]\ninclude_paths = [{str(repo)!r}]\n"
    p.write_text(text)
    params = {s.name: s.params for s in build(p, []).stages}["train_sch"]["training"]
    assert "label_weighting" not in params  # runs made before the option keep their cache
    p.write_text(text + '[training]\nlabel_weighting = "session"\n')
    params = {s.name: s.params for s in build(p, []).stages}["train_sch"]["training"]
    assert params["label_weighting"] == "session"


def test_weighted_spearman_is_spearman_with_equal_weights_and_follows_heavy_rows() -> None:
    from scipy.stats import spearmanr

    from standard_coder.sch.predictors.auto import weighted_spearman

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert weighted_spearman(a, b, np.full(50, 0.3)) == pytest.approx(spearmanr(a, b).statistic)
    b[:25] = a[:25]  # the first half agrees, the second is noise
    w = np.r_[np.ones(25), np.full(25, 1e-3)]
    assert weighted_spearman(a, b, w) > spearmanr(a, b).statistic + 0.2
    assert np.isnan(weighted_spearman(a, np.ones(50), w))


def test_a_constant_ranking_is_nan_without_scipys_warning() -> None:
    """``ConstantInputWarning`` from scipy reached a user's terminal (150 commits of a real
    history): a constant input is NaN here, and said by the caller if at all."""
    import warnings

    from standard_coder.sch.predictors.auto import weighted_spearman

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(weighted_spearman(np.ones(6), np.arange(6.0), np.ones(6)))
