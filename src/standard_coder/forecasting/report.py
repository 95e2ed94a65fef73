"""The forecast JSON dict (keys documented in docs/forecasting.md) and Rich tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len, set_cell_size
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from standard_coder.forecasting.inputs import Ticket
from standard_coder.forecasting.montecarlo import SimulationResult
from standard_coder.runner.figtable import FigureTable
from standard_coder.sch.words import SCH_EXPLAINED, paired_range_words

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


def forecast_table(report: dict[str, Any]) -> Table:
    """Rich table: baseline and scenarios, then every ticket, a line each where its title fits,
    with its chance of being done by the end, the dates it is done by with 50 % and 85 %
    confidence and the effort left; the ticket's note as marks on that effort (:data:`MARKS`:
    ``10.0 left*`` from story points, ``0.2 left (60%)`` the share of a started ticket still to
    do), explained once under the table. Titles are whole (wrapped where long) on a console
    :data:`_ForecastTable.NARROW` columns wide or more, as off a terminal (120); on a narrower
    one a ticket keeps one line and a long title is cut with ``…``, or, narrower still, takes
    two (:func:`compact_table`). A number or a date is never cut."""
    return _ForecastTable(report)


class _ForecastTable(Table):
    """The forecast table: whole titles; under :data:`NARROW` columns drawn as
    :func:`compact_table` (on 80 columns a ticket took 3 to 5 lines, its note
    ``[todo; effort from story points]`` alone two or three)."""

    NARROW = 110

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(title=escape(_title(report)), caption_justify="left")
        self.report = report
        _lay_out(self, report, None)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.max_width < self.NARROW:
            yield compact_table(self.report, options.max_width)
        else:
            yield from super().__rich_console__(console, options)


def compact_table(report: dict[str, Any], width: int) -> Table:
    """The forecast table for a console ``width`` columns wide, under
    :data:`_ForecastTable.NARROW`: one line a ticket, its ``work order. id title`` cut with
    ``…`` where the column is too narrow (said under the table); the dates leave out the year
    the title gives (when the simulated days lie in one year), and the ``P(done by end)`` and
    date headers take two lines, so the titles get the room. The numbers and dates are never
    cut: where the titles column would be narrower than :data:`_MIN_TITLES` or than a ticket's
    ``work order. id`` and a ``…``, a ticket takes two lines, its title then its numbers
    (:func:`_stacked`), which leaves out the P85 dates, then the P50 dates, where even they do
    not fit (said under the table)."""
    return _lay_out(Table(title=escape(_title(report)), caption_justify="left"), report, width)


MARKS = {
    "share": "'{share}': the share of a started ticket still to do",
    "story_points": "'*': effort from the ticket's story points, not the model",
    "cut": "'…': cut to fit (whole in the forecast JSON, the HTML report and on a terminal "
    "{narrow} columns wide)",
    "dropped": "{dropped} left out to fit (in the forecast JSON, the HTML report and on a "
    "terminal {wide} columns wide)",
}
"""The ticket notes' marks, explained under the table for those its cells use."""

_MIN_TITLES = 10
"""The compact table's titles column is never narrower than this nor than a ticket's ``work
order. id``: with less room a ticket takes two lines, its title then its numbers (numbers and
dates are never cut)."""


def _title(report: dict[str, Any]) -> str:
    return (
        f"Sprint {report['sprint_id']} forecast: {report['start_date']} to "
        f"{report['end_date']} ({report['n_working_days']} working days, "
        f"{report['n_sims']:,} simulations)"
    )


def _effort_key(report: dict[str, Any]) -> tuple[str, str]:
    """The effort keys' suffix and the column's header: SCH hours or story points."""
    points = (report.get("effort_unit") or {}).get("unit") == "story_points"
    return ("story_points", "story points") if points else ("sch", "SCH hours")


def _short_dates(report: dict[str, Any]) -> bool:
    """Whether every simulated day lies in the sprint's start year (then a compact table's
    dates leave the year out: ``02-24``)."""
    year = str(report["start_date"])[:4]
    return all(str(d).startswith(year) for d in [*report["working_days"],
                                                 *report["days_after_end"]])  # fmt: skip


def _day_cell(cell: str, short: bool) -> str:
    """``2026-02-24 (late)`` as ``02-24 (late)`` when ``short``; words (``done``) unchanged."""
    if short and len(cell) >= 10 and cell[4] == "-" and cell[:4].isdigit():
        return cell[5:]
    return cell


