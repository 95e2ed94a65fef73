"""The multitask model on the shared training loop: recency weights on its SCH loss, the SCH
map after its fit (as the MDN's), old checkpoints without the map, and an exact resume of a
weighted fit. Real small fits (a 16-wide trunk on a drifting 600-change history); ~20 s."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.unit.schmapcheck import check_sch_map
from tests.unit.test_effort_shift import drifting_history

from standard_coder.runner.checkpoint import Checkpointer
from standard_coder.sch.dataset import TEST, TRAIN, VAL, Dataset
from standard_coder.sch.delivery.data import N_PR_FEATURES, DeliveryData, DeliverySplits
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.multitask import MultitaskRegressor
from standard_coder.sch.predictors.splits import recency_by_time
from standard_coder.sch.predictors.stage import fit_effort_model
from standard_coder.sch.predictors.train import TrainingInterrupted, TrainOptions

HEAD = {"components": 3, "hidden": [16], "dropout": 0.0, "delivery_components": 2,
        "delivery_hidden": [8], "pr_batch_size": 8}  # fmt: skip


def _prs(ds: Dataset, rows: np.ndarray, rng: np.random.Generator) -> DeliveryData:
    """One PR per 2 of ``rows`` (in order): its commits' rows, features and open->merge hours
    that grow with review rounds."""
    owner = np.arange(len(rows)) // 2
    n = int(owner.max()) + 1
    rounds = rng.integers(0, 4, size=n)
    feats = np.log1p(np.column_stack([rounds, rng.integers(0, 6, size=(n, N_PR_FEATURES - 1))]))
    return DeliveryData(
        X=ds.X[rows], owner=owner, pr_features=feats.astype(np.float32),
        hours=np.exp(1.0 + 0.5 * rounds + rng.normal(0, 0.3, n)).astype(np.float32),
        ids=[f"pr-{i}" for i in range(n)], lines_changed=np.full(n, 20),
        expected_hours=np.full(n, np.nan),
    )  # fmt: skip


@pytest.fixture(scope="module")
def history() -> tuple[Dataset, DeliverySplits]:
    ds = drifting_history(600)
    rng = np.random.default_rng(0)
    splits = DeliverySplits(*(_prs(ds, ds.index(s), rng) for s in (TRAIN, VAL, TEST)),
                            n_dropped=0)  # fmt: skip
    return ds, splits


def _fit(ds: Dataset, splits: DeliverySplits, h: float | None) -> EffortModel:
    return fit_effort_model(ds, "multitask", HEAD, TrainOptions(epochs=40, batch_size=64),
                            seed=0, recency_half_life=h, prs=splits)  # fmt: skip


@pytest.fixture(scope="module")
def fits(history: tuple[Dataset, DeliverySplits]) -> dict[float | None, EffortModel]:
    torch.set_num_threads(1)
    ds, splits = history
    return {h: _fit(ds, splits, h) for h in (None, 0.25)}


def test_recency_weights_reach_the_sch_loss_of_the_multitask_model(
    history: tuple[Dataset, DeliverySplits], fits: dict[float | None, EffortModel]
) -> None:
    """Where the labels' level drifts, the recency-weighted multitask fit's held-out SCH
    likelihood beats the unweighted one's (as the MDN's does); delivery (unweighted PRs) still
    ranks the held-out PRs."""
    from standard_coder.sch.delivery.metrics import delivery_metrics
    from standard_coder.sch.evaluation import distribution_metrics

    ds, splits = history
    te = ds.index(TEST)
    nll = {h: distribution_metrics(m.distribution(ds.X[te]), ds.Y[te].astype(np.float64),
                                   n_pred_samples=20)["heldout_nll"]
           for h, m in fits.items()}  # fmt: skip
    assert nll[0.25] < nll[None] - 0.05, nll
    for m in fits.values():
        d = delivery_metrics(m.regressor_.delivery(splits.test), splits.test, splits.train)
        assert d["spearman"] > 0.5, d  # measured 0.67 (h None), 0.70 (h 0.25)


def test_the_multitask_model_gets_the_sch_map_and_it_round_trips(
    history: tuple[Dataset, DeliverySplits],
    fits: dict[float | None, EffortModel],
    tmp_path: Path,
) -> None:
    """As the MDN: a strictly increasing map fitted after training (same order, closer to the
    fitted changes' actual); ``model.pt`` keeps it; a checkpoint without it loads as identity."""
    ds, _splits = history
    model = fits[0.25]
    _mapped, _raw, old = check_sch_map(model, ds, tmp_path)
    np.testing.assert_allclose(old.regressor_.delivery(_splits.test).mean(),
                               model.regressor_.delivery(_splits.test).mean())  # fmt: skip


def test_a_weighted_multitask_fit_resumes_bitwise(
    history: tuple[Dataset, DeliverySplits], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped mid-epoch and resumed from its checkpoint, a recency-weighted multitask fit ends
    with the weights and history of the uninterrupted one (the shared loop's checkpoint)."""
    torch.set_num_threads(1)
    ds, splits = history
    tr, va = ds.index(TRAIN), ds.index(VAL)
    w = recency_by_time(ds, tr, 0.25)
    opts = TrainOptions(epochs=3, batch_size=64, early_stopping_patience=50)

    def fit(**kw: object) -> MultitaskRegressor:
        return MultitaskRegressor(**HEAD, training=opts, random_state=3).fit(
            ds.X[tr], ds.Y[tr], X_val=ds.X[va], Y_val=ds.Y[va], prs=splits.train,
            prs_val=splits.val, sample_weight=w, **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    ref = fit()
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] == 30  # in the first epoch (53 steps: 420 changes x 8 / 64)

    with pytest.raises(TrainingInterrupted) as stopped:
        fit(checkpointer=Checkpointer(tmp_path / "ck", every_n_steps=7), should_stop=stop)
    assert stopped.value.step == 29 and stopped.value.path is not None
    with caplog.at_level(logging.INFO, logger="standard_coder.sch.predictors.train"):
        resumed = fit(checkpointer=Checkpointer(tmp_path / "ck", every_n_steps=7))
    assert "resuming training at epoch 0 step 29" in caplog.text
    for k, v in ref.module_.state_dict().items():
        assert torch.equal(v, resumed.module_.state_dict()[k]), k
    assert resumed.train_result_.history == ref.train_result_.history
    assert resumed.train_result_.steps == ref.train_result_.steps
