"""Every check the forecast stage makes on its inputs, in one function used by the stage and by
``forecast-check`` (so the command passes exactly what the stage accepts).

Errors raise :class:`~standard_coder.forecasting.inputs.ForecastInputError` (one message naming
the file and the JSON path). Weak evidence is not an error but a warning that also *widens* the
forecast: with fewer past sprints than ``backtest_min_history``, or a past sprint that finished
far more than it committed (``done_sch`` several times ``committed_sch``: a unit mix-up or a
scope that grew mid-sprint), the learned throughput is uncertain, and a forecast that ignores
that says P(complete) = 0.998 on one data point.

Example:
    >>> check = check_forecast_inputs(sprint, history, options, sprint_source="sprint.json")
    >>> check.warnings, check.widen_sigma
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from standard_coder.forecasting.inputs import ForecastInputError, HistoricalOutcomes, SprintInputs
from standard_coder.forecasting.montecarlo import team_capacity
from standard_coder.forecasting.scenarios import apply_scenario

if TYPE_CHECKING:
    from standard_coder.forecasting.options import ForecastOptions

__all__ = [
    "DONE_OVER_COMMITTED",
    "WIDEN_SIGMA",
    "CommitLookup",
    "InputCheck",
    "check_forecast_inputs",
]

WIDEN_SIGMA = 0.35
"""Log-space spread of the extra per-simulation throughput factor when the history is weak
(about the sprint-to-sprint spread of team throughput: a 1-sigma swing of +-40 %)."""

DONE_OVER_COMMITTED = 2.0
"""A past sprint with ``done_sch`` above this multiple of ``committed_sch`` draws a warning."""

CommitLookup = Callable[[Collection[str]], Mapping[str, Any]]
"""ids -> {id: found commit} (absent ids were not found), e.g. ``store.commits_by_id``."""


@dataclass(frozen=True)
class InputCheck:
    """What the inputs passed with."""

    warnings: list[str] = field(default_factory=list)
    widen_sigma: float = 0.0
    """> 0: multiply each simulation's throughput by ``lognormal(0, widen_sigma)``."""
    commits_checked: bool = False
    """Commit ids were looked up in the mined history (False: no lookup was available)."""


