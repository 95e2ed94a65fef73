"""Compiled kernels of the three-state coding HMM (``[training.hmm] break_state``).

States: 0 = coding (C), 1 = a break inside a session (B), 2 = off (O). A commit can only be
emitted while coding, with probability ``c`` per minute. The transition *into* minute ``t``
uses the probabilities of minute ``t``'s cell, ``S = se[cell[t], 0]`` (a session starts),
``E = se[cell[t], 1]`` (it ends) and ``b = se[cell[t], 2]`` (a coding minute breaks off), and
one clock-free probability learned by EM, ``r`` (a break minute returns to coding)::

    from C:  C (1 - E)(1 - b)   B (1 - E) b        O  E
    from B:  C (1 - E) r        B (1 - E)(1 - r)   O  E
    from O:  C  S               B  0               O  1 - S

So a session ends (C or B to O) with the clock's ``E``, a new one starts with the clock's
``S``, coding breaks off with the cell's ``b`` (one value in every cell by default; per cell
with ``break_by_clock``, so bouts may be longer in the morning than in the afternoon, the
paper's Fig. 4) and a break ends at a rate ``r`` that does not depend on the
clock. With two states a chain cannot say both "sessions are rare in the evening" (``S`` small
there) and "breaks inside a session are short" (``S`` large there); with three it can. The
per-cell counts extend the two-state layout, so the network's gradient is the same with one
more output: ``counts[k] = (stay in a session, end a session, start one, stay off, coding to
coding, coding to a break)``.

Same numerics as :mod:`ffbs` (rescaled forward probabilities only where needed, the same
splitmix64 samples per interval, no fastmath).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from standard_coder.sch.work_inference.ffbs import _next_uniform

__all__ = [
    "day_empty_logprob3",
    "fit_pass3",
    "interval_ffbs3",
    "last_bouts3",
]


@njit(cache=True, fastmath=False)
def fit_pass3(
    y: np.ndarray,
    cell: np.ndarray,
    seg_start: np.ndarray,
    se: np.ndarray,
    c: float,
    r: float,
    counts: np.ndarray,
    work: np.ndarray,
    rescale_at: np.ndarray,
    rescale_inv: np.ndarray,
    gamma: np.ndarray,
    write_gamma: bool,
) -> tuple[float, float, float, float, float]:
    """Forward-backward of the three-state chain over concatenated segments.

    Like :func:`ffbs.fit_pass` (``se[k] = (S, E, b)``, ``work`` is ``(n, 3)``; each segment
    starts coding at a commit), with ``counts[k]`` (six columns) as in the module doc.
    ``gamma[t] = P(z_t = C | y)`` when ``write_gamma``.

    Returns:
        ``(log_likelihood, sum gamma y, sum gamma, n_bc, n_bb)``: the sufficient statistics
        of ``c`` (non-start minutes) and the expected break-to-coding and break-to-break
        transitions that give ``r = n_bc / (n_bc + n_bb)``.
    """
    n = y.shape[0]
    counts[:] = 0.0
    loglik = 0.0
    one_c = 1.0 - c
    a0p = 1.0
    a1p = 0.0
    a2p = 0.0
    n_rescaled = 0
    for t in range(n):
        if seg_start[t]:
            a0p = 1.0
            a1p = 0.0
            a2p = 0.0
            work[t, 0] = 1.0
            work[t, 1] = 0.0
            work[t, 2] = 0.0
            continue
        k = cell[t]
        s = se[k, 0]
        e = se[k, 1]
        b = se[k, 2]
        keep = 1.0 - e
        p0 = keep * (a0p * (1.0 - b) + a1p * r) + a2p * s
        p1 = keep * (a0p * b + a1p * (1.0 - r))
        p2 = (a0p + a1p) * e + a2p * (1.0 - s)
        if y[t]:
            p0 = p0 * c
            p1 = 0.0
            p2 = 0.0
        else:
            p0 = p0 * one_c
        if t == n - 1 or seg_start[t + 1] or p0 + p1 + p2 < 1e-150:
            z = p0 + p1 + p2
            inv = 1.0 / z
            p0 = p0 * inv
            p1 = p1 * inv
            p2 = p2 * inv
            loglik += np.log(z)
            rescale_at[n_rescaled] = t
            rescale_inv[n_rescaled] = inv
            n_rescaled += 1
        a0p = p0
        a1p = p1
        a2p = p2
        work[t, 0] = p0
        work[t, 1] = p1
        work[t, 2] = p2
    b0 = 1.0
    b1 = 1.0
    b2 = 1.0
    sum_gy = 0.0
    sum_g = 0.0
    n_bc = 0.0
    n_bb = 0.0
    ri = n_rescaled - 1
    for t in range(n - 1, -1, -1):
        if t == n - 1 or seg_start[t + 1]:
            b0 = 1.0
            b1 = 1.0
            b2 = 1.0
        else:
            k = cell[t + 1]
            s = se[k, 0]
            e = se[k, 1]
            b = se[k, 2]
            keep = 1.0 - e
            while ri >= 0 and rescale_at[ri] > t + 1:
                ri -= 1
            inv = 1.0
            if ri >= 0 and rescale_at[ri] == t + 1:
                inv = rescale_inv[ri]
            if y[t + 1]:
                m0 = b0 * (c * inv)
                m1 = 0.0
                m2 = 0.0
            else:
                m0 = b0 * (one_c * inv)
                m1 = b1 * inv
                m2 = b2 * inv
            a0 = work[t, 0]
            a1 = work[t, 1]
            a2 = work[t, 2]
            x_cc = a0 * keep * (1.0 - b) * m0
            x_cb = a0 * keep * b * m1
            x_bc = a1 * keep * r * m0
            x_bb = a1 * keep * (1.0 - r) * m1
            n_bc += x_bc
            n_bb += x_bb
            counts[k, 0] += x_cc + x_cb + x_bc + x_bb
            counts[k, 1] += (a0 + a1) * e * m2
            counts[k, 2] += a2 * s * m0
            counts[k, 3] += a2 * (1.0 - s) * m2
            counts[k, 4] += x_cc
            counts[k, 5] += x_cb
            b0 = keep * ((1.0 - b) * m0 + b * m1) + e * m2
            b1 = keep * (r * m0 + (1.0 - r) * m1) + e * m2
            b2 = s * m0 + (1.0 - s) * m2
        g = work[t, 0] * b0
        if write_gamma:
            gamma[t] = g
        if not seg_start[t]:
            sum_g += g
            if y[t]:
                sum_gy += g
    return loglik, sum_gy, sum_g, n_bc, n_bb


@njit(cache=True, fastmath=False)
def _interval_forward3(
    cells: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    b_tab: np.ndarray,
    c: float,
    r: float,
    p_start_coding: float,
) -> np.ndarray:
    """Filtered state probabilities ``(L + 1, 3)`` of one commit interval (minute ``L`` holds
    the commit); minute 0 is coding with ``p_start_coding``, else off."""
    n = cells.shape[0]
    f = np.empty((n + 1, 3))
    f[0, 0] = p_start_coding
    f[0, 1] = 0.0
    f[0, 2] = 1.0 - p_start_coding
    for j in range(1, n + 1):
        k = cells[j - 1]
        s = s_tab[k]
        e = e_tab[k]
        b = b_tab[k]
        keep = 1.0 - e
        a0 = f[j - 1, 0]
        a1 = f[j - 1, 1]
        a2 = f[j - 1, 2]
        p0 = keep * (a0 * (1.0 - b) + a1 * r) + a2 * s
        p1 = keep * (a0 * b + a1 * (1.0 - r))
        p2 = (a0 + a1) * e + a2 * (1.0 - s)
        if j == n:
            p0 = p0 * c
            p1 = 0.0
            p2 = 0.0
        else:
            p0 = p0 * (1.0 - c)
        z = p0 + p1 + p2
        f[j, 0] = p0 / z
        f[j, 1] = p1 / z
        f[j, 2] = p2 / z
    return f


@njit(cache=True, fastmath=False)
def _into(
    f: np.ndarray, j: int, z_next: int, s: float, e: float, b: float, r: float
) -> tuple[float, float, float]:
    """Unnormalised ``P(z_j = C, B, O | z_{j+1} = z_next)`` from the filtered ``f[j]``."""
    keep = 1.0 - e
    if z_next == 0:
        return f[j, 0] * keep * (1.0 - b), f[j, 1] * keep * r, f[j, 2] * s
    if z_next == 1:
        return f[j, 0] * keep * b, f[j, 1] * keep * (1.0 - r), 0.0
    return f[j, 0] * e, f[j, 1] * e, f[j, 2] * (1.0 - s)


@njit(cache=True, fastmath=False)
def _back(
    f: np.ndarray,
    j: int,
    g0: float,
    g1: float,
    g2: float,
    s: float,
    e: float,
    b: float,
    r: float,
) -> tuple[float, float, float]:
    """One step back: ``sum_x g[x] P(z_j = . | z_{j+1} = x, y_{..j})`` for a (sub-)probability
    ``g`` over minute ``j + 1``'s states (the smoothed marginals, or those of paths that stay
    in a session)."""
    h0 = 0.0
    h1 = 0.0
    h2 = 0.0
    for zn in range(3):
        w = g0 if zn == 0 else (g1 if zn == 1 else g2)
        if w == 0.0:
            continue
        q0, q1, q2 = _into(f, j, zn, s, e, b, r)
        tot = q0 + q1 + q2
        if tot > 0.0:
            h0 += w * q0 / tot
            h1 += w * q1 / tot
            h2 += w * q2 / tot
    return h0, h1, h2


@njit(cache=True, fastmath=False)
def interval_ffbs3(
    cells: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    b_tab: np.ndarray,
    c: float,
    r: float,
    p_start_coding: float,
    n_samples: int,
    seed: np.uint64,
    out: np.ndarray,
) -> float:
    """:func:`ffbs.interval_ffbs` for the three-state chain: ``n_samples`` sampled coding-minute
    counts over minutes ``1..L`` into ``out``; returns the exact posterior expectation."""
    n = cells.shape[0]
    f = _interval_forward3(cells, s_tab, e_tab, b_tab, c, r, p_start_coding)
    # smoothed marginals backwards: g = P(z_{j+1} = . | y), then P(z_j) = sum over z_{j+1}
    expected = 1.0  # minute L is coding
    g0 = 1.0
    g1 = 0.0
    g2 = 0.0
    for j in range(n - 1, 0, -1):
        k = cells[j]
        g0, g1, g2 = _back(f, j, g0, g1, g2, s_tab[k], e_tab[k], b_tab[k], r)
        expected += g0
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    for rep in range(n_samples):
        z = 0
        count = 1
        for j in range(n - 1, 0, -1):
            k = cells[j]
            q0, q1, q2 = _into(f, j, z, s_tab[k], e_tab[k], b_tab[k], r)
            u = _next_uniform(state) * (q0 + q1 + q2)
            if u < q0:
                z = 0
                count += 1
            elif u < q0 + q1:
                z = 1
            else:
                z = 2
        out[rep] = count
    return expected


@njit(cache=True, fastmath=False)
def last_bouts3(
    cells: np.ndarray,
    offsets: np.ndarray,
    p_start: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    b_tab: np.ndarray,
    c: float,
    r: float,
) -> np.ndarray:
    """Per interval: expected coding minutes of the session that ends with the commit, i.e.
    since the chain was last off (:func:`ffbs.interval_last_bout`, whose off state is the only
    not-coding one; breaks inside the session do not end it, and their minutes do not count).

    Backwards from the commit: ``v[x] = P(z_j = x, z_{j+1..L} in {C, B} | y)`` for ``x`` in
    ``{C, B}``, and the result is the sum of ``v[C]`` over the minutes."""
    n_int = offsets.shape[0] - 1
    out = np.zeros(n_int)
    for i in range(n_int):
        lo, hi = offsets[i], offsets[i + 1]
        if hi == lo:
            continue
        cl = cells[lo:hi]
        n = cl.shape[0]
        f = _interval_forward3(cl, s_tab, e_tab, b_tab, c, r, p_start[i])
        expected = 1.0
        v0 = 1.0  # the commit minute is coding
        v1 = 0.0
        for j in range(n - 1, 0, -1):
            k = cl[j]
            # paths that stay in the session: minute j + 1 not off, and minute j not off
            v0, v1, _ = _back(f, j, v0, v1, 0.0, s_tab[k], e_tab[k], b_tab[k], r)
            expected += v0
            if v0 + v1 < 1e-12:
                break
        out[i] = expected
    return out


@njit(cache=True, fastmath=False)
def day_empty_logprob3(
    cell: np.ndarray,
    day: np.ndarray,
    n_days: int,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    b_tab: np.ndarray,
    c: float,
    r: float,
) -> np.ndarray:
    """Per day: log P(no commit all day | the day starts off) under the three-state chain
    (:func:`ffbs.day_empty_logprob`)."""
    out = np.zeros(n_days)
    n = cell.shape[0]
    a0 = 0.0
    a1 = 0.0
    a2 = 1.0
    for t in range(n):
        d = day[t]
        if t == 0 or day[t - 1] != d:
            a0 = 0.0
            a1 = 0.0
            a2 = 1.0
        k = cell[t]
        s = s_tab[k]
        e = e_tab[k]
        b = b_tab[k]
        keep = 1.0 - e
        p0 = (keep * (a0 * (1.0 - b) + a1 * r) + a2 * s) * (1.0 - c)
        p1 = keep * (a0 * b + a1 * (1.0 - r))
        p2 = (a0 + a1) * e + a2 * (1.0 - s)
        z = p0 + p1 + p2
        a0 = p0 / z
        a1 = p1 / z
        a2 = p2 / z
        out[d] += np.log(z)
    return out
