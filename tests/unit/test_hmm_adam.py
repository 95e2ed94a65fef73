"""The neural HMM's own Adam: the same bits as ``torch.optim.Adam``, without importing
``torch._dynamo`` (about 2 s of CPU per work-inference worker process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from standard_coder.sch.work_inference import adam as adam_module
from standard_coder.sch.work_inference.adam import Adam
from standard_coder.sch.work_inference.hmm import NeuralHMM

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


def _train(make_opt: Any) -> list[np.ndarray]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    opt = make_opt(net.parameters(), lr=0.05)
    x = torch.randn(64, 5)
    for epoch in range(120):
        for group in opt.param_groups:  # the HMM's cosine decay changes the rate every epoch
            group["lr"] = 0.05 * (0.1 + 0.45 * (1 + np.cos(np.pi * epoch / 119)))
        out = net(x)
        loss = (out**2).sum() - out[:, 0].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach().numpy().copy() for p in net.parameters()]


def test_adam_is_bit_identical_to_torch_optim() -> None:
    ours, theirs = _train(Adam), _train(torch.optim.Adam)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_hmm_fit_is_bit_identical_with_torch_optim(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    days = np.sort(rng.choice(20, size=60)) * 86400
    t = (days + rng.integers(9 * 3600, 17 * 3600, size=60)).astype(np.int64)
    tz = np.zeros_like(t)

    def fit() -> NeuralHMM:
        return NeuralHMM(learning_rate=0.05, epochs=30, time_bins=1, random_state=2).fit(t, tz)

    ours = fit()
    monkeypatch.setattr(adam_module, "Adam", lambda params, lr: torch.optim.Adam(params, lr=lr))
    theirs = fit()
    assert set(ours.net_state_) == set(theirs.net_state_)
    assert all(np.array_equal(ours.net_state_[k], theirs.net_state_[k]) for k in ours.net_state_)
    assert np.array_equal(ours.expected_minutes_, theirs.expected_minutes_)


def test_an_hmm_fit_never_imports_dynamo() -> None:
    code = (
        "import sys, numpy as np\n"
        "from standard_coder.sch.work_inference.hmm import NeuralHMM\n"
        "t = np.arange(40, dtype=np.int64) * 3 * 3600 + 9 * 3600\n"
        "NeuralHMM(epochs=3, time_bins=1).fit(t, np.zeros_like(t))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]
