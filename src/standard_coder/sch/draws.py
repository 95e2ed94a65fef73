"""Each change's draws: how ``estimate``, ``team_output``, a forecast's tickets and the held-out
totals of the evaluation price one change.

Per change the model gives the SCH (mean of the predictive distribution truncated to [0, 1] h,
the paper's standard-coder hours, :func:`change_sch`) and :data:`N_DRAWS` draws from that same
truncated distribution, moved so that their mean is the SCH (:func:`sch_draws`), seeded by the
run seed and the change's label (:func:`change_seed`), so a change gets the same draws wherever
it is priced.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from standard_coder.sch.predictors.sch_map import match_mean

N_DRAWS = 4000


def change_sch(model: Any, X: np.ndarray) -> np.ndarray:
    """Per change the SCH the evaluation and ``team_output`` report for it: the model's
    distribution's ``sch()`` (the truncated mean, through the location-shift model's stored SCH
    map), from one forward pass and without ``predict()``'s quantile bisection."""
    out: np.ndarray = model.distribution(X).sch()
    return out


def draw_quantiles(draws: np.ndarray) -> dict[str, float]:
    """q10 / q50 / q90 of draws."""
    q10, q50, q90 = np.quantile(draws, [0.1, 0.5, 0.9])
    return {"q10": float(q10), "q50": float(q50), "q90": float(q90)}


def sch_draws(model: Any, X: np.ndarray, n: int, seeds: Sequence[Any]) -> np.ndarray:
    """``n`` draws per change from its predictive distribution truncated to [0, 1] h, moved so
    that their mean is the change's SCH (:func:`change_sch`), shape (changes, n).

    The SCH is the truncated mean passed through the model's calibration map (``sch_map``), so
    the raw draws' mean can differ from it (by +20 % on a real history): each change's draws
    are shifted on the logit scale (:func:`match_mean`; monotone, inside [0, 1] h) until their
    mean is its SCH. A range's total SCH then sits inside its q10-q90, and a forecast ticket
    costs on average what ``estimate`` says.

    Each change is priced on its own: its own forward pass, SCH and mean matching, and its own
    generator seeded by ``seeds[i]``, so a commit gets bit-for-bit the same draws alone
    (``estimate``) or inside a range or a team-output batch (a batched forward pass, and the
    matching's Newton steps over a batch, differ in the last bits). Rejection sampling; when
    less than a quarter of the mass lies in [0, 1] h the kept draws are resampled, and with
    none the change counts 1 h.
    """
    out = np.empty((len(seeds), n))
    for i, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        one = X[i : i + 1]
        raw = model.sample(one, 4 * n, rng)[0]
        kept = raw[(raw >= 0.0) & (raw <= 1.0)]
        if kept.size >= n:
            row = kept[:n]
        elif kept.size:
            row = rng.choice(kept, size=n, replace=True)
        else:
            row = np.ones(n)
        out[i] = match_mean(row[None, :], change_sch(model, one))[0]
    return out


def change_seed(seed: int, label: str) -> list[int]:
    """A stable per-change seed (``label``: a commit id or a source name)."""
    return [seed, zlib.crc32(label.encode("utf-8", "surrogateescape"))]
