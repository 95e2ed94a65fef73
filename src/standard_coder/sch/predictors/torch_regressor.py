"""The torch half of every effort regressor: ``TorchRegressor`` (fit on the device with the
caller's RNGs left alone, DDP hand-off, predict, sample) and the per-change ``Prediction``.

Subclasses (``estimator.MDNRegressor``, ``QuantileRegressor``, ``ShiftRegressor``,
``multitask.MultitaskRegressor``) build the module and say how its output is a distribution.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from standard_coder.runner import ddp
from standard_coder.runner.checkpoint import capture_rng_state, restore_rng_state
from standard_coder.runner.context import TrainingCheckpointer
from standard_coder.runner.seeding import check_random_state
from standard_coder.sch.predictors.distributions import EffortDistribution
from standard_coder.sch.predictors.placement import fit_device, rows_per_step
from standard_coder.sch.predictors.train import TrainOptions, TrainResult, fit_arrays, train_model

__all__ = ["PRED_LEVELS", "Prediction", "TorchRegressor", "own_rng", "prediction_of", "seed_of",
           "torch_generator"]  # fmt: skip

PRED_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    """Per-change predictions in hours."""

    sch: np.ndarray
    """Mean of the predicted distribution truncated to [0, 1] h (the paper's SCH)."""
    mean: np.ndarray
    q10: np.ndarray
    q50: np.ndarray
    q90: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)


def seed_of(random_state: int | np.random.Generator | None) -> int:
    """The integer torch seed of a ``random_state`` (an int is used as is)."""
    if isinstance(random_state, int | np.integer) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).integers(0, 2**62))


def prediction_of(dist: EffortDistribution) -> Prediction:
    """SCH, mean and the :data:`PRED_LEVELS` quantiles (hours) of per-change distributions."""
    qs = dist.quantiles(np.asarray(PRED_LEVELS))
    qd = {lv: qs[:, i] for i, lv in enumerate(PRED_LEVELS)}
    return Prediction(sch=dist.sch(), mean=dist.mean(), q10=qd[0.1], q50=qd[0.5], q90=qd[0.9],
                      quantiles=qd)  # fmt: skip


def torch_generator(rng: int | np.random.Generator | None) -> torch.Generator:
    r = check_random_state(rng)
    return torch.Generator().manual_seed(int(r.integers(0, 2**62)))


@contextlib.contextmanager
def own_rng() -> Iterator[None]:
    """Run the block with the global RNGs (python, numpy, torch) put back afterwards: ``fit``
    seeds torch for the weight initialisation without leaving a trace on the caller."""
    saved = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(saved)


