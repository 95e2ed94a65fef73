"""The git-hours heuristic: the gap itself if short, else a fixed session-start credit."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np

from standard_coder.sch.work_inference.base import WorkInferenceModel, prepare_times

__all__ = ["GapModel"]


class GapModel(WorkInferenceModel):
    """git-hours per commit: ``gap`` if ``gap < max_gap_minutes`` else ``session_start_minutes``.

    The first commit of an author also gets ``session_start_minutes``. The distribution of an
    interval is a point mass (all samples equal).
    """

    kind: ClassVar[str] = "gap"

    def __init__(
        self,
        *,
        max_gap_minutes: float = 120.0,
        session_start_minutes: float = 120.0,
        random_state: int | None = None,
    ) -> None:
        self.max_gap_minutes = max_gap_minutes
        self.session_start_minutes = session_start_minutes
        self.random_state = random_state

    def fit(
        self,
        commit_times: np.ndarray,
        tz_offsets: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> Self:
        if self.max_gap_minutes <= 0 or self.session_start_minutes < 0:
            raise ValueError("max_gap_minutes must be > 0 and session_start_minutes >= 0")
        prep = prepare_times(commit_times, tz_offsets, groups, long_gap_minutes=np.inf)
        gap = prep.interval_minutes
        est = np.where(
            np.isfinite(gap) & (gap < self.max_gap_minutes), gap, self.session_start_minutes
        )
        n = gap.shape[0]
        self.expected_minutes_ = np.empty(n)
        self.expected_minutes_[prep.order] = est
        self.interval_minutes_ = np.empty(n)
        self.interval_minutes_[prep.order] = gap
        self.interval_kind_ = np.empty(n, dtype=np.int8)
        self.interval_kind_[prep.order] = prep.kind
        self.n_commits_ = n
        return self

    def sample_intervals(
        self, n_samples: int, *, random_state: int | np.random.Generator | None = None
    ) -> np.ndarray:
        self._check_fitted()
        return np.repeat(self.expected_minutes_[:, None], n_samples, axis=1)
