"""The pooled effort distribution (``predictors/pool.py``, ``[training] pool_size_mdn``): a
linear pool of the model's distribution and a size MDN's, SCH the model's own."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.unit.test_effort_ranking import lines_added_history
from tests.unit.test_effort_shift import named

from standard_coder.config import ConfigError
from standard_coder.sch.dataset import TEST
from standard_coder.sch.evaluation import evaluate
from standard_coder.sch.features.representation import RepresentationMismatch
from standard_coder.sch.predictors.distributions import MixtureDistribution
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.pool import PooledDistribution, size_columns
from standard_coder.sch.predictors.stage import fit_effort_model
from standard_coder.sch.predictors.train import TrainOptions

TINY_MDN = {"components": 2, "hidden": [16], "dropout": 0.0}
TINY_OPT = TrainOptions(epochs=3, batch_size=256, early_stopping_patience=2)


def lognormal(
    mu: list[float], sd: float, sch_map: tuple[float, float] = (0.0, 1.0)
) -> MixtureDistribution:
    """One log-normal per change (log-hours ``mu``), as a one-component mixture."""
    n = len(mu)
    return MixtureDistribution(torch.zeros(n, 1), torch.tensor(mu, dtype=torch.float64)[:, None],
                               torch.full((n, 1), sd, dtype=torch.float64), "lognormal",
                               1.0 / 120.0, sch_map=sch_map)  # fmt: skip


def test_the_pool_is_the_weighted_mixture_and_keeps_the_models_sch() -> None:
    main = lognormal([-1.0, 0.5], 0.4, sch_map=(0.3, 1.2))
    other = lognormal([0.0, -0.5], 0.8)
    pool = PooledDistribution(main, other, 0.25)
    y = np.array([[0.2, 0.5, 1.5], [0.1, 1.0, 4.0]])
    expect = np.log(0.75 * np.exp(main.log_prob(y)) + 0.25 * np.exp(other.log_prob(y)))
    np.testing.assert_allclose(pool.log_prob(y), expect, rtol=1e-10)
    np.testing.assert_allclose(pool.cdf(y), 0.75 * main.cdf(y) + 0.25 * other.cdf(y))
    np.testing.assert_allclose(pool.mean(), 0.75 * main.mean() + 0.25 * other.mean())
    np.testing.assert_array_equal(pool.sch(), main.sch())  # SCH ranks as the model does
    levels = np.array([0.05, 0.1, 0.5, 0.9, 0.95])
    q = pool.quantiles(levels)
    assert (np.diff(q, axis=1) > 0).all()
    np.testing.assert_allclose(pool.cdf(q), np.broadcast_to(levels, q.shape), atol=1e-6)
    draws = pool.sample(20_000, torch.Generator().manual_seed(0))
    assert draws.shape == (2, 20_000)
    # change 0: main's draws sit near exp(-1) h, other's near 1 h; a quarter come from other
    above = 1.0 - pool.cdf(np.full((2, 1), math.exp(-0.5)))[0, 0]  # 0.75 * 0.11 + 0.25 * 0.73
    assert abs(np.mean(draws[0] > math.exp(-0.5)) - above) < 0.02
    # weight 0 is the model itself; 1 or more is refused
    np.testing.assert_array_equal(PooledDistribution(main, other, 0.0).log_prob(y),
                                  main.log_prob(y))  # fmt: skip
    with pytest.raises(ValueError, match="pool weight"):
        PooledDistribution(main, other, 1.0)


def test_size_columns_are_the_surface_counts() -> None:
    names = ["python|kw|if", "surface|lines_added", "ast|x", "surface|tokens"]
    assert size_columns(names) == [1, 3]


def test_a_pooled_model_round_trips_and_predicts_samples_and_reports_the_pool(
    tmp_path: Path,
) -> None:
    torch.set_num_threads(1)
    ds = named(lines_added_history(400))
    ds.label_kind = np.zeros(len(ds), np.int8)
    model = fit_effort_model(ds, "shift", {"shrink": [0.0]}, None, seed=0)
    cols = size_columns(ds.feature_names)
    size = fit_effort_model(ds.columns_view(cols, "size"), "mdn", TINY_MDN, TINY_OPT, seed=0)
    te = ds.index(TEST)
    X = ds.X[te]
    alone = model.predict(X)
    model.pool_with(size, 0.5, cols)
    pred = model.predict(X)
    np.testing.assert_array_equal(pred.sch, alone.sch)  # SCH is the model's
    assert not np.allclose(pred.q90, alone.q90)  # the quantiles are the pool's
    back = EffortModel.load(model.save(tmp_path / "model.pt"))
    np.testing.assert_allclose(back.distribution(X).log_prob(ds.Y[te]),
                               model.distribution(X).log_prob(ds.Y[te]))  # fmt: skip
    a = back.sample(X[:3], 64, rng=7)
    np.testing.assert_array_equal(a, model.sample(X[:3], 64, rng=7))
    assert a.shape == (3, 64) and (a >= 0).all()
    res = evaluate(back, ds, tmp_path / "reports", plots=False)
    pool = res["distribution_pool"]
    assert pool["weight"] == 0.5 and pool["size_features"] == len(cols)
    # the log score of a linear pool is at least the weighted mean of its members' (log is
    # concave): per label sample, so on their mean too
    parts = 0.5 * pool["unpooled_heldout_nll"] + 0.5 * pool["size_mdn_heldout_nll"]
    assert res["heldout_nll"] <= parts + 1e-9
    # weight 0 removes the pool, and so does a checkpoint without one
    model.pool_with(size, 0.0, cols)
    assert "pool" not in model.payload()
    assert "distribution_pool" not in evaluate(model, ds, tmp_path / "r2", plots=False)


def test_a_malformed_pool_in_model_pt_is_refused_in_one_line(tmp_path: Path) -> None:
    ds = named(lines_added_history(200))
    ds.label_kind = np.zeros(len(ds), np.int8)
    model = fit_effort_model(ds, "shift", {"shrink": [0.0]}, None, seed=0)
    size = fit_effort_model(ds.columns_view([0], "size"), "shift", {"shrink": [0.0]}, None,
                            seed=0)  # fmt: skip
    ck = model.pool_with(size, 0.5, [0]).payload()
    ck["pool"]["columns"] = [ds.X.shape[1] + 5]  # past the features
    torch.save(ck, tmp_path / "model.pt")
    with pytest.raises(RepresentationMismatch, match="pooled size model is malformed"):
        EffortModel.load(tmp_path / "model.pt")


def test_pool_size_mdn_is_a_share_below_one_in_train_schs_params_only_when_it_pools(
    tmp_path: Path,
) -> None:
    """The default pools half; 0 (or a predictor that does not pool) leaves the key out of
    ``train_sch``'s params, so runs without a pool keep their fingerprints; 1 is refused."""
    from standard_coder.pipelines.sch import build

    repo = tmp_path / "repo"
    repo.mkdir()
    p = tmp_path / "pipeline_config.toml"

    def training_params(extra: str) -> dict[str, object]:
        p.write_text(f"[repos]\ninclude_paths = [{str(repo)!r}]\n[training]\n{extra}\n")
        params: dict[str, object] = {s.name: s.params for s in build(p, []).stages}["train_sch"]
        return params["training"]  # type: ignore[return-value]

    assert training_params("")["pool_size_mdn"] == 0.25  # the default
    assert "pool_size_mdn" not in training_params("pool_size_mdn = 0")
    assert "pool_size_mdn" not in training_params('predictor = "mdn"')
    assert training_params('predictor = "shift"\npool_size_mdn = 0.4')["pool_size_mdn"] == 0.4
    with pytest.raises(ConfigError, match="pool_size_mdn"):
        training_params("pool_size_mdn = 1")