def check_forecast_inputs(
    sprint: SprintInputs,
    history: HistoricalOutcomes,
    options: ForecastOptions,
    *,
    sprint_source: str = "sprint inputs",
    history_source: str = "historical outcomes",
    find_commits: CommitLookup | None = None,
    today: date | None = None,
) -> InputCheck:
    """Run every check of the forecast stage; raise on the first error, return the warnings.
    ``today``: the date the forecast is made on (None: not checked); a sprint under way is
    forecast from its start, which a warning says.

    Raises:
        ForecastInputError: no working day, no team capacity, a ticket whose effort is not a
            finite number of hours, or (with ``find_commits``) a commit id the mined history
            does not hold.
        ScenarioError: a scenario names an unknown member (or a joiner who is one already).
    """
    days = sprint.working_days()
    if not days:
        raise ForecastInputError(
            f"{sprint_source}: $.end_date: expected at least one working day between start_date "
            "and end_date (check working_weekdays and holidays)"
        )
    capacity = team_capacity(sprint.members, days)
    if sum(m.daily_capacity_hours for m in sprint.members) <= 0:
        raise ForecastInputError(
            f"{sprint_source}: $.members: expected at least one member with "
            "daily_capacity_hours > 0"
        )
    if float(capacity.sum()) <= 0:
        raise ForecastInputError(
            f"{sprint_source}: $.members: every member is off on every working day; expected "
            "some capacity in the sprint"
        )
    for i, t in enumerate(sprint.tickets):
        if t.story_points is None or t.status == "done":
            continue
        hours = t.story_points * options.story_points_to_sch * t.remaining
        if not math.isfinite(hours * options.n_sims):
            raise ForecastInputError(
                f"{sprint_source}: $.tickets[{i}].story_points: expected a finite effort "
                f"(got {t.story_points!r} points = {hours!r} hours)"
            )
    for i, t in enumerate(sprint.tickets):
        if t.diff and t.status != "done" and "@@" not in t.diff and "diff --git" not in t.diff:
            raise ForecastInputError(
                f"{sprint_source}: $.tickets[{i}].diff: not a unified diff (no 'diff --git' "
                "line or '@@' hunk); paste `git diff` output, or give story_points instead"
            )
    for spec in options.scenarios:
        apply_scenario(sprint.members, spec)  # raises ScenarioError naming the scenario
    if find_commits is not None:
        _check_commits(sprint, find_commits, sprint_source)
    if history.sprints and all(s.done_sch == 0 for s in history.sprints):
        raise ForecastInputError(
            f"{history_source}: $.sprints: every past sprint has done_sch 0: a team that "
            "finished nothing has no pace to forecast with; expected the SCH hours each sprint "
            "finished"
        )

    warnings: list[str] = []
    n = len(history.sprints)
    if n < options.backtest_min_history:
        warnings.append(
            f"{history_source}: only {n} past sprint{'s' if n != 1 else ''} (fewer than "
            f"backtest_min_history = {options.backtest_min_history}): the team's throughput is "
            "barely known, so the forecast is widened"
        )
    lopsided = [
        s.sprint_id
        for s in history.sprints
        if s.done_sch > DONE_OVER_COMMITTED * s.committed_sch and s.done_sch > 0
    ]
    if lopsided:
        warnings.append(
            f"{history_source}: done_sch is more than {DONE_OVER_COMMITTED:g}x committed_sch in "
            f"sprint{'s' if len(lopsided) > 1 else ''} {', '.join(lopsided)} (check the units, "
            "or scope added mid-sprint): the forecast is widened"
        )
    widen = bool(warnings)  # the notes below say what an input changes, not how sure it is
    notes = _sprint_notes(sprint, options, sprint_source, today)
    full = sum(m.daily_capacity_hours for m in sprint.members)
    paces = sorted(s.throughput for s in history.sprints)
    pace = paces[len(paces) // 2] if paces else 0.0  # the median past sprint's (upper)
    if 0 < full < pace:
        notes.append(
            f"{sprint_source}: $.members: the team's capacity ({full:g} h per working day) is "
            f"below its past pace ({pace:.2f} SCH h per working day, the median sprint of "
            f"{history_source}): every simulated day is capped at the capacity, so the "
            "forecast follows daily_capacity_hours, not the past pace. SCH hours are not clock "
            "hours (a change's SCH is at most 1 h): give each member the SCH hours they finish "
            "per day, or leave the capacity high enough not to bind"
        )
    notes += _story_point_scale_notes(sprint, history, options, sprint_source, history_source)
    last = max(history.sprints, key=lambda s: s.end_date, default=None)
    if last is not None and sprint.start_date <= last.end_date:
        # the data's own clock (a frozen example's dates are not "the past" of it)
        notes.insert(0, (
            f"{sprint_source}: the sprint starts on {sprint.start_date.isoformat()}, before "
            f"the last past sprint in {history_source} ({last.sprint_id}, "
            f"{last.start_date.isoformat()} to {last.end_date.isoformat()}) ended: a sprint to "
            "forecast follows the recorded ones (a wrong year or month?); to score forecasts "
            "of past sprints, run `standard-coder backtest`"
        ))  # fmt: skip
    return InputCheck(
        warnings=warnings + notes,
        widen_sigma=WIDEN_SIGMA if widen else 0.0,
        commits_checked=find_commits is not None,
    )


def under_way_note(sprint: SprintInputs, source: str, today: date) -> str | None:
    """What a forecast made ``today`` of a sprint under way does (it counts every working day
    from ``start_date``), or None when the sprint has not started or is over."""
    days = sprint.working_days()
    gone = sum(d < today for d in days)
    if not gone or today > sprint.end_date:
        return None
    return (
        f"{source}: the sprint started on {sprint.start_date.isoformat()} and today is "
        f"{today.isoformat()} ({gone} of its {len(days)} working days gone): the forecast "
        "counts every working day from start_date; for what is left, set start_date to "
        "today and each ticket's status or remaining_fraction to where it stands"
    )


def _sprint_notes(
    sprint: SprintInputs, options: ForecastOptions, source: str, today: date | None = None
) -> list[str]:
    """What a sprint file says that changes nothing or forecasts nothing (a likely slip), and
    a sprint under way ``today`` forecast from its start."""
    notes: list[str] = []
    days = sprint.working_days()
    if today is not None and (note := under_way_note(sprint, source, today)):
        notes.append(note)
    if not sprint.tickets:
        notes.append(
            f"{source}: $.tickets is empty: there is nothing to forecast, so the sprint is "
            "complete by definition (P = 1.0)"
        )
    horizon = sprint.working_days_after_end(len(days) * (options.horizon_factor - 1))
    last = horizon[-1] if horizon else sprint.end_date
    lists = [("$.holidays", sprint.holidays)] + [
        (f"$.members[{i}].days_off", m.days_off) for i, m in enumerate(sprint.members)
    ]
    for where, dates in lists:
        unused = sorted({d for d in dates if d < sprint.start_date or d > last})
        if unused:
            shown = ", ".join(d.isoformat() for d in unused[:3])
            more = f" and {len(unused) - 3} more" if len(unused) > 3 else ""
            notes.append(
                f"{source}: {where}: {shown}{more} outside the sprint "
                f"({sprint.start_date.isoformat()} to {sprint.end_date.isoformat()}) and the "
                "days simulated after it: they change nothing (a wrong year or month?)"
            )
    return notes


def _story_point_scale_notes(
    sprint: SprintInputs,
    history: HistoricalOutcomes,
    options: ForecastOptions,
    source: str,
    history_source: str,
) -> list[str]:
    """Story points at a configured hours-per-point under which one ticket is more than any
    past sprint finished (no past sprint gives the ratio). (A diff far larger than a commit is
    said by the pricing, which counts the files the model prices: ``sch_effort``.)"""
    from standard_coder.forecasting.effort import story_point_ratio

    notes: list[str] = []
    ratio = story_point_ratio(history.sprints, options.story_points_to_sch)
    most = max((s.done_sch for s in history.sprints), default=0.0)
    big = [t for t in sprint.tickets if t.status != "done" and not t.needs_model
           and (t.story_points or 0.0) * ratio.sch_per_point > most > 0]  # fmt: skip
    if ratio.source == "configured" and big:
        t = max(big, key=lambda t: t.story_points or 0.0)
        notes.append(
            f"{source}: ticket {t.id}'s {t.story_points:g} story points are "
            f"{(t.story_points or 0.0) * ratio.sch_per_point:.1f} SCH h at the configured "
            f"story_points_to_sch = {ratio.sch_per_point:g} (the past sprints in "
            f"{history_source} give no committed_story_points to learn it from), more than any "
            f"past sprint finished ({most:.1f} "
            "SCH h): set [forecasting] story_points_to_sch to your team's SCH hours per point, "
            "or give past sprints committed_story_points to learn it"
        )
    return notes


NOT_MINED_WHY = (
    "the forecast looks a ticket's commit up in the mined database, then in each configured "
    "repository ([repos], any branch, as `standard-coder estimate` reads it). Fix the id, add "
    "the repository that holds it to [repos] (or fetch the branch into it), or give the "
    "ticket the change as `diff` (`git show <id>`)"
)
"""Why a ticket's commit id is unknown to the forecast, and the ways out (docs/forecasting.md)."""


def _check_commits(sprint: SprintInputs, find: CommitLookup, source: str) -> None:
    wanted = {cid for t in sprint.tickets if t.status != "done" for cid in t.commit_ids}
    if not wanted:
        return
    try:
        found = find(wanted)
    except ValueError as exc:  # an abbreviated id that matches two commits, a merge commit
        listed = getattr(exc, "commit_id", None)  # named where the sprint file lists it
        where = next((f"$.tickets[{i}].commit_ids[{j}]: "
                      for i, t in enumerate(sprint.tickets) if t.status != "done"
                      for j, cid in enumerate(t.commit_ids) if cid == listed), "")  # fmt: skip
        raise ForecastInputError(f"{source}: {where}{exc}") from None
    unknown = [
        f"$.tickets[{i}].commit_ids[{j}]: {cid!r}"
        for i, t in enumerate(sprint.tickets)
        if t.status != "done"
        for j, cid in enumerate(t.commit_ids)
        if cid not in found
    ]
    if len(unknown) == 1:
        raise ForecastInputError(
            f"{source}: {unknown[0].replace(': ', ': commit ', 1)} is not in the mined history"
            " nor in a configured repository"
            f"; {NOT_MINED_WHY}"
        )
    if unknown:  # every one at once: one fix, one rerun
        raise ForecastInputError(
            f"{source}: {len(unknown)} commit ids are not in the mined history nor in a "
            "configured repository; "
            f"{NOT_MINED_WHY}:\n  " + "\n  ".join(unknown)
        )
