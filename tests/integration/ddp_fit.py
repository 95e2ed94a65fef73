"""Train a tiny MDN (or multitask model) under ``torchrun`` (or alone): the DDP tests' entry
(not collected).

``python ddp_fit.py OUT [EPOCHS] [mdn|multitask]``: rank 0 writes ``OUT/model.pt`` and
checkpoints under ``OUT/ckpt``; other ranks follow. SIGTERM stops at an agreed step (checkpoint
saved, exit 143).
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from standard_coder.runner import ddp
from standard_coder.runner.checkpoint import Checkpointer
from standard_coder.sch.delivery.data import N_PR_FEATURES, DeliveryData
from standard_coder.sch.predictors.estimator import MDNRegressor
from standard_coder.sch.predictors.multitask import MultitaskRegressor
from standard_coder.sch.predictors.train import TrainingInterrupted, TrainOptions


def _prs(rng: np.random.Generator, X: np.ndarray, start: int, n: int) -> DeliveryData:
    """``n`` PRs of 1-3 commit rows each (rows of ``X`` from ``start``)."""
    sizes = rng.integers(1, 4, size=n)
    owner = np.repeat(np.arange(n), sizes)
    rows = start + rng.integers(0, 40, size=owner.size)
    feats = np.log1p(rng.integers(0, 6, size=(n, N_PR_FEATURES))).astype(np.float32)
    return DeliveryData(
        X=X[rows], owner=owner, pr_features=feats,
        hours=np.exp(rng.normal(2.0, 0.8, size=n)).astype(np.float32),
        ids=[f"pr-{i}" for i in range(n)], lines_changed=sizes * 10,
        expected_hours=np.full(n, np.nan),
    )  # fmt: skip


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    kind = sys.argv[3] if len(sys.argv) > 3 else "mdn"
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
    ck = Checkpointer(out / "ckpt", every_n_steps=5, background=False)
    reg: MDNRegressor | MultitaskRegressor
    extra: dict[str, Any] = {}
    if kind == "multitask":
        reg = MultitaskRegressor(components=3, hidden=(16, 16), dropout=0.0, delivery_components=2,
                                 delivery_hidden=(8,), pr_batch_size=8, training=opts,
                                 random_state=7)  # fmt: skip
        extra = {"prs": _prs(rng, X, 0, 40), "prs_val": _prs(rng, X, 200, 10)}
    else:
        reg = MDNRegressor(components=3, hidden=(16, 16), dropout=0.0, training=opts,
                           random_state=7)  # fmt: skip
    try:
        reg.fit(
            X[:200],
            Y[:200],
            X_val=X[200:],
            Y_val=Y[200:],
            checkpointer=ck,
            should_stop=lambda: stop["now"],
            **extra,
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
    code = main()
    if ddp.env_world() is not None:
        ddp.leave(code)  # out of the process group: skip torch's teardown (runner/ddp.py)
    sys.exit(code)