class TorchRegressor(BaseEstimator):  # type: ignore[misc]
    """Shared fit/predict machinery; subclasses build the module and the distribution.

    Constructor parameters are the model head's, plus ``training`` (a :class:`TrainOptions`,
    default ``TrainOptions()``), ``random_state`` and ``device`` (a torch device name, or
    ``auto``: the best available one unless the model is too small to gain from it,
    ``placement.fit_device``); ``get_params``,
    ``set_params`` and ``sklearn.base.clone`` come from ``BaseEstimator``.
    """

    training: TrainOptions | None
    random_state: int | np.random.Generator | None
    device: str
    module_: nn.Module
    config_: Any

    def _build(self, n_features: int) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def head_param_names(cls) -> tuple[str, ...]:
        """Constructor parameters that shape the model (not training, seed or device)."""
        return tuple(n for n in cls._get_param_names()
                     if n not in ("training", "random_state", "device"))  # fmt: skip

    def _fit_payload(self, seed: int, X: np.ndarray, Y: np.ndarray, xv: np.ndarray,
                     yv: np.ndarray) -> dict[str, Any]:  # fmt: skip
        """What the other DDP ranks need to build and train the same model on the same data."""
        head = {k: getattr(self, k) for k in self.head_param_names()}
        return {"seed": seed, "training": asdict(self.training_options),
                "head": {k: list(v) if isinstance(v, tuple) else v for k, v in head.items()},
                "X": torch.from_numpy(X), "Y": torch.from_numpy(Y),
                "X_val": torch.from_numpy(xv), "Y_val": torch.from_numpy(yv)}  # fmt: skip

    @property
    def training_options(self) -> TrainOptions:
        """``training`` or the defaults."""
        return self.training if self.training is not None else TrainOptions()

    def fit(
        self,
        X: np.ndarray,
        Y_samples: np.ndarray,
        *,
        X_val: np.ndarray | None = None,
        Y_val: np.ndarray | None = None,
        checkpointer: TrainingCheckpointer | None = None,
        should_stop: Callable[[], bool] | None = None,
        tb_dir: Path | None = None,
        sample_weight: np.ndarray | None = None,
        sample_weight_val: np.ndarray | None = None,
    ) -> TorchRegressor:
        """Train on features ``X`` (n, d) and label samples ``Y_samples`` (n, S) in hours.

        The global RNGs are left as they were (initialisation and batches draw from the
        seed of ``random_state``). ``sample_weight`` / ``sample_weight_val`` weigh the training
        and validation rows (``train_model``'s ``weight`` / ``weight_val``; None: all 1).

        Raises:
            TrainingInterrupted: ``should_stop()`` turned true (checkpoint saved; rerun resumes).
        """
        X, Y, xv, yv, w, wv = fit_arrays(X, Y_samples, X_val, Y_val, sample_weight,
                                         sample_weight_val)  # fmt: skip
        seed = seed_of(self.random_state)
        d = X.shape[1]
        if ddp.active() and ddp.rank() == 0:  # the other ranks train the same model with us
            weights = {k: torch.from_numpy(a) for k, a in (("weight", w), ("weight_val", wv))
                       if a is not None}  # fmt: skip
            ddp.submit(
                "standard_coder.sch.predictors.estimator:follow_fit",
                {"kind": type(self).__name__, **self._fit_payload(seed, X, Y, xv, yv), **weights},
            )
        with own_rng():
            torch.manual_seed(seed)
            module = self._build(d)
            dev = self._fit_device(module, Y.shape[1])
            module = module.to(dev)
            res = train_model(
                module, torch.as_tensor(X, device=dev), torch.as_tensor(Y, device=dev),
                torch.as_tensor(xv, device=dev), torch.as_tensor(yv, device=dev),
                options=self.training_options, seed=seed, checkpointer=checkpointer,
                should_stop=should_stop, tb_dir=tb_dir,
                weight=None if w is None else torch.as_tensor(w, device=dev),
                weight_val=None if wv is None else torch.as_tensor(wv, device=dev),
            )  # fmt: skip
        self.module_ = module.cpu().eval()
        self.train_result_: TrainResult = res
        self.n_features_in_ = d
        return self

    def _fit_device(self, module: nn.Module, n_samples: int) -> torch.device:
        """Where ``module`` trains (``placement.fit_device``: ``auto`` keeps a small model on
        the CPU and logs why); ``fit_device_`` records it."""
        opts = self.training_options
        rows = rows_per_step(opts.batch_size, opts.samples_per_commit, n_samples)
        dev, reason = fit_device(module, rows, self.device)
        if reason:
            log.info("%s", reason)
        elif self.device == "auto":
            log.info("training on %s (device auto)", dev)
        self.fit_device_ = str(dev)
        return dev

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        """Predicted per-change distributions."""
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> Prediction:
        """SCH, mean and quantiles (hours) per change."""
        return prediction_of(self.distribution(X))

    def sample(
        self, X: np.ndarray, n: int, rng: int | np.random.Generator | None = None
    ) -> np.ndarray:
        """``n`` draws of coding hours per change, (changes, n)."""
        return self.distribution(X).sample(n, torch_generator(rng))

    def _forward(self, X: np.ndarray) -> Any:
        check_is_fitted(self, "module_")
        x = torch.as_tensor(np.asarray(X, np.float32))
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {tuple(x.shape)}, expected (n, {self.n_features_in_})")
        with torch.no_grad():
            return self.module_(x)
