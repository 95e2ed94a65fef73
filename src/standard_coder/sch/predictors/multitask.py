"""The multitask effort model (seed "Upgrade C"): one network, a shared trunk and two heads.

* **Coding effort** (SCH): the trunk maps a change's features to an embedding, the SCH head to
  the same log-normal mixture as the MDN, trained on the same label samples (coding hours).
* **Delivery effort**: a PR's commits go through the same trunk; their embeddings are summed
  and, with the PR's features (``log1p`` review rounds, comments, CI failures, commits, lines
  changed; standardised with training statistics kept in the weights), feed the delivery head:
  a Gaussian mixture on ``log(1 + open->merge hours)`` truncated to ``[0, delivery_bound_hours]``
  (:class:`~standard_coder.sch.delivery.distribution.DeliveryDistribution`).

Each training step adds the SCH loss of a batch of changes (as the MDN's loop draws them) and
``delivery_weight`` x the delivery loss of a batch of ``pr_batch_size`` PRs; an epoch covers
every change and every PR once; validation (both losses) drives
early stopping; checkpoints resume exactly. ``distribution``/``predict``/``sample`` answer for
coding effort, so ``EffortModel(predictor="multitask")`` prices changes like the MDN does
(estimate, team output, forecasts); :meth:`MultitaskRegressor.delivery` answers for PRs.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from standard_coder.runner import ddp
from standard_coder.runner.checkpoint import capture_rng_state, restore_rng_state
from standard_coder.runner.context import TrainingCheckpointer
from standard_coder.runner.seeding import torch_generator
from standard_coder.sch.delivery.data import N_PR_FEATURES, DeliveryData
from standard_coder.sch.delivery.distribution import (
    DeliveryDistribution,
    to_z,
    truncated_mixture_log_prob,
)
from standard_coder.sch.predictors.distributions import EffortDistribution, MixtureDistribution
from standard_coder.sch.predictors.estimator import PREDICTORS, _own_rng, _TorchRegressor, seed_of
from standard_coder.sch.predictors.mdn import mixture_log_prob, mlp
from standard_coder.sch.predictors.train import (
    TrainingInterrupted,
    TrainResult,
    adopt_state,
    data_digest,
    mean_loss,
)

log = logging.getLogger(__name__)


@dataclass
class MultitaskConfig:
    """Everything needed to rebuild a :class:`MultitaskNet` (stored in the checkpoint)."""

    n_features: int
    components: int = 20
    hidden: list[int] = field(default_factory=lambda: [256, 64, 64, 64, 64])
    dropout: float = 0.3
    delivery_components: int = 5
    delivery_hidden: list[int] = field(default_factory=lambda: [32])
    delivery_bound_hours: float = 720.0
    n_pr_features: int = N_PR_FEATURES
    family: str = "lognormal"
    min_scale: float = 1e-3
    min_hours: float = 1.0 / 120.0


class MultitaskNet(nn.Module):
    """Shared trunk -> SCH mixture head; summed trunk embeddings + PR features -> delivery."""

    def __init__(self, cfg: MultitaskConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk, width = mlp(cfg.n_features, list(cfg.hidden), cfg.dropout)
        self.sch_head = nn.Linear(width, 3 * cfg.components)
        body, dwidth = mlp(width + cfg.n_pr_features, list(cfg.delivery_hidden))
        self.delivery_body = body
        self.delivery_head = nn.Linear(dwidth, 3 * cfg.delivery_components)
        self.pr_mean: torch.Tensor
        self.pr_std: torch.Tensor
        self.register_buffer("pr_mean", torch.zeros(cfg.n_pr_features))
        self.register_buffer("pr_std", torch.ones(cfg.n_pr_features))

    @staticmethod
    def _mixture(out: torch.Tensor, k: int, min_scale: float) -> tuple[torch.Tensor, ...]:
        out = out.float()
        logits, loc, s = out[:, :k], out[:, k : 2 * k], out[:, 2 * k :]
        return torch.log_softmax(logits, -1), loc, nn.functional.softplus(s) + min_scale

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """SCH mixture ``(log_pi, loc, scale)`` on log-hours, as :class:`MDN` returns it."""
        return self._mixture(self.sch_head(self.trunk(x)), self.cfg.components, self.cfg.min_scale)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean SCH negative log-likelihood (per label sample, hours)."""
        log_pi, loc, scale = self(x)
        return -mixture_log_prob(log_pi, loc, scale, y, "lognormal", self.cfg.min_hours).mean()

    def delivery_params(
        self, x: torch.Tensor, owner: torch.Tensor, pr_features: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Delivery mixture per PR from its commits' rows ``x`` (``owner``: PR of each row)."""
        emb = self.trunk(x)
        pooled = torch.zeros(pr_features.shape[0], emb.shape[1], dtype=emb.dtype, device=emb.device)
        pooled = pooled.index_add(0, owner, emb)
        z = (pr_features - self.pr_mean) / self.pr_std
        out = self.delivery_head(self.delivery_body(torch.cat([pooled, z.to(emb.dtype)], 1)))
        return self._mixture(out, self.cfg.delivery_components, self.cfg.min_scale)

    def delivery_loss(
        self, x: torch.Tensor, owner: torch.Tensor, pr_features: torch.Tensor, hours: torch.Tensor
    ) -> torch.Tensor:
        """Mean delivery NLL per PR on the ``log(1 + h)`` axis."""
        log_pi, loc, scale = self.delivery_params(x, owner, pr_features)
        bound = self.cfg.delivery_bound_hours
        z = to_z(hours, bound)
        return -truncated_mixture_log_prob(log_pi, loc, scale, z, math.log1p(bound)).mean()


def _tensors(d: DeliveryData, dev: torch.device) -> tuple[torch.Tensor, ...]:
    return (torch.as_tensor(d.X, device=dev), torch.as_tensor(d.owner, device=dev),
            torch.as_tensor(d.pr_features, device=dev),
            torch.as_tensor(d.hours, dtype=torch.float32, device=dev))  # fmt: skip


def _pr_batch(t: tuple[torch.Tensor, ...], pids: torch.Tensor) -> tuple[torch.Tensor, ...]:
    X, owner, feats, hours = t
    lut = torch.full((feats.shape[0],), -1, dtype=torch.long, device=owner.device)
    lut[pids] = torch.arange(pids.numel(), device=owner.device)
    keep = lut[owner] >= 0
    return X[keep], lut[owner[keep]], feats[pids], hours[pids]


class MultitaskRegressor(_TorchRegressor):
    """Coding effort (SCH) and bounded delivery effort from one network (module docstring)."""

    def __init__(
        self,
        *,
        components: int = 20,
        hidden: Sequence[int] = (256, 64, 64, 64, 64),
        dropout: float = 0.3,
        delivery_components: int = 5,
        delivery_hidden: Sequence[int] = (32,),
        delivery_bound_hours: float = 720.0,
        delivery_weight: float = 1.0,
        pr_batch_size: int = 16,
        training: Any = None,
        random_state: int | np.random.Generator | None = 0,
        device: str = "cpu",
    ) -> None:
        self.components = components
        self.hidden = hidden
        self.dropout = dropout
        self.delivery_components = delivery_components
        self.delivery_hidden = delivery_hidden
        self.delivery_bound_hours = delivery_bound_hours
        self.delivery_weight = delivery_weight
        self.pr_batch_size = pr_batch_size
        self.training = training
        self.random_state = random_state
        self.device = device

    def _build(self, n_features: int) -> MultitaskNet:
        self.config_ = MultitaskConfig(
            n_features=n_features, components=self.components, hidden=list(self.hidden),
            dropout=self.dropout, delivery_components=self.delivery_components,
            delivery_hidden=list(self.delivery_hidden),
            delivery_bound_hours=float(self.delivery_bound_hours),
        )  # fmt: skip
        return MultitaskNet(self.config_)

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        log_pi, loc, scale = self._forward(X)
        return MixtureDistribution(log_pi, loc, scale, "lognormal", self.config_.min_hours)

    def delivery(self, prs: DeliveryData) -> DeliveryDistribution:
        """Predicted delivery-time distributions of ``prs``."""
        x, owner, feats, _ = _tensors(prs, torch.device("cpu"))
        if x.ndim != 2 or (len(prs) and x.shape[1] != self.n_features_in_):
            raise ValueError(f"PR commit rows have shape {tuple(x.shape)}, expected "
                             f"(n, {self.n_features_in_})")  # fmt: skip
        with torch.no_grad():
            net: MultitaskNet = self.module_  # type: ignore[assignment]
            log_pi, loc, scale = net.delivery_params(x, owner, feats)
        return DeliveryDistribution(log_pi, loc, scale, self.config_.delivery_bound_hours)

    def fit(  # type: ignore[override]
        self,
        X: np.ndarray,
        Y_samples: np.ndarray,
        *,
        prs: DeliveryData | None = None,
        prs_val: DeliveryData | None = None,
        X_val: np.ndarray | None = None,
        Y_val: np.ndarray | None = None,
        checkpointer: TrainingCheckpointer | None = None,
        should_stop: Callable[[], bool] | None = None,
        tb_dir: Path | None = None,
    ) -> MultitaskRegressor:
        """Train both heads: SCH on ``X``/``Y_samples`` (as :meth:`MDNRegressor.fit`), delivery
        on the PRs ``prs`` (validation: ``X_val``/``Y_val`` and ``prs_val``).

        Raises:
            ValueError: no PRs to learn delivery from.
            TrainingInterrupted: ``should_stop()`` turned true (checkpoint saved; rerun resumes).
        """
        if prs is None or len(prs) == 0:
            raise ValueError("the multitask model needs training pull requests (none matched)")
        X = np.asarray(X, np.float32)
        Y = np.asarray(Y_samples, np.float32).reshape(len(X), -1)
        d = X.shape[1]
        dev = torch.device(self.device)
        xv = np.zeros((0, d), np.float32) if X_val is None else np.asarray(X_val, np.float32)
        yv = (np.zeros((0, Y.shape[1]), np.float32) if Y_val is None
              else np.asarray(Y_val, np.float32).reshape(len(xv), -1))  # fmt: skip
        seed = seed_of(self.random_state)
        cpu = torch.device("cpu")
        pt = _tensors(prs, cpu)
        pv = _tensors(prs_val, cpu) if prs_val is not None and len(prs_val) else None
        if ddp.active() and ddp.rank() == 0:  # the other ranks train the same model with us
            head = {k: getattr(self, k) for k in self.head_param_names()}
            ddp.submit(
                "standard_coder.sch.predictors.multitask:follow_fit",
                {"seed": seed, "training": asdict(self.training_options),
                 "head": {k: list(v) if isinstance(v, tuple) else v for k, v in head.items()},
                 "X": torch.from_numpy(X), "Y": torch.from_numpy(Y),
                 "X_val": torch.from_numpy(xv), "Y_val": torch.from_numpy(yv),
                 "prs": list(pt), "prs_val": None if pv is None else list(pv)},
            )  # fmt: skip
        return self._fit_tensors(_Fit(X, Y, xv, yv, pt, pv, seed, dev, checkpointer, should_stop,
                                      tb_dir))  # fmt: skip

    def _fit_tensors(self, f: _Fit) -> MultitaskRegressor:
        d = f.X.shape[1]
        with _own_rng():
            torch.manual_seed(f.seed)
            module = self._build(d).to(f.dev)
            feats = f.pt[2]
            module.pr_mean.copy_(feats.mean(0))
            module.pr_std.copy_(feats.std(0, unbiased=False).clamp_min(1e-3))
            pv = None if f.pv is None else tuple(t.to(f.dev) for t in f.pv)
            res = self._train(module, replace(f, pt=tuple(t.to(f.dev) for t in f.pt), pv=pv))
        self.module_ = module.cpu().eval()
        self.train_result_ = res
        self.n_features_in_ = d
        return self

    def _train(self, model: MultitaskNet, f: _Fit) -> TrainResult:
        X, Y, xv, yv, pt, pv, seed, dev = f.X, f.Y, f.xv, f.yv, f.pt, f.pv, f.seed, f.dev
        checkpointer, should_stop, tb_dir = f.checkpointer, f.should_stop, f.tb_dir
        o = self.training_options
        Xt, Yt = torch.as_tensor(X, device=dev), torch.as_tensor(Y, device=dev)
        Xv, Yv = torch.as_tensor(xv, device=dev), torch.as_tensor(yv, device=dev)
        n, S = Yt.shape
        n_prs = int(pt[2].shape[0])
        B, k = o.batch_size, max(1, min(o.samples_per_commit, S, o.batch_size))
        P = max(1, min(self.pr_batch_size, n_prs))
        dist_on = ddp.active()
        rank, world = ddp.rank(), ddp.world_size()
        if dist_on and min(B // k, P) < world:
            raise ValueError(f"batches of {B // k} changes and {P} PRs cannot be split over "
                             f"{world} ranks")  # fmt: skip
        if dist_on and rank != 0:
            checkpointer, tb_dir = None, None  # rank 0 alone writes
        # every change and every PR once per epoch (at most max_steps_per_epoch steps)
        steps = max(1, math.ceil(n * k / B), math.ceil(n_prs / P))
        steps = min(steps, o.max_steps_per_epoch) if o.max_steps_per_epoch else steps
        opt = torch.optim.AdamW(model.parameters(), lr=o.learning_rate,
                                weight_decay=o.weight_decay)  # fmt: skip
        gen = torch_generator(seed)
        digest = data_digest(Xt, Yt, Xv, Yv, *pt)
        st: dict[str, Any] = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "bad_epochs": 0,
                              "best_val": math.inf, "best_epoch": -1, "best_state": None,
                              "history": [], "loss_sum": 0.0}  # fmt: skip
        if checkpointer is not None:
            saved = checkpointer.load_latest()
            if saved is not None and saved.get("data_digest") == digest:
                model.load_state_dict(saved["model"])
                opt.load_state_dict(saved["optimizer"])
                restore_rng_state(saved["rng_state"], generators={"batches": gen})
                st.update({key: saved[key] for key in st})

        def state() -> dict[str, Any]:
            return {**st, "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "rng_state": capture_rng_state(generators={"batches": gen}),
                    "data_digest": digest}  # fmt: skip

        net: nn.Module = _StepNet(model, self.delivery_weight)
        if dist_on:  # every rank starts from rank 0's state (fresh or resumed)
            tree = ddp.broadcast_tree(state() if rank == 0 else None)
            if rank != 0:
                adopt_state(tree, model, opt, gen)
                st.update({key: tree[key] for key in st})
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(net, device_ids=[dev] if dev.type == "cuda" else None)

        @torch.no_grad()
        def val_loss() -> float:
            model.eval()
            sch = mean_loss(model, Xv, Yv) if Xv.shape[0] else 0.0
            dl = float(model.delivery_loss(*pv)) if pv is not None else 0.0
            model.train()
            return sch + self.delivery_weight * dl

        writer = None
        if tb_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(log_dir=str(tb_dir), purge_step=st["global_step"] or None)
        stopped = "completed"
        model.train()
        try:
            while st["epoch"] < o.epochs:
                while st["step_in_epoch"] < steps:
                    stop = should_stop is not None and should_stop()
                    if dist_on:  # every rank stops at the same step (any rank's signal counts)
                        stop = ddp.agree(stop or ddp.stop_requested())
                    if stop:
                        path = (
                            checkpointer.save(state(), st["global_step"]) if checkpointer else None
                        )
                        raise TrainingInterrupted(st["global_step"], path)
                    rows = torch.randint(n, (B // k,), generator=gen).to(dev)
                    cols = torch.randint(S, (B // k, k), generator=gen).to(dev)
                    pids = torch.randperm(n_prs, generator=gen)[:P].to(dev)
                    if dist_on:  # this rank's disjoint shards of both global batches
                        rows, cols, pids = rows[rank::world], cols[rank::world], pids[rank::world]
                    yb = Yt[rows[:, None], cols]
                    # DDP averages gradients over ranks: each shard's mean weighted by its share
                    # makes the average the gradient of the global batches' means
                    w_sch = rows.numel() * world / (B // k) if dist_on else 1.0
                    w_dl = pids.numel() * world / P if dist_on else 1.0
                    sch, dl, scaled = net(Xt[rows], yb[:, 0] if k == 1 else yb,
                                          *_pr_batch(pt, pids), w_sch, w_dl)  # fmt: skip
                    if dist_on:
                        sch = ddp.global_mean(sch, rows.numel(), B // k)
                        dl = ddp.global_mean(dl, pids.numel(), P)
                    loss = sch + self.delivery_weight * dl
                    opt.zero_grad(set_to_none=True)
                    scaled.backward()
                    if o.grad_clip > 0:
                        nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
                    opt.step()
                    st["global_step"] += 1
                    st["step_in_epoch"] += 1
                    st["loss_sum"] += float(loss.detach())
                    if writer is not None and st["global_step"] % 10 == 0:
                        writer.add_scalar("train/loss", float(loss.detach()), st["global_step"])
                        writer.add_scalar("train/delivery_loss", float(dl.detach()),
                                          st["global_step"])  # fmt: skip
                    if checkpointer is not None and checkpointer.due(st["global_step"]):
                        checkpointer.save(state(), st["global_step"])
                train_loss = st["loss_sum"] / steps
                val = val_loss() if (Xv.shape[0] or pv is not None) else train_loss
                st["history"].append([float(st["epoch"]), train_loss, val])
                if writer is not None:
                    writer.add_scalar("val/loss", val, st["global_step"])
                if val < st["best_val"]:
                    st.update(best_val=val, best_epoch=st["epoch"], bad_epochs=0,
                              best_state=copy.deepcopy(model.state_dict()))  # fmt: skip
                else:
                    st["bad_epochs"] += 1
                st["epoch"] += 1
                st["step_in_epoch"], st["loss_sum"] = 0, 0.0
                if st["bad_epochs"] >= o.early_stopping_patience:
                    stopped, st["epoch"] = "early_stopping", o.epochs
                if checkpointer is not None:
                    checkpointer.save(state(), st["global_step"])
                if stopped == "early_stopping":
                    break
        finally:
            if writer is not None:
                writer.close()
            if checkpointer is not None:
                checkpointer.wait()
        if st["best_state"] is not None:
            model.load_state_dict(st["best_state"])
        return TrainResult(best_val=st["best_val"], best_epoch=st["best_epoch"],
                           epochs_run=len(st["history"]), steps=st["global_step"],
                           stopped=stopped, history=st["history"], precision="fp32")  # fmt: skip


@dataclass(frozen=True)
class _Fit:
    """One fit's data and run: changes (``X``, ``Y``), validation changes (``xv``, ``yv``), the
    training and validation PR tensors (``pt``, ``pv``), the seed, the device, and the
    checkpointer, stop check and TensorBoard folder (none on a follower rank)."""

    X: np.ndarray
    Y: np.ndarray
    xv: np.ndarray
    yv: np.ndarray
    pt: tuple[torch.Tensor, ...]
    pv: tuple[torch.Tensor, ...] | None
    seed: int
    dev: torch.device
    checkpointer: TrainingCheckpointer | None = None
    should_stop: Callable[[], bool] | None = None
    tb_dir: Path | None = None


class _StepNet(nn.Module):
    """One training step's losses as a forward call, so DDP wraps what builds the loss:
    ``(sch, delivery, w_sch * sch + delivery_weight * w_dl * delivery)``."""

    def __init__(self, model: MultitaskNet, delivery_weight: float) -> None:
        super().__init__()
        self.model = model
        self.delivery_weight = delivery_weight

    def forward(self, x: torch.Tensor, y: torch.Tensor, px: torch.Tensor, owner: torch.Tensor,
                feats: torch.Tensor, hours: torch.Tensor, w_sch: float,
                w_dl: float) -> tuple[torch.Tensor, ...]:  # fmt: skip
        sch = self.model.loss(x, y)
        dl = self.model.delivery_loss(px, owner, feats, hours)
        return sch, dl, w_sch * sch + self.delivery_weight * w_dl * dl


def follow_fit(
    seed: int,
    training: dict[str, Any],
    head: dict[str, Any],
    X: torch.Tensor,
    Y: torch.Tensor,
    X_val: torch.Tensor,
    Y_val: torch.Tensor,
    prs: list[torch.Tensor],
    prs_val: list[torch.Tensor] | None,
) -> None:
    """A non-zero ``torchrun`` rank's side of rank 0's :meth:`MultitaskRegressor.fit` (sent by
    :func:`standard_coder.runner.ddp.submit`): the same model, data and seed; no checkpoints,
    no outputs. A stop agreed by all ranks ends it quietly (rank 0 saved the checkpoint)."""
    from standard_coder.sch.predictors.train import TrainOptions

    dev = ddp.comm_device()
    reg = MultitaskRegressor(**head, training=TrainOptions(**training), random_state=seed,
                             device=str(dev))  # fmt: skip
    pv = None if prs_val is None else tuple(prs_val)
    try:
        reg._fit_tensors(_Fit(X.numpy(), Y.numpy(), X_val.numpy(), Y_val.numpy(), tuple(prs), pv,
                              seed, dev))  # fmt: skip
    except TrainingInterrupted as exc:
        log.info("rank %d: %s", ddp.rank(), exc)


PREDICTORS["multitask"] = MultitaskRegressor  # EffortModel(predictor="multitask") finds it
