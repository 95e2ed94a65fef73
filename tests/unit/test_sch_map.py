"""The SCH map: a strictly increasing logit-linear map of SCH onto the labels' actual."""

from __future__ import annotations

import numpy as np

from standard_coder.sch.predictors.sch_map import apply_sch_map, fit_sch_map, inside_mean


def test_fit_recovers_a_known_map_and_keeps_order() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.25, 0.4, 400)
    target = apply_sch_map(raw, 0.3, 4.0)
    Y = np.clip(target[:, None] + rng.normal(0, 0.01, (400, 20)), 0.0, 1.0)
    a, b = fit_sch_map(raw, Y)
    assert abs(a - 0.3) < 0.1 and abs(b - 4.0) < 0.3
    mapped = apply_sch_map(raw, a, b)
    np.testing.assert_array_equal(np.argsort(mapped), np.argsort(raw))
    assert ((mapped > 0) & (mapped < 1)).all()
    np.testing.assert_array_equal(apply_sch_map(raw, 0.0, 1.0), raw)  # identity


def test_weights_labels_outside_and_too_few_changes() -> None:
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.2, 0.5, 60)
    Y = np.repeat(raw[:, None], 5, axis=1)
    # rows with weight 0 or no sample in [0, 1] h do not move the fit
    Y_noise = np.vstack([Y, np.full((20, 5), 0.99)])
    raw_noise = np.concatenate([raw, np.full(20, 0.2)])
    w = np.concatenate([np.ones(60), np.zeros(20)])
    a, b = fit_sch_map(raw_noise, Y_noise, w)
    np.testing.assert_allclose(apply_sch_map(raw, a, b), raw, atol=0.02)
    far = np.vstack([Y, np.full((20, 5), 3.0)])  # labels above 1 h: left out
    a2, b2 = fit_sch_map(raw_noise, far)
    np.testing.assert_allclose([a2, b2], [a, b], atol=1e-3)
    ok, actual = inside_mean(np.array([[0.5, 2.0, 0.3], [2.0, 3.0, 4.0]]))
    assert ok.tolist() == [True, False] and actual[0] == np.float64(0.4)
    assert fit_sch_map(raw[:7], Y[:7]) == (0.0, 1.0)  # fewer than MIN_CHANGES
