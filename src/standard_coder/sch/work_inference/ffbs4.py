"""Compiled kernels of the coding HMM with breaks inside a session (``[training.hmm]
break_state``), whose sessions may open with a phase that cannot end (``start_phase``, the
default since session 48).

States: 0 = coding (C), 1 = a break inside a session (B), 2 = off (O), 3 = the opening phase
of a session (W: coding that can neither end nor break). A commit is emitted while coding, in
C or W, with probability ``c`` per minute. The transition *into* minute ``t`` uses the
probabilities of minute ``t``'s cell, ``S = se[cell[t], 0]`` (a session starts), ``E =
se[cell[t], 1]`` (it ends) and ``b = se[cell[t], 2]`` (a coding minute breaks off), and
clock-free probabilities learned by EM: ``r`` (a break minute returns to coding) and ``q`` (the
opening phase gives way to ordinary coding). With ``phase`` a session starts in W, without it
in C (then W is never entered and the chain is session 43's three-state one, C, B and O, to
the last bit: W's zeros are added only where they leave a sum unchanged, so a fit without the
phase is the one it was)::

    from C:  C (1 - E)(1 - b)   B (1 - E) b        O  E        W  0
    from B:  C (1 - E) r        B (1 - E)(1 - r)   O  E        W  0
    from O:  C S (no phase)     B 0                O  1 - S    W  S (phase)
    from W:  C q                B 0                O  0        W  1 - q

So a session ends (C or B to O) with the clock's ``E``, a new one starts with the clock's
``S``, coding breaks off with the cell's ``b`` (one value per hour of the day by default; per
cell with ``break_by_clock``, so bouts may be longer in the morning than in the afternoon, the
paper's Fig. 4) and a break ends at a rate ``r`` that does not depend on the clock. With two
states a chain cannot say both "sessions are rare in the evening" (``S`` small there) and
"breaks inside a session are short" (``S`` large there); with three it can.

Why: with three states a session's length is memoryless (a constant per-minute chance to
end), which implies many short sessions, and a short session often brings no commit; so the
chain believes in commit-less sessions inside long silences more than people have them, and
labels such intervals long (docs/work-inference.md, "Where the team-wide r comes from"). A
session of two phases in series is less dispersed for the same mean length: a session that
started now most likely lasts ``1 / q`` minutes more, at a commit rate ``c``.

A commit ends the opening phase: the minute after a commit goes on from C, whichever of C and
W emitted it. So the phase lasts until the session's first commit, or about ``1 / q``
minutes, and the chain after a commit is the same whatever came before it, which keeps each
interval's labels (pinned to C at the previous commit, as in the other chains) exact under the
fitted chain. The per-cell counts extend the two-state layout of :mod:`ffbs`, so the
network's gradient is the same with one more output: ``counts[k] = (stay in a session, end a
session, start one, stay off, coding to coding, coding to a break)`` (W's minutes neither end
nor break, so they add to none of the session columns). Same numerics as :mod:`ffbs`
(rescaled forward probabilities only where needed, the same splitmix64 samples per interval,
no fastmath).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from standard_coder.sch.work_inference.ffbs import _next_uniform

__all__ = [
    "day_empty_logprob4",
    "fit_pass4",
    "interval_ffbs4",
    "last_bouts4",
    "phase_args",
]


def phase_args(q: float | None) -> tuple[float, bool]:
    """``(q, phase)`` as the kernels read them, from the opening phase's rate or None (the
    three-state chain: ``q`` unused)."""
    return (0.0, False) if q is None else (q, True)


@njit(cache=True, fastmath=False)
def _forward4(
    a0: float,
    a1: float,
    a2: float,
    a3: float,
    s: float,
    e: float,
    b: float,
    r: float,
    q: float,
    phase: bool,
) -> tuple[float, float, float, float]:
    """One step of the transition, unnormalised and before the emission."""
    keep = 1.0 - e
    p0 = keep * (a0 * (1.0 - b) + a1 * r)
    p1 = keep * (a0 * b + a1 * (1.0 - r))
    p2 = (a0 + a1) * e + a2 * (1.0 - s)
    if phase:  # a session starts in W
        return p0 + a3 * q, p1, p2, a2 * s + a3 * (1.0 - q)
    return p0 + a2 * s, p1, p2, 0.0  # in C: W is never entered


@njit(cache=True, fastmath=False)
def fit_pass4(
    y: np.ndarray,
    cell: np.ndarray,
    seg_start: np.ndarray,
    se: np.ndarray,
    c: float,
    r: float,
    q: float,
    phase: bool,
    counts: np.ndarray,
    work: np.ndarray,
    rescale_at: np.ndarray,
    rescale_inv: np.ndarray,
    gamma: np.ndarray,
    write_gamma: bool,
) -> tuple[float, float, float, float, float, float, float]:
    """Forward-backward of the chain over concatenated segments.

    Like :func:`ffbs.fit_pass` (``se[k] = (S, E, b)``, ``work`` is ``(n, 4)``; each segment
    starts coding at a commit), with ``counts[k]`` (six columns) as in the module doc.
    ``gamma[t] = P(z_t in {C, W} | y)`` when ``write_gamma``.

    Returns:
        ``(log_likelihood, sum gamma y, sum gamma, n_bc, n_bb, n_wc, n_ww)``: the sufficient
        statistics of ``c`` (non-start minutes), the expected break-to-coding and
        break-to-break transitions that give ``r = n_bc / (n_bc + n_bb)``, and the expected
        opening-phase transitions that give ``q = n_wc / (n_wc + n_ww)`` (zero without
        ``phase``).
    """
    n = y.shape[0]
    counts[:] = 0.0
    loglik = 0.0
    one_c = 1.0 - c
    a0p, a1p, a2p, a3p = 1.0, 0.0, 0.0, 0.0
    n_rescaled = 0
    for t in range(n):
        if seg_start[t]:
            a0p, a1p, a2p, a3p = 1.0, 0.0, 0.0, 0.0
            work[t, 0], work[t, 1], work[t, 2], work[t, 3] = 1.0, 0.0, 0.0, 0.0
            continue
        k = cell[t]
        p0, p1, p2, p3 = _forward4(a0p, a1p, a2p, a3p, se[k, 0], se[k, 1], se[k, 2], r, q, phase)
        if y[t]:  # a commit ends the opening phase: the chain goes on from C
            p0, p1, p2, p3 = (p0 + p3) * c, 0.0, 0.0, 0.0
        else:
            p0, p3 = p0 * one_c, p3 * one_c
        if t == n - 1 or seg_start[t + 1] or p0 + p1 + p2 + p3 < 1e-150:
            z = p0 + p1 + p2 + p3
            inv = 1.0 / z
            p0, p1, p2, p3 = p0 * inv, p1 * inv, p2 * inv, p3 * inv
            loglik += np.log(z)
            rescale_at[n_rescaled] = t
            rescale_inv[n_rescaled] = inv
            n_rescaled += 1
        a0p, a1p, a2p, a3p = p0, p1, p2, p3
        work[t, 0], work[t, 1], work[t, 2], work[t, 3] = p0, p1, p2, p3
    b0, b1, b2, b3 = 1.0, 1.0, 1.0, 1.0
    sum_gy = 0.0
    sum_g = 0.0
    n_bc = 0.0
    n_bb = 0.0
    n_wc = 0.0
    n_ww = 0.0
    ri = n_rescaled - 1
    for t in range(n - 1, -1, -1):
        if t == n - 1 or seg_start[t + 1]:
            b0, b1, b2, b3 = 1.0, 1.0, 1.0, 1.0
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
            if y[t + 1]:  # entering W at a commit goes on as C
                m0, m1, m2, m3 = b0 * (c * inv), 0.0, 0.0, b0 * (c * inv)
            else:
                m0, m1, m2, m3 = b0 * (one_c * inv), b1 * inv, b2 * inv, b3 * (one_c * inv)
            a0, a1, a2, a3 = work[t, 0], work[t, 1], work[t, 2], work[t, 3]
            x_cc = a0 * keep * (1.0 - b) * m0
            x_cb = a0 * keep * b * m1
            x_bc = a1 * keep * r * m0
            x_bb = a1 * keep * (1.0 - r) * m1
            n_bc += x_bc
            n_bb += x_bb
            n_wc += a3 * q * m0
            n_ww += a3 * (1.0 - q) * m3
            counts[k, 0] += x_cc + x_cb + x_bc + x_bb
            counts[k, 1] += (a0 + a1) * e * m2
            m_start = m3 if phase else m0  # where a session starts
            counts[k, 2] += a2 * s * m_start
            counts[k, 3] += a2 * (1.0 - s) * m2
            counts[k, 4] += x_cc
            counts[k, 5] += x_cb
            b0 = keep * ((1.0 - b) * m0 + b * m1) + e * m2
            b1 = keep * (r * m0 + (1.0 - r) * m1) + e * m2
            b2 = s * m_start + (1.0 - s) * m2
            b3 = q * m0 + (1.0 - q) * m3
        g = work[t, 0] * b0 + work[t, 3] * b3
        if write_gamma:
            gamma[t] = g
        if not seg_start[t]:
            sum_g += g
            if y[t]:
                sum_gy += g
    return loglik, sum_gy, sum_g, n_bc, n_bb, n_wc, n_ww


@njit(cache=True, fastmath=False)
def _interval_forward4(
    cells: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    b_tab: np.ndarray,
    c: float,
    r: float,
    q: float,
    phase: bool,
    p_start_coding: float,
) -> np.ndarray:
    """Filtered state probabilities ``(L + 1, 4)`` of one commit interval (minute ``L`` holds
    the commit); minute 0 is coding (C) with ``p_start_coding``, else off."""
    n = cells.shape[0]
    f = np.zeros((n + 1, 4))
    f[0, 0] = p_start_coding
    f[0, 2] = 1.0 - p_start_coding
    for j in range(1, n + 1):
        k = cells[j - 1]
        a0, a1, a2, a3 = f[j - 1, 0], f[j - 1, 1], f[j - 1, 2], f[j - 1, 3]
        p0, p1, p2, p3 = _forward4(a0, a1, a2, a3, s_tab[k], e_tab[k], b_tab[k], r, q, phase)
        if j == n:
            p0, p1, p2, p3 = p0 * c, 0.0, 0.0, p3 * c
        else:
            p0, p3 = p0 * (1.0 - c), p3 * (1.0 - c)
        z = p0 + p1 + p2 + p3
        f[j, 0], f[j, 1], f[j, 2], f[j, 3] = p0 / z, p1 / z, p2 / z, p3 / z
    return f


@njit(cache=True, fastmath=False)
def _opening_at_commit(f: np.ndarray, n: int) -> float:
    """P(the commit minute ``n`` of an interval was emitted in W, not C), from the filtered
    ``f[n]`` (nothing follows the commit inside the interval)."""
    return float(f[n, 3] / (f[n, 0] + f[n, 3]))


@njit(cache=True, fastmath=False)
def _into4(
    f: np.ndarray,
    j: int,
    z_next: int,
    s: float,
    e: float,
    b: float,
    r: float,
    q: float,
    phase: bool,
) -> tuple[float, float, float, float]:
    """Unnormalised ``P(z_j = C, B, O, W | z_{j+1} = z_next)`` from the filtered ``f[j]``."""
    keep = 1.0 - e
    if z_next == 0:
        start_c = 0.0 if phase else f[j, 2] * s
        return f[j, 0] * keep * (1.0 - b), f[j, 1] * keep * r, start_c, f[j, 3] * q
    if z_next == 1:
        return f[j, 0] * keep * b, f[j, 1] * keep * (1.0 - r), 0.0, 0.0
    if z_next == 2:
        return f[j, 0] * e, f[j, 1] * e, f[j, 2] * (1.0 - s), 0.0
    start_w = f[j, 2] * s if phase else 0.0
    return 0.0, 0.0, start_w, f[j, 3] * (1.0 - q)


@njit(cache=True, fastmath=False)
def _back4(
    f: np.ndarray,
    j: int,
    g: np.ndarray,
    s: float,
    e: float,
    b: float,
    r: float,
    q: float,
    phase: bool,
) -> None:
    """One step back, in place: ``g <- sum_x g[x] P(z_j = . | z_{j+1} = x, y_{..j})`` for a
    (sub-)probability ``g`` over minute ``j + 1``'s states."""
    h0 = 0.0
    h1 = 0.0
    h2 = 0.0
    h3 = 0.0
    for zn in range(4):
        w = g[zn]
        if w == 0.0:
            continue
        q0, q1, q2, q3 = _into4(f, j, zn, s, e, b, r, q, phase)
        tot = q0 + q1 + q2 + q3
        if tot > 0.0:
            h0 += w * q0 / tot
            h1 += w * q1 / tot
            h2 += w * q2 / tot
            h3 += w * q3 / tot
    g[0], g[1], g[2], g[3] = h0, h1, h2, h3


