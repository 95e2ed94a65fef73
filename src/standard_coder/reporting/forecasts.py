"""The "Sprint forecasts" report section of the ``sch`` pipeline: a card for the current
``forecasts/<sprint>_forecast.json`` (the latest sprint: probability of finishing, P50/P85 days,
expected SCH, the tickets, the scalars and the sprint's PNGs), older sprints listed apart, then
any other forecast figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.pipelines.sch_summary import completion_text, forecast_files
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.report.kit import figures, fmt_value, label, num
from standard_coder.runner.report.kit import render as render_template
from standard_coder.sch.words import SCH_EXPLAINED, paired_range_words

PACKAGE = "standard_coder.reporting"


_SCALAR_LABELS = {  # the keys docs/forecasting.md explains, said where a lead reads them
    "expected_completed_sch": "expected completed sch (tickets fully done by the end)",
    "expected_remaining_sch": "expected remaining sch (open effort at the sprint's start)",
}


def _card(doc: Mapping[str, Any], sprint: str, fig_items: list[Any]) -> dict[str, Any]:
    tiles: list[tuple[str, str, str]] = []
    p = num(doc.get("p_complete_by_end"))
    if p is not None:
        tone = "ok" if p >= 0.8 else "warn" if p >= 0.5 else "bad"
        tiles.append(("P(complete by sprint end)", f"{p:.0%}", tone))
    for needle, name in (("p50", "P50 completion day"), ("p85", "P85 completion day")):
        when = completion_text(doc, needle)
        if when is not None:
            tiles.append((name, when, ""))
    sch = num(doc.get("expected_completed_sch"))
    if sch is not None:
        tiles.append(("SCH expected done by the end", fmt_value(sch), ""))  # not done yet
    scalars = [
        (_SCALAR_LABELS.get(k, label(k)), v)
        for k, v in doc.items()
        if not isinstance(v, (dict, list)) and k != "p_complete_by_end"
    ]
    return {
        "unreadable": False,
        "title": doc.get("sprint_id") or sprint,
        "tiles": tiles,
        "scalars": scalars,
        "figures": fig_items,
        "tickets": _tickets(doc.get("tickets"), _in_points(doc), doc),
        "left_unit": "story points left" if _in_points(doc) else "SCH left",
        "unit": _unit_line(doc.get("effort_unit")),
    }


def _in_points(doc: Mapping[str, Any]) -> bool:
    unit = doc.get("effort_unit")
    return isinstance(unit, dict) and unit.get("unit") == "story_points"


def _tickets(
    rows: Any, points: bool = False, doc: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Ticket rows of a forecast file (work order, full title, P(done by end), P50/P85 dates,
    worded as the tiles word the sprint's: "(late)", "later than <horizon's last day>")."""
    if not isinstance(rows, list):
        return []
    horizon = {k: doc[k] for k in _HORIZON_KEYS if doc and k in doc}
    out = []
    for t in rows:
        if not isinstance(t, dict):
            return []
        done = t.get("status") == "done"
        out.append(
            {
                "order": t.get("work_order"),
                "id": t.get("id"),
                "title": t.get("title") or "",
                "status": t.get("status"),
                "source": str(t.get("effort_source") or "").replace("_", " "),
                "p": num(t.get("p_complete")),
                "p50": "done" if done else _when({**t, **horizon}, "p50"),
                "p85": "done" if done else _when({**t, **horizon}, "p85"),
                "left": num(
                    t.get("mean_remaining_story_points" if points else "mean_remaining_sch")
                ),
            }
        )
    return out


_HORIZON_KEYS = ("horizon_end", "n_working_days", "working_days", "days_after_end")
"""The sprint-level keys a ticket's completion is worded against."""


def _when(ticket: Mapping[str, Any], needle: str) -> str:
    return completion_text(ticket, needle) or "later"


