"""The counting example's training loop, in one process or as one rank of ``torchrun`` DDP.

``counting.py``'s ``train`` stage calls :func:`fit` on rank 0 (the only rank that runs the
pipeline); under ``[training] distributed = "ddp"`` it first sends the other ranks a job
(:func:`follow`, with the data as tensors, :mod:`standard_coder.runner.ddp`) so they train the
same model in lock-step. Importable by module name (``counting.py`` puts this folder on
``sys.path``), so a follower rank can resolve ``counting_train:follow``.

How DDP stays equal to one process (within float tolerance):

* every rank draws the same global batch from the shared sampler generator and the same
  dropout masks for the whole batch from a second generator, then takes its disjoint shard
  ``rows[rank::world]``: the masks a row sees do not depend on the world size;
* each shard's squared error is summed and divided by the global batch size times ``world``,
  so DDP's gradient average is the gradient of the global batch's mean;
* rank 0 loads the checkpoint and broadcasts the whole state; a stop is agreed by all ranks at
  the same step (one all-reduce), and rank 0 alone saves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import counting_work
import torch
from torch import nn

from standard_coder.runner import ddp
from standard_coder.runner.checkpoint import capture_rng_state, restore_rng_state
from standard_coder.runner.seeding import torch_generator

DROPOUT_SEED_OFFSET = 1  # the dropout masks' generator: seed + 1 (the sampler's: seed)


class Net(nn.Module):
    """16 bits -> two hidden layers (ReLU, dropout after the first) -> one value.

    The dropout mask is an argument (``keep``: 1 keeps a unit, 0 drops it), drawn by the
    caller for the whole global batch, so a row's mask is the same whatever rank trains it.
    """

    def __init__(self, hidden: int, dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.inp = nn.Linear(16, hidden)
        self.mid = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        if keep is not None and self.dropout > 0:
            h = h * keep / (1.0 - self.dropout)
        return self.out(torch.relu(self.mid(h)))  # type: ignore[no-any-return]


def fit(
    x: torch.Tensor,
    y: torch.Tensor,
    params: dict[str, Any],
    seed: int,
    device: str,
    *,
    ckpt: Any = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Any = None,
    log: Any = None,
) -> tuple[Net, dict[str, Any]]:
    """Train to ``params["steps"]`` (or to an agreed stop); ``(model, {"step", "epoch",
    "stopped"})``. ``ckpt`` (rank 0 only): the stage's checkpointer, loaded and saved here."""
    torch.set_num_threads(1)  # bitwise-reproducible float sums on CPU
    dist_on = ddp.active()
    rank, world = ddp.rank(), ddp.world_size()
    steps, bs = int(params["steps"]), int(params["batch_size"])
    if dist_on and bs < world:
        raise ValueError(f"batch_size {bs} cannot be split over {world} ranks")
    dev = torch.device(device)
    torch.manual_seed(seed)  # the initial weights
    model = Net(int(params["hidden"]), float(params["dropout"])).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=float(params["lr"]))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 3), gamma=0.5)
    gen = torch_generator(seed)  # the sampler's generator
    drop_gen = torch_generator(seed + DROPOUT_SEED_OFFSET)
    gens = {"sampler": gen, "dropout": drop_gen}
    n = x.shape[0]
    step, epoch, pos = 0, 0, 0
    perm = torch.randperm(n, generator=gen)

    def state() -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "step": step,
            "epoch": epoch,
            "pos": pos,
            "perm": perm,
            "rng": capture_rng_state(generators=gens),
            "config": dict(params),
        }

    def load(st: dict[str, Any]) -> None:
        nonlocal step, epoch, pos, perm
        model.load_state_dict(st["model"])
        if st["optimizer"]["state"]:  # a fresh optimizer's state is empty
            opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        step, epoch, pos = int(st["step"]), int(st["epoch"]), int(st["pos"])
        perm = st["perm"]
        restore_rng_state(st["rng"], generators=gens)

    saved = ckpt.load_latest() if ckpt is not None else None
    if saved is not None:
        load(saved)
        if log is not None:
            log.info("resuming training at step %d/%d", step, steps)
    net: nn.Module = model
    if dist_on:  # every rank starts from rank 0's state (fresh or resumed)
        tree = ddp.broadcast_tree(state() if rank == 0 else None)
        if rank != 0:
            load(tree)
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[dev] if dev.type == "cuda" else None)
    if progress is not None:
        progress.update(completed=step)
    model.train()
    stopped = False
    while step < steps:
        stop = should_stop is not None and should_stop()
        if dist_on:  # every rank stops at the same step (any rank's signal counts)
            stop = ddp.agree(stop or ddp.stop_requested())
        if stop:
            if ckpt is not None:
                ckpt.save(state(), step)
            stopped = True
            break
        if pos >= n:
            epoch, pos = epoch + 1, 0
            perm = torch.randperm(n, generator=gen)
        idx = perm[pos : pos + bs]
        pos += bs
        keep = (torch.rand(len(idx), model.mid.in_features, generator=drop_gen)
                >= float(params["dropout"])).float()  # fmt: skip
        if dist_on:  # this rank's disjoint shard of the global batch (and its masks)
            rows, keep = idx[rank::world], keep[rank::world]
        else:
            rows = idx
        if rank == 0:
            counting_work.delay(counting_work.STEP_DELAY_ENV)
        err = net(x[rows].to(dev), keep.to(dev)) - y[rows].to(dev)
        # the sum over this shard / the global batch: DDP's average over ranks (times world)
        # is the gradient of the global batch's mean squared error
        loss = (err * err).sum() * (world if dist_on else 1) / len(idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if rank == 0:
            counting_work.trace(f"step {step}")
        if progress is not None:
            progress.advance()
        if ckpt is not None and ckpt.due(step):
            ckpt.save(state(), step)
    return model, {"step": step, "epoch": epoch, "stopped": stopped}


def follow(params: dict[str, Any], seed: int, x: torch.Tensor, y: torch.Tensor) -> None:
    """A non-zero rank's side of rank 0's :func:`fit` (sent by ``ddp.submit``): the same
    model, data and seed; no checkpoints, no outputs."""
    fit(x, y, params, seed, str(ddp.comm_device()))
