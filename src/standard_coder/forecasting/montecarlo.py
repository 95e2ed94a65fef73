"""Vectorised Monte Carlo over a sprint: tickets worked in order against daily team throughput.

Every simulation ``s`` has remaining efforts ``E[s, i]`` (tickets in work order) and daily
throughput ``T[s, d]`` (SCH per working day). Day ``d``'s throughput is scaled by the share of
the team's full capacity present that day and capped by that day's capacity hours:
``min(T[s, d] * capacity[d] / base_capacity, capacity[d])``. Ticket ``i`` is complete on the
first day the cumulative throughput reaches the cumulative effort of tickets ``0..i`` (the team
works through the list in order, spilling leftover hours into the next ticket). Only the days
are looped over; simulations and tickets are numpy axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from standard_coder.forecasting.inputs import Member


def team_capacity(members: Sequence[Member], days: Sequence[date]) -> NDArray[np.float64]:
    """Capacity hours per working day: each member's daily hours unless they are off that day."""
    cap = np.zeros(len(days), dtype=np.float64)
    for m in members:
        off = set(m.days_off)
        cap += np.array([0.0 if d in off else m.daily_capacity_hours for d in days])
    return cap


@dataclass(frozen=True)
class SimulationResult:
    """Raw Monte Carlo outcome.

    Days are working days: 1 = the sprint's first, ``n_days`` = its last; the simulation may run
    on past the end up to ``horizon`` days, and ``horizon + 1`` means "not even by then".
    Derived arrays are computed on first use and cached.
    """

    efforts: NDArray[np.float64]
    """``(n_sims, n_tickets)`` remaining effort, SCH hours, tickets in work order."""
    cum_throughput: NDArray[np.float64]
    """``(n_sims, horizon)`` effort the team can have finished by the end of each day."""
    n_days: int
    """Working days in the sprint (the simulation's horizon may be longer)."""

    @property
    def n_sims(self) -> int:
        return int(self.efforts.shape[0])

    @property
    def horizon(self) -> int:
        """Simulated working days (sprint plus the days after its end)."""
        return int(self.cum_throughput.shape[1])

    @cached_property
    def _need(self) -> NDArray[np.float64]:
        # Cumulative effort in work order, less a hair so that a ticket exactly used up on a day
        # counts as done that day despite rounding in the sums.
        cum = np.cumsum(self.efforts, axis=1)
        return cum - 1e-9 * np.maximum(1.0, cum)

    @cached_property
    def total_effort(self) -> NDArray[np.float64]:
        """``(n_sims,)`` remaining effort of the whole scope."""
        return np.asarray(self.efforts.sum(axis=1), dtype=np.float64)

    @cached_property
    def _outcomes(self) -> _TicketOutcomes:
        """Completion day, done-by-end flag and their per-ticket counts, for every ticket and
        simulation; big forecasts compute them in one compiled pass (same comparisons)."""
        if self.efforts.size * self.horizon > COMPILED_ABOVE:
            return _ticket_outcomes_compiled(self.efforts, self.cum_throughput, self.n_days)
        need = self._need
        days = _days_until(self.cum_throughput, need)
        ticket_day = np.where(self.efforts > 0, days, 0).astype(np.int32)
        by_end = self.cum_throughput[:, self.n_days - 1 : self.n_days]
        done = np.asarray((self.efforts <= 0) | (need <= by_end), dtype=np.bool_)
        n_tickets = self.efforts.shape[1]
        flat = (ticket_day + np.arange(n_tickets) * (self.horizon + 2)).ravel()
        day_count = np.bincount(flat, minlength=n_tickets * (self.horizon + 2))
        return _TicketOutcomes(
            ticket_day=ticket_day,
            last_day=days[:, -1] if n_tickets else np.zeros(self.n_sims, dtype=np.int32),
            done_by_end=done,
            done_count=done.sum(axis=0),
            day_count=day_count.reshape(n_tickets, self.horizon + 2),
        )

    @cached_property
    def sprint_day(self) -> NDArray[np.int32]:
        """``(n_sims,)`` day the whole scope completes (0 = nothing left)."""
        if self.efforts.shape[1] == 0:
            return np.zeros(self.n_sims, dtype=np.int32)
        days = self._outcomes.last_day
        return np.where(self.total_effort > 0, days, 0).astype(np.int32)

    @property
    def ticket_day(self) -> NDArray[np.int32]:
        """``(n_sims, n_tickets)`` day each ticket completes (0 = nothing left; horizon + 1 =
        later). A ticket completes when the cumulative throughput reaches the cumulative effort
        of it and every ticket before it."""
        return self._outcomes.ticket_day

    @property
    def ticket_done_by_end(self) -> NDArray[np.bool_]:
        """``(n_sims, n_tickets)`` whether each ticket is done by the sprint's last day."""
        return self._outcomes.done_by_end

    def ticket_day_counts(self) -> NDArray[np.int64]:
        """``(n_tickets, horizon + 2)``: how many simulations finish each ticket on day ``k``
        (column 0 = nothing left, ``horizon + 1`` = later)."""
        return self._outcomes.day_count

    def ticket_day_quantile(self, q: float) -> list[int | None]:
        """Per ticket: smallest day ``k`` by which the ticket is done in a share ``q`` of the
        simulations (``np.quantile(..., method="inverted_cdf")`` of the completion days, read
        off the per-ticket day counts); None when past the horizon."""
        # numpy's inverted_cdf picks the sorted value at index ceil(n * q - 1), at least 0.
        v = self.n_sims * q - 1
        index = max(math.floor(v) + (v != math.floor(v)), 0)
        cum = np.cumsum(self.ticket_day_counts(), axis=1)
        days = (cum <= index).sum(axis=1)
        return [int(k) if k <= self.horizon else None for k in days]

    def p_complete_by_end(self) -> float:
        """Probability that every ticket is done by the sprint's last working day."""
        return float(np.mean(self.sprint_day <= self.n_days))

    def ticket_probabilities(self) -> NDArray[np.float64]:
        """``(n_tickets,)`` probability each ticket is done by the end of the sprint."""
        return np.asarray(self._outcomes.done_count / self.n_sims, dtype=np.float64)

    def completed_sch(self) -> NDArray[np.float64]:
        """``(n_sims,)`` effort of the tickets fully completed by the end of the sprint."""
        return self._completed_sch

    @cached_property
    def _completed_sch(self) -> NDArray[np.float64]:
        # (efforts * done).sum(axis=1), in blocks of rows (no 40 MB temporary at 100k x 50)
        out = np.empty(self.n_sims, dtype=np.float64)
        done = self.ticket_done_by_end
        step = max(1, 65_536 // max(1, self.efforts.shape[1]))
        for i in range(0, self.n_sims, step):
            np.sum(self.efforts[i : i + step] * done[i : i + step], axis=1, out=out[i : i + step])
        return out

    def completion_day_distribution(self) -> NDArray[np.float64]:
        """Probabilities of completing on day ``0..horizon`` and, last, after the horizon."""
        counts = np.bincount(self.sprint_day, minlength=self.horizon + 2)
        return np.asarray(counts / self.n_sims, dtype=np.float64)

    def completion_day_quantile(self, q: float) -> int | None:
        """Smallest day ``k`` with P(completion day <= k) >= q; None when past the horizon."""
        cdf = np.cumsum(self.completion_day_distribution())
        k = int(np.searchsorted(cdf, q - 1e-12))
        return k if k <= self.horizon else None

    def remaining_by_day(self) -> NDArray[np.float64]:
        """``(n_sims, horizon + 1)`` effort still open at the start (col 0) and end of each day."""
        return self._remaining_by_day_t().T

    def _remaining_by_day_t(self) -> NDArray[np.float64]:
        total = self.total_effort
        left = np.empty((self.horizon + 1, self.n_sims), dtype=np.float64)
        if self._compiled:
            from standard_coder.forecasting._kernels import remaining_by_day_t

            remaining_by_day_t(total, np.ascontiguousarray(self.cum_throughput), left)
            return left
        left[0] = total
        np.subtract(total, self.cum_throughput.T, out=left[1:])
        np.maximum(left[1:], 0.0, out=left[1:])
        return left

    def remaining_percentiles(self, qs: Sequence[float]) -> NDArray[np.float64]:
        """``(len(qs), horizon + 1)``: ``np.percentile(remaining_by_day(), qs, axis=0)``."""
        return percentiles(self._remaining_by_day_t(), qs, compiled=self._compiled)

    def total_percentiles(self, qs: Sequence[float]) -> NDArray[np.float64]:
        """``(len(qs),)``: ``np.percentile(total_effort, qs)``."""
        return percentiles(self.total_effort[None, :], qs, compiled=self._compiled)[:, 0]

    @property
    def _compiled(self) -> bool:
        return self.efforts.size * self.horizon > COMPILED_ABOVE


@dataclass(frozen=True)
class _TicketOutcomes:
    ticket_day: NDArray[np.int32]
    last_day: NDArray[np.int32]
    done_by_end: NDArray[np.bool_]
    done_count: NDArray[np.int64]
    day_count: NDArray[np.int64]


def _ticket_outcomes_compiled(
    efforts: NDArray[np.float64], cum_tp: NDArray[np.float64], n_days: int
) -> _TicketOutcomes:
    from standard_coder.forecasting._kernels import ticket_days

    n_sims, n_tickets = efforts.shape
    out = _TicketOutcomes(
        ticket_day=np.empty((n_sims, n_tickets), dtype=np.int32),
        last_day=np.zeros(n_sims, dtype=np.int32),
        done_by_end=np.empty((n_sims, n_tickets), dtype=np.bool_),
        done_count=np.zeros(n_tickets, dtype=np.int64),
        day_count=np.zeros((n_tickets, cum_tp.shape[1] + 2), dtype=np.int64),
    )
    ticket_days(
        np.ascontiguousarray(efforts, dtype=np.float64),
        np.ascontiguousarray(cum_tp, dtype=np.float64),
        n_days,
        out.ticket_day,
        out.last_day,
        out.done_by_end,
        out.done_count,
        out.day_count,
    )
    return out


def percentiles(
    rows: NDArray[np.float64], qs: Sequence[float], *, compiled: bool = True
) -> NDArray[np.float64]:
    """``(len(qs), n_rows)``: ``np.percentile(rows, qs, axis=1)`` (its default linear method),
    bit for bit. Compiled, the order statistics come from :func:`_kernels.order_statistics`
    (no sort; rows with a NaN or an infinity go to numpy) and the interpolation is numpy's own
    arithmetic (``numpy.lib._function_base_impl._lerp``)."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    n = rows.shape[1]
    if not compiled or n == 0 or not np.isfinite(rows).all():
        return np.asarray(np.percentile(rows, qs, axis=1), dtype=np.float64)
    from standard_coder.forecasting._kernels import order_statistics

    virtual = (n - 1) * np.true_divide(np.asarray(qs, dtype=np.float64), 100)
    prev = np.floor(virtual)
    gamma = virtual - prev
    lo = np.minimum(prev, n - 1).astype(np.intp)
    hi = np.minimum(prev + 1, n - 1).astype(np.intp)
    lo[virtual >= n - 1] = n - 1
    ranks = np.unique(np.concatenate([lo, hi]))
    stats = np.empty((rows.shape[0], ranks.size), dtype=np.float64)
    order_statistics(rows, ranks.astype(np.int64), stats)
    a = stats[:, np.searchsorted(ranks, lo)].T
    b = stats[:, np.searchsorted(ranks, hi)].T
    t = gamma[:, None]
    diff_b_a = b - a
    out: NDArray[np.float64] = np.add(a, diff_b_a * t)
    np.subtract(b, diff_b_a * (1 - t), out=out, where=t >= 0.5)
    return out


#: Above this many (simulation, ticket, day) comparisons the compiled kernel runs (importing
#: numba and loading its cached machine code costs about 0.3 s, more than small forecasts take).
COMPILED_ABOVE = 20_000_000


def _days_until(cum_tp: NDArray[np.float64], need: NDArray[np.float64]) -> NDArray[np.int32]:
    """1 + the number of days whose cumulative throughput is still short of ``need``: the day
    it is reached (``horizon + 1`` when never). The only loop is over the days; big forecasts
    run a compiled kernel with the same comparisons (:func:`_days_until_compiled`)."""
    if need.size * cum_tp.shape[1] > COMPILED_ABOVE and need.ndim == 2:
        return _days_until_compiled(cum_tp, need)
    count = np.zeros(need.shape, dtype=np.int32)
    short = np.empty(need.shape, dtype=np.bool_)
    for d in range(cum_tp.shape[1]):
        np.less(cum_tp[:, d : d + 1], need, out=short)
        count += short
    count += 1
    return count


def _days_until_compiled(
    cum_tp: NDArray[np.float64], need: NDArray[np.float64]
) -> NDArray[np.int32]:
    """:func:`_days_until` in numba: per simulation, a non-decreasing cumulative throughput
    (throughput >= 0, no NaN) is scanned only up to the first day that reaches ``need``; any
    other row counts every day, exactly as the numpy loop does."""
    from standard_coder.forecasting._kernels import days_until

    out = np.empty(need.shape, dtype=np.int32)
    days_until(
        np.ascontiguousarray(cum_tp, dtype=np.float64),
        np.ascontiguousarray(need, dtype=np.float64),
        out,
    )
    return out


def simulate(
    efforts: NDArray[np.floating],
    throughput: NDArray[np.floating],
    capacity: NDArray[np.floating] | None = None,
    *,
    base_capacity: float | None = None,
    sprint_days: int | None = None,
) -> SimulationResult:
    """Run the sprint for every simulation at once.

    Args:
        efforts: ``(n_sims, n_tickets)`` remaining effort (SCH) per ticket, in work order.
        throughput: ``(n_sims, horizon)`` team throughput per working day (SCH) at full
            strength; the horizon may run past the sprint's end.
        capacity: ``(horizon,)`` capacity hours per day (None = unlimited, factor 1).
        base_capacity: the full team's daily hours; throughput is scaled by
            ``capacity / base_capacity`` (None = no scaling, capacity is only a cap).
        sprint_days: working days in the sprint (default: the whole horizon).

    Returns:
        The efforts and cumulative throughput; completion days are derived from them lazily.
    """
    eff = np.asarray(efforts, dtype=np.float64)
    tp = np.asarray(throughput, dtype=np.float64)
    if eff.ndim != 2 or tp.ndim != 2 or eff.shape[0] != tp.shape[0]:
        raise ValueError(
            f"efforts {eff.shape} and throughput {tp.shape} must be 2-D with equal simulations"
        )
    n_days = tp.shape[1]
    sprint_days = n_days if sprint_days is None else sprint_days
    if not 1 <= sprint_days <= n_days:
        raise ValueError(f"sprint_days must be in 1..{n_days}, got {sprint_days}")
    if capacity is not None:
        cap = np.asarray(capacity, dtype=np.float64)
        if cap.shape != (n_days,):
            raise ValueError(f"capacity must have shape ({n_days},), got {cap.shape}")
        if base_capacity is not None and base_capacity <= 0:
            raise ValueError("base_capacity must be > 0")
        if tp.size > COMPILED_ABOVE // 50:  # one compiled pass, the same operations
            from standard_coder.forecasting._kernels import capped_cumsum

            share = None if base_capacity is None else cap / base_capacity
            cum = np.empty(tp.shape, dtype=np.float64)
            capped_cumsum(tp, cap if share is None else share, share is not None, cap, cum)
            return SimulationResult(efforts=eff, cum_throughput=cum, n_days=sprint_days)
        if base_capacity is not None:
            tp = tp * (cap / base_capacity)
        tp = np.minimum(tp, cap)
    return SimulationResult(efforts=eff, cum_throughput=np.cumsum(tp, axis=1), n_days=sprint_days)
