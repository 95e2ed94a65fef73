"""The location-shift model's spread (issue 12, NLL on real histories): the shape may narrow or
widen with the predicted size, chosen on the validation rows only when it beats one shape for
all by more than half a standard error; SCH still ranks exactly as the backbone."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from standard_coder.sch.predictors.estimator import EffortModel, ShiftRegressor


def history(n: int, slope: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Log hours ``-1 + 0.6 x0 + exp(slope * x0) * noise``: the width moves with size by
    ``slope`` per standard deviation (0: one width for all)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    width = 0.8 * np.exp(slope * X[:, 0])
    centre = -1.0 + 0.6 * X[:, 0] + width * rng.normal(size=n)
    Y = np.exp(centre[:, None] + 0.1 * rng.normal(size=(n, 12)))
    return X, Y


def fit(X: np.ndarray, Y: np.ndarray, **kw: object) -> ShiftRegressor:
    tr, va = slice(0, 600), slice(600, 900)
    return ShiftRegressor(shrink=(0.0,), components=2, **kw).fit(  # type: ignore[arg-type]
        X[tr], Y[tr], X_val=X[va], Y_val=Y[va]
    )


def nll(reg: ShiftRegressor, X: np.ndarray, Y: np.ndarray) -> float:
    return float(-reg.distribution(X).log_prob(Y).mean())


def test_a_width_that_narrows_with_size_is_learned_and_lowers_held_out_nll() -> None:
    torch.set_num_threads(1)
    X, Y = history(1300, -0.35, seed=0)
    te = slice(900, None)
    spread = fit(X, Y)
    one = fit(X, Y, spreads=())
    c = spread.module_.spread[0].item()  # type: ignore[index]
    assert c < 0, spread.selection_
    assert one.module_.spread[0].item() == 0.0  # type: ignore[index]
    assert nll(spread, X[te], Y[te]) < nll(one, X[te], Y[te]) - 0.02
    # SCH still ranks exactly as the backbone (no refinement): monotone in column 0
    sch = spread.predict(X[te]).sch
    order = np.argsort(X[te][:, 0], kind="stable")
    assert (np.diff(sch[order]) >= -1e-12).all()
    # far beyond the fitted sizes the shape stops changing: SCH and the median keep ranking
    grid = np.zeros((201, 4))
    grid[:, 0] = np.linspace(-12, 12, 201)
    far = spread.predict(grid)
    assert (np.diff(far.sch) >= -1e-12).all() and (np.diff(far.q50) >= -1e-12).all()
    tries = [r for r in spread.selection_ if "spread" in r]
    assert {r["spread"] for r in tries} <= {-0.2, -0.1, 0.1, 0.2} and tries
    assert all({"val_nll", "val_gain_se"} <= set(r) for r in tries)
    assert spread.train_result_.best_val == min(r["val_nll"] for r in tries if r["spread"] == c)


def test_best_val_is_the_chosen_spreads_not_a_rejected_ones() -> None:
    import dataclasses

    from standard_coder.sch.predictors.shift import NO_SPREAD, fit_shift

    X, Y = history(400, 0.0, seed=4)
    fit = fit_shift(X[:300], Y[:300], X_val=X[300:], Y_val=Y[300:], components=1)
    tries = [{"components": 1, "val_nll": 1.0}, {"spread": -0.1, "val_nll": 0.5},
             {"spread": -0.2, "val_nll": 0.7}]  # fmt: skip
    none = dataclasses.replace(fit, selection=tries, spread=NO_SPREAD)
    assert none.best_val() == 1.0  # -0.1 was tried and rejected: not the model's score
    chosen = dataclasses.replace(fit, selection=tries, spread=(-0.2, 0.0, 1.0, -1.0, 1.0))
    assert chosen.best_val() == 0.7
    assert math.isnan(dataclasses.replace(fit, selection=[]).best_val())


def test_one_width_for_all_keeps_no_spread() -> None:
    torch.set_num_threads(1)
    X, Y = history(900, 0.0, seed=1)
    assert fit(X, Y).module_.spread[0].item() == 0.0  # type: ignore[index]


def test_the_spread_round_trips_and_an_older_checkpoint_loads_without_one(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    X, Y = history(1300, -0.35, seed=0)
    model = EffortModel(predictor="shift", params={"shrink": [0.0], "components": 2})
    model.fit(X[:600], Y[:600], X_val=X[600:900], Y_val=Y[600:900])
    path = model.save(tmp_path / "model.pt")
    back = EffortModel.load(path)
    np.testing.assert_allclose(back.distribution(X[900:]).log_prob(Y[900:]),
                               model.distribution(X[900:]).log_prob(Y[900:]))  # fmt: skip
    ck = torch.load(path, weights_only=True)
    assert ck["state_dict"]["spread"][0].item() < 0
    del ck["state_dict"]["spread"]  # a model.pt written before the spread (and the clip) existed
    del ck["state_dict"]["loc_range"]
    torch.save(ck, path)
    old = EffortModel.load(path)
    assert old.regressor_.module_.spread.tolist() == [0.0, 0.0, 1.0, -math.inf, math.inf]
    dist = old.distribution(X[900:])
    assert np.isfinite(dist.log_prob(Y[900:])).all()
    assert old.regressor_.module_.loc_range.tolist() == [-math.inf, math.inf]  # no clip stored
    shape = old.fitted_shape()
    assert shape is not None and shape["location_range"] == [-math.inf, math.inf]


def test_a_change_beyond_every_fitted_size_is_predicted_as_the_largest_fitted_one(
    tmp_path: Path,
) -> None:
    """A generated or vendored change ten times the largest one fitted (seen on real histories:
    9,515 lines against 751, labelled two minutes) gets the largest fitted change's
    distribution, not a straight line's extrapolation; inside the range nothing changes."""
    X, Y = history(1300, 0.0, seed=2)
    reg = fit(X, Y, spreads=())
    top = float(X[:900, 0].max())
    grid = np.zeros((4, 4))
    grid[:, 0] = [top / 2, top, 3 * top, 30 * top]
    pred = reg.predict(grid)
    assert pred.q50[0] < pred.q50[1]  # still rising inside the fitted range
    np.testing.assert_allclose(
        pred.q50[1:], pred.q50[1], rtol=1e-6
    )  # and flat beyond it (float32 X)
    np.testing.assert_allclose(pred.sch[1:], pred.sch[1], rtol=1e-6)
    lo, hi = reg.module_.describe()["location_range"]  # type: ignore[operator]
    loc = reg.module_.location(torch.as_tensor(X[:900])).numpy()  # type: ignore[operator]
    assert lo == pytest.approx(loc.min()) and hi == pytest.approx(loc.max())
    # the range is part of model.pt
    model = EffortModel(predictor="shift", params={"shrink": [0.0], "components": 2})
    model.fit(X[:600], Y[:600], X_val=X[600:900], Y_val=Y[600:900])
    back = EffortModel.load(model.save(tmp_path / "model.pt"))
    np.testing.assert_allclose(back.predict(grid).q50, model.predict(grid).q50)
    assert back.predict(grid).q50[3] == pytest.approx(back.predict(grid).q50[1])


