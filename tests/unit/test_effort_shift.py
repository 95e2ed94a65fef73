"""The location-shift effort model (``predictor = "shift"``, issue 12 item 3): it never ranks
below its size backbone, takes a refinement only when the time-based validation split says so,
and round-trips through ``model.pt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from tests.unit.schmapcheck import check_sch_map
from tests.unit.test_effort_ranking import lines_added_history

from standard_coder.sch.dataset import TEST, Dataset
from standard_coder.sch.features.tokens import SURFACE_NAMES
from standard_coder.sch.predictors.estimator import EffortModel, ShiftRegressor
from standard_coder.sch.predictors.shift import ShiftFit, sch_monotone
from standard_coder.sch.predictors.stage import fit_effort_model, label_weights

LA = "surface|lines_added"


def named(ds: Dataset) -> Dataset:
    """Column 0 of ``lines_added_history`` is scaled lines added: give it its pipeline name."""
    ds.feature_names = [LA, "surface|lines_deleted", *ds.feature_names[2:]]
    ds.meta["loc_feature_names"] = ds.feature_names[:2]
    return ds


def test_ranks_at_least_as_well_as_lines_added_when_lines_added_carry_the_signal() -> None:
    torch.set_num_threads(1)
    ds = named(lines_added_history(600))
    te = ds.index(TEST)
    y = ds.Y[te].mean(axis=1)
    la = ds.surface_column("lines_added")[te]
    by_lines = spearmanr(la, y).statistic
    assert by_lines > 0.5  # the premise
    model = fit_effort_model(ds, "shift", {}, None, seed=0)
    sch = model.predict(ds.X[te]).sch
    assert spearmanr(sch, y).statistic >= by_lines - 0.01, (spearmanr(sch, y), by_lines)
    # 38 noise columns: validation keeps the refinement out (or nearly), SCH follows lines added
    assert model.regressor_.module_.choice[2].item() <= 0.25
    assert spearmanr(sch, la).statistic > 0.95
    # the LOC view works the same way (its columns are lines added and deleted)
    loc = fit_effort_model(ds.loc_view(), "shift", {}, None, seed=0)
    assert spearmanr(loc.predict(ds.X_loc[te]).sch, y).statistic >= by_lines - 0.01


def test_the_unmoved_backbone_ranks_exactly_as_lines_added_unmoved() -> None:
    """``[training.shift] backbone = "surface|lines_added_unmoved"``: with ``w = 0`` SCH orders
    changes as the unmoved count does, not as raw lines added."""
    ds = named(lines_added_history(300))
    rng = np.random.default_rng(3)
    la = ds.surface_column("lines_added")
    unmoved = np.floor(la * rng.uniform(0.2, 1.0, len(la)))  # moved lines taken out
    ds.surface[:, SURFACE_NAMES.index("lines_added_unmoved")] = unmoved
    z = np.log1p(unmoved)
    ds.X = np.column_stack([ds.X, (z - z.mean()) / z.std()]).astype(np.float32)
    ds.feature_names = [*ds.feature_names, "surface|lines_added_unmoved"]
    params = {"backbone": "surface|lines_added_unmoved", "shrink": [0.0]}
    model = fit_effort_model(ds, "shift", params, None, seed=0)
    te = ds.index(TEST)
    sch = model.predict(ds.X[te]).sch
    assert spearmanr(sch, unmoved[te]).statistic > 0.999
    assert spearmanr(sch, la[te]).statistic < 0.99  # not the raw count's order


def test_without_refinement_sch_is_monotone_in_the_backbone_even_with_flat_labels() -> None:
    rng = np.random.default_rng(1)
    n = 300
    X = rng.normal(size=(n, 5))
    Y = np.exp(rng.normal(-1.0, 1.0, (n, 20)))  # labels unrelated to size
    reg = ShiftRegressor(shrink=(0.0,), components=3).fit(X, Y, X_val=X[:50], Y_val=Y[:50])
    sch = reg.predict(X).sch
    order = np.argsort(X[:, 0])
    assert (np.diff(sch[order]) >= -1e-12).all()
    assert len(np.unique(sch)) > n // 2  # no collapse to a constant: ties broken by the backbone
    assert reg.module_.choice[1].item() > 0  # slope floored above 0


def test_refinement_is_taken_when_validation_shows_another_column_carries_time() -> None:
    rng = np.random.default_rng(2)
    n = 900
    X = rng.normal(size=(n, 6))
    mu = -1.0 + 0.2 * X[:, 0] + 0.8 * X[:, 3]  # column 3 matters more than the backbone
    Y = np.exp(mu[:, None] + rng.normal(0, 0.4, (n, 30)))
    tr, va, te = slice(0, 500), slice(500, 700), slice(700, n)
    reg = ShiftRegressor().fit(X[tr], Y[tr], X_val=X[va], Y_val=Y[va])
    assert reg.module_.choice[2].item() > 0  # w > 0
    y = Y[te].mean(axis=1)
    assert spearmanr(reg.predict(X[te]).sch, y).statistic > spearmanr(X[te, 0], y).statistic + 0.2
    assert {"backbone", "shrink", "components", "val_nll"} <= set(reg.selection_[0])


def test_zero_weight_changes_do_not_move_the_fit() -> None:
    rng = np.random.default_rng(3)
    n = 400
    X = rng.normal(size=(n, 3))
    Y = np.exp(-1 + 0.5 * X[:, :1] + rng.normal(0, 0.3, (n, 10)))
    w = np.ones(n)
    w[::4] = 0.0
    Yg = Y.copy()
    Yg[::4] = 2.0  # a fallback window's constant label on the zero-weight changes
    a = ShiftRegressor(shrink=(0.0,), components=1).fit(X, Y, sample_weight=w)
    b = ShiftRegressor(shrink=(0.0,), components=1).fit(X, Yg, sample_weight=w)
    assert a.module_.choice[1].item() == pytest.approx(b.module_.choice[1].item(), rel=1e-6)
    assert a.module_.intercept.item() == pytest.approx(b.module_.intercept.item(), rel=1e-6)


def test_label_weights_keep_normal_intervals_only() -> None:
    ds = lines_added_history(50)
    ds.label_kind = np.array([0, 1, 2, 3, 0] * 10, np.int8)
    assert label_weights(ds).tolist() == [1.0, 0.0, 0.0, 0.0, 1.0] * 10
    ds.label_kind = np.full(50, 1, np.int8)  # nothing normal: every change counts
    assert label_weights(ds).sum() == 50


def test_sch_monotone_refuses_a_shape_whose_truncated_mean_falls() -> None:
    assert sch_monotone(np.array([1.0]), np.array([0.0]), np.array([1.0]), -6, 6)
    # a narrow spike above a wide bump: once the spike leaves [0, 1] h SCH drops
    pi, off, sd = np.array([0.5, 0.5]), np.array([-3.0, 0.0]), np.array([1.5, 0.01])
    assert not sch_monotone(pi, off, sd, -2, 2)


def test_save_load_round_trip_and_errors(tmp_path: Path) -> None:
    ds = named(lines_added_history(200))
    model = fit_effort_model(ds, "shift", {"components": 2}, None, seed=0)
    path = model.save(tmp_path / "model.pt")
    back = EffortModel.load(path, expected_vocabulary_checksum="v")
    np.testing.assert_allclose(back.predict(ds.X).sch, model.predict(ds.X).sch)
    np.testing.assert_allclose(back.distribution(ds.X[:5]).log_prob(ds.Y[:5]),
                               model.distribution(ds.X[:5]).log_prob(ds.Y[:5]))  # fmt: skip
    draws = back.sample(ds.X[:3], 7, rng=0)
    assert draws.shape == (3, 7) and (draws > 0).all()
    with pytest.raises(ValueError, match="backbone 'nope'"):
        ShiftRegressor(backbone="nope").fit(ds.X, ds.Y, feature_names=ds.feature_names)
    with pytest.raises(ValueError, match="finite hours"):
        ShiftRegressor().fit(ds.X, -ds.Y)


def test_sch_map_calibrates_sch_without_changing_its_order(tmp_path: Path) -> None:
    """Narrow labels per change, wide spread between changes (as on real histories): the raw
    truncated mean of the one shape moves little with size; the map moves it as the labels
    inside [0, 1] h move, and orders changes exactly as before."""
    from standard_coder.sch.evaluation import binned_calibration
    from standard_coder.sch.predictors.distributions import MixtureDistribution

    ds = named(lines_added_history(800))
    rng = np.random.default_rng(5)
    la = ds.surface_column("lines_added")
    hours = np.exp(np.log(0.15) + 0.5 * np.log1p(la) + rng.normal(0, 1.0, len(la)))
    ds.Y = (hours[:, None] * np.exp(rng.normal(0, 0.1, (len(la), 30)))).astype(np.float32)
    model = fit_effort_model(ds, "shift", {"shrink": [0.0]}, None, seed=0)
    net = model.regressor_.module_
    a, b = (float(v) for v in net.sch_map)
    assert b > 1.0  # the labels' actual moves faster with size than the raw truncated mean
    te = ds.index(TEST)
    dist = model.distribution(ds.X[te])
    raw = MixtureDistribution(dist.log_pi, dist.loc, dist.scale, "lognormal", 1 / 120).sch()
    sch = model.predict(ds.X[te]).sch
    np.testing.assert_array_equal(np.argsort(sch, kind="stable"), np.argsort(raw, kind="stable"))
    assert len(np.unique(sch)) == len(np.unique(raw))
    Y = ds.Y[te].astype(np.float64)
    r2_raw, r2_map = binned_calibration(raw, Y)[2], binned_calibration(sch, Y)[2]
    assert r2_map > max(0.75, r2_raw + 0.1), (r2_raw, r2_map)  # measured 0.66 -> 0.84
    # NLL and quantiles are the distribution's, untouched by the map
    plain = MixtureDistribution(dist.log_pi, dist.loc, dist.scale, "lognormal", 1 / 120)
    np.testing.assert_allclose(dist.log_prob(Y), plain.log_prob(Y))
    # a checkpoint from before the map (no sch_map buffer) loads with the identity
    path = model.save(tmp_path / "model.pt")
    ck = torch.load(path, weights_only=True)
    del ck["state_dict"]["sch_map"]
    torch.save(ck, path)
    old = EffortModel.load(path)
    np.testing.assert_allclose(old.predict(ds.X[te]).sch, raw)
    back = EffortModel.load(model.save(tmp_path / "new.pt"))
    np.testing.assert_allclose(back.predict(ds.X[te]).sch, sch)
    assert (a, b) != (0.0, 1.0)


def test_the_default_backbone_is_the_unmoved_count_and_falls_back_to_lines_added() -> None:
    from standard_coder.sch.predictors.estimator import LINES_ADDED_BACKBONE, UNMOVED_BACKBONE

    rng = np.random.default_rng(0)
    n = 300
    la = rng.integers(1, 400, n).astype(float)
    unmoved = np.floor(la * rng.uniform(0.2, 1.0, n))
    hours = np.exp(np.log1p(unmoved)[:, None] * 0.4 - 2 + rng.normal(0, 0.3, (n, 8)))
    X = np.column_stack([np.log1p(la), np.log1p(unmoved), rng.normal(size=n)])
    with_count = ["surface|lines_added", "surface|lines_added_unmoved", "x"]
    model = ShiftRegressor(shrink=[0.0]).fit(X, hours, feature_names=with_count)
    assert model.backbone_used_ == UNMOVED_BACKBONE
    sch = model.predict(X).sch
    order = np.argsort(X[:, 1], kind="stable")
    assert np.all(np.diff(sch[order]) >= -1e-12)  # SCH ranks as the unmoved count
    without = ["surface|lines_added", "surface|lines_deleted", "x"]  # e.g. the loc representation
    assert ShiftRegressor(shrink=[0.0]).fit(X, hours, feature_names=without).backbone_used_ == (
        LINES_ADDED_BACKBONE
    )
    with pytest.raises(ValueError, match=r"surface\|tokens"):
        ShiftRegressor(backbone="surface|tokens").fit(X, hours, feature_names=without)


def test_the_sch_map_weighs_recent_changes_where_the_label_level_drifts() -> None:
    """The labels' level rises with time at the same size (real histories: click 0.34 h over
    the training period, 0.46 h held out): the default map (recency half-life a quarter of the
    fitted changes) is closer to the held-out actual than the unweighted one, with the same
    order and the same distribution."""
    from standard_coder.sch.evaluation import binned_calibration
    from standard_coder.sch.predictors.shift import fit_shift
    from standard_coder.sch.predictors.splits import time_validation_split

    ds = named(lines_added_history(900))
    rng = np.random.default_rng(7)
    la = ds.surface_column("lines_added")
    order = np.argsort(ds.time, kind="stable")
    drift = np.empty(len(la))
    drift[order] = np.linspace(-0.8, 0.8, len(la))  # log hours, oldest to newest
    hours = np.exp(np.log(0.15) + 0.5 * np.log1p(la) + drift + rng.normal(0, 0.6, len(la)))
    Y = hours[:, None] * np.exp(rng.normal(0, 0.1, (len(la), 20)))
    early, late = time_validation_split(ds)
    te = ds.index(TEST)
    fits = {h: fit_shift(ds.X[early], Y[early], X_val=ds.X[late], Y_val=Y[late],
                         shrink_grid=(0.0,), map_half_lives=(h,))
            for h in (None, 0.25)}  # fmt: skip
    assert fits[0.25].sch_half_life == 0.25 and fits[None].sch_half_life is None
    assert fits[0.25].sch_b > 0
    np.testing.assert_allclose(fits[0.25].location(ds.X[te]), fits[None].location(ds.X[te]))
    r2 = {}
    for h, f in fits.items():
        raw_mu = f.location(ds.X[te])
        mapped = apply(f, ds.X[te])
        np.testing.assert_array_equal(np.argsort(mapped, kind="stable"),
                                      np.argsort(raw_mu, kind="stable"))  # fmt: skip
        r2[h] = binned_calibration(mapped, Y[te])[2]
    # measured -3.4 -> -1.1: the level keeps rising into the held-out period, the map lags less
    assert r2[0.25] > r2[None] + 0.5, r2


def apply(fit: ShiftFit, X: np.ndarray) -> np.ndarray:
    """SCH of a :class:`ShiftFit` (raw truncated mean, then its map)."""
    from standard_coder.sch.predictors.sch_map import apply_sch_map
    from standard_coder.sch.predictors.shift import _raw_sch

    return apply_sch_map(_raw_sch(fit, X), fit.sch_a, fit.sch_b)


def test_a_backbone_mix_ranks_exactly_as_the_weighted_sum_and_round_trips(tmp_path: Path) -> None:
    """``[training.shift] backbone_mix``: SCH ranks changes as ``x[backbone] + x @ mix`` (a
    combined size signal, not the backbone alone), through ``model.pt`` too; bad names and
    negative weights are refused with the name in the message."""
    rng = np.random.default_rng(4)
    n = 300
    unmoved = rng.integers(1, 300, n).astype(float)
    files = rng.integers(1, 12, n).astype(float)
    hours = np.exp(0.3 * np.log1p(unmoved)[:, None] + 0.3 * np.log1p(files)[:, None] - 2
                   + rng.normal(0, 0.3, (n, 8)))  # fmt: skip
    X = np.column_stack([np.log1p(unmoved), np.log1p(files), rng.normal(size=n)])
    names = ["surface|lines_added_unmoved", "surface|files_touched", "x"]
    mix = {"surface|files_touched": 0.5}
    model = EffortModel(predictor="shift", params={"shrink": [0.0], "backbone_mix": mix})
    model.fit(X[:240], hours[:240], X_val=X[240:], Y_val=hours[240:], feature_names=names)
    combined = X[:, 0] + 0.5 * X[:, 1]
    sch = model.predict(X).sch
    order = np.argsort(combined, kind="stable")
    assert np.all(np.diff(sch[order]) >= -1e-12)  # monotone in the combined signal
    assert spearmanr(sch, combined).statistic > 0.999
    assert spearmanr(sch, X[:, 0]).statistic < 0.98  # not the backbone alone
    back = EffortModel.load(model.save(tmp_path / "model.pt"))
    np.testing.assert_allclose(back.predict(X).sch, sch)
    assert back.regressor_.backbone_mix == mix
    with pytest.raises(ValueError, match=r"backbone_mix: 'surface\|tokens'"):
        ShiftRegressor(backbone_mix={"surface|tokens": 1.0}).fit(X, hours, feature_names=names)
    with pytest.raises(ValueError, match="weight must be >= 0"):
        ShiftRegressor(backbone_mix={"x": -1.0}).fit(X, hours, feature_names=names)


def test_backbone_mix_config_reaches_the_model_and_auto(tmp_path: Path) -> None:
    from standard_coder.config import ConfigError, load_config
    from standard_coder.config.schema import TrainingSection
    from standard_coder.pipelines.sch import build
    from standard_coder.pipelines.sch_train_options import head_params

    repo = tmp_path / "repo"
    repo.mkdir()
    p = tmp_path / "pipeline_config.toml"
    text = f"[repos]\ninclude_paths = [{str(repo)!r}]\n"
    p.write_text(text)
    params = {s.name: s.params for s in build(p, []).stages}["train_sch"]["training"]
    assert params["shift"]["backbone_mix"] == {"surface|lines_added_source": 1.0}  # the default
    p.write_text(text + '[training.shift]\nbackbone_mix = {"surface|files_touched" = 0.25}\n')
    cfg = load_config(p)
    params = {s.name: s.params for s in build(p, []).stages}["train_sch"]["training"]
    assert params["shift"]["backbone_mix"] == {"surface|files_touched": 0.25}
    auto = head_params(TrainingSection(**cfg.training.model_dump()))  # auto's shift_w0 has it
    assert auto["candidates"]["shift_w0"][1]["backbone_mix"] == {"surface|files_touched": 0.25}
    p.write_text(text + '[training.shift]\nbackbone_mix = {"surface|files_touched" = -1}\n')
    with pytest.raises(ConfigError, match=r"backbone_mix"):
        load_config(p)


def test_the_default_mix_adds_source_lines_and_is_left_out_where_the_column_is_missing() -> None:
    """Default ``backbone_mix``: SCH ranks as unmoved + source lines (scaled), and a
    representation without ``surface|lines_added_source`` (``loc``, older) ranks as the backbone
    alone instead of failing."""
    rng = np.random.default_rng(5)
    n = 300
    unmoved = rng.integers(1, 300, n).astype(float)
    source = np.floor(unmoved * rng.uniform(0.0, 1.0, n))  # test lines taken out
    hours = np.exp(0.4 * np.log1p(source)[:, None] - 2 + rng.normal(0, 0.3, (n, 8)))
    X = np.column_stack([np.log1p(unmoved), np.log1p(source), rng.normal(size=n)])
    names = ["surface|lines_added_unmoved", "surface|lines_added_source", "x"]
    sch = ShiftRegressor(shrink=[0.0]).fit(X, hours, feature_names=names).predict(X).sch
    assert spearmanr(sch, X[:, 0] + X[:, 1]).statistic > 0.999
    older = ["surface|lines_added_unmoved", "surface|lines_deleted", "x"]
    sch = ShiftRegressor(shrink=[0.0]).fit(X, hours, feature_names=older).predict(X).sch
    assert spearmanr(sch, X[:, 0]).statistic > 0.999


def drifting_history(n: int = 900, seed: int = 7) -> Dataset:
    """``lines_added_history`` whose labels' level rises with commit time (log hours -0.8 to
    +0.8 from the oldest change to the newest) at the same size."""
    ds = named(lines_added_history(n))
    rng = np.random.default_rng(seed)
    la = ds.surface_column("lines_added")
    drift = np.empty(len(la))
    drift[np.argsort(ds.time, kind="stable")] = np.linspace(-0.8, 0.8, len(la))
    hours = np.exp(np.log(0.15) + 0.5 * np.log1p(la) + drift + rng.normal(0, 0.6, len(la)))
    ds.Y = (hours[:, None] * np.exp(rng.normal(0, 0.1, (len(la), 20)))).astype(np.float32)
    return ds


def test_recency_by_time_weighs_the_newest_change_1_and_halves_per_half_life() -> None:
    from standard_coder.sch.predictors.splits import recency_by_time

    ds = drifting_history(100)
    rows = np.arange(len(ds))[::-1]  # any order: the weights follow commit time
    w = recency_by_time(ds, rows, 0.25)
    newest = rows[np.argmax(ds.time[rows])]
    assert w[list(rows).index(newest)] == 1.0
    by_time = w[np.argsort(ds.time[rows], kind="stable")]
    assert (np.diff(by_time) > 0).all()
    np.testing.assert_allclose(by_time[-26] / by_time[-1], 0.5, rtol=1e-9)  # 25 changes older


def test_recency_weighted_fits_follow_a_drifting_level() -> None:
    """``[training] recency_half_life``: where the labels' level drifts, the shift model's fit
    and the MDN's training weigh recent changes more, and their held-out likelihood is better
    than the unweighted fits' (the order of the shift model's SCH is unchanged)."""
    from standard_coder.sch.evaluation import distribution_metrics
    from standard_coder.sch.predictors.train import TrainOptions

    torch.set_num_threads(1)
    ds = drifting_history()
    te = ds.index(TEST)
    Y = ds.Y[te].astype(np.float64)
    nll = {}
    for h in (None, 0.25):
        shift = fit_effort_model(ds, "shift", {"shrink": [0.0]}, None, seed=0,
                                 recency_half_life=h)  # fmt: skip
        dist = shift.distribution(ds.X[te])
        nll["shift", h] = distribution_metrics(dist, Y, n_pred_samples=20)["heldout_nll"]
        mdn = fit_effort_model(ds, "mdn", {"components": 3, "hidden": [16]},
                               TrainOptions(epochs=40, batch_size=64), seed=0,
                               recency_half_life=h)  # fmt: skip
        nll["mdn", h] = distribution_metrics(mdn.distribution(ds.X[te]), Y,
                                             n_pred_samples=20)["heldout_nll"]  # fmt: skip
        if h is None:
            base_order = np.argsort(dist.sch(), kind="stable")
        else:
            np.testing.assert_array_equal(np.argsort(dist.sch(), kind="stable"), base_order)
    assert nll["shift", 0.25] < nll["shift", None] - 0.05, nll
    assert nll["mdn", 0.25] < nll["mdn", None] - 0.05, nll


def test_the_mdn_gets_an_sch_map_too_and_it_round_trips(tmp_path: Path) -> None:
    """The MDN's SCH is mapped onto the fitted changes' actual like the location-shift
    model's (same order, same distribution); ``model.pt`` keeps the map, and a checkpoint
    from before the map loads with the identity."""
    from standard_coder.sch.evaluation import binned_calibration
    from standard_coder.sch.predictors.train import TrainOptions

    torch.set_num_threads(1)
    ds = drifting_history()
    te = ds.index(TEST)
    model = fit_effort_model(ds, "mdn", {"components": 3, "hidden": [16]},
                             TrainOptions(epochs=40, batch_size=64), seed=0,
                             recency_half_life=0.25)  # fmt: skip
    mapped, _raw, _old = check_sch_map(model, ds, tmp_path)
    assert np.isfinite(binned_calibration(mapped, ds.Y[te])[2])


def test_the_shape_has_no_more_components_than_distinct_residuals() -> None:
    """A history of a few changes: sklearn warned 'Number of distinct clusters (2) found
    smaller than n_clusters (4)' on stderr of a normal run, and fitted a repeated component."""
    import warnings

    from standard_coder.sch.predictors.shift import _shape

    resid = np.repeat(np.array([[0.1], [0.7]]), 50, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pi, off, sd = _shape(resid, np.ones(2), 4, seed=0)
    assert len(pi) == len(off) == len(sd) == 2 and pi.sum() == pytest.approx(1.0)
