"""scikit-learn-shaped effort models: ``MDNRegressor``, ``QuantileRegressor``, ``ShiftRegressor``
and ``EffortModel`` (their torch machinery is ``torch_regressor.TorchRegressor``).

``fit(X, Y_samples)`` takes features (changes x features) and the label-sample matrix (changes x
samples, hours); ``predict(X)`` returns a :class:`Prediction` (SCH, mean, quantiles);
``sample(X, n, rng)`` draws hours for Monte Carlo forecasting. ``EffortModel`` adds the feature
identity (representation kind, checksum, vocabulary checksum) and ``save``/``load`` of a
``model.pt`` that ``torch.load(..., weights_only=True)`` reads.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from standard_coder.runner import ddp
from standard_coder.sch.features._io import atomic_write_bytes
from standard_coder.sch.features.representation import RepresentationMismatch
from standard_coder.sch.predictors import shift as _shift
from standard_coder.sch.predictors.distributions import (
    EffortDistribution,
    MixtureDistribution,
    QuantileDistribution,
)
from standard_coder.sch.predictors.mdn import MDN, MDNConfig
from standard_coder.sch.predictors.pool import PooledDistribution
from standard_coder.sch.predictors.quantile import QuantileConfig, QuantileNet
from standard_coder.sch.predictors.shift import SHRINK_GRID, ShiftConfig, ShiftNet, fit_shift
from standard_coder.sch.predictors.torch_regressor import (
    PRED_LEVELS,
    Prediction,
    TorchRegressor,
    own_rng,
    prediction_of,
    seed_of,
    torch_generator,
)
from standard_coder.sch.predictors.train import TrainingInterrupted, TrainOptions, TrainResult

log = logging.getLogger(__name__)
MODEL_FORMAT = "standard_coder.effort_model/1"
TRAIN_FIELDS = frozenset(f.name for f in fields(TrainOptions))


def follow_fit(
    kind: str,
    seed: int,
    head: dict[str, Any],
    training: dict[str, Any],
    X: torch.Tensor,
    Y: torch.Tensor,
    X_val: torch.Tensor,
    Y_val: torch.Tensor,
    weight: torch.Tensor | None = None,
    weight_val: torch.Tensor | None = None,
) -> None:
    """A non-zero ``torchrun`` rank's side of rank 0's :meth:`TorchRegressor.fit` (sent by
    :func:`standard_coder.runner.ddp.submit`): the same model, data and seed; no checkpoints,
    no outputs. A stop agreed by all ranks ends it quietly (rank 0 saved the checkpoint)."""
    cls = {c.__name__: c for c in PREDICTORS.values()}[kind]
    dev = str(ddp.comm_device())
    reg = cls(**head, training=TrainOptions(**training), random_state=seed, device=dev)
    try:
        reg.fit(
            X.numpy(),
            Y.numpy(),
            X_val=X_val.numpy(),
            Y_val=Y_val.numpy(),
            sample_weight=None if weight is None else weight.numpy(),
            sample_weight_val=None if weight_val is None else weight_val.numpy(),
        )
    except TrainingInterrupted as exc:
        log.info("rank %d: %s", ddp.rank(), exc)


class MDNRegressor(TorchRegressor):
    """Mixture density network regressor (paper defaults: 20 components, 256-64-64-64-64;
    dropout 0.3 after each hidden layer, measured in docs/effort-models.md)."""

    def __init__(
        self,
        *,
        components: int = 20,
        hidden: Sequence[int] = (256, 64, 64, 64, 64),
        family: str = "lognormal",
        dropout: float = 0.3,
        training: TrainOptions | None = None,
        random_state: int | np.random.Generator | None = 0,
        device: str = "cpu",
    ) -> None:
        self.components = components
        self.hidden = hidden
        self.family = family
        self.dropout = dropout
        self.training = training
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
            dropout=self.dropout,
        )
        return MDN(self.config_)

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        (log_pi, loc, scale), (a, b) = self._forward(X), self.module_.sch_map.tolist()  # type: ignore[operator]
        return MixtureDistribution(log_pi, loc, scale, self.config_.family,
                                   self.config_.min_hours, sch_map=(a, b))  # fmt: skip


class QuantileRegressor(TorchRegressor):
    """Monotone quantile regression (pinball loss) on log-hours."""

    def __init__(
        self,
        *,
        quantiles: Sequence[float] = PRED_LEVELS,
        hidden: Sequence[int] = (128, 64),
        training: TrainOptions | None = None,
        random_state: int | np.random.Generator | None = 0,
        device: str = "cpu",
    ) -> None:
        self.quantiles = quantiles
        self.hidden = hidden
        self.training = training
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


#: The shift model's default size backbone: lines added that no deleted line of the same change
#: matches (moves and re-indents left out; docs/effort-models.md, "Size backbone").
UNMOVED_BACKBONE = "surface|lines_added_unmoved"
#: What a representation without that count (``loc``) uses instead.
LINES_ADDED_BACKBONE = "surface|lines_added"
#: The default where the representation carries a cross-repository prior: its score
#: (``sch/features/cross_repo.py``; docs/effort-models.md, "A cross-repository prior").
PRIOR_BACKBONE = "prior|cross_repo"


class ShiftRegressor(TorchRegressor):
    """Location-shift mixture on log-hours (``shift.py``): one shape, shifted by ``a + b *
    x[backbone] + w * ridge(x)``, its width moving with the shift (spread); all chosen by NLL on
    the validation rows, then refitted on train + validation. Closed form (no epochs).

    The default backbone, :data:`PRIOR_BACKBONE`, falls back to :data:`UNMOVED_BACKBONE` in a
    representation without a cross-repository prior, and that to lines added where it lacks
    the count (``loc``; ``backbone_used_`` says which was used); ``backbone_mix`` (name ->
    weight >= 0, default ``shift.DEFAULT_MIX``) adds other columns to a size backbone
    (combined; the default mix is not added to the prior, whose score holds every size)."""

    def __init__(
        self,
        *,
        components: int = 4,
        backbone: str = PRIOR_BACKBONE,
        shrink: Sequence[float] = SHRINK_GRID,
        tiebreak: bool = False,
        tie_windows: Sequence[float] = (0.0,),
        backbone_mix: Mapping[str, float] | None = _shift.DEFAULT_MIX,
        spreads: Sequence[float] = _shift.SPREADS,
        training: TrainOptions | None = None,
        random_state: int | np.random.Generator | None = 0,
        device: str = "cpu",
    ) -> None:
        self.components = components
        self.backbone = backbone
        self.backbone_mix = backbone_mix
        self.shrink = shrink
        self.tiebreak = tiebreak
        self.tie_windows = tie_windows
        self.spreads = spreads
        self.training = training
        self.random_state = random_state
        self.device = device

    def _build(self, n_features: int) -> nn.Module:
        self.config_ = ShiftConfig(n_features=n_features, components=self.components)
        return ShiftNet(self.config_)

    def fit(  # type: ignore[override]
        self,
        X: np.ndarray,
        Y_samples: np.ndarray,
        *,
        X_val: np.ndarray | None = None,
        Y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        sample_weight_val: np.ndarray | None = None,
        feature_names: Sequence[str] | None = None,
        fit_half_life: float | None = None,
        **_: Any,
    ) -> ShiftRegressor:
        """Fit (``checkpointer``, ``should_stop``, ``tb_dir`` are accepted and unused: seconds).

        ``feature_names`` locate ``backbone`` among the columns (without them: column 0);
        ``sample_weight`` weighs changes (0: labels that say nothing about the change);
        ``fit_half_life``: the final fit also weighs the rows by recency (``fit_shift``).
        """
        X = np.asarray(X, np.float64)
        Y = np.asarray(Y_samples, np.float64).reshape(len(X), -1)
        if not np.isfinite(Y).all() or (Y < 0).any():
            raise ValueError("label samples must be finite hours >= 0")
        col = 0
        self.backbone_used_ = self.backbone
        mix_of = dict(self.backbone_mix or {})
        if feature_names is not None:
            names = list(feature_names)
            if self.backbone_used_ == PRIOR_BACKBONE and PRIOR_BACKBONE not in names:
                self.backbone_used_ = UNMOVED_BACKBONE  # a representation without a prior
            if self.backbone_used_ == UNMOVED_BACKBONE and UNMOVED_BACKBONE not in names:
                # a representation without the count (``loc``): its parent count instead
                self.backbone_used_ = LINES_ADDED_BACKBONE
            if self.backbone_used_ not in names:
                raise ValueError(f"backbone {self.backbone_used_!r} is not a feature column")
            col = names.index(self.backbone_used_)
        if self.backbone_used_ == PRIOR_BACKBONE and mix_of == _shift.DEFAULT_MIX:
            mix_of = {}
        mix = _shift.mix_weights(mix_of, feature_names or (), X.shape[1])
        with own_rng():
            fit = fit_shift(X, Y, weight=sample_weight, X_val=X_val, Y_val=Y_val,
                            weight_val=sample_weight_val, backbones=(col,),
                            shrink_grid=tuple(self.shrink), components=self.components,
                            seed=seed_of(self.random_state) % 2**31,
                            tiebreak=self.tiebreak,
                            tie_windows=tuple(self.tie_windows), mix=mix,
                            fit_half_life=fit_half_life,
                            spreads=tuple(self.spreads))  # fmt: skip
        module = self._build(X.shape[1])
        module.set_fit(fit)  # type: ignore[operator]
        self.module_ = module.eval()
        self.selection_ = fit.selection
        self.train_result_ = TrainResult(best_val=fit.best_val(), best_epoch=0, epochs_run=0,
                                         steps=0, stopped="closed_form", history=[])  # fmt: skip
        self.n_features_in_ = X.shape[1]
        return self

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        log_pi, loc, scale = self._forward(X)
        a, b = self.module_.sch_map.tolist()  # type: ignore[operator]
        return MixtureDistribution(log_pi, loc, scale, "lognormal", self.config_.min_hours,
                                   sch_map=(a, b))  # fmt: skip


PREDICTORS: dict[str, type[TorchRegressor]] = {
    "mdn": MDNRegressor,
    "quantile": QuantileRegressor,
    "shift": ShiftRegressor,
}


class EffortModel(BaseEstimator):  # type: ignore[misc]
    """A fitted predictor bound to one feature representation (kind + checksums).

    ``params`` are the model head's parameters (e.g. ``components``, ``hidden``, ``family``),
    ``training`` the optimisation settings; they are passed separately and never merged.

    Example:
        >>> model = EffortModel(predictor="mdn", params={"components": 5},
        ...                     training=TrainOptions(epochs=5),
        ...                     feature_kind=rep.kind, feature_checksum=rep.checksum_,
        ...                     vocabulary_checksum=rep.vocabulary_checksum_).fit(X, Y)
        >>> model.predict(X_new).sch
    """

    def __init__(
        self,
        *,
        predictor: str = "mdn",
        params: Mapping[str, Any] | None = None,
        training: TrainOptions | None = None,
        random_state: int | np.random.Generator | None = 0,
        device: str = "cpu",
        feature_kind: str = "hybrid",
        feature_checksum: str = "",
        vocabulary_checksum: str = "",
    ) -> None:
        self.predictor = predictor
        self.params = params
        self.training = training
        self.random_state = random_state
        self.device = device
        self.feature_kind = feature_kind
        self.feature_checksum = feature_checksum
        self.vocabulary_checksum = vocabulary_checksum

    pool_: tuple[EffortModel, float, list[int]] | None
    """Set by :meth:`pool_with`: the size model, its weight and its feature columns."""
    total_correlation_: float = 0.0
    """How much the model's errors on changes made close together move together (``train_sch``
    measures it, :func:`standard_coder.sch.totals.error_correlation`); totals of several changes
    pair their draws at it. 0: independent (a model saved before it was measured)."""

    def _make(self) -> TorchRegressor:
        if self.predictor not in PREDICTORS:
            raise ValueError(f"unknown predictor {self.predictor!r}; use one of {list(PREDICTORS)}")
        cls = PREDICTORS[self.predictor]
        head = dict(self.params or {})
        unknown = sorted(set(head) - set(cls.head_param_names()))
        if unknown:
            raise ValueError(f"unknown {self.predictor} option(s): {', '.join(unknown)}")
        return cls(**head, training=self.training, random_state=self.random_state,
                   device=self.device)  # fmt: skip

    def fit(self, X: np.ndarray, Y_samples: np.ndarray, **fit_kw: Any) -> EffortModel:
        """Fit the underlying regressor (keywords as :meth:`MDNRegressor.fit`)."""
        self.regressor_ = self._make().fit(X, Y_samples, **fit_kw)
        return self

    def _reg(self) -> TorchRegressor:
        check_is_fitted(self, "regressor_", msg="EffortModel is not fitted; call fit() or load()")
        return self.regressor_

    def pool_with(self, size_model: EffortModel, weight: float,
                  columns: Sequence[int]) -> EffortModel:  # fmt: skip
        """Pool this model's distribution with ``size_model``'s (fitted on the feature
        ``columns`` of the same ``X``), ``weight`` its share (``pool.py``); SCH stays this
        model's. Saved in ``model.pt``; weight 0 removes the pool."""
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"pool weight must be in [0, 1), got {weight}")
        self.pool_ = (size_model, float(weight), [int(c) for c in columns]) if weight else None
        return self

    def unpooled_distribution(self, X: np.ndarray) -> EffortDistribution:
        """The model's own distribution, without a pool."""
        return self._reg().distribution(X)

    def distribution(self, X: np.ndarray) -> EffortDistribution:
        own = self._reg().distribution(X)
        pool = getattr(self, "pool_", None)
        if pool is None:
            return own
        size_model, weight, columns = pool
        other = size_model.distribution(np.asarray(X)[:, columns])
        return PooledDistribution(own, other, weight)

    def predict(self, X: np.ndarray) -> Prediction:
        return prediction_of(self.distribution(X))

    def fitted_shape(self) -> dict[str, Any] | None:
        """A location-shift model's choices (``ShiftNet.describe``); None for the others."""
        return net.describe() if isinstance(net := self._reg().module_, ShiftNet) else None

    def sample(
        self, X: np.ndarray, n: int, rng: int | np.random.Generator | None = None
    ) -> np.ndarray:
        return self.distribution(X).sample(n, torch_generator(rng))

    # -- persistence -------------------------------------------------------------------------
    def payload(self) -> dict[str, Any]:
        """The checkpoint dict (tensors and plain values only)."""
        reg = self._reg()
        res = reg.train_result_
        head = {k: getattr(reg, k) for k in reg.head_param_names()}
        params = {k: (list(v) if isinstance(v, tuple | list) else v) for k, v in head.items()}
        rs = reg.random_state
        return {
            "format": MODEL_FORMAT,
            "predictor": self.predictor,
            "params": params,
            "training": asdict(reg.training_options),
            "random_state": int(rs) if isinstance(rs, int | np.integer) else None,
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
                "precision": res.precision,
            },
            # predictor = "auto": the rule, the choice and the candidates' validation scores
            **({"selection": self.selection_} if getattr(self, "selection_", None) else {}),
            **({"pool": self._pool_payload()} if getattr(self, "pool_", None) else {}),
            **self._correlation_payload(),
        }

    def _correlation_payload(self) -> dict[str, float]:
        """``total_correlation`` when measured (a model without it loads as 0)."""
        return (
            {"total_correlation": float(self.total_correlation_)} if self.total_correlation_ else {}
        )

    def _pool_payload(self) -> dict[str, Any]:
        assert self.pool_ is not None
        size_model, weight, columns = self.pool_
        return {"weight": weight, "columns": columns, "model": size_model.payload()}

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
        pool = ck.get("pool")
        if pool is not None and not (
            isinstance(pool, dict) and isinstance(pool.get("model"), dict)
            and pool["model"].get("format") == MODEL_FORMAT
            and isinstance(pool.get("weight"), float) and 0.0 < pool["weight"] < 1.0
            and isinstance(pool.get("columns"), list)
            and all(isinstance(c, int) and 0 <= c < int(ck["n_features"]) for c in pool["columns"])
        ):  # fmt: skip
            raise RepresentationMismatch(f"{path}: its pooled size model is malformed")
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
        rho = ck.get("total_correlation", 0.0)
        if not (isinstance(rho, float) and 0.0 <= rho < 1.0):
            raise RepresentationMismatch(f"{path}: its total_correlation {rho!r} is not in [0, 1)")
        model = cls._from_payload(ck, path)
        model.total_correlation_ = rho
        if ck.get("selection"):
            model.selection_ = ck["selection"]
        if pool is not None:
            model.pool_with(cls._from_payload(pool["model"], path), pool["weight"],
                            pool["columns"])  # fmt: skip
        return model

    @classmethod
    def _from_payload(cls, ck: dict[str, Any], path: Path) -> EffortModel:
        """The fitted model a checkpoint dict (:meth:`payload`) holds."""
        params = dict(ck["params"])
        # Checkpoints before the head/training split kept one flat dict of both.
        training = dict(ck.get("training") or {k: params[k] for k in TRAIN_FIELDS if k in params})
        for k in (*TRAIN_FIELDS, "random_state", "device"):
            params.pop(k, None)
        if ck["predictor"] == "mdn":
            params.setdefault("dropout", 0.0)  # checkpoints from before the key had none
        model = cls(predictor=ck["predictor"], params=params,
                    training=TrainOptions(**training),
                    random_state=ck.get("random_state", ck["params"].get("random_state", 0)),
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
            precision=t.get("precision", "fp32"),
        )
        model.regressor_ = reg
        model.path_ = path  # type: ignore[attr-defined]
        return model


__all__ = [
    "PRED_LEVELS",
    "EffortModel",
    "MDNRegressor",
    "Prediction",
    "QuantileRegressor",
    "ShiftRegressor",
    "TrainOptions",
    "TrainingInterrupted",
]