def _unit_line(unit: Any) -> str | None:
    if not isinstance(unit, dict) or num(unit.get("story_points_to_sch")) is None:
        return None
    origin = (
        f"learned from {unit.get('story_points_ratio_sprints')} past sprints"
        if unit.get("story_points_ratio_source") == "learned"
        else "configured; past sprints give no committed_story_points"
    )
    if (spread := num(unit.get("story_points_ratio_spread"))) and spread > 0:
        origin += f"; it moves about {math.expm1(spread):.0%} from sprint to sprint"
    ratio = f"1 story point = {float(unit['story_points_to_sch']):.2f} SCH hours ({origin})."
    if (rho := num(unit.get("model_correlation"))) is not None:
        n = int(num(unit.get("model_changes")) or 0)
        ratio += f" Model-priced tickets: {paired_range_words(rho, n, 'their changes')}."
    if unit.get("unit") == "story_points":
        return f"Effort is stated in story points: {ratio}"
    return ratio


BACKTEST_FILE = "forecast_backtest.json"


def backtest_view(doc: Any) -> dict[str, Any] | None:
    """``reports/forecast_backtest.json`` as a readable table (one row per throughput method)
    with its scores explained in words; None when the file is absent or of another form (the
    Evaluation section then lists it as plain keys)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("methods"), dict):
        return None
    from standard_coder.forecasting.report import BACKTEST_TERMS, backtest_explanation

    rows = []
    for name, m in doc["methods"].items():
        if not isinstance(m, dict):
            return None
        rows.append(
            {
                "method": name,
                "configured": name == doc.get("method"),
                "brier": m.get("brier"),
                "reference": m.get("brier_reference"),
                "skill": m.get("brier_skill"),
                "coverage": m.get("p85_coverage"),
                "n": m.get("n_forecasts"),
            }
        )
    try:
        verdict = backtest_explanation(doc)[len(BACKTEST_TERMS) :]
    except (KeyError, TypeError, ValueError):
        verdict = []
    return {"rows": rows, "terms": BACKTEST_TERMS, "verdict": verdict}


def render_forecasts(given: SectionInput) -> str:
    """The section body (or a line saying there are no forecasts)."""
    fdir = SchLayout(given.base_dir).forecasts
    files = forecast_files(fdir)
    backtest = backtest_view(
        read_json_object_or_none(SchLayout(given.base_dir).reports / BACKTEST_FILE)
    )
    if not files:
        return render_template(
            PACKAGE, "forecasts.html.j2", fdir=str(fdir), cards=None, backtest=backtest
        )
    # The forecast stage writes only the configured sprint's file; files of sprints forecast by
    # earlier runs stay in the folder. The latest sprint's file (by its start_date) is the
    # current forecast (a full card); the others are listed below it as earlier forecasts,
    # dated by when they were written.
    # (each file read once, by forecast_files: the objects come with the paths)
    (current, doc), older = files[0], files[1:]
    cards: list[dict[str, Any]] = []
    shown: set[Any] = set()
    sprint = current.name[: -len("_forecast.json")]
    pngs = sorted(fdir.glob(f"{sprint}_*.png")) + sorted(fdir.glob(f"{sprint}.png"))
    shown.update(pngs)
    if not isinstance(doc, dict):
        cards.append({"title": sprint, "unreadable": True})
    else:
        cards.append(_card(doc, sprint, figures(pngs)))
    earlier = []
    for path, old in older:
        name = path.name[: -len("_forecast.json")]
        shown.update(fdir.glob(f"{name}_*.png"))
        row: dict[str, Any] = {"title": name, "written": _written(path), "p": None}
        row["p85"] = "unreadable file"
        if isinstance(old, dict):
            row["title"] = old.get("sprint_id") or name
            row["p"] = num(old.get("p_complete_by_end"))
            row["p85"] = completion_text(old, "p85") or "-"
        earlier.append(row)
    extra = [p for p in sorted(fdir.glob("*.png")) if p not in shown]
    return render_template(
        PACKAGE,
        "forecasts.html.j2",
        fdir=str(fdir),
        cards=cards,
        sch_explained=SCH_EXPLAINED,
        earlier=earlier,
        extra=figures(extra),
        backtest=backtest,
    )


def _written(path: Path) -> str:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


SECTION = ReportSection("Sprint forecasts", render_forecasts, nav="Forecasts")
