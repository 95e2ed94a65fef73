"""Time-based validation split and label weights shared by the shift and ``auto`` fits."""

from __future__ import annotations

import numpy as np

from standard_coder.sch.dataset import TRAIN, VAL, Dataset

SHIFT_VALIDATION_FRACTION = 0.2
"""Share of the train + validation changes, the most recent by commit time, that chooses the
location-shift model's options (``docs/effort-models.md``, "Location-shift model")."""


def time_validation_split(dataset: Dataset, fraction: float = SHIFT_VALIDATION_FRACTION
                          ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Rows of train + validation by commit time: the earlier ``1 - fraction`` and the rest."""
    rows = np.flatnonzero((dataset.split == TRAIN) | (dataset.split == VAL))
    order = rows[np.argsort(dataset.time[rows], kind="stable")]
    cut = max(1, min(len(order) - 1, round(len(order) * (1 - fraction))))
    return order[:cut], order[cut:]


def label_weights(dataset: Dataset) -> np.ndarray:
    """1 for a change whose label comes from a normal interval (kind 0), else 0: first commits,
    changes after a long gap and merge-stamped ones are labelled from a window that says nothing
    about the change (all ones when no change is normal)."""
    w = (np.asarray(dataset.label_kind) == 0).astype(np.float64)
    return w if w.sum() > 0 else np.ones(len(dataset))
