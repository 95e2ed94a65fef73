"""The forecast JSON dict (keys documented in docs/forecasting.md) and Rich tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from standard_coder.forecasting.effort import SCH_EXPLAINED
from standard_coder.forecasting.inputs import Ticket
from standard_coder.forecasting.montecarlo import SimulationResult

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

SCHEMA_VERSION = 1


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def _day_date(day: int | None, days: Sequence[date]) -> str | None:
    if day is None or day == 0:
        return None
    return days[day - 1].isoformat()


def ticket_day_quantiles(sim: SimulationResult, q: float) -> list[int | None]:
    """Per ticket: smallest working day ``k`` by which the ticket is done in a share ``q`` of
    the simulations (0 = nothing left; None = not even by the end of the simulated horizon)."""
    return sim.ticket_day_quantile(q)


def summarize(sim: SimulationResult, days: Sequence[date]) -> dict[str, Any]:
    """Headline numbers of one simulation: probability, completion days, completed effort.

    ``days`` are the dates of the simulated working days (sprint, then after its end).
    """
    p50 = sim.completion_day_quantile(0.50)
    p85 = sim.completion_day_quantile(0.85)
    return {
        "p_complete_by_end": _r(sim.p_complete_by_end()),
        "completion_day_p50": p50,
        "completion_day_p85": p85,
        "completion_date_p50": _day_date(p50, days),
        "completion_date_p85": _day_date(p85, days),
        "expected_completed_sch": _r(float(sim.completed_sch().mean()), 3),
        "expected_remaining_sch": _r(float(sim.total_effort.mean()), 3),
    }


def build_forecast_report(
    *,
    sprint_id: str,
    start_date: date,
    end_date: date,
    days: Sequence[date],
    capacity: Sequence[float],
    sim: SimulationResult,
    tickets: Sequence[Ticket],
    effort_sources: Sequence[str],
    throughput_method: str,
    history_rates: Sequence[float],
    seed: int,
    scenarios: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The forecast as a JSON-ready dict (``forecasts/<sprint_id>_forecast.json``)."""
    dist = sim.completion_day_distribution()
    q15, q50, q85 = sim.remaining_percentiles([15, 50, 85])
    total = sim.total_effort
    probs = sim.ticket_probabilities()
    means = sim.efforts.mean(axis=0)
    t50, t85 = ticket_day_quantiles(sim, 0.50), ticket_day_quantiles(sim, 0.85)
    head = summarize(sim, days)
    p15, p50, p85 = sim.total_percentiles([15, 50, 85])
    return {
        "schema_version": SCHEMA_VERSION,
        "sprint_id": sprint_id,
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "working_days": [d.isoformat() for d in days[: sim.n_days]],
        "n_working_days": sim.n_days,
        "days_after_end": [d.isoformat() for d in days[sim.n_days :]],
        # the last simulated day: past it a completion day is null ("later than <this>")
        "horizon_end": days[-1].isoformat() if days else None,
        "capacity_hours_per_day": [_r(c, 3) for c in capacity],
        "n_sims": sim.n_sims,
        "seed": seed,
        "throughput": {
            "method": throughput_method,
            "history_sprints": len(history_rates),
            "history_sch_per_day": [_r(r, 3) for r in history_rates],
        },
        **head,
        "remaining_sch": {
            "mean": _r(total.mean(), 3),
            "p15": _r(p15, 3),
            "p50": _r(p50, 3),
            "p85": _r(p85, 3),
        },
        "completion_day_distribution": {
            "day": list(range(sim.horizon + 1)),
            "probability": [_r(p) for p in dist[: sim.horizon + 1]],
            "p_after_end": _r(1.0 - sim.p_complete_by_end()),
            "p_after_horizon": _r(dist[-1]),
        },
        "remaining_by_day": {
            "day": list(range(sim.horizon + 1)),
            "p15": [_r(x, 3) for x in q15],
            "p50": [_r(x, 3) for x in q50],
            "p85": [_r(x, 3) for x in q85],
        },
        "tickets": [
            {
                "id": t.id,
                "title": t.title,
                "status": t.status,
                "work_order": i + 1,
                "effort_source": src,
                "remaining_fraction": t.remaining,
                "mean_remaining_sch": _r(means[i], 3),
                "p_complete": _r(probs[i]),
                # when the ticket is done (0: nothing left of it; None for a done ticket, or
                # past the horizon)
                "completion_day_p50": None if t.status == "done" else t50[i],
                "completion_day_p85": None if t.status == "done" else t85[i],
                "completion_date_p50": _day_date(t50[i], days),
                "completion_date_p85": _day_date(t85[i], days),
            }
            for i, (t, src) in enumerate(zip(tickets, effort_sources, strict=True))
        ],
        "scenarios": list(scenarios),
    }


