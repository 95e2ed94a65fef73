"""The work-inference interface: commit timestamps in, coding minutes per commit interval out.

A commit's interval runs from the same author's previous commit (``groups`` tells authors apart
when one model is fitted on several, e.g. the pooled model) to the commit itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from standard_coder.runner.seeding import check_random_state

__all__ = [
    "FIRST",
    "LONG_GAP",
    "NORMAL",
    "NotFittedError",  # noqa: F822 (module __getattr__: imported on first use)
    "PreparedTimes",
    "WorkInferenceModel",
    "check_random_state",
    "prepare_times",
    "recent_active",
]


def __getattr__(name: str) -> Any:
    """``NotFittedError`` is scikit-learn's, imported on first use: importing scikit-learn
    costs about 1.5 s of CPU, which every pool worker fitting an author would pay."""
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError

        return NotFittedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


NORMAL = 0
"""Interval kind: an ordinary interval between two commits of the author."""
FIRST = 1
"""Interval kind: the author's first commit (no previous commit)."""
LONG_GAP = 2
"""Interval kind: the previous commit is further back than the inactivity split."""


def recent_active(times: np.ndarray, history_days: float, split_inactive_days: float) -> np.ndarray:
    """Mask of the commits within the most recent ``history_days`` of *active* time of one
    author (``times``: sorted unix seconds): gaps longer than ``split_inactive_days`` count as
    no time at all.

    A calendar window would keep only the tail of an author who was active for years and then
    committed once or twice later (a project's founder): real histories have many such authors,
    and a model fitted on that tail (sometimes on no interval at all) would label every one of
    their commits. Counting active time keeps the fitted minutes bounded all the same.
    """
    n = times.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    gaps = np.diff(times.astype(np.float64))
    gaps[gaps > split_inactive_days * 86400.0] = 0.0
    age = np.zeros(n)
    age[:-1] = np.cumsum(gaps[::-1])[::-1]  # active seconds from each commit to the last
    mask: np.ndarray = age <= history_days * 86400.0
    return mask


@dataclass(frozen=True)
class PreparedTimes:
    """Commit times sorted by (group, time) with each commit's interval."""

    order: np.ndarray
    """Sorted position -> input position."""
    times: np.ndarray
    """int64 unix seconds, sorted."""
    tz: np.ndarray
    """int64 minutes east of UTC, sorted."""
    groups: np.ndarray
    """int64 group per sorted commit."""
    prev: np.ndarray
    """Sorted index of the previous commit of the same group, -1 for the first."""
    interval_minutes: np.ndarray
    """Wall-clock minutes since the previous commit (NaN for the first)."""
    kind: np.ndarray
    """NORMAL / FIRST / LONG_GAP per sorted commit."""


def prepare_times(
    commit_times: np.ndarray,
    tz_offsets: np.ndarray,
    groups: np.ndarray | None,
    *,
    long_gap_minutes: float,
) -> PreparedTimes:
    """Validate and sort commit times; derive each commit's interval."""
    times = np.asarray(commit_times)
    if times.ndim != 1:
        raise ValueError(f"commit_times must be 1-D, got shape {times.shape}")
    if not np.all(np.isfinite(times)):
        raise ValueError("commit_times must be finite unix seconds")
    times = np.floor(times).astype(np.int64)
    tz = np.asarray(tz_offsets).astype(np.int64)
    if tz.shape != times.shape:
        raise ValueError(f"tz_offsets shape {tz.shape} != commit_times shape {times.shape}")
    if np.any(np.abs(tz) > 18 * 60):
        raise ValueError("tz_offsets are minutes east of UTC within +-18 h")
    grp = np.zeros(times.shape, np.int64) if groups is None else np.asarray(groups).astype(np.int64)
    if grp.shape != times.shape:
        raise ValueError(f"groups shape {grp.shape} != commit_times shape {times.shape}")
    order = np.lexsort((times, grp))
    t, z, g = times[order], tz[order], grp[order]
    n = t.shape[0]
    prev = np.arange(n, dtype=np.int64) - 1
    first = np.ones(n, dtype=bool)
    if n:
        first[1:] = g[1:] != g[:-1]
    prev[first] = -1
    interval = np.full(n, np.nan)
    has = ~first
    interval[has] = (t[has] - t[prev[has]]) / 60.0
    kind = np.full(n, NORMAL, dtype=np.int8)
    kind[first] = FIRST
    kind[has & (interval > long_gap_minutes)] = LONG_GAP
    return PreparedTimes(
        order=order, times=t, tz=z, groups=g, prev=prev, interval_minutes=interval, kind=kind
    )


class WorkInferenceModel(ABC):
    """scikit-learn-shaped work inference.

    ``__init__`` only stores keyword-only hyperparameters; ``fit`` learns from one author's (or,
    with ``groups``, several authors') commit timestamps. All per-commit outputs are in the
    *input order* of ``fit``.

    Attributes (after ``fit``):
        expected_minutes_: expected coding minutes in each commit's interval.
        interval_minutes_: wall-clock minutes since the previous commit (NaN for the first).
        interval_kind_: ``NORMAL``, ``FIRST`` or ``LONG_GAP`` per commit.
        n_commits_: number of commits seen.
    """

    kind: ClassVar[str]
    random_state: int | None

    expected_minutes_: np.ndarray
    interval_minutes_: np.ndarray
    interval_kind_: np.ndarray
    n_commits_: int

    @abstractmethod
    def fit(
        self,
        commit_times: np.ndarray,
        tz_offsets: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> Self:
        """Learn from commit times (unix seconds) and their UTC offsets (minutes east)."""

    @abstractmethod
    def sample_intervals(
        self, n_samples: int, *, random_state: int | np.random.Generator | None = None
    ) -> np.ndarray:
        """``n_commits x n_samples`` float64 samples of coding minutes per commit interval."""

    def interval_distribution(self, i: int, n_samples: int | None = None) -> np.ndarray:
        """Samples of coding minutes in the interval ending at commit ``i`` (input order)."""
        self._check_fitted()
        if not 0 <= i < self.n_commits_:
            raise IndexError(f"commit index {i} out of range 0..{self.n_commits_ - 1}")
        n: int = n_samples if n_samples is not None else int(getattr(self, "n_samples", 200))
        samples = self.sample_intervals(n, random_state=self.random_state)
        out: np.ndarray = samples[i]
        return out

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to ``__init__``."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {k: getattr(self, k) for k in names}

    def _check_fitted(self) -> None:
        if not hasattr(self, "expected_minutes_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first."
            )
