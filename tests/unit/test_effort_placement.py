"""``device = "auto"`` keeps an effort model whose training step is too small to gain from an
accelerator on the CPU, and says so; an explicit device is honoured (issue 22: the demo's
training took 51 s on an H200 machine's GPU against 25 s on a 2-core laptop's CPU).

This machine has no GPU, so an accelerator is faked where the device is *chosen*
(``runner.device.resolve_device``); nothing is ever moved to it except where the model is
kept on the CPU."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from standard_coder.runner import device as runner_device
from standard_coder.sch.predictors import placement
from standard_coder.sch.predictors.estimator import MDNRegressor
from standard_coder.sch.predictors.mdn import MDN, MDNConfig
from standard_coder.sch.predictors.placement import (
    GPU_MIN_STEP_FLOPS,
    fit_device,
    rows_per_step,
    step_flops,
)
from standard_coder.sch.predictors.train import TrainOptions


@pytest.fixture
def fake_cuda(monkeypatch):
    """``auto`` resolves to ``cuda``, as on a machine with a GPU."""
    monkeypatch.setattr(runner_device, "resolve_device", lambda preference: ("cuda", None))


def _demo_sized_mdn() -> MDN:
    return MDN(MDNConfig(n_features=64))  # the paper's head: 20 components, 256-64-64-64-64


def test_rows_per_step_counts_commits_not_pairs() -> None:
    assert rows_per_step(1024, 8, 200) == 128  # 8 samples of each drawn commit
    assert rows_per_step(1024, 8, 3) == 341  # only 3 label samples a commit
    assert rows_per_step(4, 8, 200) == 1  # a batch smaller than k
    assert rows_per_step(1024, 0, 200) == 1024


def test_auto_without_an_accelerator_is_the_cpu_and_says_nothing() -> None:
    if runner_device.resolve_device("auto")[0] != "cpu":
        pytest.skip("this machine has an accelerator")
    assert fit_device(_demo_sized_mdn(), 128, "auto") == (torch.device("cpu"), None)


def test_auto_keeps_a_small_model_on_the_cpu_and_says_why(fake_cuda) -> None:
    model = _demo_sized_mdn()
    assert step_flops(model, 128) < GPU_MIN_STEP_FLOPS
    dev, reason = fit_device(model, 128, "auto")
    assert dev == torch.device("cpu")
    assert reason is not None
    assert reason.startswith("training on cpu, not cuda: ")
    assert f"{step_flops(model, 128) / 1e6:.0f} MFLOP a step" in reason


def test_auto_gives_a_big_step_to_the_accelerator(fake_cuda) -> None:
    model = _demo_sized_mdn()
    rows = int(GPU_MIN_STEP_FLOPS / step_flops(model, 1)) + 1
    assert fit_device(model, rows, "auto") == (torch.device("cuda"), None)


@pytest.mark.parametrize("asked", ["cpu", "cuda", "cuda:1", "mps"])
def test_an_explicit_device_is_honoured_whatever_the_size(fake_cuda, asked) -> None:
    assert fit_device(_demo_sized_mdn(), 1, asked) == (torch.device(asked), None)


def test_an_auto_fit_with_an_accelerator_trains_small_models_on_the_cpu(fake_cuda, caplog) -> None:
    gen = np.random.default_rng(0)
    X = gen.normal(size=(120, 6)).astype(np.float32)
    Y = np.exp(0.5 * X[:, :1] + 0.2 * gen.normal(size=(120, 20)))
    opts = TrainOptions(epochs=2, batch_size=64, samples_per_commit=8, max_steps_per_epoch=3)
    reg = MDNRegressor(components=2, hidden=(8,), training=opts, device="auto")
    with caplog.at_level(logging.INFO):
        reg.fit(X[:100], Y[:100], X_val=X[100:], Y_val=Y[100:])
    assert reg.fit_device_ == "cpu"
    assert "training on cpu, not cuda" in caplog.text
    assert np.isfinite(reg.predict(X[100:]).sch).all()
    # the same fit asked for the CPU explicitly gives the same weights: only placement moved
    same = MDNRegressor(components=2, hidden=(8,), training=opts, device="cpu")
    same.fit(X[:100], Y[:100], X_val=X[100:], Y_val=Y[100:])
    for a, b in zip(reg.module_.parameters(), same.module_.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_limit_is_above_the_measured_break_even() -> None:
    # the paper-sized MDN at 128 commits a step lost on the GPU (issue 22): it must stay on
    # the CPU under auto, with room for bigger vocabularies than the benchmark's
    assert step_flops(MDN(MDNConfig(n_features=300)), 128) < placement.GPU_MIN_STEP_FLOPS


def test_under_torchrun_every_rank_trains_where_it_communicates(fake_cuda, monkeypatch) -> None:
    # DDP over NCCL cannot wrap a CPU module: auto is never demoted there, and the rank's own
    # device (cuda:<local rank>) is used, as the other ranks' follow_fit does
    from standard_coder.runner import ddp

    monkeypatch.setattr(ddp, "active", lambda: True)
    monkeypatch.setattr(ddp, "comm_device", lambda: torch.device("cuda:1"))
    assert fit_device(_demo_sized_mdn(), 1, "auto") == (torch.device("cuda:1"), None)


def test_auto_on_a_cpu_only_machine_logs_the_device_it_chose(caplog) -> None:
    if runner_device.resolve_device("auto")[0] != "cpu":
        pytest.skip("this machine has an accelerator")
    gen = np.random.default_rng(1)
    X = gen.normal(size=(60, 3)).astype(np.float32)
    Y = np.exp(0.3 * X[:, :1] + 0.2 * gen.normal(size=(60, 10)))
    opts = TrainOptions(epochs=1, batch_size=32, samples_per_commit=4, max_steps_per_epoch=2)
    with caplog.at_level(logging.INFO):
        MDNRegressor(components=1, hidden=(4,), training=opts, device="auto").fit(X, Y)
    assert "training on cpu (device auto)" in caplog.text


def test_an_explicit_device_enters_train_sch_fingerprint_and_auto_keeps_its_own(
    tmp_path,
) -> None:
    # on a GPU machine `auto` and `cuda` both resolve to cuda but train small models on
    # different devices: an explicit device is a param of train_sch, auto adds nothing (runs
    # made before keep their fingerprint)
    from standard_coder.pipelines.sch import build

    (tmp_path / "repo").mkdir()
    config = tmp_path / "pipeline_config.toml"

    def train_params(runner: str) -> dict:
        config.write_text(f'[repos]\ninclude_paths = ["repo"]\n{runner}')
        return next(s for s in build(config, []).stages if s.name == "train_sch").params

    assert "device" not in train_params("")
    assert "device" not in train_params('[runner]\ndevice = "auto"\n')
    assert train_params('[runner]\ndevice = "cuda"\n')["device"] == "cuda"
    assert train_params('[runner]\ndevice = "cpu"\n')["device"] == "cpu"
