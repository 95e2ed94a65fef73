"""``predictor = "auto"``: choose the effort model per repository on a time-based validation split.

Each candidate (a predictor kind and its head parameters: the MDN, the location-shift model
without refinement (SCH ranks exactly as lines added), with it, or with its tie-break) is fitted
on the earlier part of the train + validation period (the most recent
``SHIFT_VALIDATION_FRACTION`` by commit time is held back) and scored on the held back changes
whose label comes from a normal interval. A rule picks one; it is then refitted on the whole
train + validation period the way ``fit_effort_model`` fits it alone. The choice, the rule and
every candidate's validation scores go to ``model.selection_`` (saved in
``model.pt``, written to ``sch_evaluation.json`` as ``model_selection``).

Rules (``docs/effort-models.md``, "Per-repository choice"):

- ``nll``: the lowest validation NLL;
- ``spearman``: the highest validation Spearman of SCH with the mean label;
- ``both``: the highest validation Spearman among the candidates whose NLL is within
  ``NLL_SLACK`` of the best;
- ``spearman_se`` (the default): ``spearman`` with a standard-error rule in favour of
  ``FLOOR`` (``shift_w0``, whose SCH ranks exactly as its backbone, the cross-repository
  prior's score by default): another candidate is chosen only when its validation Spearman
  beats the floor's by more than ``margin`` (:data:`SE_MARGIN`, ``[training.auto] margin_se``)
  standard errors of a Spearman correlation on the ``n`` validation changes (Kish's effective
  number under label weights), ``1.03 / sqrt(n - 3)`` each, **and** its validation NLL is no
  higher than the floor's
  (a model that ranks the period better but fits its labels worse as a distribution has
  learned something that does not carry: attrs, full history, recency-weighted: the MDN's
  validation Spearman 0.21 against -0.05 on 50 changes, NLL 1.249 against 1.199; held out it
  ranked at -0.18 against lines added's 0.01). A validation period of 15-50 changes cannot
  tell 0.38 from 0.25 (pluggy: the MDN won there and lost held out, 0.03 against 0.13);
  without ``FLOOR`` among the candidates it is ``spearman``. Two standard errors since session
  28: on sixteen fresh histories one standard error let the MDN in on three (pyjwt, bandit,
  tinycss2, by 1.0 to 1.7 of them), and on each it ranked far below lines added where ``shift_w0``
  ranked above it; on 78 other real histories it was never chosen, and on the simulated demo it
  wins by four (docs/effort-models.md, "Session 28").
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from standard_coder.runner.context import TrainingCheckpointer
from standard_coder.sch.dataset import Dataset
from standard_coder.sch.predictors.estimator import EffortModel
from standard_coder.sch.predictors.splits import label_weights, time_validation_split
from standard_coder.sch.predictors.train import TrainOptions
from standard_coder.sch.stats import spearman

log = logging.getLogger(__name__)
RULES = ("nll", "spearman", "both", "spearman_se")
FLOOR = "shift_w0"
"""The candidate ``spearman_se`` keeps unless validation shows another is better."""
SE_MARGIN = 2.0
"""``spearman_se``: standard errors by which another candidate's validation Spearman must beat
the floor's."""
NLL_SLACK = 0.05
"""``both``: validation NLL (nats per label sample) a candidate may lose to the best."""
HELD_BACK = 7
"""Split code of the held-back changes while candidates are fitted (neither train, validation
nor test)."""

Candidate = tuple[str, Mapping[str, Any]]


def validation_scores(model: EffortModel, X: np.ndarray, Y: np.ndarray,
                      weight: np.ndarray) -> dict[str, float]:  # fmt: skip
    """Weighted NLL per label sample and weighted Spearman of SCH with the mean label (rows of
    weight > 0; with 0/1 weights the plain Spearman of the weight-1 rows)."""
    keep = weight > 0
    dist = model.distribution(X[keep])
    Yk = np.asarray(Y[keep], np.float64)
    w = weight[keep]
    nll = float(-(dist.log_prob(Yk).mean(axis=1) * w).sum() / w.sum()) if len(w) else math.nan
    sp = weighted_spearman(dist.sch(), Yk.mean(axis=1), w) if len(w) > 2 else math.nan
    return {"nll": nll, "spearman": sp if math.isfinite(sp) else 0.0}


