"""The "Team output" report section of the ``sch`` pipeline: SCH hours per week, author and
repository (``reports/team_output.csv``) with the per-repository and per-author plots."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
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


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of ``team_output.csv`` (numbers as numbers; the csv module only: the report is
    rebuilt on no-op reruns, which import no numpy)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            {**r, "n_changes": int(r["n_changes"]),
             **{k: float(r[k]) for k in ("sch_hours", "sch_q10", "sch_q90")}}
            for r in csv.DictReader(fh)
        ]  # fmt: skip


def render_team_output(given: SectionInput) -> str:
    """The section body (or a line saying the stage has not run yet)."""
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
