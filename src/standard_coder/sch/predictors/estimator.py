"""scikit-learn-shaped effort models: ``MDNRegressor``, ``QuantileRegressor`` and ``EffortModel``.

``fit(X, Y_samples)`` takes features (changes x features) and the label-sample matrix (changes x
samples, hours); ``predict(X)`` returns a :class:`Prediction` (SCH, mean, quantiles);
``sample(X, n, rng)`` draws hours for Monte Carlo forecasting. ``EffortModel`` adds the feature
identity (representation kind, checksum, vocabulary checksum) and ``save``/``load`` of a
``model.pt`` that ``torch.load(..., weights_only=True)`` reads.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from standard_coder.runner.context import TrainingCheckpointer
from standard_coder.sch.features._io import atomic_write_bytes
from standard_coder.sch.features.representation import RepresentationMismatch
from standard_coder.sch.predictors.distributions import (
    EffortDistribution,
    MixtureDistribution,
    QuantileDistribution,
)
from standard_coder.sch.predictors.mdn import MDN, MDNConfig
from standard_coder.sch.predictors.quantile import QuantileConfig, QuantileNet
from standard_coder.sch.predictors.train import (
    TrainingInterrupted,
    TrainOptions,
    TrainResult,
    seed_everything,
    train_model,
)

log = logging.getLogger(__name__)
MODEL_FORMAT = "standard_coder.effort_model/1"
PRED_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


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


def check_random_state(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from an int, a Generator or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _torch_generator(rng: int | np.random.Generator | None) -> torch.Generator:
    r = check_random_state(rng)
    return torch.Generator().manual_seed(int(r.integers(0, 2**62)))


class _TorchRegressor:
    """Shared fit/predict machinery; subclasses build the module and the distribution."""

    _OPTIM: ClassVar[tuple[str, ...]] = (
        "epochs", "batch_size", "learning_rate", "weight_decay", "early_stopping_patience",
        "grad_clip", "max_steps_per_epoch", "samples_per_commit",
    )  # fmt: skip

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    early_stopping_patience: int
    grad_clip: float
    max_steps_per_epoch: int | None
    samples_per_commit: int
    random_state: int
    device: str
    module_: nn.Module

    def _build(self, n_features: int) -> nn.Module:
        raise NotImplementedError

    def _config_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (sklearn convention)."""
        return {k: getattr(self, k) for k in self._PARAMS}  # type: ignore[attr-defined]

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
    ) -> _TorchRegressor:
        """Train on features ``X`` (n, d) and label samples ``Y_samples`` (n, S) in hours.

        Raises:
            TrainingInterrupted: ``should_stop()`` turned true (checkpoint saved; rerun resumes).
        """
        X = np.asarray(X, np.float32)
        Y = np.asarray(Y_samples, np.float32)
        if Y.ndim == 1:
            Y = Y[:, None]
        if X.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise ValueError(f"X {X.shape} and Y_samples {Y.shape} do not align")
        if not np.isfinite(Y).all() or (Y < 0).any():
            raise ValueError("label samples must be finite hours >= 0")
        dev = torch.device(self.device)
        seed_everything(self.random_state)
        module = self._build(X.shape[1]).to(dev)
        d = X.shape[1]
        xv = np.zeros((0, d), np.float32) if X_val is None else np.asarray(X_val, np.float32)
        yv = (np.zeros((0, Y.shape[1]), np.float32) if Y_val is None
              else np.asarray(Y_val, np.float32).reshape(len(xv), -1))  # fmt: skip
        opts = TrainOptions(**{k: getattr(self, k) for k in self._OPTIM})
        res = train_model(
            module, torch.as_tensor(X, device=dev), torch.as_tensor(Y, device=dev),
            torch.as_tensor(xv, device=dev), torch.as_tensor(yv, device=dev),
            options=opts, seed=self.random_state, checkpointer=checkpointer,
            should_stop=should_stop, tb_dir=tb_dir,
        )  # fmt: skip
        self.module_ = module.cpu().eval()
        self.train_result_: TrainResult = res
        self.n_features_in_ = d
        return self

    def _check(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        """Predicted per-change distributions."""
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> Prediction:
        """SCH, mean and quantiles (hours) per change."""
        dist = self.distribution(X)
        qs = dist.quantiles(np.asarray(PRED_LEVELS))
        qd = {lv: qs[:, i] for i, lv in enumerate(PRED_LEVELS)}
        return Prediction(sch=dist.sch(), mean=dist.mean(), q10=qd[0.1], q50=qd[0.5],
                          q90=qd[0.9], quantiles=qd)  # fmt: skip

    def sample(
        self, X: np.ndarray, n: int, rng: int | np.random.Generator | None = None
    ) -> np.ndarray:
        """``n`` draws of coding hours per change, (changes, n)."""
        return self.distribution(X).sample(n, _torch_generator(rng))

    def _forward(self, X: np.ndarray) -> Any:
        self._check()
        x = torch.as_tensor(np.asarray(X, np.float32))
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {tuple(x.shape)}, expected (n, {self.n_features_in_})")
        with torch.no_grad():
            return self.module_(x)


class MDNRegressor(_TorchRegressor):
    """Mixture density network regressor (paper defaults: 20 components, 256-64-64-64-64)."""

    _PARAMS: ClassVar[tuple[str, ...]] = (
        "components", "hidden", "family", *_TorchRegressor._OPTIM, "random_state", "device",
    )  # fmt: skip

    def __init__(
        self,
        *,
        components: int = 20,
        hidden: Sequence[int] = (256, 64, 64, 64, 64),
        family: str = "lognormal",
        epochs: int = 60,
        batch_size: int = 1024,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        early_stopping_patience: int = 8,
        grad_clip: float = 5.0,
        max_steps_per_epoch: int | None = None,
        samples_per_commit: int = 8,
        random_state: int = 0,
        device: str = "cpu",
    ) -> None:
        self.components = components
        self.hidden = hidden
        self.family = family
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping_patience = early_stopping_patience
        self.grad_clip = grad_clip
        self.max_steps_per_epoch = max_steps_per_epoch
        self.samples_per_commit = samples_per_commit
        self.random_state = random_state
        self.device = device

    def _build(self, n_features: int) -> nn.Module:
        if self.family not in ("gaussian", "lognormal"):
            raise ValueError(f"family must be 'gaussian' or 'lognormal', got {self.family!r}")
        self.config_ = MDNConfig(
            n_features=n_features,
            components=self.components,
            hidden=list(self.hidden),
            family=self.family,  # type: ignore[arg-type]
        )  # type: ignore[arg-type]
        return MDN(self.config_)

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        log_pi, loc, scale = self._forward(X)
        return MixtureDistribution(log_pi, loc, scale, self.config_.family, self.config_.min_hours)


class QuantileRegressor(_TorchRegressor):
    """Monotone quantile regression (pinball loss) on log-hours."""

    _PARAMS: ClassVar[tuple[str, ...]] = (
        "quantiles", "hidden", *_TorchRegressor._OPTIM, "random_state", "device",
    )  # fmt: skip

    def __init__(
        self,
        *,
        quantiles: Sequence[float] = PRED_LEVELS,
        hidden: Sequence[int] = (128, 64),
        epochs: int = 60,
        batch_size: int = 1024,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        early_stopping_patience: int = 8,
        grad_clip: float = 5.0,
        max_steps_per_epoch: int | None = None,
        samples_per_commit: int = 8,
        random_state: int = 0,
        device: str = "cpu",
    ) -> None:
        self.quantiles = quantiles
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping_patience = early_stopping_patience
        self.grad_clip = grad_clip
        self.max_steps_per_epoch = max_steps_per_epoch
        self.samples_per_commit = samples_per_commit
        self.random_state = random_state
        self.device = device

    def _build(self, n_features: int) -> nn.Module:
        self.config_ = QuantileConfig(n_features=n_features, quantiles=list(self.quantiles),
                                      hidden=list(self.hidden))  # fmt: skip
        return QuantileNet(self.config_)

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        q = self._forward(X)
        taus = torch.tensor(self.config_.quantiles, dtype=torch.float64)
        return QuantileDistribution(q, taus, self.config_.min_hours)


PREDICTORS: dict[str, type[_TorchRegressor]] = {"mdn": MDNRegressor, "quantile": QuantileRegressor}


class EffortModel:
    """A fitted predictor bound to one feature representation (kind + checksums).

    Example:
        >>> model = EffortModel(predictor="mdn", params={"epochs": 5},
        ...                     feature_kind=rep.kind, feature_checksum=rep.checksum_,
        ...                     vocabulary_checksum=rep.vocabulary_checksum_).fit(X, Y)
        >>> model.predict(X_new).sch
    """

    def __init__(
        self,
        *,
        predictor: str = "mdn",
        params: Mapping[str, Any] | None = None,
        feature_kind: str = "hybrid",
        feature_checksum: str = "",
        vocabulary_checksum: str = "",
    ) -> None:
        self.predictor = predictor
        self.params = params
        self.feature_kind = feature_kind
        self.feature_checksum = feature_checksum
        self.vocabulary_checksum = vocabulary_checksum

    def _make(self) -> _TorchRegressor:
        if self.predictor not in PREDICTORS:
            raise ValueError(f"unknown predictor {self.predictor!r}; use one of {list(PREDICTORS)}")
        cls = PREDICTORS[self.predictor]
        params = dict(self.params or {})
        unknown = sorted(set(params) - set(cls._PARAMS))  # type: ignore[attr-defined]
        if unknown:
            raise ValueError(f"unknown {self.predictor} option(s): {', '.join(unknown)}")
        return cls(**params)

    def fit(self, X: np.ndarray, Y_samples: np.ndarray, **fit_kw: Any) -> EffortModel:
        """Fit the underlying regressor (keywords as :meth:`MDNRegressor.fit`)."""
        self.regressor_ = self._make().fit(X, Y_samples, **fit_kw)
        return self

    def _reg(self) -> _TorchRegressor:
        if not hasattr(self, "regressor_"):
            raise NotFittedError("EffortModel is not fitted; call fit() or load()")
        return self.regressor_

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        return self._reg().distribution(X)

    def predict(self, X: np.ndarray) -> Prediction:
        return self._reg().predict(X)

    def sample(
        self, X: np.ndarray, n: int, rng: int | np.random.Generator | None = None
    ) -> np.ndarray:
        return self._reg().sample(X, n, rng)

    # -- persistence -------------------------------------------------------------------------
    def payload(self) -> dict[str, Any]:
        """The checkpoint dict (tensors and plain values only)."""
        reg = self._reg()
        res = reg.train_result_
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in reg.get_params().items()}
        params["hidden"] = list(params["hidden"])
        return {
            "format": MODEL_FORMAT,
            "predictor": self.predictor,
            "params": params,
            "config": asdict(reg.config_),  # type: ignore[attr-defined]
            "state_dict": reg.module_.state_dict(),
            "n_features": reg.n_features_in_,
            "feature_kind": self.feature_kind,
            "feature_checksum": self.feature_checksum,
            "vocabulary_checksum": self.vocabulary_checksum,
            "train": {
                "best_val": res.best_val,
                "best_epoch": res.best_epoch,
                "epochs_run": res.epochs_run,
                "steps": res.steps,
                "stopped": res.stopped,
                "history": res.history,
            },
        }

    def save(self, path: Path) -> Path:
        """Write ``model.pt`` atomically (weights_only-loadable)."""
        buf = io.BytesIO()
        torch.save(self.payload(), buf)
        return atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def load(
        cls,
        path: Path,
        map_location: str | torch.device = "cpu",
        *,
        expected_vocabulary_checksum: str | None = None,
        expected_checksum: str | None = None,
    ) -> EffortModel:
        """Load ``model.pt``; refuse it when it was trained on another feature vocabulary.

        Raises:
            RepresentationMismatch: the stored checksums differ from the expected ones.
        """
        path = Path(path)
        ck = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(ck, dict) or ck.get("format") != MODEL_FORMAT:
            raise RepresentationMismatch(f"{path}: not an effort model checkpoint")
        if (expected_vocabulary_checksum is not None
                and ck["vocabulary_checksum"] != expected_vocabulary_checksum):  # fmt: skip
            raise RepresentationMismatch(
                f"{path}: model was trained on another feature vocabulary "
                f"({ck['vocabulary_checksum'][:12]} != {expected_vocabulary_checksum[:12]}); "
                "retrain it or use the matching representation"
            )
        if expected_checksum is not None and ck["feature_checksum"] != expected_checksum:
            raise RepresentationMismatch(
                f"{path}: model was trained on other feature scaling "
                f"({ck['feature_checksum'][:12]} != {expected_checksum[:12]}); retrain it"
            )
        model = cls(predictor=ck["predictor"], params=ck["params"],
                    feature_kind=ck["feature_kind"], feature_checksum=ck["feature_checksum"],
                    vocabulary_checksum=ck["vocabulary_checksum"])  # fmt: skip
        reg = model._make()
        module = reg._build(int(ck["n_features"]))
        module.load_state_dict(ck["state_dict"])
        reg.module_ = module.cpu().eval()
        reg.n_features_in_ = int(ck["n_features"])
        t = ck["train"]
        reg.train_result_ = TrainResult(
            best_val=t["best_val"],
            best_epoch=t["best_epoch"],
            epochs_run=t["epochs_run"],
            steps=t["steps"],
            stopped=t["stopped"],
            history=t["history"],
        )
        model.regressor_ = reg
        model.path_ = path  # type: ignore[attr-defined]
        return model


__all__ = [
    "EffortModel",
    "MDNRegressor",
    "Prediction",
    "QuantileRegressor",
    "TrainingInterrupted",
    "check_random_state",
]