def _rows(report: dict[str, Any]) -> tuple[list[list[str]], list[list[str]], dict[str, str]]:
    """The cells of the baseline and scenarios, of the tickets (name, P, P50, P85, effort),
    and the marks the tickets' effort cells use (key of :data:`MARKS` -> its example)."""
    n_days = report["n_working_days"]
    key, _ = _effort_key(report)
    cases = []
    for row in [{"name": "baseline", **report}, *report["scenarios"]]:
        cases.append([
            str(row["name"]),
            f"{row['p_complete_by_end']:.1%}",
            _when(row["completion_day_p50"], row["completion_date_p50"], n_days),
            _when(row["completion_day_p85"], row["completion_date_p85"], n_days),
            # the SCH expected done by the sprint's end, not done now (tickets say "... left"):
            # two short lines, so the column stays as narrow as the tickets' cells
            f"{row[f'expected_completed_{key}']:.1f} expected\nby the end",
        ])  # fmt: skip
    marks: dict[str, str] = {}
    tickets = []
    for t in report["tickets"]:
        done = t["status"] == "done"
        fraction = t.get("remaining_fraction", 1.0)
        effort = f"{t[f'mean_remaining_{key}']:.1f} left"
        if not done and (fraction != 1.0 or t["status"] != "todo"):
            effort += f" ({fraction:.0%})"
            marks.setdefault("share", f"({fraction:.0%})")
        if not done and t.get("effort_source") == "story_points":
            effort += "*"
            marks["story_points"] = "*"
        day50, day85 = t.get("completion_day_p50"), t.get("completion_day_p85")
        tickets.append([
            f"{t['work_order']}. {t['id']} {t['title']}".rstrip(),
            f"{t['p_complete']:.1%}",
            _when(day50, t.get("completion_date_p50"), n_days, done=done),
            _when(day85, t.get("completion_date_p85"), n_days, done=done),
            effort,
        ])  # fmt: skip
    return cases, tickets, marks


def _lay_out(table: Table, report: dict[str, Any], width: int | None) -> Table:
    """Fill ``table``: whole titles for ``width`` None (Rich wraps them in the room left), else
    the compact layout for a console ``width`` columns wide (see :func:`compact_table`), two
    lines a ticket (:func:`_stacked`) where even titles of :data:`_MIN_TITLES` leave no room."""
    cases, tickets, marks = _rows(report)
    _, unit = _effort_key(report)
    headers = ["case / ticket (work order)", "P(done by end)", "P50 done by", "P85 done by", unit]
    if width is None:
        table.add_column(headers[0], ratio=1, overflow="fold", no_wrap=False)
        # a number or a date is never cut nor wrapped; a header wraps
        for head in headers[1:]:
            table.add_column(Text(head, no_wrap=False, overflow="fold"), justify="right",
                             no_wrap=True)  # fmt: skip
        rows = cases + tickets
        kept = [2, 3]
    else:
        short = _short_dates(report)
        rows = [[*r[:2], _day_cell(r[2], short), _day_cell(r[3], short), r[4]]
                for r in cases + tickets]  # fmt: skip
        widths = _widths(headers, rows)
        overhead = 3 * len(headers) + 1  # borders and one space either side of each cell
        room = width - overhead - sum(widths)
        ids = [cell_len(f"{t['work_order']}. {t['id']}") for t in report["tickets"]]
        if room < max(_MIN_TITLES, *(n + 1 for n in ids)):  # "11. PAY-310…": never cut
            return _stacked(table, rows, len(cases), headers, widths, width, marks, report)
        longest = max(cell_len(r[0]) for r in rows)
        titles = min(longest, room)
        if longest > titles:  # a ticket's title or a scenario's name
            marks["cut"] = "…"
        # the titles are cut, their header wraps
        titles_head = Text(headers[0], overflow="fold", no_wrap=False)
        table.add_column(titles_head, width=titles, no_wrap=True, overflow="ellipsis")
        # every other column as wide as its widest cell and never narrower (Rich cut a number
        # rather than a title: "10…" for a probability of 100.0 %); a header wraps
        for head, w in zip(headers[1:], widths, strict=True):
            table.add_column(Text(head, no_wrap=False, overflow="fold"), justify="right",
                             width=w, min_width=w, no_wrap=True)  # fmt: skip
        kept = [2, 3]
    for i, row in enumerate(rows):
        if i == len(cases):
            table.add_section()
        table.add_row(*(escape(c) for c in row))
    return _with_caption(table, report, rows, kept, marks)