def _when(day: int | None, date_iso: str | None, n_days: int, *, done: bool = False) -> str:
    """A completion day as a date, marked when it falls after the sprint's end."""
    if done:
        return "done"
    if day == 0:
        return "nothing left"
    if day is None or date_iso is None:
        return "later" if day is None else "-"
    return date_iso if day <= n_days else f"{date_iso} (late)"


class _ForecastTable(Table):
    """The forecast table; on a console under :data:`NARROW` columns its ``P(done by end)``
    header takes two lines, so the titles' column gets the characters it saved (up to 7; on 80
    columns a title took 15 and a ticket 4 to 7 lines)."""

    NARROW = 110

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        column = self.columns[1]
        kept = column.max_width
        if options.max_width < self.NARROW:
            column.max_width = len("by end)")  # "100.0%" fits too
        try:
            yield from super().__rich_console__(console, options)
        finally:
            column.max_width = kept


def forecast_table(report: dict[str, Any]) -> Table:
    """Rich table: baseline and scenarios, then every ticket (full title, wrapped) with its
    chance of being done by the end and the dates it is done by with 50 % and 85 % confidence."""
    n_days = report["n_working_days"]
    table = _ForecastTable(
        title=(
            f"Sprint {report['sprint_id']} forecast: {report['start_date']} to "
            f"{report['end_date']} ({n_days} working days, {report['n_sims']:,} simulations)"
        ),
        caption_justify="left",
    )
    table.add_column("case / ticket (work order)", ratio=1, overflow="fold", no_wrap=False)
    table.add_column("P(done by end)", justify="right", no_wrap=False)  # header wraps
    table.add_column("P50 done by", justify="right", no_wrap=True)
    table.add_column("P85 done by", justify="right", no_wrap=True)
    points = (report.get("effort_unit") or {}).get("unit") == "story_points"
    key, unit = ("story_points", "story points") if points else ("sch", "SCH hours")
    table.add_column(unit, justify="right", no_wrap=True)
    rows = [{"name": "baseline", **report}, *report["scenarios"]]
    shown: list[str] = []  # the dates' cells: the legend explains only the marks they use
    for row in rows:
        p50 = _when(row["completion_day_p50"], row["completion_date_p50"], n_days)
        p85 = _when(row["completion_day_p85"], row["completion_date_p85"], n_days)
        shown += [p50, p85]
        table.add_row(
            escape(str(row["name"])),
            f"{row['p_complete_by_end']:.1%}",
            p50,
            p85,
            # the SCH expected done by the sprint's end, not done now (tickets say "... left"):
            # two short lines, so the column stays as narrow as the tickets' cells
            f"{row[f'expected_completed_{key}']:.1f} expected\nby the end",
        )
    table.add_section()
    for t in report["tickets"]:
        done = t["status"] == "done"
        fraction = t.get("remaining_fraction", 1.0)
        status = t["status"] if done or fraction == 1.0 else f"{t['status']}, {fraction:.0%} left"
        if not done:
            status += f"; effort from {t['effort_source'].replace('_', ' ')}"
        name = f"{t['work_order']}. {t['id']} {t['title']}".rstrip()
        p50 = _when(t.get("completion_day_p50"), t.get("completion_date_p50"), n_days, done=done)
        p85 = _when(t.get("completion_day_p85"), t.get("completion_date_p85"), n_days, done=done)
        shown += [p50, p85]
        table.add_row(
            escape(f"{name} [{status}]"),
            f"{t['p_complete']:.1%}",
            p50,
            p85,
            f"{t[f'mean_remaining_{key}']:.1f} left",
        )
    table.caption = _caption(report, late=any(c.endswith("(late)") for c in shown),
                             later="later" in shown)  # fmt: skip
    return table


