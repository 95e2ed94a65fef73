"""The neural HMM's training loop: restarts, one EM and gradient step per epoch, the chosen run.

:class:`~standard_coder.sch.work_inference.hmm.NeuralHMM` builds the minute sequence
(:class:`MinuteSequence`) and hands it here with its settings (:class:`TrainSettings`, the
model's own parameters of the same names). Each epoch runs a scaled forward-backward pass
(``ffbs``, or ``ffbs4`` with the break state, and the opening phase or not) at the
current parameters; the network takes ``inner_steps`` Adam steps on the surrogate
``Q = sum xi log A``, whose gradient equals the log-likelihood's there (Fisher's identity), and
``c``, the break-return rate ``r``, the clock-free break rate and the opening phase's rate
``q`` get their closed-form EM updates after the warm-up. Several runs start from different
``c`` (the likelihood is nearly flat in ``c``, so the start sets the scale); 25 epochs past
the warm-up only the one with the highest log-likelihood goes on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from standard_coder.sch.work_inference.break_rate import break_rates, cell_hours
from standard_coder.sch.work_inference.chain import OFF_CELL, cell_tables
from standard_coder.sch.work_inference.clock import WEEK, grid_features
from standard_coder.sch.work_inference.days_off import off_days
from standard_coder.sch.work_inference.ffbs import fit_pass
from standard_coder.sch.work_inference.ffbs4 import fit_pass4, phase_args
from standard_coder.sch.work_inference.network import (
    Adam,
    GridNet,
    probabilities,
    surrogate_grad,
)

__all__ = ["FitStopped", "MinuteSequence", "TrainSettings", "Trained", "days_off_of", "train"]


class FitStopped(Exception):
    """A fit ended early because ``should_stop()`` turned true."""


@dataclass
class MinuteSequence:
    """Every fitted minute of every group's history, segment after segment."""

    y: np.ndarray
    cell: np.ndarray
    seg_start: np.ndarray
    day: np.ndarray
    """Index of each minute's author-day into ``day_keys``."""
    day_keys: np.ndarray
    """Sorted ``group * DAY_KEY + day number`` of every author-day the sequence touches."""
    day_weekday: np.ndarray
    day_empty: np.ndarray


def days_off_of(
    seq: MinuteSequence,
    s_tab: np.ndarray,
    e_tab: np.ndarray,
    c: float,
    b_tab: np.ndarray | None = None,
    r: float = 0.0,
    q: float | None = None,
) -> np.ndarray:
    """Empty author-days read as days off (:mod:`days_off`), bool per day key."""
    days = (seq.day_keys, seq.day_weekday, seq.day_empty)
    return off_days(seq.cell, seq.day, *days, (s_tab, e_tab, c, b_tab, r, q))


@dataclass(frozen=True)
class TrainSettings:
    """The model parameters the loop reads (``NeuralHMM``'s of the same names)."""

    epochs: int
    learning_rate: float
    hidden: int
    time_bins: int
    inner_steps: int
    init_commit_prob: float
    commit_prob_prior_minutes: float
    warmup_epochs: int
    restarts: int
    tol: float
    break_state: bool
    break_by_clock: bool
    break_by_hour: bool
    break_hour_prior_minutes: float
    init_break_prob: float
    init_return_prob: float
    max_break_prob: float
    start_phase: bool
    init_phase_rate: float

    @classmethod
    def of(cls, model: Any) -> TrainSettings:
        """The settings of ``model`` (any object with these attributes)."""
        return cls(**{f.name: getattr(model, f.name) for f in dataclasses.fields(cls)})


@dataclass
class Trained:
    """What a fit keeps of its chosen run."""

    net_state: dict[str, np.ndarray]
    c: float
    r: float
    s_tab: np.ndarray
    e_tab: np.ndarray
    b_tab: np.ndarray | None
    off: np.ndarray
    history: list[float]
    epochs_run: int
    q: float | None
    """The opening phase's rate with ``start_phase``, else None."""


@dataclass
class _Run:
    """One training run (a restart): network, optimiser, c, days off, log-likelihoods."""

    net: GridNet
    opt: Adam
    c: float
    off: np.ndarray
    fit_cell: np.ndarray
    history: list[float]
    r: float
    b_cells: np.ndarray
    """The clock-free break probability per grid cell (the break state without
    ``break_by_clock``): the hour's with ``break_by_hour``, else the week's everywhere."""
    q: float | None
    """The rate at which a session's opening phase ends (``start_phase``), else None."""


