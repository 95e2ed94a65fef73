"""The multitask effort model (seed "Upgrade C"): one network, a shared trunk and two heads.

* **Coding effort** (SCH): the trunk maps a change's features to an embedding, the SCH head to
  the same log-normal mixture as the MDN, trained on the same label samples (coding hours).
* **Delivery effort**: a PR's commits go through the same trunk; their embeddings are summed
  and, with the PR's features (``log1p`` review rounds, comments, CI failures, commits, lines
  changed; standardised with training statistics kept in the weights), feed the delivery head:
  a Gaussian mixture on ``log(1 + open->merge hours)`` truncated to ``[0, delivery_bound_hours]``
  (:class:`~standard_coder.sch.delivery.distribution.DeliveryDistribution`).

Training is the MDN's loop (:func:`~standard_coder.sch.predictors.train.train_model`, with the
delivery loss as its :class:`~standard_coder.sch.predictors.train.AuxLoss`): each step adds the
SCH loss of a batch of changes (drawn as the MDN's are, in proportion to any row weights:
``[training] recency_half_life``) and ``delivery_weight`` x the delivery loss of a batch of
``pr_batch_size`` PRs (drawn uniformly); an epoch covers every change and every PR once;
validation (both losses) drives early stopping; checkpoints resume exactly.
``distribution``/``predict``/``sample`` answer for coding effort (SCH through the module's
``sch_map``, fitted after training as the MDN's is), so ``EffortModel(predictor="multitask")``
prices changes like the MDN does (estimate, team output, forecasts);
:meth:`MultitaskRegressor.delivery` answers for PRs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from standard_coder.runner import ddp
from standard_coder.runner.context import TrainingCheckpointer
from standard_coder.sch.delivery.data import N_PR_FEATURES, DeliveryData
from standard_coder.sch.delivery.distribution import (
    DeliveryDistribution,
    to_z,
    truncated_mixture_log_prob,
)
from standard_coder.sch.predictors.distributions import EffortDistribution, MixtureDistribution
from standard_coder.sch.predictors.estimator import PREDICTORS
from standard_coder.sch.predictors.mdn import mixture_log_prob, mlp
from standard_coder.sch.predictors.torch_regressor import TorchRegressor, own_rng, seed_of
from standard_coder.sch.predictors.train import TrainingInterrupted, fit_arrays, train_model

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
        self.sch_map: torch.Tensor
        self.register_buffer("pr_mean", torch.zeros(cfg.n_pr_features))
        self.register_buffer("pr_std", torch.ones(cfg.n_pr_features))
        # SCH = sigmoid(a + b logit(truncated mean)), fitted after training as the MDN's is
        # (sch_map.py; the identity until then)
        self.register_buffer("sch_map", torch.tensor([0.0, 1.0]))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              *args: Any, **kwargs: Any) -> None:  # fmt: skip
        # a checkpoint from before the SCH map has none: the identity
        state_dict.setdefault(prefix + "sch_map", self.sch_map.clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

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

    def row_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each row's mean SCH negative log-likelihood over its label samples, (batch,)."""
        log_pi, loc, scale = self(x)
        lp = mixture_log_prob(log_pi, loc, scale, y, "lognormal", self.cfg.min_hours)
        return -lp.reshape(x.shape[0], -1).mean(1)

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


