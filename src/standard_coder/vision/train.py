"""The steps-based training loop: AdamW with linear warmup and cosine decay, fp32 only.

Batches are drawn from the in-memory split with a seeded ``torch.Generator`` whose state is part
of every checkpoint, together with the model, the optimizer, the global RNG states and the
history, so a run killed at any point and resumed from its last checkpoint ends with the same
weights as one that never stopped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from standard_coder.runner.checkpoint import capture_rng_state, restore_rng_state
from standard_coder.runner.trainclock import TrainingClock
from standard_coder.vision.data import ImageSplit
from standard_coder.vision.predictions import EvalResult, evaluate

if TYPE_CHECKING:
    from standard_coder.runner.context import TrainingCheckpointer

log = logging.getLogger(__name__)


class TrainingInterrupted(Exception):
    """Stop was requested; the state is checkpointed at ``step``."""

    def __init__(self, step: int) -> None:
        super().__init__(f"training interrupted at step {step} (checkpointed)")
        self.step = step


@dataclass(frozen=True)
class TrainOptions:
    """What the loop does (built from ``[vision]`` by the pipeline)."""

    num_steps: int = 1500
    eval_every: int = 500
    train_batch_size: int = 64
    eval_batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    grad_clip: float = 1.0
    seed: int = 0
    max_eval_batches: int | None = None
    log_every: int = 10


@dataclass
class TrainResult:
    steps: int
    resumed_from: int | None
    history: list[dict[str, float]] = field(default_factory=list)
    last_eval: EvalResult | None = None
    seconds: float = 0.0
    """The training's time over all its runs: a resume adds its own to what the checkpoint had,
    and a resume at the final step, which trains nothing and only exports the model again, adds
    nothing (as the code-edit runs count it: both use the runner's ``TrainingClock``)."""


def lr_at(step: int, opts: TrainOptions) -> float:
    """Learning rate of (0-based) ``step``: linear warmup, then cosine decay to 0."""
    if opts.warmup_steps and step < opts.warmup_steps:
        return opts.learning_rate * (step + 1) / opts.warmup_steps
    span = max(1, opts.num_steps - opts.warmup_steps)
    progress = min(1.0, (step - opts.warmup_steps) / span)
    return opts.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))


def train(
    model: nn.Module,
    train_data: ImageSplit,
    val_data: ImageSplit | None,
    opts: TrainOptions,
    *,
    device: str,
    checkpointer: TrainingCheckpointer | None = None,
    tb_dir: Path | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_eval: Callable[[int, EvalResult], None] | None = None,
    meta: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` in place for ``opts.num_steps`` steps (resuming from ``checkpointer``).

    Every ``eval_every`` steps (and at the end) the model is evaluated on ``val_data``,
    ``on_eval(step, result)`` is called and TensorBoard gets ``val/accuracy`` and ``val/loss``;
    every ``log_every`` steps (and the last) log ``train/loss`` and ``train/lr``.
    """
    if len(train_data) == 0:
        raise ValueError("no training images")
    threads = torch.get_num_threads()
    if device == "cpu":
        # Models this small gain nothing from intra-op threads; on a shared CPU they lose a lot.
        torch.set_num_threads(1)
    try:
        return _train(model, train_data, val_data, opts, device=device,
                      checkpointer=checkpointer, tb_dir=tb_dir, should_stop=should_stop,
                      on_eval=on_eval, meta=meta)  # fmt: skip
    finally:
        torch.set_num_threads(threads)


def _train(
    model: nn.Module,
    train_data: ImageSplit,
    val_data: ImageSplit | None,
    opts: TrainOptions,
    *,
    device: str,
    checkpointer: TrainingCheckpointer | None,
    tb_dir: Path | None,
    should_stop: Callable[[], bool] | None,
    on_eval: Callable[[int, EvalResult], None] | None,
    meta: dict[str, Any] | None,
) -> TrainResult:
    model.to(device)
    images, labels = train_data.images.to(device), train_data.labels.to(device)
    opt = torch.optim.AdamW(
        model.parameters(), lr=opts.learning_rate, weight_decay=opts.weight_decay
    )
    gen = torch.Generator(device="cpu").manual_seed(opts.seed)
    clock = TrainingClock()
    step, resumed_from = 0, None
    history: list[dict[str, float]] = []
    if checkpointer is not None:
        st = checkpointer.load_latest()
        if st is not None:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            gen.set_state(st["generator"])
            restore_rng_state(st["rng"])
            step = resumed_from = int(st["step"])
            history = [dict(h) for h in st["history"]]
            clock.before = float(st.get("seconds", 0.0))  # absent before session 39: 0
            log.info("resuming training at step %d", step)
            if step >= opts.num_steps:  # the final checkpoint: the model is only rebuilt
                clock.trains_nothing()

    def state() -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "generator": gen.get_state(),
            "rng": capture_rng_state(),
            "step": step,
            "history": history,
            "meta": meta or {},
            "seconds": clock.seconds(),
        }

    writer = None
    if tb_dir is not None and step < opts.num_steps:  # resumed at the end: nothing to log
        from torch.utils.tensorboard import SummaryWriter

        if step == 0:  # a fresh training: old curves belong to a replaced model
            for old in Path(tb_dir).glob("events.out.tfevents.*"):
                old.unlink(missing_ok=True)
        # A resume hides what the stopped run logged after its checkpoint (TensorBoard drops
        # the steps from purge_step on); the checkpoint's own step stays, as it was logged
        # before the save and is not logged again.
        writer = SummaryWriter(log_dir=str(tb_dir), purge_step=step + 1 if step else None)
    last: EvalResult | None = None
    model.train()
    try:
        while step < opts.num_steps:
            if should_stop is not None and should_stop():
                if checkpointer is not None:
                    checkpointer.save(state(), step)
                raise TrainingInterrupted(step)
            lr = lr_at(step, opts)
            for group in opt.param_groups:
                group["lr"] = lr
            idx = torch.randint(len(train_data), (opts.train_batch_size,), generator=gen)
            idx = idx.to(device)
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if opts.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
            opt.step()
            step += 1
            loss_value = float(loss.detach())
            if writer is not None and (step % opts.log_every == 0 or step == opts.num_steps):
                writer.add_scalar("train/loss", loss_value, step)
                writer.add_scalar("train/lr", lr, step)
            if val_data is not None and (step % opts.eval_every == 0 or step == opts.num_steps):
                last = evaluate(
                    model,
                    val_data,
                    batch_size=opts.eval_batch_size,
                    device=device,
                    split="val",
                    step=step,
                    max_batches=opts.max_eval_batches,
                )
                history.append(
                    {"step": step, "train_loss": loss_value, "val_loss": last.loss,
                     "val_accuracy": last.accuracy, "lr": lr}
                )  # fmt: skip
                if writer is not None:
                    log_eval_scalars(writer, "val", last, step)
                if on_eval is not None:
                    on_eval(step, last)
            if checkpointer is not None and (checkpointer.due(step) or step == opts.num_steps):
                checkpointer.save(state(), step)
    finally:
        if writer is not None:
            writer.close()
        if checkpointer is not None:
            checkpointer.wait()  # no write may outlive training (a resume would race it)
    return TrainResult(step, resumed_from, history, last, clock.seconds())


def log_eval_scalars(writer: Any, split: str, result: EvalResult, step: int) -> None:
    """The evaluation tags, shared by training, the evaluate stage and eval-only."""
    writer.add_scalar(f"{split}/accuracy", result.accuracy, step)
    writer.add_scalar(f"{split}/loss", result.loss, step)
