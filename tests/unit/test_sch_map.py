"""The SCH map: a strictly increasing logit-linear map of SCH onto the labels' actual."""

from __future__ import annotations

import numpy as np

from standard_coder.sch.predictors.sch_map import (
    apply_sch_map,
    choose_half_life,
    fit_sch_map,
    inside_mean,
    recency_weights,
)


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


def test_recency_weights_halve_every_half_life() -> None:
    w = recency_weights(100, 0.25)
    assert w[-1] == 1.0 and np.all(np.diff(w) > 0)
    np.testing.assert_allclose(w[-1 - 25], 0.5)  # a quarter of 100 changes back
    np.testing.assert_allclose(w[-1 - 50], 0.25)
    np.testing.assert_array_equal(recency_weights(7, None), np.ones(7))
    assert recency_weights(0, 0.5).shape == (0,)


def _drifting(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Changes in time order whose actual rises with time at the same raw SCH (the level of
    the labels moves, as on click: 0.34 h over the training period, 0.46 h held out)."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.25, 0.45, n)
    level = np.linspace(-0.6, 0.9, n)  # logit of the actual drifts upwards over time
    target = 1.0 / (1.0 + np.exp(-(level + 3.0 * np.log(raw / (1 - raw)))))
    Y = np.clip(target[:, None] + rng.normal(0, 0.02, (n, 10)), 0.0, 1.0)
    return raw, Y


def test_recency_weighted_map_follows_a_drifting_level_and_keeps_order() -> None:
    raw_all, Y_all = _drifting(750, 2)
    raw, Y = raw_all[:600], Y_all[:600]  # fitted; the next 150 changes are held out
    _, actual_next = inside_mean(Y_all[600:])
    errs = {}
    for h in (None, 0.25):
        a, b = fit_sch_map(raw, Y, recency_weights(len(raw), h))
        mapped = apply_sch_map(raw_all[600:], a, b)
        np.testing.assert_array_equal(np.argsort(mapped), np.argsort(raw_all[600:]))
        errs[h] = float(np.mean((mapped - actual_next) ** 2))
    assert errs[0.25] < 0.7 * errs[None]
    # chosen on the later changes: a decaying half-life; too few later changes: the first one
    h, scores = choose_half_life(raw[:480], Y[:480], np.ones(480), raw[480:], Y[480:],
                                 np.ones(120))  # fmt: skip
    assert h is not None and set(scores) == {"None", "1.0", "0.5", "0.25", "0.125"}
    assert scores[str(h)] < scores["None"]
    assert choose_half_life(raw, Y, np.ones(600), raw[:5], Y[:5], np.ones(5)) == (None, {})