@njit(cache=True, fastmath=False)
def interval_ffbs4(
    cells: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    b_tab: np.ndarray,
    c: float,
    r: float,
    q: float,
    phase: bool,
    p_start_coding: float,
    n_samples: int,
    seed: np.uint64,
    out: np.ndarray,
) -> float:
    """:func:`ffbs.interval_ffbs` for this chain (coding minutes are C's and W's):
    ``n_samples`` sampled coding-minute counts over minutes ``1..L`` into ``out``; returns the
    exact posterior expectation."""
    n = cells.shape[0]
    f = _interval_forward4(cells, s_tab, e_tab, b_tab, c, r, q, phase, p_start_coding)
    # the commit minute is coding, in C or W as filtered
    p_w_last = _opening_at_commit(f, n)
    g = np.array([1.0 - p_w_last, 0.0, 0.0, p_w_last])
    expected = 1.0
    for j in range(n - 1, 0, -1):
        k = cells[j]
        _back4(f, j, g, s_tab[k], e_tab[k], b_tab[k], r, q, phase)
        expected += g[0] + g[3]
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    for rep in range(n_samples):
        z = 0  # without the phase no draw: the three-state chain's samples, draw for draw
        if phase and _next_uniform(state) < p_w_last:
            z = 3
        count = 1
        for j in range(n - 1, 0, -1):
            k = cells[j]
            q0, q1, q2, q3 = _into4(f, j, z, s_tab[k], e_tab[k], b_tab[k], r, q, phase)
            u = _next_uniform(state) * (q0 + q1 + q2 + q3)
            if u < q0:
                z = 0
                count += 1
            elif u < q0 + q1:
                z = 1
            elif u < q0 + q1 + q2:
                z = 2
            else:
                z = 3
                count += 1
        out[rep] = count
    return expected


