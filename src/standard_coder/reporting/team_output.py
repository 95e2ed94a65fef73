"""The "Team output" report section of the ``sch`` pipeline: SCH hours per week, author and
repository (``reports/team_output.csv``) with the per-repository and per-author plots."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.report.kit import figures
from standard_coder.runner.report.kit import render as render_template

PACKAGE = "standard_coder.reporting"


def _totals(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for r in rows:
        a = acc[r[by]]
        a[0] += r["n_changes"]
        a[1] += r["sch_hours"]
        a[2] += 1
    return [
        {"name": k, "n_changes": int(v[0]), "sch_hours": v[1], "weeks": int(v[2])}
        for k, v in sorted(acc.items(), key=lambda kv: -kv[1][1])
    ]


def render_team_output(given: SectionInput) -> str:
    """The section body (or a line saying the stage has not run yet)."""
    from standard_coder.sch.team_output import read_csv

    layout = SchLayout(given.base_dir)
    path = layout.team_output_csv
    try:
        rows = read_csv(path)
    except (OSError, KeyError, ValueError):
        return render_template(PACKAGE, "team_output.html.j2", absent=str(path))
    plots = [layout.team_output_plots / f"by_{by}.png" for by in ("repo", "author")]
    return render_template(
        PACKAGE,
        "team_output.html.j2",
        absent=None,
        csv=str(path),
        periods=len({r["period"] for r in rows}),
        repos=_totals(rows, "repo"),
        authors=_totals(rows, "author"),
        figures=figures(p for p in plots if p.is_file()),
    )


SECTION = ReportSection("Team output", render_team_output)
