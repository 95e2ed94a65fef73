"""SIGKILL during MDN training, rerun -> a model.pt bitwise identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = r"""
import logging, sys
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
logging.basicConfig(level=logging.INFO)
from standard_coder.runner.checkpoint import Checkpointer
from standard_coder.sch.predictors.estimator import EffortModel, TrainOptions

out = Path(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.normal(size=(1500, 6)).astype(np.float32)
Y = (np.exp(-1 + 0.5 * X[:, :1]) * np.exp(rng.normal(0, 0.3, (1500, 10)))).astype(np.float32)
ck = Checkpointer(out / "checkpoints", every_n_steps=25, fingerprint="fp-1")
model = EffortModel(predictor="mdn", params={"components": 4, "hidden": [32, 32]},
                    training=TrainOptions(epochs=4, batch_size=64, early_stopping_patience=10),
                    random_state=3,
                    feature_kind="tokens", feature_checksum="c", vocabulary_checksum="v")
model.fit(X[:1300], Y[:1300], X_val=X[1300:], Y_val=Y[1300:], checkpointer=ck)
model.save(out / "models" / "mdn" / "model.pt")
"""


def run(out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out)], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_sigkill_then_rerun_gives_bitwise_identical_model(tmp_path: Path) -> None:
    ref = run(tmp_path / "ref")
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err.decode()[-2000:]

    out = tmp_path / "killed"
    p = run(out)
    deadline = time.monotonic() + 240
    while not list((out / "checkpoints").glob("ckpt-*.pt")):
        assert p.poll() is None, "training finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # a little further into training
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    assert not (out / "models" / "mdn" / "model.pt").exists()

    again = run(out)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-2000:]
    assert b"resuming training at epoch" in err
    assert (out / "models" / "mdn" / "model.pt").read_bytes() == (
        tmp_path / "ref" / "models" / "mdn" / "model.pt"
    ).read_bytes()
