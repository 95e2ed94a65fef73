"""The evaluation's point prediction from the distribution at hand equals ``predict()``'s."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from standard_coder.sch.evaluation import _point_prediction
from standard_coder.sch.predictors.distributions import MixtureDistribution, QuantileDistribution
from standard_coder.sch.predictors.estimator import PRED_LEVELS


def _mixtures(family: str) -> MixtureDistribution:
    g = torch.Generator().manual_seed(7)
    log_pi = torch.log_softmax(torch.randn(300, 20, generator=g), -1)
    loc = torch.randn(300, 20, generator=g) - 1.0
    scale = torch.rand(300, 20, generator=g) + 0.2
    return MixtureDistribution(log_pi, loc, scale, family, 1 / 120, sch_map=(0.01, 0.9))  # type: ignore[arg-type]


def _quantiles() -> QuantileDistribution:
    g = torch.Generator().manual_seed(8)
    q = torch.cumsum(torch.rand(300, len(PRED_LEVELS), generator=g), -1) - 2.0
    return QuantileDistribution(q, torch.tensor(PRED_LEVELS), 1 / 120)


@pytest.mark.parametrize("make", [lambda: _mixtures("lognormal"), lambda: _mixtures("gaussian"),
                                  _quantiles])  # fmt: skip
def test_two_levels_give_the_bits_of_all_seven(make) -> None:  # type: ignore[no-untyped-def]
    dist = make()
    every = dist.quantiles(np.asarray(PRED_LEVELS))
    point = _point_prediction(dist)
    i10, i90 = PRED_LEVELS.index(0.1), PRED_LEVELS.index(0.9)
    assert point.q10.tobytes() == every[:, i10].tobytes()
    assert point.q90.tobytes() == every[:, i90].tobytes()
    assert point.sch.tobytes() == dist.sch().tobytes()
    assert point.mean.tobytes() == dist.mean().tobytes()
    assert (point.q10 <= point.q90).all()
