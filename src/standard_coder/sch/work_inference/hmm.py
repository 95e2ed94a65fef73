"""The paper's neural HMM (Wright & Ziegler 2019, §III-A) at 1-minute resolution.

Two hidden states per minute (coding / not coding). A commit is emitted only while coding, with
a learned per-minute probability ``c``. The start and stop probabilities ``S(t), E(t)`` come from
a small tanh network of the local day and week clock angles and the normalised overall time.

Training is maximum likelihood with exact gradients by Fisher's identity: each epoch runs a
scaled forward-backward pass (numba) at the current parameters, giving the expected transition
counts per input cell; the network takes one Adam step on the surrogate
``Q = sum xi log A`` (whose gradient equals that of the log-likelihood there), and ``c`` gets its
closed-form EM update ``sum gamma y / sum gamma``.

The network is evaluated on a grid: every minute of the week (10,080 local minutes) times
``time_bins`` slices of the normalised overall time (bin centres as the 5th input). A minute's
``S, E`` are those of its cell, so autograd runs over the grid only, never over minutes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, cast

import numpy as np

from standard_coder.sch.work_inference.base import (
    FIRST,
    LONG_GAP,
    PreparedTimes,
    WorkInferenceModel,
    check_random_state,
    prepare_times,
)
from standard_coder.sch.work_inference.ffbs import forward_backward, interval_ffbs

__all__ = ["NeuralHMM", "cells_for_minutes", "week_minute"]

WEEK = 10080
_THURSDAY = 3 * 1440  # unix minute 0 is Thursday 00:00 UTC; Monday = week minute 0


def week_minute(abs_minutes: np.ndarray, tz_offsets: np.ndarray) -> np.ndarray:
    """Local minute of the week (Monday 00:00 = 0) of absolute unix minutes."""
    out: np.ndarray = (abs_minutes + tz_offsets + _THURSDAY) % WEEK
    return out


def cells_for_minutes(
    abs_minutes: np.ndarray, tz_offsets: np.ndarray, u0: float, span: float, time_bins: int
) -> np.ndarray:
    """Grid cell (week minute x overall-time bin) of each absolute minute."""
    u = (abs_minutes - u0) / span
    b = np.clip(np.floor(u * time_bins), 0, time_bins - 1).astype(np.int64)
    out: np.ndarray = (week_minute(abs_minutes, tz_offsets) * time_bins + b).astype(np.int32)
    return out


@dataclass
class _Sequence:
    y: np.ndarray
    cell: np.ndarray
    seg_start: np.ndarray


class FitStopped(Exception):
    """A fit ended early because ``should_stop()`` turned true."""


class NeuralHMM(WorkInferenceModel):
    """Neural HMM work inference (one author, or several pooled through ``groups``).

    Parameters:
        epochs: Fisher-identity gradient steps (each one forward-backward pass).
        learning_rate: Adam learning rate of the S/E network.
        hidden: width of the two tanh hidden layers.
        time_bins: slices of normalised overall time on which the network is evaluated.
        history_days: only the most recent days of each group are fitted.
        split_inactive_days: gaps longer than this split the history; no minutes are
            simulated across them and such intervals get the fallback window.
        squash_minutes: commits closer than this form one emission.
        fallback_window_minutes: minutes before a commit after a long gap (or an author's
            first commit) that may hold coding; the window starts in "not coding".
        n_samples: default samples per interval for ``interval_distribution``.
        n_threads: torch threads while fitting.
        inner_steps: Adam steps on the surrogate per forward-backward pass (1 = plain
            gradient ascent on the log-likelihood; more = generalised EM).
        tol: stop early when the mean log-likelihood per minute improves by less than this
            over 20 epochs (0 disables).
        random_state: seed of the network initialisation and the FFBS samples.

    Attributes:
        c_: learned commit probability per coding minute.
        s_table_, e_table_: start/stop probability per grid cell (``10080 * time_bins``).
        loglik_history_: log-likelihood before each epoch's step.
        net_state_: the network weights as numpy arrays.
        n_minutes_: minutes in the fitted sequence.
        epochs_run_: epochs actually run.
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
        init_commit_prob: float = 0.1,
        warmup_epochs: int = 50,
        tol: float = 0.0,
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
        self.warmup_epochs = warmup_epochs
        self.tol = tol
        self.random_state = random_state

    # ------------------------------------------------------------------ data
    def _build(self, prep: PreparedTimes) -> tuple[_Sequence, dict[int, tuple[float, float]]]:
        """The fitted minute sequence (segments of all groups) and each group's time axis."""
        minutes = prep.times // 60
        split = self.split_inactive_days * 1440
        ys: list[np.ndarray] = []
        cells: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        axes: dict[int, tuple[float, float]] = {}
        for g in np.unique(prep.groups):
            idx = np.flatnonzero(prep.groups == g)
            t_last = prep.times[idx[-1]]
            idx = idx[prep.times[idx] >= t_last - self.history_days * 86400]
            m, tz, secs = minutes[idx], prep.tz[idx], prep.times[idx]
            # squash: a commit closer than squash_minutes to the next joins the next one
            keep = np.ones(idx.shape[0], dtype=bool)
            keep[:-1] = (secs[1:] - secs[:-1]) >= self.squash_minutes * 60
            m, tz = m[keep], tz[keep]
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
        if not ys:
            empty = np.zeros(0, dtype=np.uint8)
            return _Sequence(empty, np.zeros(0, np.int32), np.zeros(0, np.bool_)), axes
        return (
            _Sequence(np.concatenate(ys), np.concatenate(cells), np.concatenate(starts)),
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
        import torch

        if self.epochs < 0 or self.time_bins < 1 or self.hidden < 1:
            raise ValueError("epochs >= 0, time_bins >= 1 and hidden >= 1 are required")
        t_start = time.perf_counter()
        prep = prepare_times(
            commit_times, tz_offsets, groups, long_gap_minutes=self.split_inactive_days * 1440
        )
        if prep.times.shape[0] == 0:
            raise ValueError("no commits to fit")
        seq, axes = self._build(prep)
        rng = check_random_state(self.random_state)
        torch_seed = int(rng.integers(2**31))
        self._sample_seed = int(rng.integers(2**62))

        old_threads = torch.get_num_threads()
        torch.set_num_threads(max(1, self.n_threads))
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(torch_seed)
                net = _make_net(self.hidden)
            grid = torch.from_numpy(_grid_features(self.time_bins))
            opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
            n_cells = WEEK * self.time_bins
            counts = [np.zeros(n_cells) for _ in range(4)]
            gamma = np.zeros(seq.y.shape[0])
            c = self.init_commit_prob
            history: list[float] = []
            n_trans = max(1, int(seq.y.shape[0] - seq.seg_start.sum()))
            epochs_run = 0
            for epoch in range(self.epochs):
                if should_stop is not None and should_stop():
                    raise FitStopped(f"stopped at epoch {epoch} of {self.epochs}")
                logits = net(grid)
                s_tab, e_tab = _tables(logits.detach())
                ll, sgy, sg = forward_backward(  # type: ignore[call-arg]
                    seq.y, seq.cell, seq.seg_start, s_tab, e_tab, c, *counts, gamma
                )
                history.append(float(ll))
                n_cc, n_cn, n_nc, n_nn = (torch.from_numpy(a / n_trans).float() for a in counts)
                fs = torch.nn.functional.logsigmoid
                frac = epoch / max(1, self.epochs - 1)
                for group in opt.param_groups:  # cosine decay to a tenth of the rate
                    group["lr"] = self.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))
                for step in range(max(1, self.inner_steps)):
                    if step:
                        logits = net(grid)
                    ls, le = logits[:, 0], logits[:, 1]
                    q = (n_cc * fs(-le) + n_cn * fs(le) + n_nc * fs(ls) + n_nn * fs(-ls)).sum()
                    opt.zero_grad()
                    (-q).backward()
                    opt.step()
                if sg > 0 and epoch >= min(self.warmup_epochs, self.epochs // 2):
                    c = float(min(max(sgy / sg, 1e-4), 0.5))
                epochs_run = epoch + 1
                if self.tol > 0 and epoch >= 20:
                    gain = (history[-1] - history[-21]) / n_trans
                    if gain < self.tol:
                        break
            with torch.no_grad():
                s_tab, e_tab = _tables(net(grid))
            self.net_state_ = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
        finally:
            torch.set_num_threads(old_threads)

        self.c_ = c
        self.s_table_ = s_tab
        self.e_table_ = e_tab
        self.loglik_history_ = np.asarray(history)
        self.n_minutes_ = int(seq.y.shape[0])
        self.epochs_run_ = epochs_run
        self.time_axes_ = axes
        self._prep = prep
        cells, offsets, p_start = self._interval_cells(prep, axes)
        self._cells, self._offsets, self._p_start = cells, offsets, p_start
        expected = _run_intervals(cells, offsets, p_start, s_tab, e_tab, c, 0, 0)[0]
        n = prep.times.shape[0]
        self.expected_minutes_ = np.empty(n)
        self.expected_minutes_[prep.order] = expected
        self.interval_minutes_ = np.empty(n)
        self.interval_minutes_[prep.order] = prep.interval_minutes
        self.interval_kind_ = np.empty(n, dtype=np.int8)
        self.interval_kind_[prep.order] = prep.kind
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
        _, samples = _run_intervals(
            self._cells,
            self._offsets,
            self._p_start,
            self.s_table_,
            self.e_table_,
            self.c_,
            n_samples,
            base,
        )
        out = np.empty_like(samples)
        out[self._prep.order] = samples
        return out

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
            interval_ffbs(  # type: ignore[call-arg]
                self._cells[a:b],
                self.s_table_,
                self.e_table_,
                self.c_,
                self._p_start[j],
                n,
                seeds[j],
                out,
            )
        return out

    def coding_probability(
        self, abs_minutes: np.ndarray, tz_offsets: np.ndarray, group: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Learned ``(S, E)`` at absolute unix minutes in the given local offsets."""
        self._check_fitted()
        u0, span = self.time_axes_[group]
        cells = cells_for_minutes(
            np.asarray(abs_minutes, np.int64),
            np.asarray(tz_offsets, np.int64),
            u0,
            span,
            self.time_bins,
        )
        return self.s_table_[cells], self.e_table_[cells]

    def posterior(self, commit_times: np.ndarray, tz_offsets: np.ndarray) -> dict[str, Any]:
        """Forward-backward at the fitted parameters over one author's fitted sequence."""
        self._check_fitted()
        prep = prepare_times(
            commit_times, tz_offsets, None, long_gap_minutes=self.split_inactive_days * 1440
        )
        seq, _ = self._build(prep)
        counts = [np.zeros(self.s_table_.shape[0]) for _ in range(4)]
        gamma = np.zeros(seq.y.shape[0])
        ll, _, _ = forward_backward(  # type: ignore[call-arg]
            seq.y, seq.cell, seq.seg_start, self.s_table_, self.e_table_, self.c_, *counts, gamma
        )
        return {"loglik": ll, "gamma": gamma, "y": seq.y, "seg_start": seq.seg_start}


def _make_net(hidden: int) -> Any:
    import torch

    net = torch.nn.Sequential(
        torch.nn.Linear(5, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, 2),
    )
    with torch.no_grad():
        last = cast(torch.nn.Linear, net[4])
        last.weight.mul_(0.1)
        last.bias.copy_(torch.tensor([math.log(1 / 60), math.log(1 / 30)]))
    return net


def _grid_features(time_bins: int) -> np.ndarray:
    w = np.repeat(np.arange(WEEK, dtype=np.float64), time_bins)
    b = np.tile(np.arange(time_bins, dtype=np.float64), WEEK)
    day = 2 * np.pi * (w % 1440) / 1440
    week = 2 * np.pi * w / WEEK
    u = 2 * (b + 0.5) / time_bins - 1
    feats = np.stack([np.sin(day), np.cos(day), np.sin(week), np.cos(week), u], axis=1)
    return feats.astype(np.float32)


def _tables(logits: Any) -> tuple[np.ndarray, np.ndarray]:
    import torch

    p = torch.sigmoid(logits).double().numpy()
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1])


def _run_intervals(
    cells: np.ndarray,
    offsets: np.ndarray,
    p_start: np.ndarray,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    c: float,
    n_samples: int,
    base_seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    n = offsets.shape[0] - 1
    expected = np.zeros(n)
    samples = np.zeros((n, n_samples))
    seeds = np.random.SeedSequence(base_seed).generate_state(max(n, 1), dtype=np.uint64)
    row = np.zeros(n_samples)
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        if b == a:
            continue  # same minute as the previous commit: zero coding minutes
        expected[i] = interval_ffbs(  # type: ignore[call-arg]
            cells[a:b], s_tab, e_tab, c, p_start[i], n_samples, seeds[i], row
        )
        samples[i] = row
    return expected, samples
