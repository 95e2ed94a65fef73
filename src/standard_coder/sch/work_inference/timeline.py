"""An item's labels over its authored timeline (merge-stamped commits out), its label kinds and
the short-interval check of an HMM fit. Commit times only: never the diffs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from standard_coder.runner.executor import ItemStopped, stop_requested
from standard_coder.sch.work_inference.base import NORMAL, WorkInferenceModel, prepare_times
from standard_coder.sch.work_inference.hmm import FitStopped, NeuralHMM

Options = Any
"""A ``labels.WorkInferenceOptions`` (not imported: labels imports this module)."""

__all__ = [
    "MIN_SHORT_INTERVALS",
    "fit_model",
    "interval_kinds",
    "local_commits",
    "short_interval_ratio",
    "timeline_labels",
]


def interval_kinds(
    times: np.ndarray, tz: np.ndarray, groups: np.ndarray | None, options: Options
) -> np.ndarray:
    """Each commit's label kind (input order), the same for every work-inference model: NORMAL,
    FIRST (the author's first commit) or LONG_GAP (previous commit more than
    ``hmm.split_inactive_days`` before). Only the commit's own past decides it."""
    prep = prepare_times(
        times, tz, groups, long_gap_minutes=options.hmm.split_inactive_days * 1440.0
    )
    out = np.empty(prep.kind.shape[0], dtype=np.int8)
    out[prep.order] = prep.kind
    return out


MIN_SHORT_INTERVALS = 5
"""Fewer normal short intervals than this: the short-interval check cannot judge a fit."""


def short_interval_ratio(
    expected: np.ndarray, interval: np.ndarray, kinds: np.ndarray, max_minutes: float
) -> float | None:
    """Median ``expected / interval`` over normal intervals in [5, ``max_minutes``) minutes.

    The paper (footnote 4, Fig. 3b) finds a near 1:1 mapping of short intervals to coding time
    for every developer, and so does a person reading two commits a quarter of an hour apart;
    on the paper's simulated schedule the fitted HMM gives 0.85-0.92 (truth 0.99). ``None``
    when fewer than ``MIN_SHORT_INTERVALS`` such intervals exist.
    """
    ok = (kinds == NORMAL) & (interval >= 5) & (interval < max_minutes)
    if int(ok.sum()) < MIN_SHORT_INTERVALS:
        return None
    return float(np.median(expected[ok] / interval[ok]))


def fit_model(
    model: WorkInferenceModel, times: np.ndarray, tz: np.ndarray, groups: np.ndarray
) -> None:
    if isinstance(model, NeuralHMM):
        try:  # a Ctrl-C ends the fit within an epoch, not after it
            model.fit(times, tz, groups, should_stop=stop_requested)
        except FitStopped:
            raise ItemStopped("work inference fit") from None
    else:
        model.fit(times, tz, groups)


def timeline_labels(
    make: Callable[[], WorkInferenceModel],
    times: np.ndarray,
    tz: np.ndarray,
    groups: np.ndarray,
    local: np.ndarray,
    options: Options,
) -> tuple[WorkInferenceModel, dict[str, np.ndarray]]:
    """Fit on the ``local`` commits; label them from that timeline and the others (merge-
    stamped) over their interval in the full timeline under the same model (input order)."""
    n, n_s = times.shape[0], options.label_samples_per_commit
    model = make()
    fit_model(model, times[local], tz[local], groups[local])
    rows = {
        "samples": np.zeros((n, n_s)),
        "expected": np.zeros(n),
        "last": np.zeros(n),
        "interval": np.full(n, np.nan),
        "kind": np.zeros(n, np.int8),
    }
    rows["samples"][local] = model.sample_intervals(n_s)
    rows["expected"][local] = model.expected_minutes_
    rows["last"][local] = getattr(model, "last_bout_minutes_", model.expected_minutes_)
    rows["interval"][local] = model.interval_minutes_
    rows["kind"][local] = interval_kinds(times[local], tz[local], groups[local], options)
    rest = ~local
    if rest.any():
        if isinstance(model, NeuralHMM):
            exp, smp, last = model.label_times(times, tz, groups, n_s)
        else:
            full = make()
            fit_model(full, times, tz, groups)
            smp, exp = full.sample_intervals(n_s), full.expected_minutes_
            last = getattr(full, "last_bout_minutes_", exp)
        prep = prepare_times(times, tz, groups, long_gap_minutes=np.inf)
        iv = np.empty(n)
        iv[prep.order] = prep.interval_minutes
        for name, arr in (("samples", smp), ("expected", exp), ("last", last), ("interval", iv)):
            rows[name][rest] = arr[rest]
        rows["kind"][rest] = interval_kinds(times, tz, groups, options)[rest]
    return model, rows


def local_commits(groups: np.ndarray, stamped: np.ndarray, options: Options) -> np.ndarray:
    """The commits an item's model is fitted on: all but the merge-stamped ones (when
    ``stamped_out_of_timeline``), or all when that leaves no group with an interval."""
    local = ~stamped if options.stamped_out_of_timeline else np.ones_like(stamped)
    counts = np.bincount(groups[local], minlength=int(groups.max(initial=0)) + 1)
    return local if (counts >= 2).any() else np.ones_like(stamped)
