"""``estimate`` prices a change with the SCH the evaluation reports for it (the location-shift
model's stored SCH map included), and merge commits as the commits they merged.

Real synthetic commits, a real shift model saved to and loaded from ``model.pt``, real git
repositories in tmp folders.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from standard_coder.sch.dataset import TRAIN, build_dataset
from standard_coder.sch.estimate import change_sch, estimate_changes
from standard_coder.sch.evaluation import _point_prediction
from standard_coder.sch.features.synthetic import synthetic_changes
from standard_coder.sch.predictors.distributions import MixtureDistribution
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.sch_map import apply_sch_map
from standard_coder.sch.records import CommitRecord
from standard_coder.sch.team_output import team_output

SCH_MAP = (0.4, 1.7)
Fitted = tuple[EffortModel, Any, list[CommitRecord]]


@pytest.fixture(scope="module")
def shift_model(tmp_path_factory: pytest.TempPathFactory) -> Fitted:
    """A shift model whose SCH map is far from the identity, through ``model.pt``."""
    torch.set_num_threads(1)
    synth = synthetic_changes(80, n_samples=8, n_repos=2, seed=3)
    ds, rep = build_dataset(synth.commits, (synth.keys, synth.samples), representation="hybrid")
    tr = ds.index(TRAIN)
    model = EffortModel(predictor="shift", params={"shrink": [0.0]})
    model.fit(ds.X[tr], ds.Y[tr], feature_names=ds.feature_names)
    model.regressor_.module_.sch_map.copy_(torch.tensor(SCH_MAP, dtype=torch.float64))  # type: ignore[operator]
    path = model.save(tmp_path_factory.mktemp("model") / "model.pt")
    return EffortModel.load(path), rep, synth.commits


def test_estimate_prices_with_the_evaluations_sch_map_included(
    shift_model: Fitted,
) -> None:
    model, rep, commits = shift_model
    kept = model.regressor_.module_.sch_map.tolist()  # type: ignore[operator]
    assert kept == list(SCH_MAP)  # model.pt kept it
    some = [c for c in commits if c.files][:6]
    X = rep.transform(some)
    dist = model.distribution(X)
    evaluation = _point_prediction(dist).sch  # what sch_evaluation.json's metrics use
    doc = estimate_changes(
        model, rep, some, labels=[("commit_id", c.commit_id) for c in some], model_name="shift"
    )
    got = np.array([c["sch_hours"] for c in doc["changes"]])
    np.testing.assert_array_equal(got, evaluation)
    np.testing.assert_array_equal(change_sch(model, X), evaluation)
    # the same as team_output's per-commit price and predict()'s, and not the unmapped mean
    priced = team_output(model, rep, some, seed=0)
    assert [priced.per_commit[(c.repo, c.commit_id)] for c in some] == got.tolist()
    np.testing.assert_allclose(model.predict(X).sch, got, rtol=0, atol=0)
    assert isinstance(dist, MixtureDistribution)
    dist.sch_map = (0.0, 1.0)  # the raw truncated mean, without the model's map
    unmapped = dist.sch()
    assert np.abs(unmapped - got).max() > 0.01
    np.testing.assert_allclose(apply_sch_map(unmapped, *SCH_MAP), got, rtol=1e-12)
    # the features that weigh most are occlusion effects on that same SCH
    for change in doc["changes"]:
        assert change["top_features"] and all(
            isinstance(f["sch_hours"], float) for f in change["top_features"]
        )
