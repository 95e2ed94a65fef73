"""MDN / quantile math, sklearn shape, persistence, the training loop's exact resume."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from sklearn.exceptions import NotFittedError

from standard_coder.runner.checkpoint import Checkpointer
from standard_coder.sch.features.representation import RepresentationMismatch
from standard_coder.sch.predictors.estimator import (
    EffortModel,
    MDNRegressor,
    QuantileRegressor,
)
from standard_coder.sch.predictors.mdn import MDN, MDNConfig, mixture_log_prob, truncated_mean
from standard_coder.sch.predictors.quantile import (
    QuantileConfig,
    QuantileNet,
    pinball_loss,
    quantile_at,
    quantile_cdf,
    quantile_log_prob,
)
from standard_coder.sch.predictors.train import TrainingInterrupted, TrainOptions

torch.set_num_threads(1)


def data(n: int = 240, d: int = 4, s: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    centre = np.exp(-1.0 + 0.6 * X[:, 0])
    Y = centre[:, None] * np.exp(rng.normal(0, 0.3, (n, s)))
    return X, Y.astype(np.float32)


HEAD: dict[str, Any] = {"components": 3, "hidden": [16, 16]}


def small(**train: Any) -> dict[str, Any]:
    """MDN keywords: a small head and short training (``train`` overrides TrainOptions)."""
    return {**HEAD, "training": TrainOptions(**{"epochs": 3, "batch_size": 64, **train})}


SMALL = small()


@pytest.mark.parametrize("family", ["gaussian", "lognormal"])
def test_truncated_mean_matches_numeric_integration(family: str) -> None:
    log_pi = torch.log(torch.tensor([[0.3, 0.7]], dtype=torch.float64))
    loc = torch.tensor(
        [[0.2, 0.9]] if family == "gaussian" else [[-1.5, -0.2]], dtype=torch.float64
    )
    scale = torch.tensor([[0.3, 0.5]], dtype=torch.float64)

    def pdf(y: float) -> float:
        yt = torch.tensor([y], dtype=torch.float64)
        return math.exp(float(mixture_log_prob(log_pi, loc, scale, yt, family, 1e-12)[0]))  # type: ignore[arg-type]

    z = integrate.quad(pdf, 1e-9, 1.0)[0]
    m = integrate.quad(lambda y: y * pdf(y), 1e-9, 1.0)[0] / z
    got = float(truncated_mean(log_pi, loc, scale, family, 0.0, 1.0)[0])  # type: ignore[arg-type]
    assert got == pytest.approx(m, rel=1e-5)
    assert 0.0 <= got <= 1.0


def test_lognormal_density_is_per_hour() -> None:
    log_pi = torch.zeros((1, 1), dtype=torch.float64)
    y = torch.tensor([[0.5, 2.0]], dtype=torch.float64)
    f64 = torch.float64
    loc, scale = torch.tensor([[0.1]], dtype=f64), torch.tensor([[0.7]], dtype=f64)
    lp = mixture_log_prob(log_pi, loc, scale,
                          y, "lognormal", 1e-6)  # fmt: skip
    ref = stats.lognorm(s=0.7, scale=math.exp(0.1)).logpdf([0.5, 2.0])
    np.testing.assert_allclose(lp.numpy()[0], ref, rtol=1e-12)


def test_quantile_net_is_monotone_and_pinball_is_correct() -> None:
    torch.manual_seed(0)
    net = QuantileNet(QuantileConfig(n_features=3, quantiles=[0.1, 0.5, 0.9], hidden=[8]))
    q = net(torch.randn(50, 3) * 10)
    assert (q[:, 1:] > q[:, :-1]).all()
    qq = torch.tensor([[0.0, 1.0]])
    taus = torch.tensor([0.2, 0.8])
    # z=2: diffs 2 and 1 -> 0.2*2 + 0.8*1 = 1.2 ; mean over 2 quantiles = 0.6
    assert float(pinball_loss(qq, torch.tensor([2.0]), taus)) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        QuantileConfig(n_features=1, quantiles=[0.5, 0.1])


def test_quantile_distribution_is_consistent() -> None:
    q = torch.log(torch.tensor([[0.1, 0.3, 0.5, 1.0, 2.0]], dtype=torch.float64))
    taus = torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95], dtype=torch.float64)
    lv = torch.tensor([0.01, 0.05, 0.3, 0.5, 0.9, 0.99], dtype=torch.float64)
    x = quantile_at(q, taus, lv)
    np.testing.assert_allclose(quantile_cdf(q, taus, x).numpy()[0], lv.numpy(), atol=1e-9)

    def dens(y):
        return math.exp(float(quantile_log_prob(q, taus, torch.tensor([[y]]).double(), 1e-12)))

    total = integrate.quad(dens, 1e-9, 50, limit=200, points=[0.1, 0.3, 0.5, 1.0, 2.0])[0]
    assert total == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (MDNRegressor, SMALL),
        (QuantileRegressor, {"quantiles": [0.1, 0.5, 0.9], "hidden": [16],
                             "training": TrainOptions(epochs=3, batch_size=64)}),
    ],
)  # fmt: skip
def test_sklearn_contract(cls: Any, params: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        cls(3)
    reg = cls(**params)
    assert {k: reg.get_params()[k] for k in params} == params  # __init__ only stores
    assert not [k for k in vars(reg) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        reg.predict(np.zeros((1, 4), np.float32))
    X, Y = data()
    assert reg.fit(X, Y) is reg
    assert reg.n_features_in_ == 4 and hasattr(reg, "module_")
    p = reg.predict(X[:10])
    assert p.sch.shape == (10,) and ((p.sch >= 0) & (p.sch <= 1)).all()
    assert (p.q10 <= p.q50).all() and (p.q50 <= p.q90).all() and (p.mean > 0).all()
    draws = reg.sample(X[:5], 7, rng=1)
    assert draws.shape == (5, 7) and (draws >= 0).all()
    np.testing.assert_array_equal(draws, reg.sample(X[:5], 7, rng=1))
    with pytest.raises(ValueError):
        reg.predict(np.zeros((1, 9), np.float32))
    with pytest.raises(ValueError, match="finite hours"):
        cls(**params).fit(X, -Y)


def test_quantile_regressor_fits() -> None:
    X, Y = data()
    reg = QuantileRegressor(
        quantiles=[0.1, 0.5, 0.9], hidden=[16], training=TrainOptions(epochs=3, batch_size=64)
    )
    p = reg.fit(X, Y).predict(X[:20])
    assert (p.q10 < p.q90).all()
    assert np.isfinite(reg.distribution(X[:5]).log_prob(Y[:5])).all()


def test_training_is_reproducible_and_learns() -> None:
    X, Y = data()
    a = MDNRegressor(**small(epochs=6)).fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:])
    b = MDNRegressor(**small(epochs=6)).fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:])
    for (k, va), vb in zip(a.module_.state_dict().items(), b.module_.state_dict().values(),
                           strict=True):  # fmt: skip
        assert torch.equal(va, vb), k
    hist = a.train_result_.history
    assert hist[-1][2] < hist[0][2]  # validation NLL went down


def _state(reg: MDNRegressor) -> dict[str, torch.Tensor]:
    return reg.module_.state_dict()


def test_should_stop_checkpoints_and_resume_is_bitwise_exact(tmp_path: Path) -> None:
    X, Y = data()
    params = small(epochs=4)
    ref = MDNRegressor(**params).fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:])
    ck = Checkpointer(tmp_path / "ck", every_n_steps=7)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] == 40  # mid-epoch 1 (75 steps per epoch... here 63)

    with pytest.raises(TrainingInterrupted) as stopped:
        MDNRegressor(**params).fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:],
                                   checkpointer=ck, should_stop=stop)  # fmt: skip
    # the stop checkpoint is on disk when the exception is raised: no write outlives training
    assert stopped.value.path is not None and stopped.value.path.is_file()
    assert not [p for p in (tmp_path / "ck").iterdir() if p.name.endswith(".tmp")]
    resumed = MDNRegressor(**params).fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:],
                                         checkpointer=Checkpointer(tmp_path / "ck",
                                                                   every_n_steps=7))  # fmt: skip
    for k, v in _state(ref).items():
        assert torch.equal(v, _state(resumed)[k]), k
    assert resumed.train_result_.history == ref.train_result_.history


def test_a_checkpoint_of_other_data_is_ignored_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Training from scratch beside another data set's checkpoint recovers on its own: an info
    line in the run log, no console warning (nothing for the user to do)."""
    X, Y = data()
    params = small(epochs=2)
    with pytest.raises(TrainingInterrupted):
        MDNRegressor(**params).fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:],
                                   checkpointer=Checkpointer(tmp_path / "ck", every_n_steps=7),
                                   should_stop=lambda: True)  # fmt: skip
    ref = MDNRegressor(**params).fit(X[:150], Y[:150], X_val=X[200:], Y_val=Y[200:])
    with caplog.at_level(logging.INFO, logger="standard_coder"):
        other = MDNRegressor(**params).fit(X[:150], Y[:150], X_val=X[200:], Y_val=Y[200:],
                                           checkpointer=Checkpointer(tmp_path / "ck",
                                                                     every_n_steps=7))  # fmt: skip
    said = [r for r in caplog.records if "other training data" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert other.train_result_.history == ref.train_result_.history  # trained from the start


def test_save_load_weights_only_and_vocabulary_refused(tmp_path: Path) -> None:
    X, Y = data()
    m = EffortModel(predictor="mdn", params=HEAD, training=SMALL["training"], feature_kind="tokens",
                    feature_checksum="f" * 64, vocabulary_checksum="v" * 64).fit(X, Y)  # fmt: skip
    path = m.save(tmp_path / "models" / "mdn" / "model.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["config"]["components"] == 3 and raw["feature_checksum"] == "f" * 64
    back = EffortModel.load(path, expected_vocabulary_checksum="v" * 64)
    np.testing.assert_array_equal(back.predict(X[:9]).sch, m.predict(X[:9]).sch)
    with pytest.raises(RepresentationMismatch, match=r"model\.pt.*another feature vocabulary"):
        EffortModel.load(path, expected_vocabulary_checksum="w" * 64)
    with pytest.raises(ValueError, match="unknown mdn option"):
        EffortModel(predictor="mdn", params={"componentz": 3}).fit(X, Y)


def test_mdn_config_rebuilds_module() -> None:
    cfg = MDNConfig(n_features=5)
    assert cfg.components == 20 and cfg.hidden == [256, 64, 64, 64, 64]
    net = MDN(cfg)
    log_pi, _loc, scale = net(torch.zeros(2, 5))
    assert log_pi.shape == (2, 20) and (scale > 0).all()


def test_tensorboard_scalars_share_the_global_step_axis(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    X, Y = data()
    reg = MDNRegressor(**small(epochs=3, batch_size=20))
    reg.fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:], tb_dir=tmp_path / "tb")
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    steps = {t: [ev.step for ev in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
    per_epoch = steps["train/epoch_loss"]
    assert len(per_epoch) == 3 and steps["val/loss"] == per_epoch
    # epoch ends land at the last global step of each epoch, on train/loss's axis
    assert per_epoch == sorted(per_epoch) and per_epoch[0] > 0
    assert per_epoch[-1] >= max(steps["train/loss"])
    # a fresh training into the same folder replaces the old curves (never two runs' points
    # zigzagging on one axis in TensorBoard and the report)
    reg.fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:], tb_dir=tmp_path / "tb")
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1


def test_sklearn_base_estimator_clone_and_set_params() -> None:
    from sklearn.base import clone

    reg = MDNRegressor(**small(epochs=2), random_state=5)
    assert reg.get_params()["training"].epochs == 2 and reg.get_params()["random_state"] == 5
    twin = clone(reg)
    assert twin is not reg and twin.get_params()["components"] == 3
    assert twin.set_params(components=4) is twin and twin.components == 4
    X, Y = data()
    fitted = reg.fit(X, Y)
    assert not hasattr(clone(fitted), "module_")  # clone copies parameters, not the fit
    model = EffortModel(predictor="quantile", params={"hidden": [8]}, training=TrainOptions())
    assert clone(model).get_params()["params"] == {"hidden": [8]}
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_fit_leaves_the_global_rngs_alone() -> None:
    import random

    X, Y = data()
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(9)
    expect = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(9)
    MDNRegressor(**small(epochs=1)).fit(X, Y)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expect[0]) and np.array_equal(got[1], expect[1])
    assert got[2] == expect[2]


def test_bf16_precision_trains_and_is_recorded(tmp_path: Path) -> None:
    X, Y = data()
    fp32 = MDNRegressor(**small(epochs=2)).fit(X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:])
    bf16 = MDNRegressor(**small(epochs=2, precision="bf16")).fit(
        X[:200], Y[:200], X_val=X[200:], Y_val=Y[200:]
    )
    assert fp32.train_result_.precision == "fp32" and bf16.train_result_.precision == "bf16"
    assert np.isfinite(bf16.train_result_.best_val)
    # the same seed, other arithmetic: close but not bitwise the same weights
    assert bf16.train_result_.best_val == pytest.approx(fp32.train_result_.best_val, rel=0.2)
    w32, w16 = fp32.module_.state_dict(), bf16.module_.state_dict()
    assert any(not torch.equal(w32[k], w16[k]) for k in w32)
    m = EffortModel(predictor="mdn", params=HEAD, training=TrainOptions(epochs=1, precision="bf16"))
    path = m.fit(X, Y).save(tmp_path / "model.pt")
    assert EffortModel.load(path).regressor_.train_result_.precision == "bf16"
    with pytest.raises(ValueError, match="precision"):
        MDNRegressor(**small(epochs=1, precision="fp8")).fit(X, Y)
