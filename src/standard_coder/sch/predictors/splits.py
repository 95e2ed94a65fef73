"""Time-based validation split and label weights shared by the shift and ``auto`` fits."""

from __future__ import annotations

import numpy as np

from standard_coder.sch.dataset import TRAIN, VAL, Dataset
from standard_coder.sch.predictors.sch_map import recency_weights

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


LABEL_WEIGHTINGS = ("off", "kind", "session", "session_half")
"""``[training] label_weighting`` (``docs/effort-models.md``, "Label weights")."""


def label_weights(dataset: Dataset, weighting: str = "off") -> np.ndarray:
    """Per-change training weights.

    ``off`` and ``kind``: 1 for a change whose label comes from a normal interval (kind 0), else
    0: first commits, changes after a long gap and merge-stamped ones are labelled from a
    window that says nothing about the change. ``session``: that times the dataset's
    ``label_weight`` (the share of the label's coding in the session the change closes);
    ``session_half``: 1 where that share is at least 0.5, else 0. All ones when every weight
    would be 0. (``off`` and ``kind`` differ only for the MDN: see :func:`mdn_weights`.)
    """
    if weighting not in LABEL_WEIGHTINGS:
        raise ValueError(
            f"unknown label_weighting {weighting!r}; use one of {list(LABEL_WEIGHTINGS)}"
        )
    w = (np.asarray(dataset.label_kind) == 0).astype(np.float64)
    if weighting in ("session", "session_half"):
        lw = np.ones(len(w)) if dataset.label_weight is None else dataset.label_weight
        lw = np.nan_to_num(np.asarray(lw, np.float64), nan=1.0)
        w = w * (lw if weighting == "session" else (lw >= 0.5))
    return w if w.sum() > 0 else np.ones(len(dataset))


def mdn_weights(dataset: Dataset, weighting: str = "off") -> np.ndarray | None:
    """The network predictors' training weights: None (every change weighs 1, as before the
    option) for ``off``, else :func:`label_weights`."""
    return None if weighting == "off" else label_weights(dataset, weighting)


def recency_by_time(dataset: Dataset, rows: np.ndarray, half_life: float) -> np.ndarray:
    """Recency weights of ``rows`` (in their order): ``0.5 ** (age / (half_life * n))``, where
    age is the number of ``rows`` committed after the row (stable order of commit time)."""
    order = np.argsort(dataset.time[rows], kind="stable")
    out = np.empty(len(rows))
    out[order] = recency_weights(len(rows), half_life)
    return out
