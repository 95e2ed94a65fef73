"""Issue 12: on a history where lines added alone ranks the labels well, the effort model (and
its LOC-only baseline) trained with the shipped defaults ranks them well too, the baseline on a
history as small as a small real one too.

The history mimics a real one: heavy-tailed lines added drive coding time (log-linear, with
per-commit and per-label-sample noise), and most feature columns carry nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from standard_coder.config.training import TrainingSection
from standard_coder.pipelines.sch_train_options import head_params, recency_of, train_options
from standard_coder.sch.dataset import TEST, Dataset, time_split
from standard_coder.sch.features.tokens import SURFACE_NAMES
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.stage import fit_effort_model, fit_loc_baseline
from standard_coder.sch.predictors.train import TrainOptions


def lines_added_history(n: int, n_noise: int = 38, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    la = rng.negative_binomial(1, 0.04, n).astype(float)
    ld = rng.negative_binomial(1, 0.1, n).astype(float)
    hours = np.exp(np.log(0.08) + 0.45 * np.log1p(la) + rng.normal(0, 0.7, n))
    Y = hours[:, None] * np.exp(rng.normal(0, 0.5, (n, 50)))

    def z(v: np.ndarray) -> np.ndarray:  # the representation's log1p + standardise
        v = np.log1p(v)
        return (v - v.mean()) / v.std()

    X = np.column_stack([z(la), z(ld), rng.normal(size=(n, n_noise))]).astype(np.float32)
    surface = np.zeros((n, len(SURFACE_NAMES)))
    surface[:, SURFACE_NAMES.index("lines_added")] = la
    surface[:, SURFACE_NAMES.index("lines_deleted")] = ld
    repo, t = np.array(["r"] * n), np.arange(n)
    meta = {"kind": "tokens", "checksum": "c", "vocabulary_checksum": "v", "loc_checksum": "lc",
            "loc_vocabulary_checksum": "lv", "loc_feature_names": ["la", "ld"]}  # fmt: skip
    return Dataset(X=X, X_loc=X[:, :2].copy(), Y=Y.astype(np.float32), surface=surface,
                   repo=repo, commit_id=np.array([str(i) for i in range(n)]),
                   n_squashed=np.ones(n, np.int32), time=t,
                   split=time_split(repo, t, 0.2, 0.1, 0),
                   feature_names=[f"f{i}" for i in range(X.shape[1])], meta=meta)  # fmt: skip


def test_effort_model_ranks_as_well_as_lines_added_when_lines_added_carry_the_signal() -> None:
    torch.set_num_threads(1)
    ds = lines_added_history(600)
    sec = TrainingSection()
    names = set(TrainOptions.__dataclass_fields__)
    training = TrainOptions(**{k: v for k, v in sec.optim.model_dump().items() if k in names})
    head = sec.mdn.model_dump()
    te = ds.index(TEST)
    y = ds.Y[te].mean(axis=1)
    by_lines = spearmanr(ds.surface_column("lines_added")[te], y).statistic
    assert by_lines > 0.5  # the premise: lines added alone rank the labels well

    model = fit_effort_model(ds, "mdn", head, training, seed=0)
    loc = fit_effort_model(ds.loc_view(), "mdn", head, training, seed=0)
    by_model = spearmanr(model.predict(ds.X[te]).sch, y).statistic
    by_loc = spearmanr(loc.predict(ds.X_loc[te]).sch, y).statistic
    # the LOC baseline holds only lines added/deleted: it must learn their monotone relation
    assert by_loc > by_lines - 0.05, (by_loc, by_lines)
    # 38 of 40 columns are noise and 430 commits train: even a ridge regression on log hours
    # loses some rank here (about 0.45 against 0.53). Measured: lines 0.53, LOC baseline 0.50,
    # full model 0.42 (0.36 without dropout, the defaults before issue 12).
    assert by_model > 0.75 * by_lines, (by_model, by_lines)


def test_loc_baseline_ranks_as_well_as_lines_added_on_a_small_history() -> None:
    # session 41: on real histories of 80-120 training changes the LOC MDN, the baseline
    # before, took one optimiser step an epoch and stopped early after 15-22 steps with the
    # same SCH for every change (pytest-rerunfailures: -0.01 where lines added ranked at 0.44)
    torch.set_num_threads(1)
    ds = lines_added_history(160)  # 115 training changes: one step an epoch
    ds.meta["loc_feature_names"] = ["surface|lines_added", "surface|lines_deleted"]
    t = TrainingSection()  # the shipped defaults: auto, pooled with an MDN
    training = train_options(t)
    te = ds.index(TEST)
    y = ds.Y[te].mean(axis=1)
    by_lines = spearmanr(ds.surface_column("lines_added")[te], y).statistic
    assert by_lines > 0.5  # the premise: lines added alone rank the labels well
    fitted: list[str] = []

    def fit(view: Dataset, kind: str, params: Any, name: str, label: str) -> EffortModel:
        fitted.append(name)
        return fit_effort_model(view, kind, params, training, seed=0,
                                recency_half_life=recency_of(t))  # fmt: skip

    base = fit_loc_baseline(ds, t.predictor, head_params(t), fit, pool_weight=t.pool_size_mdn,
                            pool_params=t.mdn.model_dump())  # fmt: skip
    assert fitted == ["baseline_loc", "baseline_loc_auto"]  # the LOC MDN, then the predictor
    by_base = spearmanr(base.predict(ds.X_loc[te]).sch, y).statistic
    # measured: lines added 0.68, this baseline 0.68; the LOC MDN alone 0.26
    assert by_base > by_lines - 0.05, (by_base, by_lines)
    # its distribution is the predictor's pooled with the LOC MDN's, as the model's is
    assert base.pool_ is not None and base.pool_[1] == t.pool_size_mdn
    assert base.pool_[2] == [0, 1]
