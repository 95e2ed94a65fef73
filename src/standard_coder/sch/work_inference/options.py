"""Work-inference options (mirroring config ``[training.hmm]``, ``[training.gap]`` and the
``[training]`` keys that shape labels), the key they give a fitted item, and the unfitted model
they describe."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.runner.fingerprint import code_version
from standard_coder.sch.work_inference.base import WorkInferenceModel
from standard_coder.sch.work_inference.gap import GapModel
from standard_coder.sch.work_inference.hmm import NeuralHMM

__all__ = [
    "FORMAT_VERSION",
    "GapOptions",
    "HMMOptions",
    "WorkInferenceOptions",
    "code_digest",
    "make_model",
]

FORMAT_VERSION = 1


@functools.cache
def code_digest() -> str:
    """Digest of this package's source files: a fitted author is reused only by the same code."""
    return code_version(Path(__file__).parent.glob("*.py"))


@dataclass(frozen=True)
class HMMOptions:
    """Neural HMM hyperparameters (mirrors config ``[training.hmm]``)."""

    epochs: int = 400
    learning_rate: float = 0.02
    hidden: int = 16
    history_days: int = 730
    split_inactive_days: int = 30
    squash_minutes: int = 2
    time_bin_days: float = 56.0
    max_time_bins: int = 16
    inner_steps: int = 1
    init_commit_prob: float = 0.04
    warmup_epochs: int = 50
    tol: float = 0.0
    fallback_window_minutes: int = 1440
    pooled_max_minutes: int = 3_000_000
    break_state: bool = True
    """A third hidden state, a break inside a session (``NeuralHMM(break_state=True)``):
    measured better on every simulated schedule family (docs/work-inference.md, "Breaks
    inside a session"); False gives the paper's two-state chain."""
    break_by_clock: bool = False
    """With the break state, the break probability follows the clock (the network's third
    output) instead of rates learned by EM (``break_by_hour``): measured worse on small histories
    (docs/work-inference.md, "One break rate for the whole week")."""
    break_by_hour: bool = True
    """Without ``break_by_clock``: one break rate per hour of the local day, each shrunk
    toward the week's rate (docs/work-inference.md, "A break rate per hour of the day");
    False: one rate for the whole week (session 45)."""
    break_hour_prior_minutes: float = 2000.0
    """With ``break_by_hour``: the shrinkage, in coding minutes of the week's rate."""
    max_break_prob: float = 0.1
    start_phase: bool = True
    """With the break state, sessions open with a phase of coding that cannot end
    (``NeuralHMM(start_phase=True)``, ``ffbs4``; docs/work-inference.md, "A session's opening
    phase"); False: session 46's three-state chain."""


@dataclass(frozen=True)
class GapOptions:
    """git-hours options (mirrors config ``[training.gap]``)."""

    max_gap_minutes: int = 120
    session_start_minutes: int = 120


@dataclass(frozen=True)
class WorkInferenceOptions:
    """Everything that determines the labels besides the commits and the seed."""

    label_samples_per_commit: int = 200
    min_commits_per_author: int = 100
    """Authors with fewer commits share a pooled model: an own model of 50-99 commits (the
    default before session 42) labelled worse than the pool (docs/work-inference.md)."""
    hmm: HMMOptions = field(default_factory=HMMOptions)
    gap: GapOptions = field(default_factory=GapOptions)
    n_threads: int = 1
    """BLAS threads per worker for the HMM network (does not change results' meaning; part of
    the key anyway)."""
    short_interval_minutes: float = 60.0
    """Short-interval check of an HMM fit: normal intervals of 5 minutes up to this length ..."""
    min_short_ratio: float = 0.5
    """... must get a median share of coding (expected / interval) of at least this; a fit below
    it (commits read as coding bursts of a minute or two however long the interval: seen on
    real authors with one commit per session) labels its commits with the gap heuristic."""
    stamped_out_of_timeline: bool = False
    """Fit each item on its authored commits only (merge-stamped commits, whose time is when
    someone pressed "merge", are then labelled by the fitted model over their interval in the
    full timeline). Off by default: measured to make labels relate less to the change's size
    (docs/work-inference.md, "Merge-stamped commits")."""

    def digest(self, kind: str) -> str:
        relevant: dict[str, Any] = {
            "kind": kind,
            "label_samples_per_commit": self.label_samples_per_commit,
            "min_commits_per_author": self.min_commits_per_author,
            "short_check": [self.short_interval_minutes, self.min_short_ratio],
            "stamped_out_of_timeline": self.stamped_out_of_timeline,
            "n_threads": self.n_threads,
            "format": FORMAT_VERSION,
            "code": code_digest(),
        }
        relevant[kind] = asdict(self.hmm if kind == "hmm" else self.gap)
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def make_model(
    kind: str, options: WorkInferenceOptions, *, random_state: int, span_days: float
) -> WorkInferenceModel:
    """The unfitted model of ``kind`` ("hmm" or "gap")."""
    if kind == "gap":
        return GapModel(
            max_gap_minutes=options.gap.max_gap_minutes,
            session_start_minutes=options.gap.session_start_minutes,
            random_state=random_state,
        )
    if kind == "hmm":
        h = options.hmm
        span = min(span_days, float(h.history_days))
        bins = int(np.clip(round(span / h.time_bin_days), 1, h.max_time_bins))
        return NeuralHMM(
            epochs=h.epochs,
            learning_rate=h.learning_rate,
            hidden=h.hidden,
            time_bins=bins,
            history_days=h.history_days,
            split_inactive_days=h.split_inactive_days,
            squash_minutes=h.squash_minutes,
            fallback_window_minutes=h.fallback_window_minutes,
            inner_steps=h.inner_steps,
            init_commit_prob=h.init_commit_prob,
            warmup_epochs=h.warmup_epochs,
            tol=h.tol,
            break_state=h.break_state,
            break_by_clock=h.break_by_clock,
            break_by_hour=h.break_by_hour,
            break_hour_prior_minutes=h.break_hour_prior_minutes,
            max_break_prob=h.max_break_prob,
            start_phase=h.start_phase,
            n_samples=options.label_samples_per_commit,
            n_threads=options.n_threads,
            random_state=random_state,
        )
    raise ValueError(f"Unknown work-inference kind {kind!r}, expected one of ['gap', 'hmm'].")
