"""Minute-level coding process of one simulated developer (paper footnote 2 by default)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


@dataclass(frozen=True)
class ScheduleSpec:
    """Working pattern in the developer's local time.

    Coding and non-coding blocks alternate inside working hours; block lengths are exponential
    with the given means (minutes). A coding block starting before ``noon_hour`` uses the morning
    mean, otherwise the afternoon mean. While coding, each minute commits with ``commit_prob``.
    """

    start_hour: float = 9.0
    end_hour: float = 17.0
    noon_hour: float = 12.0
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Working days, Monday = 0."""
    coding_mean_morning: float = 50.0
    coding_mean_afternoon: float = 20.0
    break_mean: float = 30.0
    commit_prob: float = 0.04

    def mirrored(self) -> ScheduleSpec:
        """The same schedule with morning and afternoon coding means swapped (paper Fig. 4)."""
        return replace(
            self,
            coding_mean_morning=self.coding_mean_afternoon,
            coding_mean_afternoon=self.coding_mean_morning,
        )


@dataclass(frozen=True)
class AuthorSpec:
    """One simulated developer."""

    name: str
    email: str
    tz_offset_min: int = 0
    """Minutes east of UTC (fixed; no daylight saving)."""
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    switch_after_weeks: int | None = None
    """After this many weeks the author follows ``switch_to`` (default: the mirrored schedule)."""
    switch_to: ScheduleSpec | None = None
    holidays: tuple[dt.date, ...] = ()
    """Local dates without work (besides the team's)."""
    alias_emails: tuple[str, ...] = ()
    """Further emails this author sometimes commits with (mapped back by ``.mailmap``)."""

    def schedule_for_week(self, week: int) -> ScheduleSpec:
        if self.switch_after_weeks is not None and week >= self.switch_after_weeks:
            return self.switch_to if self.switch_to is not None else self.schedule.mirrored()
        return self.schedule


@dataclass(frozen=True)
class CodingTrace:
    """What one author did, on a grid of local minutes starting Monday 00:00 of the first week."""

    coding: np.ndarray
    """bool, one entry per local minute: coding or not."""
    commit_minutes: np.ndarray
    """int64 local minute of each commit, ascending (at most one commit per minute)."""
    commit_seconds: np.ndarray
    """int64 second within the commit minute (0-59)."""

    def coding_minutes_between(self) -> np.ndarray:
        """True coding minutes in ``(previous commit minute, commit minute]`` per commit.

        The first commit gets the coding minutes since the start of the simulation.
        """
        cum = np.cumsum(self.coding, dtype=np.int64)
        at = cum[self.commit_minutes]
        prev = np.concatenate([np.zeros(1, dtype=np.int64), at[:-1]])
        out: np.ndarray = at - prev
        return out


def simulate_coding(
    author: AuthorSpec,
    *,
    start: dt.date,
    weeks: int,
    holidays: frozenset[dt.date],
    rng: np.random.Generator,
) -> CodingTrace:
    """Draw the author's coding minutes and commit minutes for ``weeks`` weeks from ``start``."""
    n_days = 7 * weeks
    coding = np.zeros(n_days * MINUTES_PER_DAY, dtype=bool)
    own_holidays = holidays | frozenset(author.holidays)
    for day in range(n_days):
        date = start + dt.timedelta(days=day)
        sched = author.schedule_for_week(day // 7)
        if date.weekday() not in sched.weekdays or date in own_holidays:
            continue
        base = day * MINUTES_PER_DAY
        t = round(sched.start_hour * 60)
        end = round(sched.end_hour * 60)
        noon = sched.noon_hour * 60
        p_code = sched.coding_mean_morning / (sched.coding_mean_morning + sched.break_mean)
        is_coding = bool(rng.random() < p_code)
        while t < end:
            if is_coding:
                mean = sched.coding_mean_morning if t < noon else sched.coding_mean_afternoon
            else:
                mean = sched.break_mean
            length = max(1, int(np.ceil(rng.exponential(mean))))
            stop = min(end, t + length)
            if is_coding:
                coding[base + t : base + stop] = True
            t = stop
            is_coding = not is_coding
    # commit probability may differ between regimes: evaluate per week
    probs = np.empty(n_days * MINUTES_PER_DAY)
    for week in range(weeks):
        probs[week * MINUTES_PER_WEEK : (week + 1) * MINUTES_PER_WEEK] = author.schedule_for_week(
            week
        ).commit_prob
    draws = rng.random(coding.shape[0])
    commit_minutes = np.flatnonzero(coding & (draws < probs)).astype(np.int64)
    commit_seconds = rng.integers(0, 60, size=commit_minutes.shape[0]).astype(np.int64)
    return CodingTrace(coding=coding, commit_minutes=commit_minutes, commit_seconds=commit_seconds)
