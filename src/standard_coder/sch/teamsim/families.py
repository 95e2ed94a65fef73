"""Schedule families: simulated developers whose working pattern is unlike the paper's.

Each family draws one author's schedule with some per-author variation (hours, days, commit
rate, offsets). The name only picks the generator; the fitted models never see it (it is kept
in ``truth.json``'s author table for reports).

Families:
    paper        9-17 weekdays (footnote 2), fixed offset.
    night_owl    evenings into the small hours (windows past midnight), often 6-7 days.
    weekend      Saturdays and Sundays (some Friday evenings too).
    split_shift  an early morning window and a late evening one on weekdays.
    multi_tz     authors travelling between offsets for weeks; some commit with a UTC clock.
    dst          office hours in a zone with daylight saving (EU or US rule).
    part_time    two or three days a week, half days, now and then a day off.
    bursty_oss   an occasional evening or weekend session: few commits, long silences.
    holidays     office hours with public holidays, vacation weeks and sick days.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from standard_coder.sch.teamsim.schedule import AuthorSpec, ScheduleSpec

__all__ = ["FAMILIES", "dst_changes", "family_author"]

FAMILIES = (
    "paper",
    "night_owl",
    "weekend",
    "split_shift",
    "multi_tz",
    "dst",
    "part_time",
    "bursty_oss",
    "holidays",
)
_WIDE_OFFSETS = (-480, -300, -180, 0, 60, 120, 330, 480, 540, 600)


def _last_sunday(year: int, month: int) -> dt.date:
    d = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return d - dt.timedelta(days=(d.weekday() + 1) % 7)


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    d = dt.date(year, month, 1)
    return d + dt.timedelta(days=(6 - d.weekday()) % 7 + 7 * (n - 1))


def dst_changes(
    rule: str, standard_offset: int, start: dt.date, weeks: int
) -> tuple[tuple[dt.date, int], ...]:
    """Offset changes of a daylight-saving ``rule`` ("eu" or "us") over the simulated dates.

    The change takes effect on the local day of the switch (a Sunday); the offset on the start
    date itself is included as the first entry.
    """
    end = start + dt.timedelta(weeks=weeks)
    changes: list[tuple[dt.date, int]] = []
    for year in range(start.year - 1, end.year + 1):
        if rule == "eu":
            on, off = _last_sunday(year, 3), _last_sunday(year, 10)
        elif rule == "us":
            on, off = _nth_sunday(year, 3, 2), _nth_sunday(year, 11, 1)
        else:
            raise ValueError(f"unknown daylight-saving rule {rule!r}, expected 'eu' or 'us'")
        changes += [(on, standard_offset + 60), (off, standard_offset)]
    changes.sort()
    first = standard_offset
    for date, offset in changes:
        if date <= start:
            first = offset
    return ((start, first), *((d, o) for d, o in changes if start < d < end))


def _week_dates(start: dt.date, weeks: int, rng: np.random.Generator, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 7 * weeks, size=n)]


def family_author(
    family: str,
    *,
    name: str,
    email: str,
    tz_offset_min: int,
    start: dt.date,
    weeks: int,
    rng: np.random.Generator,
    alias_emails: tuple[str, ...] = (),
) -> AuthorSpec:
    """One author of ``family`` (see the module doc), varied by ``rng``."""
    u = rng.uniform
    common: dict[str, object] = {"name": name, "email": email, "alias_emails": alias_emails}
    if family == "paper":
        return AuthorSpec(**common, tz_offset_min=tz_offset_min, family=family)  # type: ignore[arg-type]
    commit_prob = float(u(0.025, 0.06))
    coding_a, coding_b = float(u(20, 60)), float(u(20, 60))
    sched = ScheduleSpec(
        commit_prob=commit_prob,
        coding_mean_morning=coding_a,
        coding_mean_afternoon=coding_b,
        break_mean=float(u(15, 45)),
    )
    tz = tz_offset_min
    extra: dict[str, object] = {}
    if family == "night_owl":
        s0 = float(u(19.0, 22.5))
        length = float(u(4.0, 7.0))
        days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6) if rng.random() < 0.5 else (0, 1, 2, 3, 4, 6)
        sched = _with(sched, windows=((s0, s0 + length),), noon_hour=s0 + length / 2, weekdays=days)
        sched = _with(sched, jitter_hours=0.75, day_prob=0.85)
    elif family == "weekend":
        days = (5, 6) if rng.random() < 0.6 else (4, 5, 6)
        s0 = float(u(9.0, 14.0))
        sched = _with(
            sched, windows=((s0, s0 + float(u(5.0, 9.0))),), noon_hour=s0 + 3, weekdays=days
        )
        sched = _with(sched, jitter_hours=1.0, day_prob=0.9)
    elif family == "split_shift":
        m0, e0 = float(u(6.5, 9.0)), float(u(18.0, 20.5))
        sched = _with(
            sched,
            windows=((m0, m0 + float(u(2.5, 4.0))), (e0, e0 + float(u(2.5, 4.0)))),
            noon_hour=14.0,
            jitter_hours=0.5,
        )
    elif family == "multi_tz":
        tz = int(rng.choice(_WIDE_OFFSETS))
        changes: list[tuple[dt.date, int]] = []
        week = int(rng.integers(2, 7))
        while week < weeks:
            away = int(rng.choice([o for o in _WIDE_OFFSETS if o != tz]))
            stay = int(rng.integers(1, 4))
            changes.append((start + dt.timedelta(weeks=week), away))
            changes.append((start + dt.timedelta(weeks=week + stay), tz))
            week += stay + int(rng.integers(3, 9))
        extra["tz_changes"] = tuple(changes)
        if rng.random() < 0.5:
            extra["recorded_tz_offset_min"] = 0  # commits carry a UTC machine clock
        sched = _with(sched, jitter_hours=0.75, start_hour=float(u(8, 10.5)))
        sched = _with(sched, end_hour=sched.start_hour + float(u(7, 9)))
    elif family == "dst":
        rule, std = (("eu", 60), ("eu", 0), ("us", -300), ("us", -480))[int(rng.integers(0, 4))]
        tz = std
        extra["tz_changes"] = dst_changes(rule, std, start, weeks)
        sched = _with(sched, jitter_hours=0.5)
    elif family == "part_time":
        n_days = int(rng.integers(2, 4))
        days = tuple(sorted(int(d) for d in rng.choice(5, size=n_days, replace=False)))
        s0 = float(u(8.0, 9.5)) if rng.random() < 0.5 else float(u(13.0, 14.5))
        sched = _with(
            sched,
            windows=((s0, s0 + float(u(3.5, 5.0))),),
            noon_hour=s0 + 2,
            weekdays=days,
            jitter_hours=0.5,
            day_prob=0.85,
        )
    elif family == "bursty_oss":
        s0 = float(u(18.0, 21.0))
        sched = _with(
            sched,
            windows=((s0, s0 + float(u(2.0, 4.0))),),
            noon_hour=s0 + 1,
            weekdays=(0, 1, 2, 3, 4, 5, 6),
            jitter_hours=2.0,
            day_prob=float(u(0.04, 0.12)),
        )
    elif family == "holidays":
        public = [dt.date(y, m, d) for y in (start.year, start.year + 1) for m, d in _PUBLIC]
        vacation: list[dt.date] = []
        for first in _week_dates(start, weeks, rng, max(1, weeks // 20)):
            length = int(rng.integers(5, 22))
            vacation += [first + dt.timedelta(days=k) for k in range(length)]
        extra["holidays"] = tuple(sorted(set(public + vacation)))
        sched = _with(sched, jitter_hours=0.5, day_prob=0.93)
    else:
        raise ValueError(f"unknown schedule family {family!r}, expected one of {list(FAMILIES)}")
    return AuthorSpec(
        **common,  # type: ignore[arg-type]
        tz_offset_min=tz,
        schedule=sched,
        family=family,
        **extra,  # type: ignore[arg-type]
    )


_PUBLIC = ((1, 1), (5, 1), (12, 24), (12, 25), (12, 26), (12, 31), (4, 1), (8, 15))


def _with(sched: ScheduleSpec, **kw: object) -> ScheduleSpec:
    from dataclasses import replace

    return replace(sched, **kw)  # type: ignore[arg-type]
