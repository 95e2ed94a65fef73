"""Compiled kernels of the Monte Carlo (numba, cached on disk like the HMM's)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def days_until(cum_tp: np.ndarray, need: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``out[s, j] = 1 + #{d : cum_tp[s, d] < need[s, j]}`` (see ``montecarlo._days_until``)."""
    n_sims, n_tickets = need.shape
    horizon = cum_tp.shape[1]
    for s in range(n_sims):
        rising = True
        for d in range(1, horizon):
            if not cum_tp[s, d] >= cum_tp[s, d - 1]:  # a decrease, or NaN
                rising = False
                break
        if rising and horizon > 0 and cum_tp[s, 0] != cum_tp[s, 0]:
            rising = False
        for j in range(n_tickets):
            x = need[s, j]
            count = 0
            if rising:
                while count < horizon and cum_tp[s, count] < x:
                    count += 1
            else:
                for d in range(horizon):
                    if cum_tp[s, d] < x:
                        count += 1
            out[s, j] = count + 1
