"""LOC-only representation for the baseline: lines added and deleted, nothing else."""

from __future__ import annotations

import numpy as np

from standard_coder.sch.features.tokens import SURFACE_NAMES

LOC_NAMES: tuple[str, ...] = ("lines_added", "lines_deleted")
_LOC_COLS = [SURFACE_NAMES.index(n) for n in LOC_NAMES]


def loc_features(surface: np.ndarray) -> np.ndarray:
    """The LOC columns (unscaled) of a surface-count matrix (rows x ``SURFACE_NAMES``)."""
    return np.asarray(surface, np.float64)[:, _LOC_COLS]
