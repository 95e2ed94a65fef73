"""One nanoGPT-shaped training loop for every effort predictor.

The whole dataset lives on the device as tensors: ``X`` (commits x features) and ``Y``
(commits x label samples, hours). Each step draws a batch of ``(commit, sample)`` index pairs
from a seeded ``torch.Generator`` (``batch_size // k`` commits with ``k`` samples each) and
gathers ``X[rows]``, ``Y[rows, cols]``: no replicated rows, no DataLoader, and the network runs
once per drawn commit. One epoch is ``ceil(n_train_commits * n_samples / batch_size)`` steps
(capped by ``max_steps_per_epoch``). After each epoch the validation loss (all validation
commits x all their samples) drives early stopping.
Checkpoints go through a ``TrainingCheckpointer`` every N steps, at each epoch end and when
``should_stop()`` turns true; they hold everything needed for a bitwise-exact resume (weights,
AdamW state, the batch generator and every RNG through the runner's
:func:`~standard_coder.runner.checkpoint.capture_rng_state`).
The loop is AdamW with gradient-norm clipping and a constant learning rate (no scheduler, no
GradScaler). ``precision="bf16"`` runs the network under bfloat16 autocast where the device
supports it (no loss scaling is needed for bf16); the distribution math stays in fp32.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import numpy as np
import torch
from torch import nn

from standard_coder.runner import ddp
from standard_coder.runner.checkpoint import capture_rng_state, restore_rng_state
from standard_coder.runner.context import TrainingCheckpointer
from standard_coder.runner.seeding import torch_generator
from standard_coder.sch.predictors.placement import rows_per_step, step_flops

log = logging.getLogger(__name__)


class TrainingInterrupted(Exception):
    """``should_stop()`` turned true; the checkpoint is saved, rerun to resume."""

    def __init__(self, step: int, path: Path | None) -> None:
        super().__init__(f"training stopped at step {step}; checkpoint {path}")
        self.step = step
        self.path = path


@dataclass
class TrainOptions:
    """Optimisation settings: the one home of their names and defaults.

    ``[training.optim]`` mirrors these fields (plus the runner-only ``checkpoint_every_steps``
    and ``validation_fraction``: ``pipelines.sch_train_options.OPTIM_RUNNER_ONLY``);
    ``tests/unit/test_defaults.py`` checks every key is one or the other and the defaults agree.
    """

    epochs: int = 60
    batch_size: int = 1024
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    early_stopping_patience: int = 8
    grad_clip: float = 5.0
    max_steps_per_epoch: int | None = 500
    """Cap on steps per epoch (an epoch is otherwise commits x samples / batch); bounds the
    time between validations on large histories. None: no cap."""
    precision: str = "fp32"
    """``fp32`` or ``bf16`` (autocast; falls back to fp32 where the device lacks bf16). Set from
    ``[runner] precision``."""
    samples_per_commit: int = 8
    """Label samples drawn per drawn commit: a step covers ``batch_size // k`` commits with
    ``k`` samples each (``batch_size`` pairs), so the network runs once per commit, not per
    pair. 1 = independent (commit, sample) pairs."""


@dataclass
class TrainResult:
    """Outcome of :func:`train_model` (the module holds the best weights afterwards)."""

    best_val: float
    best_epoch: int
    epochs_run: int
    steps: int
    stopped: str
    history: list[list[float]] = field(default_factory=list)
    precision: str = "fp32"
    """The precision training actually ran in."""


def clear_curves(tb_dir: Path) -> None:
    """Remove the TensorBoard event files in ``tb_dir``: the curves of a model being replaced."""
    for old in Path(tb_dir).glob("events.out.tfevents.*"):
        old.unlink(missing_ok=True)


def data_digest(*arrays: torch.Tensor) -> str:
    """Digest of the training tensors; a checkpoint from other data is never resumed."""
    h = hashlib.sha256()
    for a in arrays:
        t = a.detach().to("cpu").contiguous()
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def effective_precision(precision: str, device: torch.device) -> str:
    """``precision`` if ``device`` runs it, else ``fp32`` (logged)."""
    if precision == "fp32":
        return "fp32"
    if precision != "bf16":
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    ok = device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())
    if not ok:
        log.warning("bf16 autocast is not supported on %s; training in fp32", device)
    return "bf16" if ok else "fp32"


def _to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` (drawn on the CPU by the batch generator) on ``device``; to a GPU from pinned
    memory without waiting (a plain copy from pageable memory waits for the device's queue to
    drain, once per step). The draws stay on the CPU generator, so batches are unchanged."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _autocast(device: torch.device, precision: str) -> Any:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def fit_arrays(
    X: np.ndarray,
    Y_samples: np.ndarray,
    X_val: np.ndarray | None,
    Y_val: np.ndarray | None,
    sample_weight: np.ndarray | None,
    sample_weight_val: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """A fit's arrays as float32: ``X`` (n, d), label samples (n, S; a vector is one sample
    each), validation rows (empty when None) and the weights (flat; None stays None).

    Raises:
        ValueError: ``X`` and the labels do not align, or a label is not finite hours >= 0.
    """
    X = np.asarray(X, np.float32)
    Y = np.asarray(Y_samples, np.float32)
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError(f"X {X.shape} and Y_samples {Y.shape} do not align")
    if not np.isfinite(Y).all() or (Y < 0).any():
        raise ValueError("label samples must be finite hours >= 0")
    d = X.shape[1]
    xv = np.zeros((0, d), np.float32) if X_val is None else np.asarray(X_val, np.float32)
    yv = (np.zeros((0, Y.shape[1]), np.float32) if Y_val is None or len(xv) == 0
          else np.asarray(Y_val, np.float32).reshape(len(xv), -1))  # fmt: skip
    w, wv = (None if a is None else np.asarray(a, np.float32).reshape(-1)
             for a in (sample_weight, sample_weight_val))  # fmt: skip
    return X, Y, xv, yv, w, wv


class AuxLoss(Protocol):
    """A second loss :func:`train_model` trains with the model's own (the multitask model's
    delivery head): each step adds ``weight`` x the mean loss of ``batch`` items drawn by
    ``draw`` from the same batch generator, after the step's changes; validation adds
    ``weight`` x ``val_loss``."""

    name: str
    """TensorBoard: ``train/<name>_loss`` every 10 steps."""
    weight: float
    batch: int
    """Items per step (the global batch; DDP shards it over the ranks)."""

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """Its training (and validation) data: part of the checkpoint's data digest."""

    def steps(self) -> int:
        """Steps that cover every item once: an epoch is at least this many steps."""

    def draw(self, gen: torch.Generator) -> torch.Tensor:
        """One step's global batch of item ids (CPU)."""

    def loss(self, model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
        """Mean loss of the items ``ids`` (inside the step's forward call)."""

    def val_loss(self, model: nn.Module) -> float | None:
        """Validation loss (``model`` in eval mode, no grad); None: no validation items."""


class _LossNet(nn.Module):
    """``forward(x, y)`` = ``model.loss(x, y)`` (and, with an :class:`AuxLoss`, its loss of the
    items ``pick`` too), so DDP wraps the call that builds the loss."""

    def __init__(self, model: nn.Module, aux: AuxLoss | None = None) -> None:
        super().__init__()
        self.model = model
        self.aux = aux

    def forward(self, x: torch.Tensor, y: torch.Tensor, pick: torch.Tensor | None = None) -> Any:
        if self.aux is None or pick is None:
            return self.model.loss(x, y)  # type: ignore[operator]
        return self.model.loss(x, y), self.aux.loss(self.model, pick)  # type: ignore[operator]


@torch.no_grad()
def mean_loss(
    model: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    chunk: int = 4096,
    *,
    precision: str = "fp32",
    weight: torch.Tensor | None = None,
) -> float:
    """Mean loss over every (row, sample) pair of ``X``, ``Y`` (rows x samples); with
    ``weight`` (rows,) the weighted mean of the rows' mean losses (``model.row_loss(x, y)``
    when the model has one, else one ``loss`` call per row)."""
    was = model.training
    model.eval()
    total = 0.0
    rows = max(1, chunk // max(1, Y.shape[1]))
    row_loss = getattr(model, "row_loss", None)
    for i in range(0, X.shape[0], rows):
        x, y = X[i : i + rows], Y[i : i + rows]
        with _autocast(X.device, precision):
            if weight is None:
                total += float(model.loss(x, y)) * y.numel()  # type: ignore[operator]
                continue
            per_row = (row_loss(x, y) if row_loss is not None else torch.stack(
                [model.loss(x[j : j + 1], y[j : j + 1]) for j in range(len(x))]))  # type: ignore[operator]  # fmt: skip
        total += float((per_row.double() * weight[i : i + rows].double()).sum())
    model.train(was)
    if weight is not None:
        return total / max(float(weight.sum()), 1e-12)
    return total / max(1, Y.numel())


_Fit = TypeVar("_Fit", bound=Callable[..., "TrainResult"])

SMALL_STEP_FLOPS = 1e8
"""Below this many floating-point operations per training step (about 6 x parameters x
commits per step), CPU training runs on one thread. The demo's MDN (59k parameters, 128
commits a step: 45 MFLOP) took 4x the wall time and 4.5x the CPU time on torch's default two
threads as on one, at load 10 on the shared 2-core machine (threads waiting for each other
on operations of a few microseconds), with bit-identical weights. Bigger steps keep torch's
threads."""


@contextmanager
def cpu_threads_for_step(model: nn.Module, rows: int, device: torch.device) -> Iterator[int]:
    """Run the block on one torch thread when ``model``'s step on ``device`` is too small to
    gain from more (:data:`SMALL_STEP_FLOPS`); yields the threads used (restored after)."""
    old = torch.get_num_threads()
    flops = step_flops(model, rows)
    if device.type != "cpu" or old == 1 or flops >= SMALL_STEP_FLOPS or ddp.active():
        yield old
        return
    log.info(
        "training on 1 CPU thread, not %d: %.0f MFLOP a step is too small to gain from more",
        old,
        flops / 1e6,
    )
    torch.set_num_threads(1)
    try:
        yield 1
    finally:
        torch.set_num_threads(old)


def _one_thread_when_small(fn: _Fit) -> _Fit:
    """Run a training function under :func:`cpu_threads_for_step` for its model and batches."""

    @functools.wraps(fn)
    def run(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, *args: Any,
            options: TrainOptions, **kwargs: Any) -> TrainResult:  # fmt: skip
        rows = rows_per_step(options.batch_size, options.samples_per_commit, Y.shape[1])
        with cpu_threads_for_step(model, rows, X.device):
            return fn(model, X, Y, *args, options=options, **kwargs)

    return cast(_Fit, run)


def adopt_state(
    tree: dict[str, Any], model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator
) -> None:
    """A follower rank takes rank 0's broadcast training state: the model, the optimizer (once
    it has any state) and the batch generator (``train_model`` and the multitask model)."""
    model.load_state_dict(tree["model"])
    if tree["optimizer"]["state"]:
        opt.load_state_dict(tree["optimizer"])
    restore_rng_state(tree["rng_state"], generators={"batches": gen})


@_one_thread_when_small
def train_model(
    model: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    X_val: torch.Tensor,
    Y_val: torch.Tensor,
    *,
    options: TrainOptions,
    seed: int,
    checkpointer: TrainingCheckpointer | None = None,
    should_stop: Callable[[], bool] | None = None,
    tb_dir: Path | None = None,
    weight: torch.Tensor | None = None,
    weight_val: torch.Tensor | None = None,
    aux: AuxLoss | None = None,
) -> TrainResult:
    """Train ``model`` (which must define ``loss(x, y)``) in place; best weights are kept.

    A model whose step is small trains on one CPU thread (:func:`cpu_threads_for_step`; the
    same weights, faster).

    Args:
        model: the module, already on the device of ``X``.
        X, Y: training features (n, d) and label samples (n, S), same device.
        X_val, Y_val: validation split for early stopping (may be empty: no early stopping).
        options: optimisation settings.
        seed: seeds the batch generator (the caller seeds initialisation).
        checkpointer: runner helper; resumed from when it holds a checkpoint of the same data.
        should_stop: polled every step; when true a checkpoint is written and
            :class:`TrainingInterrupted` is raised.
        tb_dir: TensorBoard scalars (``train/loss``, ``val/loss``) go here when given.
        weight, weight_val: per-row weights (>= 0) of the training and validation rows
            (``[training] label_weighting``). Batches then draw rows with probability
            proportional to ``weight`` (an unbiased estimate of the weighted mean loss; rows
            of weight 0 are never drawn, an epoch covers the rows of positive weight) and early
            stopping uses the weighted validation loss. None: every row weighs 1 (the draws
            are the unweighted loop's, bit for bit).
        aux: a second loss trained alongside (:class:`AuxLoss`; the multitask model's
            delivery head): each step's loss is the model's plus ``aux.weight`` x its loss on
            ``aux.batch`` items, an epoch at least ``aux.steps()`` steps, and the validation
            loss adds ``aux.weight`` x ``aux.val_loss``.

    Returns:
        The :class:`TrainResult`; ``model`` holds the weights of the best validation epoch.
    """
    n, S = Y.shape
    if n == 0:
        raise ValueError("no training rows")
    bad_weight = weight is not None and (
        weight.shape != (n,) or not bool(torch.isfinite(weight).all())
        or bool((weight < 0).any()) or float(weight.sum()) <= 0
    )  # fmt: skip
    if bad_weight:
        raise ValueError("training weights must be one finite value >= 0 per row, not all 0")
    B = options.batch_size
    k = max(1, min(options.samples_per_commit, S, B))
    n_drawn = n if weight is None else int((weight > 0).sum())
    steps_per_epoch = max(1, math.ceil(n_drawn * k / B))  # every commit once per epoch (k samples)
    if aux is not None:  # and every aux item once
        steps_per_epoch = max(steps_per_epoch, aux.steps())
    if options.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, options.max_steps_per_epoch)
    opt = torch.optim.AdamW(  # one fused kernel per step on a GPU instead of one per tensor
        model.parameters(),
        lr=options.learning_rate,
        weight_decay=options.weight_decay,
        fused=True if X.device.type == "cuda" else None,
    )
    gen = torch_generator(seed)
    precision = effective_precision(options.precision, X.device)
    digest = data_digest(X, Y, X_val, Y_val, *(w for w in (weight, weight_val) if w is not None),
                         *(aux.tensors() if aux is not None else ()))  # fmt: skip
    draw_p = None if weight is None else (weight / weight.sum()).double().cpu()
    epoch = step_in_epoch = global_step = bad_epochs = 0
    best_val, best_epoch = math.inf, -1
    best_state: dict[str, torch.Tensor] | None = None
    history: list[list[float]] = []
    # the epoch's summed step losses stay on the device (float64, summed in the order a Python
    # float would be: the same value; float32 on MPS, which has no float64), so a step never
    # waits for the device to report its loss
    sum_dtype = torch.float32 if X.device.type == "mps" else torch.float64
    loss_sum = torch.zeros((), dtype=sum_dtype, device=X.device)

    dist_on = ddp.active()
    rank, world = ddp.rank(), ddp.world_size()
    if dist_on and B // k < world:
        raise ValueError(f"batch of {B // k} commits cannot be split over {world} ranks")
    if dist_on and aux is not None and aux.batch < world:
        raise ValueError(f"{aux.name} batch of {aux.batch} cannot be split over {world} ranks")
    if dist_on and rank != 0:
        checkpointer, tb_dir = None, None  # rank 0 alone writes
    if checkpointer is not None:
        st = checkpointer.load_latest()
        if st is not None and st.get("data_digest") == digest and "rng_state" in st:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            restore_rng_state(st["rng_state"], generators={"batches": gen})
            epoch, step_in_epoch = int(st["epoch"]), int(st["step_in_epoch"])
            global_step, bad_epochs = int(st["global_step"]), int(st["bad_epochs"])
            best_val, best_epoch = float(st["best_val"]), int(st["best_epoch"])
            best_state = st["best_state"]
            history = [list(map(float, h)) for h in st["history"]]
            loss_sum.fill_(float(st["loss_sum"]))
            log.info("resuming training at epoch %d step %d", epoch, global_step)
        elif st is not None:
            log.info("ignoring a checkpoint of other training data (or an older format)")

    def state() -> dict[str, Any]:
        return {
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "rng_state": capture_rng_state(generators={"batches": gen}), "epoch": epoch,
            "step_in_epoch": step_in_epoch, "global_step": global_step,
            "bad_epochs": bad_epochs, "best_val": best_val, "best_epoch": best_epoch,
            "best_state": best_state, "history": history, "loss_sum": float(loss_sum),
            "data_digest": digest,
        }  # fmt: skip

    if dist_on:  # every rank starts from rank 0's state (fresh or resumed)
        tree = ddp.broadcast_tree(state() if rank == 0 else None)
        if rank != 0:
            adopt_state(tree, model, opt, gen)
            epoch, step_in_epoch = int(tree["epoch"]), int(tree["step_in_epoch"])
            global_step, bad_epochs = int(tree["global_step"]), int(tree["bad_epochs"])
            best_val, best_epoch = float(tree["best_val"]), int(tree["best_epoch"])
            best_state = tree["best_state"]
            history = [list(map(float, h)) for h in tree["history"]]
            loss_sum.fill_(float(tree["loss_sum"]))
    net: nn.Module = _LossNet(model, aux)
    if dist_on:
        from torch.nn.parallel import DistributedDataParallel

        ids = [X.device] if X.device.type == "cuda" else None
        net = DistributedDataParallel(net, device_ids=ids)

    writer = None
    if tb_dir is not None:
        from torch.utils.tensorboard import SummaryWriter

        if global_step == 0:  # a fresh training: the old curves belong to a replaced model
            clear_curves(tb_dir)

        writer = SummaryWriter(log_dir=str(tb_dir), purge_step=global_step or None)
    stopped = "completed"
    model.train()
    try:
        while epoch < options.epochs:
            while step_in_epoch < steps_per_epoch:
                stop = should_stop is not None and should_stop()
                if dist_on:  # every rank stops at the same step (any rank's signal counts)
                    stop = ddp.agree(stop or ddp.stop_requested())
                if stop:
                    path = checkpointer.save(state(), global_step) if checkpointer else None
                    raise TrainingInterrupted(global_step, path)  # `finally` waits for the save
                rows = _to_device((torch.randint(n, (B // k,), generator=gen) if draw_p is None
                                   else torch.multinomial(draw_p, B // k, replacement=True,
                                                          generator=gen)), X.device)  # fmt: skip
                cols = _to_device(torch.randint(S, (B // k, k), generator=gen), X.device)
                pick = _to_device(aux.draw(gen), X.device) if aux is not None else None
                if dist_on:  # this rank's disjoint shard of the global batch
                    rows, cols = rows[rank::world], cols[rank::world]
                    pick = pick[rank::world] if pick is not None else None
                yb = Y[rows[:, None], cols]
                with _autocast(X.device, precision):
                    batch = (X[rows], yb[:, 0] if k == 1 else yb)
                    loss = net(*batch) if pick is None else net(*batch, pick)
                    # DDP averages gradients over ranks: weight each shard's mean by its share
                    # so the average is the gradient of the global batch's mean loss.
                    scaled, extra = _step_loss(loss, aux, dist_on, rows.numel() * world / (B // k),
                                               pick)  # fmt: skip
                    loss = loss if extra is None else loss[0]
                opt.zero_grad(set_to_none=True)
                scaled.backward()
                if dist_on:
                    loss = ddp.global_mean(loss, rows.numel(), B // k)
                if aux is not None and extra is not None and pick is not None:
                    if dist_on:
                        extra = ddp.global_mean(extra, pick.numel(), aux.batch)
                    loss = loss + aux.weight * extra  # what the step minimised (logged)
                if options.grad_clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
                opt.step()
                global_step += 1
                step_in_epoch += 1
                loss_sum += loss.detach().to(loss_sum.device, sum_dtype)
                if writer is not None and global_step % 10 == 0:
                    writer.add_scalar("train/loss", float(loss.detach()), global_step)
                    if aux is not None and extra is not None:
                        writer.add_scalar(f"train/{aux.name}_loss", float(extra.detach()),
                                          global_step)  # fmt: skip
                if checkpointer is not None and checkpointer.due(global_step):
                    checkpointer.save(state(), global_step)
            train_loss = float(loss_sum) / steps_per_epoch
            val = (_validation(model, X_val, Y_val, weight_val, aux, precision, train_loss)
                   if aux is not None else
                   mean_loss(model, X_val, Y_val, precision=precision, weight=weight_val)
                   if X_val.shape[0] else train_loss)  # fmt: skip
            history.append([float(epoch), train_loss, val])
            if writer is not None:
                # On the global-step axis, like train/loss, so the curves share one x axis.
                writer.add_scalar("train/epoch_loss", train_loss, global_step)
                writer.add_scalar("val/loss", val, global_step)
            if val < best_val:
                best_val, best_epoch, bad_epochs = val, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
            epoch += 1
            step_in_epoch = 0
            loss_sum.zero_()
            if bad_epochs >= options.early_stopping_patience:
                stopped = "early_stopping"
                epoch = options.epochs  # finished: a resume must not train further
            if checkpointer is not None:
                checkpointer.save(state(), global_step)
            if stopped == "early_stopping":
                break
    finally:
        if writer is not None:
            writer.close()
        if checkpointer is not None:
            checkpointer.wait()  # no write may outlive training (a resume would race it)
    if best_state is not None:
        model.load_state_dict(best_state)
    if stopped == "completed" and history and len(history) < options.epochs:
        stopped = "early_stopping"
    return TrainResult(
        best_val=best_val,
        best_epoch=best_epoch,
        epochs_run=len(history),
        steps=global_step,
        stopped=stopped,
        history=history,
        precision=precision,
    )


def _step_loss(
    loss: Any, aux: AuxLoss | None, dist_on: bool, share: float, pick: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The step's loss to differentiate and the aux loss (None without one). Under DDP each
    shard's mean is weighted by its share of the global batch (``share`` for the changes)."""
    if aux is None or pick is None:
        return (loss * share if dist_on else loss), None
    own, extra = loss
    w_aux = pick.numel() * ddp.world_size() / aux.batch if dist_on else 1.0
    return (share if dist_on else 1.0) * own + aux.weight * w_aux * extra, extra


@torch.no_grad()
def _validation(model: nn.Module, X_val: torch.Tensor, Y_val: torch.Tensor,
                weight_val: torch.Tensor | None, aux: AuxLoss, precision: str,
                train_loss: float) -> float:  # fmt: skip
    """The model's validation loss plus ``aux.weight`` x the aux one (the training loss when
    there is neither)."""
    was = model.training
    model.eval()
    with _autocast(X_val.device, precision):
        extra = aux.val_loss(model)
    model.train(was)
    if not X_val.shape[0] and extra is None:
        return train_loss
    own = (
        mean_loss(model, X_val, Y_val, precision=precision, weight=weight_val)
        if X_val.shape[0]
        else 0.0
    )
    return own + aux.weight * extra if extra is not None else own