def _widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Every column but the titles' as wide as its widest cell (a header takes two lines rather
    than widen it: "P(done" / "by end)")."""
    return [
        max(
            max(len(w) for w in head.split()),
            len("by end)") if i == 1 else len("done by") if i in (2, 3) else 0,
            *(cell_len(part) for r in rows for part in r[i].split("\n")),
        )
        for i, head in enumerate(headers)
        if i > 0
    ]


def _with_caption(
    table: Table,
    report: dict[str, Any],
    rows: Sequence[Sequence[str]],
    dates: Sequence[int],
    marks: dict[str, str],
    dropped: str = "",
) -> Table:
    """Set the lines under ``table``: the marks its cells use (``dates``: the columns of dates
    shown), and the columns ``dropped`` to fit."""
    shown = [r[i] for r in rows for i in dates]  # the legend explains only marks shown
    legend = [text.format(share=marks.get("share", ""), narrow=_ForecastTable.NARROW,
                          dropped=dropped, wide=marks.get("dropped", ""))
              for m, text in MARKS.items() if m in marks]  # fmt: skip
    table.caption = _caption(report, late=any(c.endswith("(late)") for c in shown),
                             later="later" in shown, marks=legend)  # fmt: skip
    return table


_GAP = 2
"""Spaces between two numbers of a ticket's numbers line in the two-line layout."""


def _stacked(
    table: Table,
    rows: Sequence[Sequence[str]],
    n_cases: int,
    headers: Sequence[str],
    widths: Sequence[int],
    width: int,
    marks: dict[str, str],
    report: dict[str, Any],
) -> Table:
    """Two lines a ticket (or case) for a console too narrow for a titles column beside the
    numbers: its title, cut with ``…`` to the line, then its numbers, each whole and aligned
    under its header. Where even the numbers do not fit, the P85 dates, then the P50 dates,
    then the effort are left out (said under the table)."""
    inner = max(width - 4, 1)  # a border and one space either side

    def need(cols: Sequence[int]) -> int:
        return sum(widths[c - 1] for c in cols) + _GAP * (len(cols) - 1)

    cols = [1, 2, 3, 4]
    for drop in (3, 2, 4):
        if need(cols) <= inner:
            break
        cols.remove(drop)
    left_out = [c for c in (2, 3, 4) if c not in cols]
    if left_out:
        names = [f"'{' '.join(headers[c].split())}'" for c in left_out]
        marks["dropped"] = str(need([1, 2, 3, 4]) + 4)
        dropped = " and ".join(names)
    else:
        dropped = ""

    def block(cells: Sequence[list[str]]) -> list[str]:
        """Columns of lines, bottom-aligned for headers (``cells`` padded by the caller)."""
        depth = max(len(c) for c in cells)
        lines = []
        for k in range(depth):
            parts = [(c[k] if k < len(c) else "").rjust(widths[col - 1])
                     for c, col in zip(cells, cols, strict=True)]  # fmt: skip
            lines.append((" " * _GAP).join(parts).rjust(inner))
        return lines

    head_cells = [_wrap_words(headers[c], widths[c - 1]) for c in cols]
    depth = max(len(c) for c in head_cells)
    head_cells = [[""] * (depth - len(c)) + c for c in head_cells]
    head = Text("\n".join([_cut(headers[0], inner, marks), *block(head_cells)]))
    table.show_header = True
    table.add_column(head, width=inner, min_width=inner, no_wrap=True, overflow="ignore")
    for i, row in enumerate(rows):
        if i == n_cases:
            table.add_section()
        numbers = block([row[c].split("\n") for c in cols])
        table.add_row(Text("\n".join([_cut(row[0], inner, marks), *numbers])))
    return _with_caption(table, report, rows, [c for c in (2, 3) if c in cols], marks, dropped)


def _cut(text: str, width: int, marks: dict[str, str]) -> str:
    """``text`` cut with ``…`` to ``width`` cells (noted in ``marks``)."""
    if cell_len(text) <= width:
        return text
    marks["cut"] = "…"
    return set_cell_size(text, max(width - 1, 0)) + "…"


