"""The clock-free break probability's EM update (the break state without ``break_by_clock``).

One rate for the whole week (session 45) cannot say that coding bouts are longer in the morning
than in the afternoon; a rate per grid cell (``break_by_clock``) fits noise on small histories.
Between them: one rate per hour of the local day, each shrunk toward the week's rate by a prior
worth ``prior_minutes`` coding minutes, so an hour with little coding keeps about the week's
rate and one with months of it learns its own (docs/work-inference.md, "A break rate per hour
of the day", session 46).
"""

from __future__ import annotations

import numpy as np

__all__ = ["break_rates", "cell_hours"]


def cell_hours(n_cells: int, time_bins: int) -> np.ndarray:
    """Hour of the local day (0-23) of every grid cell (week minute x overall-time bin)."""
    out: np.ndarray = (np.arange(n_cells) // time_bins % 1440) // 60
    return out


def break_rates(
    n_cb: np.ndarray,
    n_cc: np.ndarray,
    hours: np.ndarray | None,
    prior_minutes: float,
    b_max: float,
) -> np.ndarray:
    """EM's break probability per grid cell from the expected transitions per cell from coding
    to a break (``n_cb``) and from coding to coding (``n_cc``).

    Without ``hours``, the week's rate ``b_week = sum n_cb / (sum n_cb + sum n_cc)`` in every
    cell; with ``hours`` (each cell's hour of the day, :func:`cell_hours`), its hour's
    ``(n_cb_h + w b_week) / (n_cb_h + n_cc_h + w)``, ``w = prior_minutes`` (an hour without
    coding and without a prior: ``b_week``). Every rate is clipped to ``[1e-5, b_max]``.
    """
    cb, cc = float(n_cb.sum()), float(n_cc.sum())
    week = min(max(cb / max(cb + cc, 1e-300), 1e-5), b_max)
    if hours is None:
        return np.full(n_cb.shape[0], week)
    cb_h = np.bincount(hours, n_cb, 24)
    total = cb_h + np.bincount(hours, n_cc, 24) + prior_minutes
    per_hour = np.where(total > 0, (cb_h + prior_minutes * week) / np.maximum(total, 1e-300), week)
    out: np.ndarray = np.clip(per_hour, 1e-5, b_max)[hours]
    return out
