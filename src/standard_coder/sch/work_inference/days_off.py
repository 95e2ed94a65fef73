"""Days off: empty author-days the neural HMM reads as "not working" rather than "no commit".

A first-order chain cannot tell a day off (holiday, sick day, a part-timer's or an occasional
contributor's free day) from a working day that happened to bring no commit, so it would
credit every silent working day with some coding. Each author's days (in their own clock,
starting at their quietest hour) are therefore checked after the warm-up: per author and
weekday the share of off days is ``p = (share of empty days - q) / (1 - q)``, with ``q`` the
chain's probability that a working day brings no commit; on weekdays the author mostly works
(``p < 0.5``) an empty day whose posterior of being off, ``p / (p + (1 - p) q_day)``, exceeds
one half is read as off (no coding can start in it) when fitting and when labelling. Nothing
of this needs to know which schedule produced the history.
"""

from __future__ import annotations

import numpy as np

from standard_coder.sch.work_inference.ffbs import day_empty_logprob
from standard_coder.sch.work_inference.ffbs4 import day_empty_logprob4, phase_args

__all__ = ["DAY_KEY", "off_days"]

DAY_KEY = 1_000_000
"""``group * DAY_KEY + local day number``: one key per author-day."""


def off_days(
    cell: np.ndarray,
    day: np.ndarray,
    day_keys: np.ndarray,
    day_weekday: np.ndarray,
    day_empty: np.ndarray,
    chain: tuple[np.ndarray, np.ndarray, float, np.ndarray | None, float, float | None],
) -> np.ndarray:
    """Empty author-days read as days off (see the module doc), bool per day key.

    ``cell`` and ``day`` per minute of the fitted sequence (``day`` indexes ``day_keys``);
    ``chain`` is ``(S table, E table, c, b table or None, r, q or None)`` (``q``: the opening
    phase's rate with ``start_phase``)."""
    s_tab, e_tab, c, b_tab, r, q_open = chain
    n_days = day_keys.shape[0]
    if n_days == 0:
        return np.zeros(0, dtype=bool)
    if b_tab is not None:
        args4 = (cell, day, n_days, s_tab, e_tab, b_tab, c, r, *phase_args(q_open))
        log_q = day_empty_logprob4(*args4)  # type: ignore[call-arg]
    else:
        log_q = day_empty_logprob(cell, day, n_days, s_tab, e_tab, c)  # type: ignore[call-arg]
    q = np.exp(log_q)
    code = (day_keys // DAY_KEY) * 7 + day_weekday
    _, cls = np.unique(code, return_inverse=True)
    count = np.bincount(cls).astype(float)
    frac = np.bincount(cls, weights=day_empty) / count
    q_mean = np.bincount(cls, weights=q) / count
    with np.errstate(divide="ignore", invalid="ignore"):
        p_off = np.clip(np.nan_to_num((frac - q_mean) / (1.0 - q_mean)), 0.0, 1.0)[cls]
        post = np.nan_to_num(p_off / (p_off + (1.0 - p_off) * q))
    # only on weekdays the author mostly works: where they mostly do not, the chain's own
    # schedule learns it (and keeps the learned S, E meaningful there)
    off: np.ndarray = day_empty & (post > 0.5) & (p_off < 0.5)
    return off