class MultitaskRegressor(TorchRegressor):
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
        (log_pi, loc, scale), (a, b) = self._forward(X), self.module_.sch_map.tolist()  # type: ignore[operator]
        return MixtureDistribution(log_pi, loc, scale, "lognormal", self.config_.min_hours,
                                   sch_map=(a, b))  # fmt: skip

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
        sample_weight: np.ndarray | None = None,
        sample_weight_val: np.ndarray | None = None,
    ) -> MultitaskRegressor:
        """Train both heads: SCH on ``X``/``Y_samples`` (as :meth:`MDNRegressor.fit`, with the
        changes' ``sample_weight`` / ``sample_weight_val``), delivery on the PRs ``prs``
        (validation: ``X_val``/``Y_val`` and ``prs_val``; PRs are not weighted).

        Raises:
            ValueError: no PRs to learn delivery from.
            TrainingInterrupted: ``should_stop()`` turned true (checkpoint saved; rerun resumes).
        """
        if prs is None or len(prs) == 0:
            raise ValueError("the multitask model needs training pull requests (none matched)")
        X, Y, xv, yv, w_np, wv_np = fit_arrays(X, Y_samples, X_val, Y_val, sample_weight,
                                               sample_weight_val)  # fmt: skip
        w, wv = (None if a is None else torch.as_tensor(a) for a in (w_np, wv_np))
        seed = seed_of(self.random_state)
        cpu = torch.device("cpu")
        pt = _tensors(prs, cpu)
        pv = _tensors(prs_val, cpu) if prs_val is not None and len(prs_val) else None
        if ddp.active() and ddp.rank() == 0:  # the other ranks train the same model with us
            ddp.submit(
                "standard_coder.sch.predictors.multitask:follow_fit",
                {**self._fit_payload(seed, X, Y, xv, yv), "prs": list(pt),
                 "prs_val": None if pv is None else list(pv), "weight": w, "weight_val": wv},
            )  # fmt: skip
        return self._fit_tensors(_Fit(X, Y, xv, yv, pt, pv, seed, self.device, w, wv,
                                      checkpointer, should_stop, tb_dir))  # fmt: skip

    def _fit_tensors(self, f: _Fit) -> MultitaskRegressor:
        d = f.X.shape[1]
        with own_rng():
            torch.manual_seed(f.seed)
            module = self._build(d)
            dev = self._fit_device(module, f.Y.shape[1])
            module = module.to(dev)
            feats = f.pt[2]
            module.pr_mean.copy_(feats.mean(0))
            module.pr_std.copy_(feats.std(0, unbiased=False).clamp_min(1e-3))
            pt = tuple(t.to(dev) for t in f.pt)
            pv = None if f.pv is None else tuple(t.to(dev) for t in f.pv)
            res = train_model(
                module, torch.as_tensor(f.X, device=dev), torch.as_tensor(f.Y, device=dev),
                torch.as_tensor(f.xv, device=dev), torch.as_tensor(f.yv, device=dev),
                options=self.training_options, seed=f.seed, checkpointer=f.checkpointer,
                should_stop=f.should_stop, tb_dir=f.tb_dir,
                weight=None if f.w is None else f.w.to(dev),
                weight_val=None if f.wv is None else f.wv.to(dev),
                aux=_DeliveryLoss(pt, pv, self.delivery_weight,
                                  max(1, min(self.pr_batch_size, int(pt[2].shape[0])))),
            )  # fmt: skip
        self.module_ = module.cpu().eval()
        self.train_result_ = res
        self.n_features_in_ = d
        return self


@dataclass(frozen=True)
class _Fit:
    """One fit's data and run: changes (``X``, ``Y``), validation changes (``xv``, ``yv``), the
    training and validation PR tensors (``pt``, ``pv``), the seed, the device preference
    (``placement.fit_device``), the changes' weights (``w``, ``wv``; None: all 1), and the
    checkpointer, stop check and TensorBoard folder (none on a follower rank)."""

    X: np.ndarray
    Y: np.ndarray
    xv: np.ndarray
    yv: np.ndarray
    pt: tuple[torch.Tensor, ...]
    pv: tuple[torch.Tensor, ...] | None
    seed: int
    device: str
    w: torch.Tensor | None = None
    wv: torch.Tensor | None = None
    checkpointer: TrainingCheckpointer | None = None
    should_stop: Callable[[], bool] | None = None
    tb_dir: Path | None = None


class _DeliveryLoss:
    """The delivery head's loss as :func:`train_model`'s second loss: ``batch`` training PRs a
    step (a random permutation's head, uniform: PRs are not recency-weighted), the mean
    delivery NLL of the validation PRs ``pv`` for early stopping."""

    name = "delivery"

    def __init__(self, pt: tuple[torch.Tensor, ...], pv: tuple[torch.Tensor, ...] | None,
                 weight: float, batch: int) -> None:  # fmt: skip
        self.pt, self.pv, self.weight, self.batch = pt, pv, weight, batch
        self.n = int(pt[2].shape[0])

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (*self.pt, *(self.pv or ()))

    def steps(self) -> int:
        return math.ceil(self.n / self.batch)

    def draw(self, gen: torch.Generator) -> torch.Tensor:
        return torch.randperm(self.n, generator=gen)[: self.batch]

    def loss(self, model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
        return model.delivery_loss(*_pr_batch(self.pt, ids))  # type: ignore[operator,no-any-return]

    def val_loss(self, model: nn.Module) -> float | None:
        return None if self.pv is None else float(model.delivery_loss(*self.pv))  # type: ignore[operator]


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
    weight: torch.Tensor | None = None,
    weight_val: torch.Tensor | None = None,
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
                              seed, str(dev), weight, weight_val))  # fmt: skip
    except TrainingInterrupted as exc:
        log.info("rank %d: %s", ddp.rank(), exc)


PREDICTORS["multitask"] = MultitaskRegressor  # EffortModel(predictor="multitask") finds it
