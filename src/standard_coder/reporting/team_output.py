"""The "Team output" report section of the ``sch`` pipeline: SCH hours per week, author and
repository (``reports/team_output.csv``) with the per-repository and per-author plots."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.report.kit import figures
from standard_coder.runner.report.kit import render as render_template

PACKAGE = "standard_coder.reporting"


SHOWN = 20
"""Rows each table shows (the largest by SCH hours); the rest are summed into one row."""


def _totals(rows: list[dict[str, Any]], by: str, shown: int = SHOWN) -> list[dict[str, Any]]:
    """Per ``by`` (``repo`` or ``author``): changes, SCH hours and the distinct weeks with any
    change, largest first; past ``shown`` one row sums the rest (``others``: how many)."""
    changes: dict[str, int] = defaultdict(int)
    hours: dict[str, float] = defaultdict(float)
    weeks: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        changes[r[by]] += r["n_changes"]
        hours[r[by]] += r["sch_hours"]
        weeks[r[by]].add(r["period"])
    names = sorted(hours, key=lambda k: (-hours[k], k))
    out: list[dict[str, Any]] = [
        {"name": k, "n_changes": changes[k], "sch_hours": hours[k], "weeks": len(weeks[k])}
        for k in names[:shown]
    ]
    rest = names[shown:]
    if rest:
        out.append({"name": f"{len(rest)} others", "others": len(rest),
                    "n_changes": sum(changes[k] for k in rest),
                    "sch_hours": sum(hours[k] for k in rest),
                    "weeks": len(set().union(*(weeks[k] for k in rest)))})  # fmt: skip
    return out


COUNT_R = 0.95
"""Across people, a correlation of hours with the count of changes at least this high is said:
the hours then rank people as their count of changes does."""


def count_correlation(rows: list[dict[str, Any]]) -> tuple[float, int] | None:
    """Pearson's r between each person's SCH hours and their count of changes, and how many
    people (None under five, or when either does not vary)."""
    changes: dict[str, float] = defaultdict(float)
    hours: dict[str, float] = defaultdict(float)
    for r in rows:
        changes[r["author"]] += r["n_changes"]
        hours[r["author"]] += r["sch_hours"]
    if len(hours) < 5:
        return None
    import numpy as np

    x = np.array([changes[k] for k in hours])
    y = np.array([hours[k] for k in hours])
    if float(x.std()) == 0.0 or float(y.std()) == 0.0:
        return None
    return float(np.corrcoef(x, y)[0, 1]), len(hours)


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of ``team_output.csv`` (numbers as numbers; the csv module only: the report is
    rebuilt on no-op reruns, which import no numpy)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            {**r, "n_changes": int(r["n_changes"]),
             **{k: float(r[k]) for k in ("sch_hours", "sch_q10", "sch_q90")}}
            for r in csv.DictReader(fh)
        ]  # fmt: skip


def read_people(path: Path) -> dict[str, Any] | None:
    """``team_output_people.json`` (which addresses one person's row holds), or None when it
    is absent or unreadable (a run before the file existed: the section says nothing of it)."""
    doc = read_json_object_or_none(path)
    if doc is None:
        return None
    try:
        joined = {str(k): str(v) for k, v in doc["joined"].items()}
        by_mine = {str(k): str(v) for k, v in doc.get("joined_by_mine", {}).items()}
        names = {str(k): str(v) for k, v in doc.get("names", {}).items()}  # since session 59
        return {"by_name": bool(doc["by_name"]), "joined": joined, "joined_by_mine": by_mine,
                "names": names}  # fmt: skip
    except (KeyError, TypeError, AttributeError):
        return None


REAPPLIED_SHOWN = 50
"""Changes the "re-apply an earlier one" table shows (the file lists every one)."""


def read_reapplied(path: Path) -> dict[str, Any] | None:
    """``team_output_reapplied.json`` as the section shows it (its first
    :data:`REAPPLIED_SHOWN` changes by the week they are counted in, how many and their SCH
    hours), or None when it is absent, unreadable or lists none."""
    doc = read_json_object_or_none(path)
    if doc is None:
        return None
    try:
        changes = [
            {k: str(c[k]) for k in ("period", "author", "commit_id", "source_commit_id")}
            | {"share": float(c["share"]), "sch_hours": float(c["sch_hours"])}
            for c in doc["changes"]
        ]
        rule = float(doc["rule"]["min_share"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not changes:
        return None
    changes.sort(key=lambda c: (c["period"], c["author"]))  # the week each is counted in
    return {"n": len(changes), "sch_hours": sum(c["sch_hours"] for c in changes),
            "shown": changes[:REAPPLIED_SHOWN], "min_share": rule}  # fmt: skip


def render_team_output(given: SectionInput) -> str:
    """The section body (or a line saying the stage has not run yet)."""
    layout = SchLayout(given.base_dir)
    path = layout.team_output_csv
    try:
        rows = read_csv(path)
    except (OSError, KeyError, ValueError):
        return render_template(PACKAGE, "team_output.html.j2", absent=str(path))
    plots = [layout.team_output_plots / f"by_{by}.png" for by in ("repo", "author")]
    from standard_coder.sch.team_output import week_span

    span = week_span(r["period"] for r in rows)
    from standard_coder.pipelines.sch_summary import estimates_flat

    ev = read_json_object_or_none(layout.evaluation)
    counted = count_correlation(rows)
    return render_template(
        PACKAGE,
        "team_output.html.j2",
        absent=None,
        csv=str(path),
        periods=len({r["period"] for r in rows}),
        span=span,
        shown=SHOWN,
        repos=_totals(rows, "repo"),
        authors=_totals(rows, "author"),
        people=read_people(layout.team_output_people),
        people_file=str(layout.team_output_people),
        reapplied=read_reapplied(layout.team_output_reapplied),
        reapplied_file=str(layout.team_output_reapplied),
        total_hours=sum(r["sch_hours"] for r in rows),
        figures=figures(p for p in plots if p.is_file()),
        # the run summary's caveat: a person's hours are then mostly their count of changes
        flat=ev is not None and estimates_flat(ev),
        # said with the measured r: hours that rank people as their count of changes does
        count_r=counted if counted is not None and counted[0] >= COUNT_R else None,
    )


SECTION = ReportSection("Team output", render_team_output)
