"""Totals of several changes: their errors move together.

A model of the change alone misses what moves many changes at once (the pace of a period, who
wrote them, a hard month), so its errors on changes made close together are alike. A total of
independent draws narrows like ``1/sqrt(n)``: on 15 real histories the 80 % range of the total
of 20 consecutive held-out changes held their labels' total on 68 % of the windows, and on some
histories on a third to a half of the windows of 10 (docs/effort-models.md "Totals of several
changes").

``train_sch`` measures how much the model's errors move together (:func:`error_correlation`):
each fitted change's label is placed in the model's distribution (its PIT, as a normal score),
the scores are taken in time order, and the variance of their means over windows of ``k``
changes gives the correlation ``rho`` a window's changes share (for exchangeable scores
``var(mean) = (1 + (k - 1) rho) / k``). A total is then drawn through a one-factor Gaussian
copula with that ``rho`` (:func:`paired_draws`): every change keeps exactly its own draws (its
q10/q50/q90 and mean do not move, nor the total's mean), only how they pair across changes
follows a factor common to the total. ``rho = 0`` (a model saved before this existed, a history
too short to measure) is the plain sum of independent draws.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy.stats import norm

from standard_coder.sch.dataset import TRAIN, VAL, Dataset
from standard_coder.sch.draws import change_seed, sch_draws
from standard_coder.sch.predictors.sch_map import inside_mean

WINDOWS = (5, 10, 20)
"""Window lengths (changes) whose mean scores measure the correlation; their estimates are
averaged."""
MIN_WINDOWS = 3
"""A window length is used when the changes fill at least this many windows."""
MAX_CORRELATION = 0.9
COVERAGE_WINDOW = 10
"""Held-out totals are scored over windows of this many consecutive changes."""
PIT_CLIP = 0.005
"""PITs are clipped to [PIT_CLIP, 1 - PIT_CLIP] before their normal score (a label far out in a
tail would otherwise weigh without bound)."""
_LATENT = 1
"""Stream tag: a change's latent scores come from its own seed words plus this word, apart
from its draws."""


def _by_group(n: int, groups: np.ndarray | None) -> list[np.ndarray]:
    """The indices of each of ``groups`` among ``n`` items (a repository: a total is of one
    repository's changes; None: one group), in order of first appearance."""
    labels = np.zeros(n, int) if groups is None else np.asarray(groups)
    return [np.flatnonzero(labels == g) for g in dict.fromkeys(labels.tolist())]


def windows(n: int, k: int, groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Index arrays of consecutive windows of ``k`` among ``n`` items in order, cut within
    each of ``groups`` (:func:`_by_group`); each group's remainder is left out."""
    return [mine[w * k : (w + 1) * k] for mine in _by_group(n, groups)
            for w in range(len(mine) // k)]  # fmt: skip


def calendar_windows(
    times: np.ndarray, days: int, groups: np.ndarray | None = None, *, least: int = 3
) -> list[np.ndarray]:
    """Index arrays of the items (``times``: epoch seconds, in order within each of ``groups``)
    falling in each consecutive span of ``days`` days from a group's first item (a sprint's
    changes, one repository's), spans of fewer than ``least`` items left out."""
    times = np.asarray(times, dtype=np.int64)
    out: list[np.ndarray] = []
    for mine in _by_group(len(times), groups):
        span = (times[mine] - times[mine[0]]) // (days * 86_400)
        out += [mine[span == k] for k in np.unique(span) if int((span == k).sum()) >= least]
    return out


def window_correlation(
    scores: np.ndarray, k: int, groups: np.ndarray | None = None
) -> float | None:
    """The correlation of scores ``k`` apart or less implied by the variance of their means over
    consecutive windows of ``k`` (:func:`windows`, within each of ``groups``), the scores in
    time order within each (None: under :data:`MIN_WINDOWS` windows, or no variance)."""
    scores = np.asarray(scores, np.float64)
    total_var = float(np.var(scores))
    cut = windows(len(scores), k, groups)
    if len(cut) < MIN_WINDOWS or k < 2 or total_var <= 0:
        return None
    means = scores[np.stack(cut)].mean(axis=1)
    ratio = float(np.var(means)) / total_var
    return (k * ratio - 1.0) / (k - 1.0)


def normal_scores(model: Any, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Each change's label samples ``Y`` (n, S) placed in the model's distribution for ``X``:
    the mean PIT over the samples, as a standard normal score."""
    pit = np.asarray(model.distribution(X).cdf(np.asarray(Y, np.float64))).mean(axis=1)
    return np.asarray(norm.ppf(np.clip(pit, PIT_CLIP, 1.0 - PIT_CLIP)))


def error_correlation(
    model: Any, X: np.ndarray, Y: np.ndarray, time: np.ndarray, groups: np.ndarray | None = None
) -> dict[str, Any]:
    """``{"correlation", "n_changes", "by_window"}``: how much the model's errors on changes
    made close together move together, from changes ``X`` with labels ``Y`` made at ``time``
    (the fitted period's), windows cut within each of ``groups`` (repositories).
    ``correlation``: the mean over :data:`WINDOWS` that the changes fill, clipped to
    [0, :data:`MAX_CORRELATION`]; 0 when none is filled."""
    order = np.argsort(np.asarray(time), kind="stable")
    X, Y = np.asarray(X)[order], np.asarray(Y)[order]
    within = None if groups is None else np.asarray(groups)[order]
    scores = normal_scores(model, X, Y) if len(order) else np.zeros(0)
    by_window = {str(k): window_correlation(scores, k, within) for k in WINDOWS}
    found = [v for v in by_window.values() if v is not None]
    rho = float(np.clip(np.mean(found), 0.0, MAX_CORRELATION)) if found else 0.0
    return {
        "correlation": round(rho, 6),
        "n_changes": len(order),
        "by_window": {k: None if v is None else round(v, 6) for k, v in by_window.items()},
    }


def total_key(seed: int, words: Sequence[str]) -> list[int]:
    """Seed words of a total's common factor: the run seed and what the total holds (its
    changes' labels, sorted by the caller so that any order is one total; a team-output cell's
    week, author and repository)."""
    return [seed, zlib.crc32("\0".join(words).encode("utf-8", "surrogateescape"))]


def common_factor(key: Sequence[int], n_draws: int) -> np.ndarray:
    """The standard normal factor a total's changes share, one value per draw."""
    return np.random.default_rng(list(key)).standard_normal(n_draws)


def paired_draws(
    draws: np.ndarray,
    correlation: float | Sequence[float],
    common: np.ndarray,
    seeds: Sequence[Sequence[int]],
) -> np.ndarray:
    """``draws`` (changes, n) with each change's own values re-ordered so that, draw by draw,
    the changes move together through ``common`` at ``correlation``; summed over changes they
    are draws of the total. ``seeds[i]``: change ``i``'s seed words (its own latent scores are
    seeded by them; how it pairs with the others also follows the total's ``common`` factor).
    ``correlation`` <= 0: the draws as given (independent). A sequence gives each row its own
    squared loading on ``common`` (rows ``i`` and ``j`` then correlate at
    ``sqrt(c_i * c_j)``: :func:`sum_loading` for rows that are themselves totals)."""
    draws = np.asarray(draws)
    loads = np.broadcast_to(np.asarray(correlation, dtype=np.float64), (len(draws),))
    if len(draws) == 0 or not np.any(loads > 0.0):
        return draws
    out = np.array(draws, copy=True)
    n = draws.shape[1]
    for i, words in enumerate(seeds):
        if loads[i] <= 0.0:
            continue
        a, b = np.sqrt(loads[i]), np.sqrt(1.0 - loads[i])
        own = np.random.default_rng([*words, _LATENT]).standard_normal(n)
        out[i, np.argsort(a * common + b * own, kind="stable")] = np.sort(draws[i])
    return out


def sum_loading(n_changes: int, correlation: float) -> float:
    """The squared loading on the common factor of the total of ``n_changes`` changes whose
    latent scores share ``correlation`` pairwise: ``n rho / (1 + (n - 1) rho)`` (the sum of
    ``n`` exchangeable scores, rescaled to unit variance). Two such totals of ``m`` and ``n``
    changes then correlate as the ``m * n`` changes' pairs add up, so pairing totals by their
    loadings is pairing all their changes at ``correlation`` (0 for no change)."""
    if n_changes <= 0 or correlation <= 0.0:
        return 0.0
    return n_changes * correlation / (1.0 + (n_changes - 1) * correlation)


def correlated_total(
    draws: np.ndarray, correlation: float, key: Sequence[int], seeds: Sequence[Sequence[int]]
) -> np.ndarray:
    """Draws of the total of ``draws`` (changes, n) at ``correlation`` (:func:`paired_draws`
    with the common factor seeded by ``key``, :func:`total_key`)."""
    draws = np.asarray(draws)
    if len(draws) == 0:
        return np.zeros(draws.shape[1] if draws.ndim == 2 else 0)
    common = common_factor(key, draws.shape[1])
    return np.asarray(paired_draws(draws, correlation, common, seeds).sum(axis=0))


def window_coverage(
    draws: np.ndarray,
    actual: np.ndarray,
    correlation: float,
    seeds: Sequence[Sequence[int]],
    *,
    window: int = COVERAGE_WINDOW,
    seed: int = 0,
    groups: np.ndarray | None = None,
    parts: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """How often the 80 % range of the total of ``window`` consecutive changes holds their
    actual total, with the changes' errors paired at ``correlation`` and independent:
    ``{"window", "windows", "coverage_80", "coverage_80_independent", "correlation"}``
    (coverages None under 2 windows). ``draws`` (changes, n) and ``actual`` are in time order
    within each of ``groups`` (repositories; None: one), and windows are cut within each, the
    remainder of each left out. ``parts``: the windows given instead (for example
    :func:`calendar_windows`, a sprint's changes)."""
    parts = windows(len(actual), window, groups) if parts is None else parts
    out: dict[str, Any] = {"window": window, "windows": len(parts), "correlation": correlation}
    if len(parts) < 2:
        return {**out, "coverage_80": None, "coverage_80_independent": None}
    paired: list[bool] = []
    alone: list[bool] = []
    for w, part in enumerate(parts):
        total = float(np.sum(actual[part]))
        own = [seeds[i] for i in part]
        for hits, drawn in (
            (paired, correlated_total(draws[part], correlation, [seed, w], own)),
            (alone, np.asarray(draws[part]).sum(axis=0)),
        ):
            lo, hi = np.quantile(drawn, [0.1, 0.9])
            hits.append(bool(lo <= total <= hi))
    return {**out, "coverage_80": float(np.mean(paired)),
            "coverage_80_independent": float(np.mean(alone))}  # fmt: skip


def fitted_correlation(model: Any, dataset: Dataset) -> dict[str, Any]:
    """:func:`error_correlation` over ``dataset``'s fitted changes (training and validation
    splits): those labelled from a normal interval when they fill the shortest window
    :data:`MIN_WINDOWS` times, else all of them."""
    rows = np.concatenate([dataset.index(TRAIN), dataset.index(VAL)])
    normal = rows[np.asarray(dataset.label_kind)[rows] == 0]
    if len(normal) >= MIN_WINDOWS * WINDOWS[0]:
        rows = normal
    X = dataset.features_for(model)[rows]
    return error_correlation(model, X, dataset.Y[rows], dataset.time[rows], dataset.repo[rows])


class HeldOut(NamedTuple):
    """Held-out changes in time order within each repository (:func:`held_out_draws`)."""

    draws: np.ndarray
    actual: np.ndarray
    seeds: list[list[int]]
    repos: np.ndarray
    times: np.ndarray


def held_out_draws(
    model: Any, dataset: Dataset, rows: np.ndarray, *, seed: int = 0, n_draws: int = 1000
) -> HeldOut:
    """``dataset``'s ``rows`` in time order within each repository: ``n_draws`` draws of each
    change by ``estimate``'s method (:func:`~standard_coder.sch.draws.sch_draws`, seeded by its
    commit id; ``estimate`` takes 4,000), its labels' mean within [0, 1] h (as SCH is; a change
    with no label sample there is left out), its seed words, its repository (a total is one
    repository's changes: :func:`window_coverage` cuts windows within each) and its time."""
    rows = np.asarray(rows)
    rows = rows[np.lexsort((np.asarray(dataset.time)[rows], np.asarray(dataset.repo)[rows]))]
    ok, actual = inside_mean(dataset.Y[rows])
    rows, actual = rows[ok], actual[ok]
    seeds = [change_seed(seed, str(cid)) for cid in np.asarray(dataset.commit_id)[rows]]
    X = dataset.features_for(model)[rows]
    draws = sch_draws(model, X, n_draws, seeds) if len(rows) else np.zeros((0, 1))
    return HeldOut(draws, actual, seeds, np.asarray(dataset.repo)[rows],
                   np.asarray(dataset.time)[rows])  # fmt: skip


def held_out_totals(
    model: Any, dataset: Dataset, rows: np.ndarray, *, seed: int = 0, n_draws: int = 1000
) -> dict[str, Any]:
    """:func:`window_coverage` of ``dataset``'s ``rows`` (the held-out normal changes,
    :func:`held_out_draws`) at the model's ``total_correlation_``."""
    held = held_out_draws(model, dataset, rows, seed=seed, n_draws=n_draws)
    rho = float(getattr(model, "total_correlation_", 0.0))
    return window_coverage(held.draws, held.actual, rho, held.seeds, seed=seed,
                           groups=held.repos)  # fmt: skip
