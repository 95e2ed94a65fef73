"""benchmarks/training.py credits each loop with the steps it ran (it had credited 300 where one
epoch, 113 steps, ran), and its accelerator table has a row per batch size with where `auto`
trains it (run here with the CPU standing in for the accelerator: this machine has none)."""

from __future__ import annotations

import pytest
import torch
from tests.benchmodule import load_benchmark

from standard_coder.sch.predictors.mdn import MDN, MDNConfig
from standard_coder.sch.predictors.train import train_model

bench = load_benchmark("training")


def _data(n: int = 40, s: int = 10, f: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, f, generator=g), torch.rand(n, s, generator=g) + 0.1


def _small() -> MDN:
    torch.manual_seed(0)
    return MDN(MDNConfig(n_features=6, components=2, hidden=[8]))


def test_the_index_loop_runs_exactly_the_steps_it_is_credited_with(monkeypatch) -> None:
    X, Y = _data()  # 40 commits x 8 samples / 64 pairs: one epoch is 5 steps
    seen: list[int] = []
    real = train_model

    def count(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.append(result.steps)
        return result

    monkeypatch.setattr(bench, "train_model", count)
    for steps in (3, 5, 12, 7):  # within one epoch, exactly one, several, a prime above one
        bench.index_loop(_small(), X, Y, steps, 64)
    assert seen == [3, 5, 12, 7]


def test_a_dataloader_that_runs_out_is_an_error_not_a_faster_figure() -> None:
    X, Y = _data(n=4, s=2)  # 8 pairs: one batch of 8 per pass
    bench.dataloader_loop(_small(), X, Y, 1, 8)
    with pytest.raises(RuntimeError, match="ran out after 1 steps, not 3"):
        bench.dataloader_loop(_small(), X, Y, 3, 8)


def test_the_accelerator_table_has_a_row_per_batch_size(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench, "ACCEL_BATCHES", (16, 64))
    X, Y = _data()
    cfg = MDNConfig(n_features=6, components=2, hidden=[8])
    table = bench.accelerator_table(cfg, X, Y, 4, torch.device("cpu"))
    assert [r["batch_size"] for r in table["batches"]] == [16, 64]
    for r in table["batches"]:
        assert r["accelerator_samples_per_s"] > 0 and r["cpu_samples_per_s"] > 0
        assert r["auto_trains_on"] == "cpu" and r["cpu_threads"] == 1  # tiny steps
        assert r["step_mflop"] < 1
    assert table["best_ratio"] == max(r["ratio"] for r in table["batches"])
    assert "auto trains on" in capsys.readouterr().out
