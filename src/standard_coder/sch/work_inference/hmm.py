"""The paper's neural HMM (Wright & Ziegler 2019, §III-A) at 1-minute resolution.

Two hidden states per minute (coding / not coding). A commit is emitted only while coding, with
a learned per-minute probability ``c``. The start and stop probabilities ``S(t), E(t)`` come from
a small tanh network of the local day and week clock angles and the normalised overall time.
With ``break_state`` (the default) a third state, a break inside a session, sits between them
(``ffbs4``): coding breaks off with probability ``b`` and a break ends at rate ``r``, both
clock-free and learned by EM (``b`` is the network's third output per cell with
``break_by_clock``), so a chain can say both "sessions are rare" and "breaks inside one are
short" (docs/work-inference.md, "Breaks inside a session", "One break rate for the whole week").
With ``start_phase`` (the default, with the break state) a fourth state opens each session
(the same kernels): coding that can neither end nor break, left at a clock-free rate ``q``
learned by EM or at the session's first commit, so session lengths are not memoryless
(docs/work-inference.md, "A session's opening phase").

Training is maximum likelihood with exact gradients by Fisher's identity, one forward-backward
pass and one gradient step per epoch, with EM updates of ``c`` and the break rates
(:mod:`hmm_training`, which says how).

The network is evaluated on a grid: every minute of the week (10,080 local minutes) times
``time_bins`` slices of the normalised overall time (bin centres as the 5th input). A minute's
``S, E`` are those of its cell, so the network and its gradient run over the grid only, never
over minutes (numpy, ``network.py``: no torch).

Days off: empty author-days read as days off when fitting and labelling (:mod:`days_off`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np

from standard_coder.sch.work_inference.base import (
    FIRST,
    LONG_GAP,
    PreparedTimes,
    WorkInferenceModel,
    check_random_state,
    prepare_times,
    recent_active,
)
from standard_coder.sch.work_inference.chain import FittedChain, run_intervals
from standard_coder.sch.work_inference.clock import (
    WEEK,
    cells_for_minutes,
    day_numbers,
    quiet_minute,
    week_minute,
)
from standard_coder.sch.work_inference.days_off import DAY_KEY
from standard_coder.sch.work_inference.ffbs import forward_backward
from standard_coder.sch.work_inference.ffbs4 import fit_pass4
from standard_coder.sch.work_inference.hmm_training import (
    FitStopped,
    MinuteSequence,
    TrainSettings,
    days_off_of,
    train,
)

__all__ = ["FitStopped", "NeuralHMM", "cells_for_minutes", "week_minute"]


class NeuralHMM(WorkInferenceModel):
    """Neural HMM work inference (one author, or several pooled through ``groups``).

    Parameters:
        epochs: Fisher-identity gradient steps (each one forward-backward pass).
        learning_rate: Adam learning rate of the S/E network.
        hidden: width of the two tanh hidden layers.
        time_bins: slices of normalised overall time on which the network is evaluated.
        history_days: only the most recent days of each group's active time are fitted
            (gaps over ``split_inactive_days`` do not count: :func:`recent_active`).
        split_inactive_days: gaps longer than this split the history; no minutes are
            simulated across them and such intervals get the fallback window.
        squash_minutes: commits closer than this form one emission.
        fallback_window_minutes: minutes before a commit after a long gap (or an author's
            first commit) that may hold coding; the window starts in "not coding".
        n_samples: default samples per interval for ``interval_distribution``.
        n_threads: BLAS threads of the network's matrix products while fitting.
        inner_steps: Adam steps on the surrogate per forward-backward pass (1 = plain
            gradient ascent on the log-likelihood; more = generalised EM).
        init_commit_prob: the commit probability per coding minute ``c`` to start from, and
            the mean of its Beta prior.
        commit_prob_prior_minutes: weight of that prior in coding minutes: ``c`` is updated to
            ``(commits + init * w) / (coding minutes + w)`` (posterior expectations). How much
            coding goes without a commit is barely identified by commit times alone (a near
            flat likelihood between "short bursts, high c" and "long sessions, low c"), so a
            prior can set the scale where the data cannot; 0 (default) gives plain EM.
        restarts: runs from ``init_commit_prob * 2.5**k``, k < restarts; 25 epochs past the
            warm-up only the one with the highest log-likelihood goes on (its log-likelihood
            history is kept).
        tol: in the last quarter of the epochs, stop when the log-likelihood rose by less
            than ``tol * |log-likelihood|`` over the last 20 epochs (0, the default: always run
            ``epochs``). Off by default: sparse histories (a few dozen commits a year) have
            flat stretches after which the likelihood rises again, and stopping there was
            measured to cost accuracy (docs/work-inference.md, "Convergence stop").
        break_state: a third state, a break inside a session (``ffbs4``): sessions start
            and end with the clock's ``S`` and ``E``, coding breaks off with probability ``b``
            and a break ends at a clock-free rate ``r`` learned by EM. False: the paper's
            two-state chain.
        break_by_clock: with the break state, ``b`` follows the clock (a third output of the
            network, per grid cell). False (the default): one clock-free ``b`` learned by EM
            like ``r``. Commit times identify breaks only weakly, and a per-cell ``b`` was
            measured to fit noise on small histories (breaks at the bound in some hours;
            docs/work-inference.md, "One break rate for the whole week").
        break_by_hour: without ``break_by_clock``, ``b`` is one rate per hour of the local day,
            each shrunk toward the week's rate by a prior worth ``break_hour_prior_minutes``
            coding minutes (``break_rate``); False: one rate for the whole week (session 45).
        init_break_prob, init_return_prob: where ``b`` and ``r`` start (per minute).
        max_break_prob: the most ``b`` can be (a coding bout of at least ``1 / max_break_prob``
            minutes on average). Commit times barely tell "much coding, few commits per minute
            of it" from "little coding, more": without a bound, sparse histories reach
            sessions of breaks with a coding minute now and then (on a pooled item of 84 real
            commits, most short intervals read as breaks); 0.1 was measured against 0.05 and 1
            (docs/work-inference.md, "Breaks inside a session").
        start_phase: with the break state (ignored without it), each session opens with a
            phase of coding that can neither end nor break, which gives way to ordinary coding
            at a clock-free rate ``q`` learned by EM, or at the session's first commit
            (``ffbs4``'s fourth state): session lengths are not memoryless. False: session
            46's three-state chain, to the last bit (docs/work-inference.md, "A session's
            opening phase").
        init_phase_rate: where ``q`` starts (per minute: an opening phase of ``1 / q``
            minutes on average).
        random_state: seed of the network initialisation and the FFBS samples.

    Attributes:
        c_: learned commit probability per coding minute.
        s_table_, e_table_: start/stop probability per grid cell (``10080 * time_bins``).
        b_table_: break probability per grid cell (None without the break state; one value
            per hour of the day with ``break_by_hour``, in every cell without either).
        r_: probability per minute that a break ends (0.0 without the break state).
        q_: probability per minute that a session's opening phase ends (None without
            ``start_phase``).
        loglik_history_: log-likelihood before each epoch's step.
        net_state_: the network weights as numpy arrays.
        n_minutes_: minutes in the fitted sequence.
        epochs_run_: epochs actually run.
        last_bout_minutes_: expected minutes of the coding bout that ends with each commit.
    """

    kind: ClassVar[str] = "hmm"

    def __init__(
        self,
        *,
        epochs: int = 400,
        learning_rate: float = 0.02,
        hidden: int = 16,
        time_bins: int = 16,
        history_days: int = 730,
        split_inactive_days: int = 30,
        squash_minutes: int = 2,
        fallback_window_minutes: int = 1440,
        n_samples: int = 200,
        n_threads: int = 1,
        inner_steps: int = 1,
        init_commit_prob: float = 0.04,
        commit_prob_prior_minutes: float = 0.0,
        warmup_epochs: int = 50,
        restarts: int = 2,
        tol: float = 0.0,
        break_state: bool = True,
        break_by_clock: bool = False,
        break_by_hour: bool = True,
        break_hour_prior_minutes: float = 2000.0,
        init_break_prob: float = 0.02,
        init_return_prob: float = 0.05,
        max_break_prob: float = 0.1,
        start_phase: bool = True,
        init_phase_rate: float = 0.05,
        random_state: int | None = None,
    ) -> None:
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.time_bins = time_bins
        self.history_days = history_days
        self.split_inactive_days = split_inactive_days
        self.squash_minutes = squash_minutes
        self.fallback_window_minutes = fallback_window_minutes
        self.n_samples = n_samples
        self.n_threads = n_threads
        self.inner_steps = inner_steps
        self.init_commit_prob = init_commit_prob
        self.commit_prob_prior_minutes = commit_prob_prior_minutes
        self.warmup_epochs = warmup_epochs
        self.restarts = restarts
        self.tol = tol
        self.break_state = break_state
        self.break_by_clock = break_by_clock
        self.break_by_hour = break_by_hour
        self.break_hour_prior_minutes = break_hour_prior_minutes
        self.init_break_prob = init_break_prob
        self.init_return_prob = init_return_prob
        self.max_break_prob = max_break_prob
        self.start_phase = start_phase
        self.init_phase_rate = init_phase_rate
        self.random_state = random_state

    # ------------------------------------------------------------------ data
    def _build(self, prep: PreparedTimes) -> tuple[MinuteSequence, dict[int, tuple[float, float]]]:
        """The fitted minute sequence (segments of all groups) and each group's time axis."""
        minutes = prep.times // 60
        split = self.split_inactive_days * 1440
        ys: list[np.ndarray] = []
        cells: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        days: list[np.ndarray] = []
        axes: dict[int, tuple[float, float]] = {}
        self.day_start_minute_: dict[int, int] = {}
        for g in np.unique(prep.groups):
            idx = np.flatnonzero(prep.groups == g)
            idx = idx[recent_active(prep.times[idx], self.history_days, self.split_inactive_days)]
            m, tz, secs = minutes[idx], prep.tz[idx], prep.times[idx]
            # squash: a commit closer than squash_minutes to the next joins the next one
            keep = np.ones(idx.shape[0], dtype=bool)
            keep[:-1] = (secs[1:] - secs[:-1]) >= self.squash_minutes * 60
            m, tz = m[keep], tz[keep]
            day_start = quiet_minute(m + tz)
            self.day_start_minute_[int(g)] = day_start
            u0 = float(m[0])
            span = float(max(m[-1] - m[0], 1))
            axes[int(g)] = (u0, span)
            cut = np.flatnonzero(np.diff(m) > split) + 1
            for seg_m, seg_tz in zip(np.split(m, cut), np.split(tz, cut), strict=True):
                if seg_m.shape[0] < 2:
                    continue
                length = int(seg_m[-1] - seg_m[0]) + 1
                abs_min = np.arange(seg_m[0], seg_m[-1] + 1, dtype=np.int64)
                # minutes in (m_{i-1}, m_i] take commit i's offset; the first minute its own
                reps = np.diff(seg_m, prepend=seg_m[0] - 1)
                tz_min = np.repeat(seg_tz, reps)
                y = np.zeros(length, dtype=np.uint8)
                y[seg_m - seg_m[0]] = 1
                st = np.zeros(length, dtype=np.bool_)
                st[0] = True
                ys.append(y)
                cells.append(cells_for_minutes(abs_min, tz_min, u0, span, self.time_bins))
                starts.append(st)
                days.append(int(g) * DAY_KEY + day_numbers(abs_min, tz_min, day_start))
        if not ys:
            e8, e64 = np.zeros(0, dtype=np.uint8), np.zeros(0, np.int64)
            return MinuteSequence(
                e8, np.zeros(0, np.int32), np.zeros(0, np.bool_), e64, e64, e64, e8
            ), axes
        y = np.concatenate(ys)
        keys, day = np.unique(np.concatenate(days), return_inverse=True)
        commits = np.bincount(day, weights=y, minlength=keys.shape[0])
        weekday = ((keys % DAY_KEY) + 3) % 7  # unix day 0 was a Thursday; Monday = 0
        return (
            MinuteSequence(
                y,
                np.concatenate(cells),
                np.concatenate(starts),
                day.astype(np.int64),
                keys,
                weekday,
                commits == 0,
            ),
            axes,
        )

    def _interval_cells(
        self, prep: PreparedTimes, axes: dict[int, tuple[float, float]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cells of every interval's minutes (concatenated), offsets, and start-coding probs."""
        minutes = prep.times // 60
        n = minutes.shape[0]
        lengths = np.zeros(n, dtype=np.int64)
        p_start = np.ones(n)
        has_prev = prep.prev >= 0
        lengths[has_prev] = minutes[has_prev] - minutes[prep.prev[has_prev]]
        fallback = (prep.kind == FIRST) | (prep.kind == LONG_GAP)
        lengths[fallback] = self.fallback_window_minutes
        p_start[fallback] = 0.0
        lengths = np.maximum(lengths, 0)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        total = int(offsets[-1])
        # absolute minute of each interval minute: end - L + 1 .. end
        owner = np.repeat(np.arange(n), lengths)
        pos = np.arange(total, dtype=np.int64) - offsets[owner]
        abs_min = minutes[owner] - lengths[owner] + 1 + pos
        tz = prep.tz[owner]
        u0 = np.array([axes[int(g)][0] for g in prep.groups])[owner]
        span = np.array([axes[int(g)][1] for g in prep.groups])[owner]
        u = (abs_min - u0) / span
        b = np.clip(np.floor(u * self.time_bins), 0, self.time_bins - 1).astype(np.int64)
        cells = (week_minute(abs_min, tz) * self.time_bins + b).astype(np.int32)
        if self.off_day_keys_.shape[0]:
            start = np.array([self.day_start_minute_.get(int(g), 0) for g in prep.groups])
            key = prep.groups[owner] * DAY_KEY + day_numbers(abs_min, tz, start[owner])
            pos_k = np.clip(
                np.searchsorted(self.off_day_keys_, key), 0, self.off_day_keys_.shape[0] - 1
            )
            cells[self.off_day_keys_[pos_k] == key] = WEEK * self.time_bins
        return cells, offsets, p_start

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        commit_times: np.ndarray,
        tz_offsets: np.ndarray,
        groups: np.ndarray | None = None,
        *,
        should_stop: Callable[[], bool] | None = None,
    ) -> Self:
        """Fit by maximum likelihood; ``should_stop`` is polled once per epoch and, when it
        turns true, :class:`FitStopped` is raised (nothing is kept: the fit is redone)."""
        from threadpoolctl import threadpool_limits

        if self.epochs < 0 or self.time_bins < 1 or self.hidden < 1:
            raise ValueError("epochs >= 0, time_bins >= 1 and hidden >= 1 are required")
        if self.break_state and not (
            0 < self.max_break_prob <= 1 and 0 < self.init_break_prob < 1
            and 0 < self.init_return_prob < 1 and self.break_hour_prior_minutes >= 0
        ):  # fmt: skip
            raise ValueError(
                "the break state needs 0 < max_break_prob <= 1, init_break_prob and "
                "init_return_prob in (0, 1) and break_hour_prior_minutes >= 0"
            )
        if self.break_state and self.start_phase and not 0 < self.init_phase_rate <= 1:
            raise ValueError("start_phase needs 0 < init_phase_rate <= 1")
        t_start = time.perf_counter()
        prep = prepare_times(
            commit_times, tz_offsets, groups, long_gap_minutes=self.split_inactive_days * 1440
        )
        if prep.times.shape[0] == 0:
            raise ValueError("no commits to fit")
        seq, axes = self._build(prep)
        rng = check_random_state(self.random_state)
        net_seed = int(rng.integers(2**31))
        self._sample_seed = int(rng.integers(2**62))

        with threadpool_limits(limits=max(1, self.n_threads), user_api="blas"):
            fitted = train(TrainSettings.of(self), seq, net_seed, should_stop)
        self.net_state_ = fitted.net_state
        self.c_, self.r_, self.q_ = fitted.c, fitted.r, fitted.q
        self.s_table_, self.e_table_, self.b_table_ = fitted.s_tab, fitted.e_tab, fitted.b_tab
        self.loglik_history_ = np.asarray(fitted.history)
        self.n_minutes_ = int(seq.y.shape[0])
        self.epochs_run_ = fitted.epochs_run
        self.time_axes_ = axes
        self.off_day_keys_ = seq.day_keys[fitted.off]
        self.n_days_ = int(seq.day_keys.shape[0])
        self.n_days_off_ = int(fitted.off.sum())
        self._prep = prep
        cells, offsets, p_start = self._interval_cells(prep, axes)
        self._cells, self._offsets, self._p_start = cells, offsets, p_start
        tabs = (fitted.s_tab, fitted.e_tab, fitted.b_tab)
        self._chain = FittedChain.of(*tabs, fitted.c, fitted.r, fitted.q)
        expected = run_intervals(cells, offsets, p_start, self._chain, 0, 0)[0]
        n = prep.times.shape[0]
        self.expected_minutes_ = np.empty(n)
        self.expected_minutes_[prep.order] = expected
        self.interval_minutes_ = np.empty(n)
        self.interval_minutes_[prep.order] = prep.interval_minutes
        self.interval_kind_ = np.empty(n, dtype=np.int8)
        self.interval_kind_[prep.order] = prep.kind
        self.last_bout_minutes_ = np.empty(n)
        self.last_bout_minutes_[prep.order] = self._chain.last_bouts(cells, offsets, p_start)
        self.n_commits_ = n
        self.fit_seconds_ = time.perf_counter() - t_start
        return self

    def sample_intervals(
        self, n_samples: int, *, random_state: int | np.random.Generator | None = None
    ) -> np.ndarray:
        """FFBS samples of coding minutes per interval, ``n_commits x n_samples`` (input order).

        Deterministic for an int ``random_state`` (default: the model's own seed).
        """
        self._check_fitted()
        if random_state is None or random_state == self.random_state:
            base = self._sample_seed
        else:
            base = int(check_random_state(random_state).integers(2**62))
        _, samples = run_intervals(
            self._cells, self._offsets, self._p_start, self._chain, n_samples, base
        )
        out = np.empty_like(samples)
        out[self._prep.order] = samples
        return out

    def label_times(
        self, commit_times: np.ndarray, tz_offsets: np.ndarray, groups: np.ndarray | None, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Other commit times under the fitted chain: expected minutes, ``n`` FFBS samples and
        expected last-bout minutes per commit (input order), each interval running from the
        group's previous commit in *these* times. Groups are numbered as in ``fit``; one the
        fit did not see gets a time axis of its own commits."""
        self._check_fitted()
        prep = prepare_times(
            commit_times, tz_offsets, groups, long_gap_minutes=self.split_inactive_days * 1440
        )
        axes = dict(self.time_axes_)
        for g in np.unique(prep.groups):
            m = prep.times[prep.groups == g] // 60
            axes.setdefault(int(g), (float(m[0]), float(max(m[-1] - m[0], 1))))
        cells, offsets, p_start = self._interval_cells(prep, axes)
        chain = self._chain
        expected, samples = run_intervals(cells, offsets, p_start, chain, n, self._sample_seed)
        last = chain.last_bouts(cells, offsets, p_start)
        out = [np.empty_like(a) for a in (expected, samples, last)]
        for o, a in zip(out, (expected, samples, last), strict=True):
            o[prep.order] = a
        return out[0], out[1], out[2]

    def interval_distribution(self, i: int, n_samples: int | None = None) -> np.ndarray:
        """FFBS samples of coding minutes in the interval ending at commit ``i`` (input order).

        Equal to row ``i`` of ``sample_intervals(n_samples)`` (same per-interval seed).
        """
        self._check_fitted()
        if not 0 <= i < self.n_commits_:
            raise IndexError(f"commit index {i} out of range 0..{self.n_commits_ - 1}")
        n = self.n_samples if n_samples is None else n_samples
        j = int(np.flatnonzero(self._prep.order == i)[0])  # sorted position
        seeds = np.random.SeedSequence(self._sample_seed).generate_state(
            self.n_commits_, dtype=np.uint64
        )
        out = np.zeros(n)
        a, b = self._offsets[j], self._offsets[j + 1]
        if b > a:
            self._chain.interval(self._cells[a:b], self._p_start[j], n, seeds[j], out)
        return out

    def posterior(self, commit_times: np.ndarray, tz_offsets: np.ndarray) -> dict[str, Any]:
        """Forward-backward at the fitted parameters over one author's fitted sequence."""
        self._check_fitted()
        prep = prepare_times(
            commit_times, tz_offsets, None, long_gap_minutes=self.split_inactive_days * 1440
        )
        keep_start = dict(self.day_start_minute_)
        seq, _ = self._build(prep)
        self.day_start_minute_ = keep_start  # the fitted day starts stay those of the fit
        ch = self._chain
        tabs = (self.s_table_, self.e_table_)
        off = days_off_of(seq, *tabs, self.c_, self.b_table_, self.r_, self.q_)
        cell = np.where(off[seq.day], self.s_table_.shape[0], seq.cell).astype(np.int32)
        gamma = np.zeros(seq.y.shape[0])
        if ch.b is not None:
            n = seq.y.shape[0]
            se = np.ascontiguousarray(np.stack([ch.s, ch.e, ch.b], axis=1))
            buffers = (np.empty((n, 4)), np.empty(n, dtype=np.int64), np.empty(n))
            cell_counts = np.zeros((se.shape[0], 6))
            ll = fit_pass4(  # type: ignore[call-arg]
                seq.y, cell, seq.seg_start, se, ch.c, ch.r, *ch.phase, cell_counts, *buffers,
                gamma, True,
            )[0]  # fmt: skip
        else:
            counts = [np.zeros(self.s_table_.shape[0] + 1) for _ in range(4)]
            ll, _, _ = forward_backward(  # type: ignore[call-arg]
                seq.y, cell, seq.seg_start, ch.s, ch.e, ch.c, *counts, gamma
            )
        return {"loglik": ll, "gamma": gamma, "y": seq.y, "seg_start": seq.seg_start}