def _wrap_words(text: str, width: int) -> list[str]:
    """``text`` on lines of at most ``width`` cells, broken between words (a word longer than
    ``width`` keeps its own line whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _caption(
    report: dict[str, Any], *, late: bool = True, later: bool = True, marks: Sequence[str] = ()
) -> str:
    """The lines under the table: SCH in words, the story-point ratio, delivery pricing, then
    one line of the marks the cells use (``marks``: the notes' marks, first)."""
    lines = [SCH_EXPLAINED]
    throughput = report.get("throughput") or {}
    rates = throughput.get("history_sch_per_day") or []
    if rates:  # the pace the days are simulated at: 30 h of capacity is not 30 h of progress
        ordered = sorted(float(r) for r in rates)
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        n = len(ordered)
        past = f"{n} past sprint{'s' if n != 1 else ''}"
        drawn = throughput.get("simulated_sch_per_day")
        how = f'[forecasting] throughput_method = "{throughput.get("method", "lognormal")}"'
        each_day = ("each day it is scaled by the share of the team present and capped at that "
                    "day's daily_capacity_hours (capacity binds only below the pace).")  # fmt: skip
        if isinstance(drawn, dict) and {"p10", "p50", "p90"} <= set(drawn):
            lines.append(
                f"Team pace: the simulations draw {drawn['p50']:.2f} SCH h finished per working "
                f"day (median; 80% of simulated sprints {drawn['p10']:.2f} to "
                f"{drawn['p90']:.2f}) from the paces of {past} ({ordered[0]:.2f} to "
                f"{ordered[-1]:.2f}, median {median:.2f}) by {how}; {each_day}"
            )
        else:  # a forecast written before the simulated pace was recorded
            lines.append(
                f"Team pace: {median:.2f} SCH h finished per working day (median of {past}, "
                f"{ordered[0]:.2f} to {ordered[-1]:.2f}); the simulations draw their pace from "
                f"these ({how}); {each_day}"
            )
    unit = report.get("effort_unit")
    if unit:
        if unit["story_points_ratio_source"] == "learned":
            n = unit["story_points_ratio_sprints"]
            origin = f"learned from {n} past sprint{'s' if n != 1 else ''}"
            if spread := unit.get("story_points_ratio_spread"):
                origin += (
                    f"; it moves about {math.expm1(spread):.0%} from sprint to sprint, drawn "
                    "once per simulation for all story-point tickets"
                )
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
    if unit and (rho := unit.get("model_correlation")):
        n = int(unit.get("model_changes") or 0)
        lines.append(f"Model-priced tickets: {paired_range_words(rho, n, 'their changes')}.")
    if unit and unit.get("ticket_effort") == "delivery":
        lines.append(
            "Tickets with a diff or commit ids are priced by delivery effort: the predicted "
            "open->merge hours of their changes as one pull request (multitask model)."
        )
    said = list(marks)
    if late:
        said.append("'(late)': after the sprint's last day")
    if later:
        horizon = len(report["working_days"]) + len(report["days_after_end"])
        said.append(f"'later': not even within {horizon} working days")
    if said:
        lines.append("; ".join(said) + ".")
    return escape("\n".join(lines))


def backtest_table(result: dict[str, Any]) -> FigureTable:
    """Rich table: one row per throughput method, the configured one marked; the scores are
    never cut (a method's name folds, and on a console too narrow for them a method is a block
    of lines: :class:`~standard_coder.runner.figtable.FigureTable`)."""
    rows = []
    for name, m in result["methods"].items():
        mark = " *" if name == result["method"] else ""
        skill = "n/a" if m["brier_skill"] is None else f"{m['brier_skill']:+.3f}"
        cov = "n/a" if m.get("p85_coverage") is None else f"{m['p85_coverage']:.2f}"
        rows.append([name + mark, f"{m['brier']:.4f}", f"{m['brier_reference']:.4f}", skill,
                     cov])  # fmt: skip
    return FigureTable(
        ["method", "Brier", "Brier (base rate)", "skill", "P85 coverage"],
        rows,
        title=f"Forecast backtest ({result['n_forecasts']} sprints, rolling origin)",
        caption="* the configured throughput method",
    )


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
        "dates can be trusted, lower means the forecast was too optimistic, higher too "
        "cautious (a P85 day past the simulated horizon covers every finish before it).",
    ),
)
"""What the backtest's scores mean, in words (console, docs and HTML report)."""


def _coverage_words(m: dict[str, Any]) -> str:
    """What the P85 coverage says, and when it says little (the forecasts put P85 past the
    horizon: covered, but no date a lead could plan on)."""
    n, scored = m["n_forecasts"], m.get("n_coverage_scored", m["n_forecasts"])
    past = m.get("n_p85_past_horizon", 0)
    if m.get("p85_coverage") is None:
        return (
            f"no P85 coverage: on all {n} past sprints both the P85 day and the finish fell "
            "past the simulated horizon"
        )
    said = f"its P85 dates covered {m['p85_coverage']:.0%} of {scored} past sprints"
    if scored < n:
        said += f" ({n - scored} more could not be scored: P85 and finish both past the horizon)"
    if past:
        said += (
            f"; {past} of {n} forecasts put P85 past the horizon, so they gave no date to plan "
            "on (the committed scope was large for the team's pace)"
        )
    return said


def backtest_explanation(result: dict[str, Any]) -> list[str]:
    """Plain-language lines under the backtest table: each score, then the verdict."""
    lines = [f"{name}: {text}" for name, text in BACKTEST_TERMS]
    chosen = result["methods"].get(result["method"], {})
    skill = chosen.get("brier_skill")
    if skill is not None:
        verdict = "beats" if skill > 0 else "does not beat"
        lines.append(
            f"The configured method ({result['method']}) {verdict} the base rate "
            f"(skill {skill:+.2f}); {_coverage_words(chosen)}."
        )
    if "method_choice" in result:
        lines.append(str(result["method_choice"]).capitalize() + ".")
    return lines