def weighted_spearman(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    """Weighted Pearson correlation of the (average) ranks of ``a`` and ``b``; NaN when either
    is constant. Equal weights: Spearman's rho."""
    w = np.asarray(w, np.float64)
    if np.ptp(w) == 0:
        return spearman(np.asarray(a), np.asarray(b))  # NaN, not scipy's warning, when constant
    ra, rb = rankdata(a), rankdata(b)
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return math.nan
    ma, mb = np.average(ra, weights=w), np.average(rb, weights=w)
    cov = np.average((ra - ma) * (rb - mb), weights=w)
    va, vb = np.average((ra - ma) ** 2, weights=w), np.average((rb - mb) ** 2, weights=w)
    return float(cov / np.sqrt(va * vb)) if va > 0 and vb > 0 else math.nan


def spearman_se(n: int) -> float:
    """Standard error of a Spearman correlation near 0 on ``n`` pairs (Fieller et al., 1957)."""
    return 1.03 / math.sqrt(max(n - 3, 1))


def effective_count(weight: np.ndarray) -> int:
    """Kish's effective number of changes of ``weight`` (the count of the positive ones for 0/1
    weights): the ``n`` of :func:`choose`."""
    wk = np.asarray(weight, np.float64)
    wk = wk[wk > 0]
    return round(float(wk.sum() ** 2 / (wk**2).sum())) if len(wk) else 0


def choose(
    scores: Mapping[str, Mapping[str, float]], rule: str, n: int = 0, margin: float = SE_MARGIN
) -> str:
    """The candidate ``rule`` picks (ties: the first listed); ``n``: validation changes;
    ``margin``: ``spearman_se``'s standard errors."""
    names = [n for n in scores if math.isfinite(scores[n]["nll"])] or list(scores)
    if rule == "spearman_se":
        top = max(names, key=lambda c: scores[c]["spearman"])
        if FLOOR in names and (
            scores[top]["spearman"] - scores[FLOOR]["spearman"] <= margin * spearman_se(n)
            or scores[top]["nll"] > scores[FLOOR]["nll"]
        ):
            return FLOOR
        return top
    if rule == "nll":
        return min(names, key=lambda n: scores[n]["nll"])
    if rule == "spearman":
        return max(names, key=lambda n: scores[n]["spearman"])
    if rule == "both":
        best = min(scores[n]["nll"] for n in names)
        ok = [n for n in names if scores[n]["nll"] <= best + NLL_SLACK]
        return max(ok, key=lambda n: scores[n]["spearman"])
    raise ValueError(f"unknown auto rule {rule!r}; use one of {list(RULES)}")


def fit_auto(
    dataset: Dataset,
    candidates: Mapping[str, Candidate],
    training: TrainOptions | None = None,
    *,
    rule: str = "spearman_se",
    margin: float = SE_MARGIN,
    fit: Callable[..., EffortModel],
    checkpointer: TrainingCheckpointer | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str = "cpu",
    seed: int = 0,
    label_weighting: str = "off",
    recency_half_life: float | None = None,
    tb_dir: Path | None = None,
) -> EffortModel:
    """Fit every candidate on the earlier period, pick one by ``rule`` (``spearman_se``: with
    ``margin`` standard errors), refit it on all.

    ``tb_dir``: the refit's training curves go there, each candidate's on the earlier period
    to ``tb_dir/selection-<name>`` (a network's; a shift fit has none).

    ``label_weighting`` and ``recency_half_life`` go to every fit; the first also weighs the
    held-back changes' NLL and Spearman (:func:`weighted_spearman`).

    ``fit`` is ``fit_effort_model`` (passed in to keep the import one-way). Only the final fit
    gets ``checkpointer``: a stop during a candidate fit raises ``TrainingInterrupted`` with
    nothing saved, and the rerun repeats the candidate fits (same seed, same result).
    """
    if not candidates:
        raise ValueError("auto: no candidates")
    if rule not in RULES:
        raise ValueError(f"unknown auto rule {rule!r}; use one of {list(RULES)}")
    if not margin >= 0:
        raise ValueError(f"auto margin_se: 0 or more standard errors, got {margin}")
    _, late = time_validation_split(dataset)
    split = dataset.split.copy()
    split[late] = HELD_BACK
    early = dataclasses.replace(dataset, split=split)
    w = label_weights(dataset, label_weighting)[late]
    scores: dict[str, dict[str, float]] = {}
    for name, (kind, params) in candidates.items():
        m = fit(early, kind, params, training, should_stop=should_stop, device=device, seed=seed,
                label_weighting=label_weighting, recency_half_life=recency_half_life,
                tb_dir=None if tb_dir is None else tb_dir / f"selection-{name}")  # fmt: skip
        scores[name] = validation_scores(m, dataset.X[late], dataset.Y[late], w)
        log.info("auto: %s on the held-back period: NLL %.3f, Spearman %.3f", name,
                 scores[name]["nll"], scores[name]["spearman"])  # fmt: skip
    n_eff = effective_count(w)
    chosen = choose(scores, rule, n_eff, margin)
    kind, params = candidates[chosen]
    model = fit(dataset, kind, params, training, checkpointer=checkpointer,
                should_stop=should_stop, device=device, seed=seed,
                label_weighting=label_weighting, recency_half_life=recency_half_life,
                tb_dir=tb_dir)  # fmt: skip
    model.selection_ = {"rule": rule, "chosen": chosen, "kind": kind,
                        "n_validation": int((w > 0).sum()), "validation": scores,
                        **({"margin_se": margin,  # and what it comes to in Spearman
                            "margin_spearman": round(margin * spearman_se(n_eff), 4)}
                           if rule == "spearman_se" else {}),
                        **({"nll_slack": NLL_SLACK} if rule == "both" else {})}  # fmt: skip
    return model
