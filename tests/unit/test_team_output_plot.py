"""A team-output plot of a real team (hundreds of authors) draws the ten largest and one
"other" line, with the legend inside the image and no layout warning on the console."""

from __future__ import annotations

import warnings
from pathlib import Path

from standard_coder.pipelines.sch_team import PLOT_SERIES, plot, plot_series


def _rows(n_authors: int) -> list[dict]:
    rows = []
    for a in range(n_authors):
        for week in ("2026-W01", "2026-W02", "2026-W03"):
            hours = float(a + 1)  # author a-<n> writes n hours a week
            rows.append({"author": f"a-{a + 1:03d}", "repo": "r", "period": week,
                         "sch_hours": hours, "sch_q10": hours / 2,
                         "sch_q90": hours * 2})  # fmt: skip
    return rows


def test_the_largest_authors_are_drawn_and_the_rest_summed() -> None:
    periods, series = plot_series(_rows(300), "author")
    assert periods == ["2026-W01", "2026-W02", "2026-W03"]
    assert list(series)[:PLOT_SERIES] == [f"a-{n:03d}" for n in range(300, 290, -1)]
    other = series["other (290)"]
    assert len(series) == PLOT_SERIES + 1
    assert other[0] == [float(sum(range(1, 291)))] * 3  # every hour is still on the plot
    assert other[2] == [2.0 * sum(range(1, 291))] * 3


def test_a_small_team_is_drawn_whole_and_one_extra_line_is_not_called_other() -> None:
    _, series = plot_series(_rows(PLOT_SERIES + 1), "author")
    assert len(series) == PLOT_SERIES + 1 and not any(n.startswith("other") for n in series)
    _, one = plot_series(_rows(1), "repo")
    assert list(one) == ["r"] and one["r"][0] == [1.0, 1.0, 1.0]


def test_a_plot_of_hundreds_of_authors_is_written_without_warnings(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot(_rows(300), "author", tmp_path / "by_author.png")
    assert (tmp_path / "by_author.png").read_bytes().startswith(b"\x89PNG")


def test_the_weeks_are_a_time_axis_with_the_quiet_weeks_at_zero() -> None:
    # a change in 2025-W51 and one in 2026-W02: the weeks between (across the new year) are
    # drawn as 0 h, so two active weeks years apart are not neighbours on the axis
    rows = [{"author": "a", "repo": "r", "period": p, "sch_hours": 1.0, "sch_q10": 0.5,
             "sch_q90": 2.0} for p in ("2026-W02", "2025-W51")]  # fmt: skip
    periods, series = plot_series(rows, "repo")
    assert periods == ["2025-W51", "2025-W52", "2026-W01", "2026-W02"]
    assert series["r"][0] == [1.0, 0.0, 0.0, 1.0]
