"""A model whose training step is small trains on one CPU thread, with the same weights
(issue 22: the demo's MDN was 4x slower on two threads of a loaded 2-core machine)."""

from __future__ import annotations

import logging

import pytest
import torch

from standard_coder.sch.predictors import train
from standard_coder.sch.predictors.mdn import MDN, MDNConfig
from standard_coder.sch.predictors.train import TrainOptions, cpu_threads_for_step, train_model


@pytest.fixture
def two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


def _fit(n_features: int = 12) -> tuple[list[torch.Tensor], float]:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(300, n_features, generator=gen)
    Y = torch.exp(X[:, :1] * 0.5 + 0.2 * torch.randn(300, 40, generator=gen))
    model = MDN(MDNConfig(n_features=n_features, components=4, hidden=[32, 16], dropout=0.1))
    opts = TrainOptions(epochs=2, batch_size=128, samples_per_commit=8, max_steps_per_epoch=4)
    result = train_model(model, X[:240], Y[:240], X[240:], Y[240:], options=opts, seed=3)
    return [p.detach().clone() for p in model.parameters()], result.best_val


def test_small_step_trains_on_one_thread_with_the_same_weights(
    two_threads, monkeypatch, caplog
) -> None:
    seen: list[int] = []
    real = MDN.loss

    def spy(self, *args, **kwargs):  # the threads torch has while the model's loss runs
        seen.append(torch.get_num_threads())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MDN, "loss", spy)
    with caplog.at_level(logging.INFO, logger=train.__name__):
        one, best_one = _fit()
    assert set(seen) == {1} and torch.get_num_threads() == 2  # restored afterwards
    assert "training on 1 CPU thread, not 2" in caplog.text
    seen.clear()
    monkeypatch.setattr(train, "SMALL_STEP_FLOPS", 0)  # every step "big": torch's threads
    two, best_two = _fit()
    assert set(seen) == {2}
    assert best_one == best_two
    for a, b in zip(one, two, strict=True):
        assert torch.equal(a, b)


def test_big_steps_and_other_devices_keep_their_threads(two_threads) -> None:
    big = torch.nn.Linear(2000, 2000)  # 4 M parameters x 128 rows: far above the limit
    with cpu_threads_for_step(big, 128, torch.device("cpu")) as n:
        assert n == 2 and torch.get_num_threads() == 2
    small = torch.nn.Linear(10, 10)
    with cpu_threads_for_step(small, 128, torch.device("meta")) as n:
        assert n == 2
    with pytest.raises(RuntimeError), cpu_threads_for_step(small, 128, torch.device("cpu")):
        assert torch.get_num_threads() == 1
        raise RuntimeError("a failed step still restores the threads")
    assert torch.get_num_threads() == 2
