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


@njit(cache=True)
def ticket_days(
    efforts: np.ndarray,
    cum_tp: np.ndarray,
    n_days: int,
    ticket_day: np.ndarray,
    last_day: np.ndarray,
    done_by_end: np.ndarray,
    done_count: np.ndarray,
    day_count: np.ndarray,
) -> None:  # pragma: no cover
    """Every per-ticket outcome of ``montecarlo.SimulationResult`` in one pass over the sims.

    The cumulative need is numpy's ``cumsum(efforts) - 1e-9 * maximum(1, cumsum)`` (the same
    operations in the same order); a ticket's day is 1 + the number of days whose cumulative
    throughput is short of its need (counted over every day, as the numpy loop does: no branch
    to mispredict, and a falling or NaN row needs no special case); ``last_day[s]`` is the
    unmasked completion day of the whole scope; ``done_count[j]`` counts the sims with ticket
    ``j`` done by day ``n_days`` and ``day_count[j, k]`` those with ticket ``j`` done on day
    ``k``."""
    n_sims, n_tickets = efforts.shape
    horizon = cum_tp.shape[1]
    for s in range(n_sims):
        by_end = cum_tp[s, n_days - 1]
        cum = 0.0
        count = 0
        for j in range(n_tickets):
            e = efforts[s, j]
            cum = e if j == 0 else cum + e
            m = cum if (cum > 1.0 or cum != cum) else 1.0
            x = cum - 1e-9 * m
            count = 0
            for d in range(horizon):
                count += cum_tp[s, d] < x
            day = count + 1 if e > 0 else 0
            ticket_day[s, j] = day
            day_count[j, day] += 1
            done = e <= 0 or x <= by_end
            done_by_end[s, j] = done
            done_count[j] += done
        if n_tickets > 0:
            last_day[s] = count + 1


@njit(cache=True)
def order_statistics(
    rows: np.ndarray, ranks: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover
    """``out[r, i]`` = the ``ranks[i]``-th smallest value of ``rows[r]`` (0-based; finite
    values; ranks ascending), as sorting would give, without sorting: values equal to the row's
    minimum are counted apart (a pile of zeros is common), the others binned by value (a
    monotone map), and only the bins holding a wanted rank are gathered, in one pass, and
    sorted."""
    n_rows, n = rows.shape
    n_bins = 4096
    counts = np.zeros(n_bins, dtype=np.int64)
    slot = np.full(n_bins, -1, dtype=np.int64)
    bins = np.empty(ranks.size, dtype=np.int64)
    within = np.empty(ranks.size, dtype=np.int64)
    for r in range(n_rows):
        lo = rows[r, 0]
        hi = rows[r, 0]
        for i in range(n):
            x = rows[r, i]
            if x < lo:
                lo = x
            elif x > hi:
                hi = x
        if lo == hi:
            out[r, :] = lo
            continue
        scale = n_bins / (hi - lo)
        counts[:] = 0
        n_lo = 0
        for i in range(n):
            x = rows[r, i]
            if x == lo:
                n_lo += 1
            else:
                counts[min(int((x - lo) * scale), n_bins - 1)] += 1
        # which bin holds each wanted rank, and where in it
        n_slots = 0
        starts = np.zeros(ranks.size + 1, dtype=np.int64)
        for q in range(ranks.size):
            k = ranks[q] - n_lo
            bins[q] = -1
            if k < 0:
                continue
            b = 0
            while k >= counts[b]:
                k -= counts[b]
                b += 1
            bins[q] = b
            within[q] = k
            if slot[b] < 0:
                slot[b] = n_slots
                starts[n_slots + 1] = starts[n_slots] + counts[b]
                n_slots += 1
        buf = np.empty(starts[n_slots], dtype=rows.dtype)
        fill = starts[:n_slots].copy()
        if n_slots > 0:
            for i in range(n):
                x = rows[r, i]
                if x != lo:
                    k = slot[min(int((x - lo) * scale), n_bins - 1)]
                    if k >= 0:
                        buf[fill[k]] = x
                        fill[k] += 1
            for k in range(n_slots):
                buf[starts[k] : starts[k + 1]].sort()
        for q in range(ranks.size):
            b = bins[q]
            out[r, q] = lo if b < 0 else buf[starts[slot[b]] + within[q]]
        for q in range(ranks.size):
            if bins[q] >= 0:
                slot[bins[q]] = -1


@njit(cache=True)
def remaining_by_day_t(
    total: np.ndarray, cum_tp: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover
    """``out[0] = total``, ``out[1 + d] = np.maximum(total - cum_tp[:, d], 0.0)`` (NaN kept)."""
    n_sims, horizon = cum_tp.shape
    for s in range(n_sims):
        t = total[s]
        out[0, s] = t
        for d in range(horizon):
            x = t - cum_tp[s, d]
            out[d + 1, s] = x if (x >= 0.0 or x != x) else 0.0


@njit(cache=True)
def capped_cumsum(
    tp: np.ndarray, share: np.ndarray, scale: bool, cap: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover
    """``out = np.cumsum(np.minimum(tp * share if scale else tp, cap), axis=1)`` in one pass
    (``np.minimum`` keeps a NaN throughput)."""
    n_sims, horizon = tp.shape
    for s in range(n_sims):
        acc = 0.0
        for d in range(horizon):
            v = tp[s, d] * share[d] if scale else tp[s, d]
            c = cap[d]
            v = v if (v <= c or v != v) else c
            acc = v if d == 0 else acc + v
            out[s, d] = acc
