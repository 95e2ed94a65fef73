"""Train a tiny MDN under ``torchrun`` (or alone): the DDP tests' entry (not collected).

``python ddp_fit.py OUT [EPOCHS]``: rank 0 writes ``OUT/model.pt`` and checkpoints under
``OUT/ckpt``; other ranks follow. SIGTERM stops at an agreed step (checkpoint saved, exit 143).
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import numpy as np
import torch

from standard_coder.runner import ddp
from standard_coder.runner.checkpoint import Checkpointer
from standard_coder.sch.predictors.estimator import MDNRegressor
from standard_coder.sch.predictors.train import TrainingInterrupted, TrainOptions


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    if ddp.env_world() is not None:
        ddp.init()
        if ddp.rank() != 0:
            return ddp.follow()
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 6)).astype(np.float32)
    Y = np.exp(rng.normal(size=(240, 16)) * 0.3 + X[:, :1] * 0.5).astype(np.float32) * 0.2
    opts = TrainOptions(
        epochs=epochs,
        batch_size=64,
        samples_per_commit=4,
        max_steps_per_epoch=None,
        early_stopping_patience=50,
    )
    reg = MDNRegressor(components=3, hidden=(16, 16), dropout=0.0, training=opts, random_state=7)
    ck = Checkpointer(out / "ckpt", every_n_steps=5, background=False)
    try:
        reg.fit(
            X[:200],
            Y[:200],
            X_val=X[200:],
            Y_val=Y[200:],
            checkpointer=ck,
            should_stop=lambda: stop["now"],
        )
    except TrainingInterrupted:
        ddp.finish()
        return 143
    torch.save({k: v for k, v in reg.module_.state_dict().items()}, out / "model.pt")
    (out / "result.txt").write_text(
        f"{reg.train_result_.steps} {reg.train_result_.best_val!r} world={ddp.world_size()}\n"
    )
    ddp.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
