"""The SCH map's checks shared by every predictor that carries one (MDN, multitask)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from standard_coder.sch.dataset import TEST, TRAIN, VAL, Dataset
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.sch_map import DEFAULT_HALF_LIFE, inside_mean
from standard_coder.sch.predictors.splits import recency_by_time


def check_sch_map(
    model: EffortModel, ds: Dataset, tmp_path: Path
) -> tuple[np.ndarray, np.ndarray, EffortModel]:
    """Assert that ``model``'s SCH map is fitted (not the identity, increasing), keeps the
    held-out changes' order, is closer than the identity to the fitted changes' actual
    (weighted by recency as fitted), survives ``model.pt``, and that a checkpoint written
    without the map loads as the identity. Returns the held-out SCH mapped and raw, and the
    model loaded from that old checkpoint."""
    a, b = model.regressor_.module_.sch_map.tolist()
    assert (a, b) != (0.0, 1.0) and b > 0
    te = ds.index(TEST)
    dist = model.distribution(ds.X[te])
    mapped = dist.sch()
    dist.sch_map = (0.0, 1.0)  # type: ignore[attr-defined]
    raw = dist.sch()
    np.testing.assert_array_equal(np.argsort(mapped, kind="stable"), np.argsort(raw, kind="stable"))
    rows = np.concatenate([ds.index(TRAIN), ds.index(VAL)])
    ok, actual = inside_mean(ds.Y[rows])  # changes with a label sample within [0, 1] h
    rows, actual = rows[ok], actual[ok]
    w = recency_by_time(ds, rows, DEFAULT_HALF_LIFE)
    fitted = model.distribution(ds.X[rows])
    err_mapped = np.average((fitted.sch() - actual) ** 2, weights=w)
    fitted.sch_map = (0.0, 1.0)  # type: ignore[attr-defined]
    assert err_mapped < np.average((fitted.sch() - actual) ** 2, weights=w)
    path = model.save(tmp_path / "model.pt")
    np.testing.assert_allclose(EffortModel.load(path).distribution(ds.X[te]).sch(), mapped)
    ck = torch.load(path, weights_only=True)
    del ck["state_dict"]["sch_map"]  # as written before the predictor had a map
    torch.save(ck, tmp_path / "old.pt")
    old = EffortModel.load(tmp_path / "old.pt")
    np.testing.assert_allclose(old.distribution(ds.X[te]).sch(), raw, rtol=1e-6)
    assert old.regressor_.module_.sch_map.tolist() == [0.0, 1.0]
    return mapped, raw, old