def _caption(report: dict[str, Any], *, late: bool = True, later: bool = True) -> str:
    lines = [SCH_EXPLAINED]
    unit = report.get("effort_unit")
    if unit:
        if unit["story_points_ratio_source"] == "learned":
            n = unit["story_points_ratio_sprints"]
            origin = f"learned from {n} past sprint{'s' if n != 1 else ''}"
        else:
            origin = "configured: past sprints give no committed_story_points"
        if unit.get("unit") == "story_points":
            lines.append(
                f"Effort in story points: SCH hours converted back at 1 point = "
                f"{unit['story_points_to_sch']:.2f} h ({origin}); "
                '[forecasting] unit = "sch_hours" states SCH hours.'
            )
        else:
            lines.append(
                f"Story points are converted to SCH hours: 1 point = "
                f"{unit['story_points_to_sch']:.2f} h ({origin})."
            )
    if unit and unit.get("ticket_effort") == "delivery":
        lines.append(
            "Tickets with a diff or commit ids are priced by delivery effort: the predicted "
            "open->merge hours of their changes as one pull request (multitask model)."
        )
    marks = []
    if late:
        marks.append("'(late)': after the sprint's last day")
    if later:
        horizon = len(report["working_days"]) + len(report["days_after_end"])
        marks.append(f"'later': not even within {horizon} working days")
    if marks:
        lines.append("; ".join(marks) + ".")
    return escape("\n".join(lines))


def backtest_table(result: dict[str, Any]) -> Table:
    """Rich table: one row per throughput method, the configured one marked."""
    table = Table(
        title=f"Forecast backtest ({result['n_forecasts']} sprints, rolling origin)",
        caption="* the configured throughput method",
        caption_justify="left",
    )
    for col in ("method", "Brier", "Brier (base rate)", "skill", "P85 coverage"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, m in result["methods"].items():
        mark = " *" if name == result["method"] else ""
        skill = "n/a" if m["brier_skill"] is None else f"{m['brier_skill']:+.3f}"
        table.add_row(
            name + mark,
            f"{m['brier']:.4f}",
            f"{m['brier_reference']:.4f}",
            skill,
            f"{m['p85_coverage']:.2f}",
        )
    return table


BACKTEST_TERMS: tuple[tuple[str, str], ...] = (
    (
        "Brier",
        "mean squared gap between the forecast chance of finishing and what happened "
        "(1 finished, 0 not): 0 is perfect, 0.25 is a coin flip; lower is better.",
    ),
    (
        "Brier (base rate)",
        "the same score for always quoting the share of earlier sprints that finished.",
    ),
    (
        "skill",
        "1 - Brier / base-rate Brier: above 0 the forecast beats quoting the team's past "
        "finish rate, below 0 it does worse.",
    ),
    (
        "P85 coverage",
        "share of past sprints done on or before the forecast P85 day; near 0.85 the P85 "
        "dates can be trusted, lower means the forecast was too optimistic.",
    ),
)
"""What the backtest's scores mean, in words (console, docs and HTML report)."""


def backtest_explanation(result: dict[str, Any]) -> list[str]:
    """Plain-language lines under the backtest table: each score, then the verdict."""
    lines = [f"{name}: {text}" for name, text in BACKTEST_TERMS]
    chosen = result["methods"].get(result["method"], {})
    skill = chosen.get("brier_skill")
    if skill is not None:
        verdict = "beats" if skill > 0 else "does not beat"
        lines.append(
            f"The configured method ({result['method']}) {verdict} the base rate "
            f"(skill {skill:+.2f}); its P85 dates covered {chosen['p85_coverage']:.0%} of "
            f"{chosen['n_forecasts']} past sprints."
        )
    if "method_choice" in result:
        lines.append(str(result["method_choice"]).capitalize() + ".")
    return lines
