"""Compiled kernels of the two-state coding HMM (numba, no fastmath: bit-for-bit deterministic).

States: 0 = coding (C), 1 = not coding (N). A commit can only be emitted while coding, with
probability ``c`` per minute. The transition *into* minute ``t`` uses the start/stop
probabilities of minute ``t``'s cell: ``A_t = [[1 - E, E], [S, 1 - S]]`` with
``S = s_tab[cell[t]]`` and ``E = e_tab[cell[t]]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "day_empty_logprob",
    "fit_pass",
    "forward_backward",
    "interval_ffbs",
    "interval_last_bout",
    "last_bouts",
]


@njit(cache=True, fastmath=False)
def forward_backward(
    y: np.ndarray,
    cell: np.ndarray,
    seg_start: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    c: float,
    n_cc: np.ndarray,
    n_cn: np.ndarray,
    n_nc: np.ndarray,
    n_nn: np.ndarray,
    gamma: np.ndarray,
) -> tuple[float, float, float]:
    """Scaled forward-backward over concatenated segments.

    Each segment starts at a commit (``seg_start[t]`` true): the state there is coding, given.
    Accumulates the expected transition counts (pairwise posteriors xi summed per cell of the
    target minute) into ``n_cc, n_cn, n_nc, n_nn`` (zeroed here) and writes the coding posterior
    ``gamma[t] = P(z_t = C | y)``.

    Returns:
        ``(log_likelihood, sum_t gamma_t * y_t, sum_t gamma_t)`` (the last two over non-start
        minutes, the sufficient statistics of ``c``).
    """
    n = y.shape[0]
    se = np.empty((s_tab.shape[0], 2))
    se[:, 0] = s_tab
    se[:, 1] = e_tab
    counts = np.empty((s_tab.shape[0], 4))
    work = np.empty((n, 2))
    rescale_at = np.empty(n, dtype=np.int64)
    rescale_inv = np.empty(n)
    ll, sgy, sg = fit_pass(
        y, cell, seg_start, se, c, counts, work, rescale_at, rescale_inv, gamma, True
    )
    n_cc[:] = counts[:, 0]
    n_cn[:] = counts[:, 1]
    n_nc[:] = counts[:, 2]
    n_nn[:] = counts[:, 3]
    return ll, sgy, sg


@njit(cache=True, fastmath=False)
def fit_pass(
    y: np.ndarray,
    cell: np.ndarray,
    seg_start: np.ndarray,
    se: np.ndarray,
    c: float,
    counts: np.ndarray,
    work: np.ndarray,
    rescale_at: np.ndarray,
    rescale_inv: np.ndarray,
    gamma: np.ndarray,
    write_gamma: bool,
) -> tuple[float, float, float]:
    """:func:`forward_backward` for the fit's epochs: no allocation, one table per cell.

    ``se[k] = (S, E)`` of cell ``k``; ``counts[k] = (n_cc, n_cn, n_nc, n_nn)`` (zeroed here);
    ``work`` is an ``(n, 2)`` scratch buffer (the filtered probabilities of each minute, side
    by side); ``rescale_at``, ``rescale_inv`` (int64 and float64, ``n`` each) receive the
    minutes where the forward pass rescaled and the inverse scale there, in order: rescaling
    is rare (a few per segment), so the backward pass finds it there instead of reading a
    third column per minute (a sixth less memory traffic, about 15 % less time). ``gamma``
    is written only when ``write_gamma``.

    The forward probabilities are rescaled only where their sum would fall under 1e-150 and at
    each segment's last minute, not every minute (a division and a ``log`` per minute were most
    of the pass, on its serial dependency chain). The scaled-HMM identities hold for any scale
    factors: the backward pass divides by the same ones, so the counts, ``gamma`` and the
    log-likelihood (the sum of the log scale factors) equal those of per-minute scaling up to
    rounding.
    """
    n = y.shape[0]
    counts[:] = 0.0
    loglik = 0.0
    one_c = 1.0 - c
    a0p = 1.0
    a1p = 0.0
    n_rescaled = 0
    for t in range(n):
        if seg_start[t]:
            a0p = 1.0
            a1p = 0.0
            work[t, 0] = 1.0
            work[t, 1] = 0.0
            continue
        k = cell[t]
        s = se[k, 0]
        e = se[k, 1]
        p0 = a0p * (1.0 - e) + a1p * s
        p1 = a0p * e + a1p * (1.0 - s)
        if y[t]:
            p0 = p0 * c
            p1 = 0.0
        else:
            p0 = p0 * one_c
        # rescaled only where needed (underflow ahead, or a segment's last minute): no
        # division on the minute-to-minute dependency chain
        if t == n - 1 or seg_start[t + 1] or p0 + p1 < 1e-150:
            z = p0 + p1
            inv = 1.0 / z
            p0 = p0 * inv
            p1 = p1 * inv
            loglik += np.log(z)
            rescale_at[n_rescaled] = t
            rescale_inv[n_rescaled] = inv
            n_rescaled += 1
        a0p = p0
        a1p = p1
        work[t, 0] = p0
        work[t, 1] = p1
    b0 = 1.0
    b1 = 1.0
    sum_gy = 0.0
    sum_g = 0.0
    r = n_rescaled - 1  # the last rescaled minute not after t + 1
    for t in range(n - 1, -1, -1):
        if t == n - 1 or seg_start[t + 1]:
            b0 = 1.0
            b1 = 1.0
        else:
            k = cell[t + 1]
            s = se[k, 0]
            e = se[k, 1]
            while r >= 0 and rescale_at[r] > t + 1:
                r -= 1
            inv = 1.0
            if r >= 0 and rescale_at[r] == t + 1:
                inv = rescale_inv[r]
            if y[t + 1]:
                m0 = b0 * (c * inv)
                m1 = 0.0
            else:
                m0 = b0 * (one_c * inv)
                m1 = b1 * inv
            a0 = work[t, 0]
            a1 = work[t, 1]
            counts[k, 0] += a0 * (1.0 - e) * m0
            counts[k, 1] += a0 * e * m1
            counts[k, 2] += a1 * s * m0
            counts[k, 3] += a1 * (1.0 - s) * m1
            b0 = (1.0 - e) * m0 + e * m1
            b1 = s * m0 + (1.0 - s) * m1
        g = work[t, 0] * b0
        if write_gamma:
            gamma[t] = g
        if not seg_start[t]:
            sum_g += g
            if y[t]:
                sum_gy += g
    return loglik, sum_gy, sum_g


@njit(cache=True, fastmath=False)
def _next_uniform(state: np.ndarray) -> float:
    # splitmix64: a tiny counter-based generator, deterministic inside numba
    state[0] = (state[0] + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = state[0]
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, fastmath=False)
def _interval_forward(
    cells: np.ndarray, s_tab: np.ndarray, e_tab: np.ndarray, c: float, p_start_coding: float
) -> tuple[np.ndarray, np.ndarray]:
    """Filtered P(coding), P(not coding) for minutes ``0..L`` of one commit interval (minute
    ``L`` holds the commit); shared by :func:`interval_ffbs` and :func:`interval_last_bout`."""
    n = cells.shape[0]
    f0 = np.empty(n + 1)
    f1 = np.empty(n + 1)
    f0[0] = p_start_coding
    f1[0] = 1.0 - p_start_coding
    for j in range(1, n + 1):
        k = cells[j - 1]
        s = s_tab[k]
        e = e_tab[k]
        p0 = f0[j - 1] * (1.0 - e) + f1[j - 1] * s
        p1 = f0[j - 1] * e + f1[j - 1] * (1.0 - s)
        if j == n:
            p0 = p0 * c
            p1 = 0.0
        else:
            p0 = p0 * (1.0 - c)
        z = p0 + p1
        f0[j] = p0 / z
        f1[j] = p1 / z
    return f0, f1


@njit(cache=True, fastmath=False)
def interval_ffbs(
    cells: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    c: float,
    p_start_coding: float,
    n_samples: int,
    seed: np.uint64,
    out: np.ndarray,
) -> float:
    """Forward-filter backward-sample whole state paths inside one commit interval.

    The interval covers minutes ``1..L`` (``L = cells.size``) after a starting minute 0 whose
    state is coding with probability ``p_start_coding`` (1.0 when the previous commit pins it).
    Minutes ``1..L-1`` have no commit; minute ``L`` holds the commit, so it is coding.
    Writes ``n_samples`` sampled coding-minute counts over ``1..L`` into ``out`` and returns the
    exact posterior expectation (sum of the smoothed coding marginals).
    """
    n = cells.shape[0]
    f0, f1 = _interval_forward(cells, s_tab, e_tab, c, p_start_coding)
    # exact smoothed marginals (backward pass on the filtered probabilities)
    expected = 1.0  # minute L is coding
    g0 = 1.0
    for j in range(n - 1, 0, -1):
        k = cells[j]  # transition into minute j + 1
        s = s_tab[k]
        e = e_tab[k]
        # P(z_j | z_{j+1}) = f_j(z_j) A(z_j, z_{j+1}) / sum
        pc_c = f0[j] * (1.0 - e)
        pn_c = f1[j] * s
        pc_n = f0[j] * e
        pn_n = f1[j] * (1.0 - s)
        w_c = pc_c / (pc_c + pn_c)
        tot_n = pc_n + pn_n
        w_n = pc_n / tot_n if tot_n > 0.0 else 0.0
        g0 = g0 * w_c + (1.0 - g0) * w_n
        expected += g0
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    for r in range(n_samples):
        z = 0
        count = 1
        for j in range(n - 1, 0, -1):
            k = cells[j]
            s = s_tab[k]
            e = e_tab[k]
            if z == 0:
                pc = f0[j] * (1.0 - e)
                pn = f1[j] * s
            else:
                pc = f0[j] * e
                pn = f1[j] * (1.0 - s)
            u = _next_uniform(state)
            if u * (pc + pn) < pc:
                z = 0
                count += 1
            else:
                z = 1
        out[r] = count
    return expected


@njit(cache=True, fastmath=False)
def interval_last_bout(
    cells: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    c: float,
    p_start_coding: float,
) -> float:
    """Expected length of the coding bout that ends with the commit, in minutes.

    Same interval model as :func:`interval_ffbs`: ``E[#{j : z_j = ... = z_L = C}]``, the
    minutes of the last uninterrupted coding run up to the commit (the commit minute counts;
    the starting minute 0 does not). Equals the interval's expected coding minutes when the
    chain codes without a break; a small share of it marks an interval whose coding lies
    mostly in earlier sessions.
    """
    n = cells.shape[0]
    f0, f1 = _interval_forward(cells, s_tab, e_tab, c, p_start_coding)
    expected = 1.0 if n > 0 else 0.0
    run = 1.0  # P(z_j .. z_L all coding | y)
    for j in range(n - 1, 0, -1):
        k = cells[j]
        s = s_tab[k]
        e = e_tab[k]
        pc_c = f0[j] * (1.0 - e)
        pn_c = f1[j] * s
        run = run * pc_c / (pc_c + pn_c)
        expected += run
        if run < 1e-12:
            break
    return expected


@njit(cache=True, fastmath=False)
def last_bouts(
    cells: np.ndarray,
    offsets: np.ndarray,
    p_start: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    c: float,
) -> np.ndarray:
    """:func:`interval_last_bout` of every interval (``offsets`` delimit their cells)."""
    n = offsets.shape[0] - 1
    out = np.zeros(n)
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        if b > a:
            out[i] = interval_last_bout(cells[a:b], s_tab, e_tab, c, p_start[i])
    return out


@njit(cache=True, fastmath=False)
def day_empty_logprob(
    cell: np.ndarray,
    day: np.ndarray,
    n_days: int,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    c: float,
) -> np.ndarray:
    """Per day: log P(no commit all day | the day starts not coding) under the chain.

    ``day[t]`` is the day index of minute ``t`` (minutes of one day contiguous); the result is
    the log-probability of an empty day were the author working that day, whatever the data.
    """
    out = np.zeros(n_days)
    n = cell.shape[0]
    a0 = 0.0
    a1 = 1.0
    for t in range(n):
        d = day[t]
        if t == 0 or day[t - 1] != d:
            a0 = 0.0
            a1 = 1.0
        k = cell[t]
        s = s_tab[k]
        e = e_tab[k]
        p0 = (a0 * (1.0 - e) + a1 * s) * (1.0 - c)
        p1 = a0 * e + a1 * (1.0 - s)
        z = p0 + p1
        a0 = p0 / z
        a1 = p1 / z
        out[d] += np.log(z)
    return out
