"""Issue 12 item 3: the shift model's tie-break refinement (SCH ordered by lines added first)
and ``predictor = "auto"`` (the model chosen per repository on a time-based validation split,
the choice and its scores kept with the model and in ``sch_evaluation.json``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from tests.unit.test_effort_ranking import lines_added_history
from tests.unit.test_effort_shift import named

from standard_coder.config.training import TrainingSection
from standard_coder.pipelines.sch_train_options import head_params
from standard_coder.sch.dataset import TEST
from standard_coder.sch.evaluation import evaluate
from standard_coder.sch.predictors.auto import SE_MARGIN, choose, effective_count, spearman_se
from standard_coder.sch.predictors.estimator import EffortModel, ShiftRegressor
from standard_coder.sch.predictors.stage import fit_effort_model
from standard_coder.sch.predictors.train import TrainingInterrupted, TrainOptions

TINY_MDN = {"components": 2, "hidden": [16], "dropout": 0.0}
TINY_OPT = TrainOptions(epochs=3, batch_size=256, early_stopping_patience=2)


def test_tiebreak_orders_by_the_backbone_first_and_breaks_its_ties_by_the_refinement() -> None:
    rng = np.random.default_rng(4)
    n = 800
    la = rng.integers(0, 6, n).astype(float)  # few distinct sizes: many ties
    X = np.column_stack([(la - la.mean()) / la.std(), rng.normal(size=(n, 3))])
    mu = -1.5 + 0.3 * X[:, 0] + 0.6 * X[:, 2]  # column 2 carries time within a size
    Y = np.exp(mu[:, None] + rng.normal(0, 0.3, (n, 20)))
    tr, va, te = slice(0, 500), slice(500, 650), slice(650, n)
    tie = ShiftRegressor(tiebreak=True).fit(X[tr], Y[tr], X_val=X[va], Y_val=Y[va])
    w0 = ShiftRegressor(shrink=(0.0,)).fit(X[tr], Y[tr], X_val=X[va], Y_val=Y[va])
    s_tie, s_w0 = tie.predict(X[te]).sch, w0.predict(X[te]).sch
    # lexicographic: a larger backbone value always has the larger SCH
    order = np.lexsort((s_tie, X[te, 0]))
    assert (np.diff(s_tie[order]) > 0).all()
    y = Y[te].mean(axis=1)
    by_lines = spearmanr(X[te, 0], y).statistic
    assert spearmanr(s_w0, y).statistic == pytest.approx(by_lines)
    assert spearmanr(s_tie, y).statistic > by_lines + 0.05  # the ties now carry column 2
    # the shape is the w = 0 one; locations move by under half a gap, here towards the labels
    lp_tie = tie.distribution(X[te]).log_prob(Y[te]).mean()
    assert lp_tie >= w0.distribution(X[te]).log_prob(Y[te]).mean() - 0.02
    # a near-tie window lets the refinement reorder neighbouring sizes (validation chooses it)
    near = ShiftRegressor(tiebreak=True, tie_windows=(0.0, 1.0)).fit(X[tr], Y[tr], X_val=X[va],
                                                                     Y_val=Y[va])  # fmt: skip
    assert near.module_.choice[2].item() == 1.0
    assert {"window", "components", "val_nll"} <= set(near.selection_[0])
    s_near = near.predict(X[te]).sch
    assert (np.diff(s_near[order]) < 0).any()  # no longer lexicographic
    assert spearmanr(s_near, y).statistic > spearmanr(s_tie, y).statistic


def test_choose_rules() -> None:
    s = {"mdn": {"nll": 0.50, "spearman": 0.30}, "shift": {"nll": 0.47, "spearman": 0.10},
         "shift_tie": {"nll": 0.48, "spearman": 0.20}}  # fmt: skip
    assert choose(s, "nll") == "shift"
    assert choose(s, "spearman") == "mdn"
    assert choose(s, "both") == "mdn"  # 0.50 is within 0.05 of 0.47
    s["mdn"]["nll"] = 0.60
    assert choose(s, "both") == "shift_tie"
    with pytest.raises(ValueError, match="unknown auto rule"):
        choose(s, "best")
    # spearman_se: shift_w0 (SCH ranks as its backbone) stays unless beaten by more than
    # SE_MARGIN (2) standard errors of a Spearman correlation on the n validation changes
    v = {"mdn": {"nll": 1.28, "spearman": 0.38}, "shift_w0": {"nll": 1.17, "spearman": 0.25}}
    assert spearman_se(35) == pytest.approx(1.03 / math.sqrt(32)) and SE_MARGIN == 2.0
    assert choose(v, "spearman") == "mdn"
    assert choose(v, "spearman_se", 35) == "shift_w0"  # 0.13 < 2 x 0.18 (pluggy's validation)
    assert choose(v, "spearman_se", 400) == "shift_w0"  # 0.13 > 2 x 0.05, but NLL 1.28 > 1.17
    v["mdn"]["nll"] = 1.10
    assert choose(v, "spearman_se", 400) == "mdn"  # 0.13 > 0.10 and NLL 1.10 <= 1.17
    assert choose(v, "spearman_se", 35) == "shift_w0"  # the NLL alone is not enough
    # pyjwt's validation (session 28): the MDN by 0.176 on 38 changes, 1.01 standard errors:
    # in at one (the rule before), out at two; it ranked 0.09 held out, shift_w0 0.61
    pyjwt = {
        "mdn": {"nll": 0.834, "spearman": 0.140},
        "shift_w0": {"nll": 1.349, "spearman": -0.036},
    }
    assert choose(pyjwt, "spearman_se", 38, margin=1.0) == "mdn"
    assert choose(pyjwt, "spearman_se", 38) == "shift_w0"
    assert choose(v, "spearman_se", 400, margin=3.0) == "shift_w0"  # 0.13 < 3 x 0.05
    # n: the validation changes' effective number (Kish), the count of the weight-1 ones
    assert effective_count(np.array([1.0, 0.0, 1.0, 1.0])) == 3
    assert effective_count(np.array([1.0, 1.0, 0.5, 0.5])) == 4  # 3^2 / 2.5 = 3.6
    assert effective_count(np.zeros(3)) == 0
    v["shift_w0"]["spearman"] = 0.45
    assert choose(v, "spearman_se", 400) == "shift_w0"
    assert choose(s, "spearman_se", 10) == "mdn"  # no shift_w0 among them: plain spearman


def test_auto_ranks_at_least_as_well_as_lines_added_and_says_why(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    ds = named(lines_added_history(600))
    ds.label_kind = np.zeros(len(ds), np.int8)
    te = ds.index(TEST)
    y = ds.Y[te].mean(axis=1)
    by_lines = spearmanr(ds.surface_column("lines_added")[te], y).statistic
    assert by_lines > 0.5  # the premise
    # the shipped [training.auto] (candidates, rule) with a tiny MDN
    params = head_params(TrainingSection(predictor="auto", mdn=TINY_MDN))
    assert params["rule"] == "spearman_se" and set(params["candidates"]) == {"mdn", "shift_w0"}
    assert params["margin_se"] == SE_MARGIN
    model = fit_effort_model(ds, "auto", params, TINY_OPT, seed=0)
    sel = model.selection_
    assert sel["rule"] == "spearman_se" and set(sel["validation"]) == {"mdn", "shift_w0"}
    assert sel["chosen"] == choose(sel["validation"], "spearman_se", sel["n_validation"])
    assert sel["margin_se"] == SE_MARGIN
    assert sel["n_validation"] > 50
    # the margin in Spearman, so the report can say why (0/1 weights: n is the count)
    assert sel["margin_spearman"] == round(SE_MARGIN * spearman_se(sel["n_validation"]), 4)
    assert spearmanr(model.predict(ds.X[te]).sch, y).statistic >= by_lines - 0.02
    # the choice travels with model.pt and into sch_evaluation.json
    back = EffortModel.load(model.save(tmp_path / "model.pt"))
    assert back.selection_ == sel
    res = evaluate(back, ds, tmp_path / "reports", plots=False)
    saved = json.loads((tmp_path / "reports/sch_evaluation.json").read_text())
    assert saved["model_selection"]["chosen"] == sel["chosen"] == res["model_selection"]["chosen"]
    with pytest.raises(ValueError, match="unknown auto rule"):
        fit_effort_model(ds, "auto", {**params, "rule": "x"}, TINY_OPT)
    with pytest.raises(ValueError, match="margin_se"):
        fit_effort_model(ds, "auto", {**params, "margin_se": -1.0}, TINY_OPT)
    with pytest.raises(TrainingInterrupted):  # a stop is honoured inside the candidate fits
        fit_effort_model(ds, "auto", params, TINY_OPT, should_stop=lambda: True)
    # every candidate and the NLL rule
    cands = {"mdn": ("mdn", TINY_MDN), "shift": ("shift", {}),
             "shift_tie": ("shift", {"tiebreak": True})}  # fmt: skip
    sel = fit_effort_model(ds, "auto", {"rule": "nll", "candidates": cands}, TINY_OPT).selection_
    assert sel["chosen"] == min(sel["validation"], key=lambda n: sel["validation"][n]["nll"])


def test_auto_writes_the_curves_of_its_candidates_and_of_the_chosen_network(
    tmp_path: Path,
) -> None:
    torch.set_num_threads(1)
    ds = named(lines_added_history(300))
    ds.label_kind = np.zeros(len(ds), np.int8)
    tb = tmp_path / "tb" / "auto"

    def curves(folder: Path) -> int:
        return len(list(folder.glob("events.out.tfevents.*")))

    cands = {"mdn": ("mdn", TINY_MDN), "shift_w0": ("shift", {})}
    fit_effort_model(ds, "auto", {"rule": "nll", "candidates": {"mdn": cands["mdn"]}},
                     TINY_OPT, tb_dir=tb)  # fmt: skip
    assert curves(tb / "selection-mdn") == 1 and curves(tb) == 1  # the network chosen: its curve
    # a shift chosen: no curve of its own, and the network's of the run before is gone
    only_shift = {"rule": "nll", "candidates": {"shift_w0": cands["shift_w0"]}}
    model = fit_effort_model(ds, "auto", only_shift, TINY_OPT, tb_dir=tb)
    assert model.selection_["chosen"] == "shift_w0"
    assert curves(tb) == 0 and not (tb / "selection-shift_w0").exists()