def test_a_model_saved_with_the_three_number_spread_loads_unclipped(tmp_path: Path) -> None:
    """``spread`` was ``[c, m0, u]`` before the clip was stored: it loads with no clip."""
    X, Y = history(1300, -0.35, seed=0)
    model = EffortModel(predictor="shift", params={"shrink": [0.0], "components": 2})
    model.fit(X[:600], Y[:600], X_val=X[600:900], Y_val=Y[600:900])
    path = model.save(tmp_path / "model.pt")
    ck = torch.load(path, weights_only=True)
    c, m0, u, lo, hi = ck["state_dict"]["spread"].tolist()
    assert c < 0 and lo < m0 < hi
    ck["state_dict"]["spread"] = ck["state_dict"]["spread"][:3]
    torch.save(ck, path)
    back = EffortModel.load(path).regressor_.module_.spread.tolist()
    assert back == [c, m0, u, -math.inf, math.inf]
    inside = X[900:][np.abs(X[900:, 0]) < 1.0]  # well inside the fitted range: no clip at work
    np.testing.assert_allclose(EffortModel.load(path).predict(inside).sch,
                               model.predict(inside).sch)  # fmt: skip


def test_the_fitted_module_and_the_fit_give_the_same_distribution_at_any_size() -> None:
    """``ShiftNet`` (what ``model.pt`` holds) and ``ShiftFit`` (what the fit scores validation
    with) compute location, clip and spread apart: they must agree, inside the fitted range and
    far outside it."""
    from standard_coder.sch.predictors.shift import fit_shift

    X, Y = history(1300, -0.35, seed=0)
    fit = fit_shift(X[:600], Y[:600], X_val=X[600:900], Y_val=Y[600:900], components=2,
                    shrink_grid=(0.0,))  # fmt: skip
    reg = ShiftRegressor(shrink=(0.0,), components=2)
    reg.fit(X[:600], Y[:600], X_val=X[600:900], Y_val=Y[600:900])
    assert reg.module_.spread.tolist() == list(fit.spread)  # type: ignore[operator]
    probe = np.concatenate([X[900:1000], 8.0 * X[1000:1010]])  # some far beyond the range
    probe = probe.astype(np.float32).astype(np.float64)  # the module reads float32
    ys = Y[900:1010]
    np.testing.assert_allclose(-reg.distribution(probe).log_prob(ys).mean(axis=1),
                               fit.change_nll(probe, ys, 1.0 / 120.0), rtol=1e-6)  # fmt: skip


def test_a_gain_without_spread_is_no_z_score_and_saves(tmp_path: Path) -> None:
    # every validation change the same: each spread gains exactly as much on each of them, so
    # there is no standard error to divide by (null, not a z-score of 0), and the model saves
    X, Y = history(700, -0.35, seed=5)
    Xv, Yv = np.repeat(X[600:601], 8, axis=0), np.repeat(Y[600:601], 8, axis=0)
    reg = ShiftRegressor(shrink=(0.0,), components=2).fit(X[:600], Y[:600], X_val=Xv, Y_val=Yv)
    tries = [r for r in reg.selection_ if "spread" in r]
    assert tries and all(r["val_gain_se"] is None for r in tries)
    assert math.isfinite(reg.train_result_.best_val)
    torch.save({"selection": reg.selection_}, tmp_path / "sel.pt")  # as model.pt keeps it
    assert torch.load(tmp_path / "sel.pt", weights_only=True)["selection"] == reg.selection_
