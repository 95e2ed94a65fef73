"""The neural HMM's numpy network: its hand-written gradient and Adam against torch's autograd
and ``torch.optim.Adam``, its fast tanh against ``np.tanh``, and a fit that imports no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from standard_coder.sch.work_inference.clock import grid_features
from standard_coder.sch.work_inference.network import (
    Adam,
    GridNet,
    probabilities,
    surrogate_grad,
    tanh_bias,
)

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


def _counts(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.gamma(0.5, 1.0, n) / n for _ in range(4)]


def _torch_net(net: GridNet) -> torch.nn.Sequential:
    hidden = net.params[0].shape[0]
    tnet = torch.nn.Sequential(
        torch.nn.Linear(5, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, net.params[4].shape[0]),
    )
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in net.state().items()})
    return tnet


def _torch_loss(
    tnet: torch.nn.Sequential, grid: np.ndarray, counts: list[np.ndarray]
) -> torch.Tensor:
    logits = tnet(torch.from_numpy(grid))
    ls, le = logits[:, 0].double(), logits[:, 1].double()
    n_cc, n_cn, n_nc, n_nn = (torch.from_numpy(a) for a in counts)
    fs = torch.nn.functional.logsigmoid
    return -(n_cc * fs(-le) + n_cn * fs(le) + n_nc * fs(ls) + n_nn * fs(-ls)).sum()


def test_gradient_matches_torch_autograd() -> None:
    grid = grid_features(3)
    net = GridNet(grid, 16, seed=5)
    counts = _counts(grid.shape[0], 1)
    tnet = _torch_net(net)
    logits = net.forward()
    with torch.no_grad():
        ref_logits = tnet(torch.from_numpy(grid)).numpy()
    np.testing.assert_allclose(logits, ref_logits, atol=2e-6)
    probs = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    ours = net.backward(surrogate_grad(probs, np.stack(counts, axis=1) * 4.0, 0.25))
    _torch_loss(tnet, grid, counts).backward()
    theirs = [p.grad.numpy() for p in tnet.parameters()]
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())


def test_gradient_with_the_break_output_matches_torch_autograd() -> None:
    """The break state's third output, ``B = b_max sigmoid(l_b)``: its hand-written gradient
    (from the coding-to-coding and coding-to-break counts) equals autograd's."""
    grid = grid_features(2)
    b_max = 0.1
    net = GridNet(grid, 16, seed=6, break_prob=0.02, break_max=b_max)
    counts = _counts(grid.shape[0], 2) + _counts(grid.shape[0], 3)[:2]
    tnet = _torch_net(net)
    logits = net.forward()
    probs = np.empty((logits.shape[0], 3))
    tables = np.empty((logits.shape[0], 3))
    probabilities(logits, probs, tables, b_max)
    assert np.all(tables[:, 2] <= b_max) and tables[:, 2].mean() == pytest.approx(0.02, rel=0.3)
    ours = net.backward(surrogate_grad(probs, np.stack(counts, axis=1) * 4.0, 0.25, b_max))
    out = tnet(torch.from_numpy(grid))
    loss = _torch_loss(tnet, grid, counts[:4])
    b = b_max * torch.sigmoid(out[:, 2].double())
    n_stay, n_break = (torch.from_numpy(a) for a in counts[4:])
    loss = loss - (n_stay * torch.log1p(-b) + n_break * torch.log(b)).sum()
    loss.backward()
    theirs = [p.grad.numpy() for p in tnet.parameters()]
    for a, b_ in zip(ours, theirs, strict=True):
        assert a.shape == b_.shape
        np.testing.assert_allclose(a, b_, rtol=1e-3, atol=1e-4 * np.abs(b_).max())


def test_adam_matches_torch_optim_over_a_training_run() -> None:
    grid = grid_features(2)
    net = GridNet(grid, 8, seed=3)
    tnet = _torch_net(net)
    topt = torch.optim.Adam(tnet.parameters(), lr=0.05)
    opt = Adam(net.params, lr=0.05)
    for step in range(40):
        counts = _counts(grid.shape[0], step)
        lr = 0.05 * (0.1 + 0.45 * (1 + np.cos(np.pi * step / 39)))  # the HMM's cosine decay
        opt.lr = lr
        for group in topt.param_groups:
            group["lr"] = lr
        probs = 1.0 / (1.0 + np.exp(-net.forward().astype(np.float64)))
        opt.step(net.backward(surrogate_grad(probs, np.stack(counts, axis=1), 1.0)))
        topt.zero_grad()
        _torch_loss(tnet, grid, counts).backward()
        topt.step()
    for a, b in zip(net.params, tnet.parameters(), strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), atol=2e-4)


def test_probabilities_are_the_sigmoid_and_the_clipped_tables() -> None:
    logits = np.array([[0.0, 2.0], [-30.0, 30.0], [-3.0, 1e-3]], np.float32)
    probs = np.empty((3, 2))
    se = np.full((4, 2), -1.0)
    probabilities(logits, probs, se)
    exact = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    np.testing.assert_allclose(probs, exact, rtol=1e-12)
    np.testing.assert_allclose(se[:3], np.clip(exact, 1e-7, 1 - 1e-7), rtol=1e-12)
    assert np.all(se[3] == -1.0)  # the day-off row is left alone


def test_fast_tanh_is_within_4e_7_of_tanh() -> None:
    x = np.concatenate(
        [np.linspace(-12, 12, 200_001), np.linspace(-1e-3, 1e-3, 2001), [0.0, 7.9, -7.91, 40.0]]
    ).astype(np.float32)
    out = x.reshape(-1, 1).copy()
    tanh_bias(out, np.zeros(1, np.float32))
    exact = np.tanh(x.astype(np.float64))
    assert np.abs(out[:, 0] - exact).max() < 4e-7
    assert np.all(np.abs(out) <= 1.0)
    assert np.all(np.sign(out[:, 0]) == np.sign(x))
    shifted = np.zeros((3, 2), np.float32)
    tanh_bias(shifted, np.array([0.5, -2.0], np.float32))
    np.testing.assert_allclose(shifted, np.tile(np.tanh([0.5, -2.0]), (3, 1)), atol=4e-7)


def test_an_hmm_fit_never_imports_torch() -> None:
    code = (
        "import sys, numpy as np\n"
        "from standard_coder.sch.work_inference.hmm import NeuralHMM\n"
        "t = np.arange(40, dtype=np.int64) * 3 * 3600 + 9 * 3600\n"
        "NeuralHMM(epochs=3, time_bins=1).fit(t, np.zeros_like(t))\n"
        "print('torch' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]
