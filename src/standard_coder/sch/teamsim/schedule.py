"""Minute-level coding process of one simulated developer (paper footnote 2 by default).

Beyond the paper's 9-17 weekday schedule a ``ScheduleSpec`` can hold several working windows a
day (split shifts, windows past midnight for night owls), any working days, a probability of
working on a working day (part-time, occasional contributors) and a daily jitter of the windows;
an ``AuthorSpec`` can change its UTC offset on given dates (travel, daylight saving) and record a
different offset in its commits than the one it lives in (a machine clock set to UTC).
"""

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
    windows: tuple[tuple[float, float], ...] = ()
    """Working windows in local hours ``(start, end)``, ``end`` up to 48 (past midnight: the
    window goes on into the next day); empty means ``((start_hour, end_hour),)``."""
    day_prob: float = 1.0
    """Probability of working on a working day (part-time, occasional contributors)."""
    jitter_hours: float = 0.0
    """Each working day's windows shift by a uniform draw in +-jitter_hours."""

    def day_windows(self) -> tuple[tuple[float, float], ...]:
        return self.windows or ((self.start_hour, self.end_hour),)

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
    """Minutes east of UTC where the author lives (changed on dates by ``tz_changes``)."""
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    switch_after_weeks: int | None = None
    """After this many weeks the author follows ``switch_to`` (default: the mirrored schedule)."""
    switch_to: ScheduleSpec | None = None
    holidays: tuple[dt.date, ...] = ()
    """Local dates without work (besides the team's)."""
    alias_emails: tuple[str, ...] = ()
    """Further emails this author sometimes commits with (mapped back by ``.mailmap``)."""
    tz_changes: tuple[tuple[dt.date, int], ...] = ()
    """``(local date, offset)``: from that date on the author lives at that offset (travel,
    daylight saving), until the next change."""
    recorded_tz_offset_min: int | None = None
    """Offset written into the author's commits when it differs from where they live (a
    machine clock set to UTC, say); ``None``: the offset they live at."""
    family: str = "paper"
    """Name of the schedule family that made this author (for reports; models never see it)."""

    def schedule_for_week(self, week: int) -> ScheduleSpec:
        if self.switch_after_weeks is not None and week >= self.switch_after_weeks:
            return self.switch_to if self.switch_to is not None else self.schedule.mirrored()
        return self.schedule

    def offsets_by_day(self, start: dt.date, n_days: int) -> np.ndarray:
        """Minutes east of UTC the author lives at on each simulated local day."""
        out = np.full(n_days, self.tz_offset_min, dtype=np.int64)
        for date, offset in sorted(self.tz_changes):
            first = (date - start).days
            if first < n_days:
                out[max(0, first) :] = offset
        return out


@dataclass(frozen=True)
class CodingTrace:
    """What one author did, on a grid of local minutes starting Monday 00:00 of the first week.

    With a fixed offset a local minute ``m`` is UTC minute ``m - offset`` after the start date's
    UTC midnight; ``day_offsets`` holds the offset of every local day (travel, daylight saving).
    """

    coding: np.ndarray
    """bool, one entry per local minute: coding or not."""
    commit_minutes: np.ndarray
    """int64 local minute of each commit, in time order (at most one commit per UTC minute)."""
    commit_seconds: np.ndarray
    """int64 second within the commit minute (0-59)."""
    day_offsets: np.ndarray | None = None
    """int64 minutes east of UTC per local day (``None``: 0 every day)."""

    def _utc(self, local_minutes: np.ndarray) -> np.ndarray:
        if self.day_offsets is None:
            return local_minutes
        out: np.ndarray = local_minutes - self.day_offsets[local_minutes // 1440]
        return out

    def commit_utc_minutes(self) -> np.ndarray:
        """Minutes of each commit since the start date's midnight in UTC."""
        return self._utc(self.commit_minutes)

    def commit_offsets(self) -> np.ndarray:
        """Minutes east of UTC the author lived at for each commit."""
        if self.day_offsets is None:
            return np.zeros(self.commit_minutes.shape[0], dtype=np.int64)
        out: np.ndarray = self.day_offsets[self.commit_minutes // 1440]
        return out

    def coding_minutes_between(self) -> np.ndarray:
        """True coding minutes in ``(previous commit, commit]`` per commit, in absolute time.

        The first commit gets the coding minutes since the start of the simulation.
        """
        coding_utc = np.sort(self._utc(np.flatnonzero(self.coding)))
        at = np.searchsorted(coding_utc, self._utc(self.commit_minutes), side="right")
        prev = np.concatenate([np.zeros(1, dtype=np.int64), at[:-1]])
        out: np.ndarray = (at - prev).astype(np.int64)
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
    # one spare day: windows past midnight run into the day after the last one (then dropped)
    coding = np.zeros((n_days + 1) * MINUTES_PER_DAY, dtype=bool)
    own_holidays = holidays | frozenset(author.holidays)
    for day in range(n_days):
        date = start + dt.timedelta(days=day)
        sched = author.schedule_for_week(day // 7)
        if date.weekday() not in sched.weekdays or date in own_holidays:
            continue
        if sched.day_prob < 1.0 and rng.random() >= sched.day_prob:
            continue
        shift = rng.uniform(-1.0, 1.0) * sched.jitter_hours if sched.jitter_hours > 0 else 0.0
        base = day * MINUTES_PER_DAY
        noon = (sched.noon_hour + shift) * 60
        p_code = sched.coding_mean_morning / (sched.coding_mean_morning + sched.break_mean)
        for w_start, w_end in sched.day_windows():
            t = max(0, round((w_start + shift) * 60))
            end = min(2 * MINUTES_PER_DAY, round((w_end + shift) * 60))
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
    coding = coding[: n_days * MINUTES_PER_DAY]
    # commit probability may differ between regimes: evaluate per week
    probs = np.empty(n_days * MINUTES_PER_DAY)
    for week in range(weeks):
        probs[week * MINUTES_PER_WEEK : (week + 1) * MINUTES_PER_WEEK] = author.schedule_for_week(
            week
        ).commit_prob
    draws = rng.random(coding.shape[0])
    commit_minutes = np.flatnonzero(coding & (draws < probs)).astype(np.int64)
    commit_seconds = rng.integers(0, 60, size=commit_minutes.shape[0]).astype(np.int64)
    offsets = author.offsets_by_day(start, n_days)
    if np.any(offsets != offsets[0]):
        # offsets change: order commits in absolute time, one commit per absolute minute
        utc = commit_minutes - offsets[commit_minutes // MINUTES_PER_DAY]
        order = np.argsort(utc, kind="stable")
        keep = np.ones(order.shape[0], dtype=bool)
        keep[1:] = np.diff(utc[order]) > 0
        commit_minutes, commit_seconds = commit_minutes[order][keep], commit_seconds[order][keep]
    return CodingTrace(
        coding=coding,
        commit_minutes=commit_minutes,
        commit_seconds=commit_seconds,
        day_offsets=offsets,
    )