class _Loop:
    """The buffers of one fit and its per-run step."""

    def __init__(self, s: TrainSettings, seq: MinuteSequence, net_seed: int) -> None:
        self.s, self.seq, self.net_seed = s, seq, net_seed
        self.grid = grid_features(s.time_bins)
        self.n_cells = n_cells = WEEK * s.time_bins
        self.three = three = s.break_state
        self.four = three and s.start_phase  # a session opens with a phase that cannot end
        self.net_breaks = three and s.break_by_clock  # b is the network's third output
        by_hour = three and not self.net_breaks and s.break_by_hour  # b per hour of the day
        self.hours = cell_hours(n_cells, s.time_bins) if by_hour else None
        n = seq.y.shape[0]
        self.counts = np.zeros((n_cells + 1, 6 if three else 4))
        self.work = np.empty((n, 4 if three else 2))
        self.rescale_at = np.empty(n, dtype=np.int64)  # pages touched: a few
        self.rescale_inv = np.empty(n)
        self.se = np.empty((n_cells + 1, 3 if three else 2))
        self.probs = np.empty((n_cells, 3 if self.net_breaks else 2))
        self.se[n_cells] = OFF_CELL[: self.se.shape[1]]
        self.no_gamma = np.empty(0)  # the fit passes keep no per-minute posteriors
        self.n_trans = max(1, int(n - seq.seg_start.sum()))
        self.warm = min(s.warmup_epochs, s.epochs // 2)

    def new_run(self, c0: float) -> _Run:
        s, three = self.s, self.three
        b0 = s.init_break_prob if self.net_breaks else None
        net = GridNet(self.grid, s.hidden, self.net_seed, b0, s.max_break_prob)
        no_off = np.zeros(self.seq.day_keys.shape[0], dtype=bool)
        r0 = s.init_return_prob if three else 0.0
        b_one = min(s.init_break_prob, s.max_break_prob) if three else 0.0
        q0 = s.init_phase_rate if self.four else None
        return _Run(net, Adam(net.params, s.learning_rate), c0, no_off, self.seq.cell, [], r0,
                    np.full(self.n_cells, b_one), q0)  # fmt: skip

    def tables(self, run: _Run) -> None:
        """``probs`` and ``se`` from the network (and the clock-free ``b``)."""
        probabilities(run.net.forward(), self.probs, self.se, self.s.max_break_prob)
        if self.three and not self.net_breaks:
            self.se[: self.n_cells, 2] = run.b_cells

    def step(self, run: _Run, epoch: int) -> None:
        s, seq, se, n_cells = self.s, self.seq, self.se, self.n_cells
        self.tables(run)
        if epoch >= self.warm and (epoch - self.warm) % 25 == 0:
            b_tab = se[:n_cells, 2] if self.three else None
            tabs = (se[:n_cells, 0], se[:n_cells, 1])
            run.off = days_off_of(seq, *tabs, run.c, b_tab, run.r, run.q)
            run.fit_cell = np.where(run.off[seq.day], n_cells, seq.cell).astype(np.int32)
        buffers = (self.counts, self.work, self.rescale_at, self.rescale_inv, self.no_gamma, False)
        if self.three:
            q, phase = phase_args(run.q)
            ll, sgy, sg, n_bc, n_bb, n_wc, n_ww = fit_pass4(  # type: ignore[call-arg]
                seq.y, run.fit_cell, seq.seg_start, se, run.c, run.r, q, phase, *buffers
            )
            if run.q is not None and epoch >= self.warm:  # EM update of the phase's rate
                run.q = float(min(max(n_wc / max(n_wc + n_ww, 1e-300), 1e-3), 1.0))
            if epoch >= self.warm:  # EM updates of the rate at which breaks end (and start)
                run.r = float(min(max(n_bc / max(n_bc + n_bb, 1e-300), 1e-4), 0.9))
                if not self.net_breaks:  # the off cell's fixed b left out
                    run.b_cells = break_rates(
                        self.counts[:n_cells, 5], self.counts[:n_cells, 4], self.hours,
                        s.break_hour_prior_minutes, s.max_break_prob,
                    )  # fmt: skip
        else:
            ll, sgy, sg = fit_pass(  # type: ignore[call-arg]
                seq.y, run.fit_cell, seq.seg_start, se, run.c, *buffers
            )
        run.history.append(float(ll))
        frac = epoch / max(1, s.epochs - 1)
        # cosine decay to a tenth of the rate
        run.opt.lr = s.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))
        for k in range(max(1, s.inner_steps)):
            if k:
                self.tables(run)
            grad = surrogate_grad(self.probs, self.counts, 1.0 / self.n_trans, s.max_break_prob)
            run.opt.step(run.net.backward(grad))
        if sg > 0 and epoch >= self.warm:  # EM update of c (MAP under the Beta prior)
            prior = max(0.0, s.commit_prob_prior_minutes)
            c_map = (sgy + s.init_commit_prob * prior) / (sg + prior)
            run.c = float(min(max(c_map, 1e-4), 0.5))


def train(
    s: TrainSettings,
    seq: MinuteSequence,
    net_seed: int,
    should_stop: Callable[[], bool] | None = None,
) -> Trained:
    """Fit ``seq`` from ``restarts`` starting values of ``c``; the best run's tables.

    ``should_stop`` is polled once per epoch; when it turns true, :class:`FitStopped` is
    raised. The caller limits BLAS threads.
    """
    loop = _Loop(s, seq, net_seed)
    runs = [loop.new_run(s.init_commit_prob * 2.5**k) for k in range(max(1, s.restarts))]
    choose_at = min(s.epochs, loop.warm + 25)
    stop_from = max(21, (3 * s.epochs) // 4)  # the convergence stop's first epoch
    epochs_run = 0
    for epoch in range(s.epochs):
        if should_stop is not None and should_stop():
            raise FitStopped(f"stopped at epoch {epoch} of {s.epochs}")
        if len(runs) > 1 and epoch == choose_at:
            runs = [max(runs, key=lambda r: r.history[-1])]
        for run in runs:
            loop.step(run, epoch)
        epochs_run = epoch + 1
        history = runs[0].history
        if len(runs) == 1 and s.tol > 0 and epoch + 1 >= stop_from:
            gain = (history[-1] - history[-21]) / max(abs(history[-1]), 1e-300)
            if gain < s.tol:
                break
    best = max(runs, key=lambda r: r.history[-1] if r.history else 0.0)
    cells_p = cell_tables(best.net.forward(), s.max_break_prob)
    s_tab, e_tab = cells_p[0], cells_p[1]
    b_tab = None
    if loop.three:
        b_tab = cells_p[2] if loop.net_breaks else best.b_cells
    off = best.off
    if s.epochs > 0:
        off = days_off_of(seq, s_tab, e_tab, best.c, b_tab, best.r, best.q)
    return Trained(best.net.state(), best.c, best.r, s_tab, e_tab, b_tab, off, best.history,
                   epochs_run, best.q)  # fmt: skip
