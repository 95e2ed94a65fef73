"""The fitted coding chain as the interval kernels read it (two states, three with breaks, four
with a session's opening phase), and the per-cell probability tables the network's logits
give."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from standard_coder.sch.work_inference.ffbs import interval_ffbs, last_bouts
from standard_coder.sch.work_inference.ffbs4 import interval_ffbs4, last_bouts4, phase_args
from standard_coder.sch.work_inference.network import probabilities

__all__ = ["OFF_CELL", "FittedChain", "cell_tables", "run_intervals"]

OFF_CELL = (1e-9, 0.5, 0.02)
"""``(S, E, b)`` of the "day off" cell: nothing starts, coding ends soon."""


def cell_tables(logits: np.ndarray, break_max: float = 1.0) -> list[np.ndarray]:
    """Per grid cell, each output's probability (float64, clipped away from 0 and 1): start,
    stop and, with the break state, break (``break_max`` times its sigmoid)."""
    n_cells, n_out = logits.shape
    probs, tables = np.empty((n_cells, n_out)), np.empty((n_cells, n_out))
    probabilities(logits, probs, tables, break_max)  # the fit's own tables, kernel and all
    return [np.ascontiguousarray(tables[:, j]) for j in range(n_out)]


@dataclass(frozen=True)
class FittedChain:
    """Per-cell tables with the "day off" cell appended (index ``len(table) - 1``), ``c`` and,
    for the three-state chain, the break table ``b`` and the return rate ``r``; for the
    four-state one (``start_phase``), also the opening phase's rate ``q``."""

    s: np.ndarray
    e: np.ndarray
    b: np.ndarray | None
    c: float
    r: float
    q: float | None = None

    @classmethod
    def of(
        cls,
        s: np.ndarray,
        e: np.ndarray,
        b: np.ndarray | None,
        c: float,
        r: float,
        q: float | None = None,
    ) -> FittedChain:
        """From the grid's tables (the off cell is appended here)."""
        s_off, e_off, b_off = OFF_CELL
        b_ext = None if b is None else np.append(b, b_off)
        return cls(np.append(s, s_off), np.append(e, e_off), b_ext, c, r, q)

    @property
    def phase(self) -> tuple[float, bool]:
        """``(q, phase)`` as the break-state kernels read them."""
        return phase_args(self.q)

    def interval(
        self, cells: np.ndarray, p_start: float, n_samples: int, seed: np.uint64, out: np.ndarray
    ) -> float:
        """Expected coding minutes of one interval; ``n_samples`` FFBS draws into ``out``."""
        if self.b is not None:
            a4 = (cells, self.s, self.e, self.b, self.c, self.r, *self.phase, p_start)
            return float(interval_ffbs4(*a4, n_samples, seed, out))  # type: ignore[call-arg]
        args = (cells, self.s, self.e, self.c, p_start, n_samples, seed, out)
        return float(interval_ffbs(*args))  # type: ignore[call-arg]

    def last_bouts(self, cells: np.ndarray, offsets: np.ndarray, p_start: np.ndarray) -> np.ndarray:
        """Per interval, the expected minutes of the coding run that ends with its commit."""
        if self.b is not None:
            a4 = (cells, offsets, p_start, self.s, self.e, self.b, self.c, self.r, *self.phase)
            return np.asarray(last_bouts4(*a4))  # type: ignore[call-arg]
        return np.asarray(last_bouts(cells, offsets, p_start, self.s, self.e, self.c))  # type: ignore[call-arg]


def run_intervals(
    cells: np.ndarray,
    offsets: np.ndarray,
    p_start: np.ndarray,
    chain: FittedChain,
    n_samples: int,
    base_seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected coding minutes and ``n_samples`` FFBS draws of every interval (``offsets``
    delimit their cells), each interval seeded from ``base_seed`` and its index."""
    n = offsets.shape[0] - 1
    expected = np.zeros(n)
    samples = np.zeros((n, n_samples))
    seeds = np.random.SeedSequence(base_seed).generate_state(max(n, 1), dtype=np.uint64)
    row = np.zeros(n_samples)
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        if b == a:
            continue  # same minute as the previous commit: zero coding minutes
        expected[i] = chain.interval(cells[a:b], p_start[i], n_samples, seeds[i], row)
        samples[i] = row
    return expected, samples