@njit(cache=True, fastmath=False)
def last_bouts4(
    cells: np.ndarray,
    offsets: np.ndarray,
    p_start: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    b_tab: np.ndarray,
    c: float,
    r: float,
    q: float,
    phase: bool,
) -> np.ndarray:
    """Per interval: expected coding minutes of the session that ends with the commit, i.e.
    since the chain was last off (:func:`ffbs.interval_last_bout`, whose off state is the only
    not-coding one; breaks inside the session do not end it, and their minutes do not count;
    W's minutes count as coding).

    Backwards from the commit: ``v[x] = P(z_j = x, z_{j+1..L} not off | y)``, and the result
    is the sum of ``v[C] + v[W]`` over the minutes."""
    n_int = offsets.shape[0] - 1
    out = np.zeros(n_int)
    v = np.zeros(4)
    for i in range(n_int):
        lo, hi = offsets[i], offsets[i + 1]
        if hi == lo:
            continue
        cl = cells[lo:hi]
        n = cl.shape[0]
        f = _interval_forward4(cl, s_tab, e_tab, b_tab, c, r, q, phase, p_start[i])
        expected = 1.0
        p_w = _opening_at_commit(f, n)
        v[0], v[1], v[2], v[3] = 1.0 - p_w, 0.0, 0.0, p_w
        for j in range(n - 1, 0, -1):
            k = cl[j]
            # paths that stay in the session: minute j + 1 not off, and minute j not off
            _back4(f, j, v, s_tab[k], e_tab[k], b_tab[k], r, q, phase)
            v[2] = 0.0
            expected += v[0] + v[3]
            if v[0] + v[1] + v[3] < 1e-12:
                break
        out[i] = expected
    return out


@njit(cache=True, fastmath=False)
def day_empty_logprob4(
    cell: np.ndarray,
    day: np.ndarray,
    n_days: int,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    b_tab: np.ndarray,
    c: float,
    r: float,
    q: float,
    phase: bool,
) -> np.ndarray:
    """Per day: log P(no commit all day | the day starts off) under this chain
    (:func:`ffbs.day_empty_logprob`)."""
    out = np.zeros(n_days)
    n = cell.shape[0]
    a0, a1, a2, a3 = 0.0, 0.0, 1.0, 0.0
    for t in range(n):
        d = day[t]
        if t == 0 or day[t - 1] != d:
            a0, a1, a2, a3 = 0.0, 0.0, 1.0, 0.0
        k = cell[t]
        p0, p1, p2, p3 = _forward4(a0, a1, a2, a3, s_tab[k], e_tab[k], b_tab[k], r, q, phase)
        p0, p3 = p0 * (1.0 - c), p3 * (1.0 - c)
        z = p0 + p1 + p2 + p3
        a0, a1, a2, a3 = p0 / z, p1 / z, p2 / z, p3 / z
        out[d] += np.log(z)
    return out
