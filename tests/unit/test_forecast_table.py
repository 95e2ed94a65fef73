"""The forecast table as a user sees it: one line a ticket under 110 columns (titles cut, the
note as marks explained once under the table), whole titles and notes on wider consoles and off
a terminal (session 41: on 80 columns a ticket took 3 to 5 lines)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from forecastexamples import HISTORY, LONG_TITLE, SPRINT
from proctools import child_env, in_terminal
from standard_coder.forecasting import ForecastOptions, Ticket, run_forecast
from standard_coder.forecasting.report import forecast_table


def _model(tickets: list[Ticket]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {t.id: rng.lognormal(1.0, 0.5, 300) for t in tickets}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example sprint (model and story-point tickets, one in progress, one in review, one
    done) with a long last title."""
    tmp = tmp_path_factory.mktemp("table")
    sprint = json.loads(SPRINT.read_text())
    sprint["tickets"][-1]["title"] = LONG_TITLE
    (tmp / "sprint.json").write_text(json.dumps(sprint))
    res = run_forecast(tmp / "sprint.json", HISTORY, options=ForecastOptions(n_sims=2_000),
                       out_dir=tmp / "fc", model_effort=_model, seed=3)  # fmt: skip
    return res.report


def _text(report: dict[str, Any], width: int) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=False).print(forecast_table(report))
    return buf.getvalue().splitlines()


def _ticket_lines(lines: list[str], report: dict[str, Any]) -> dict[str, list[str]]:
    """Per ticket id, its row's lines: the one that starts it, then those with no P(done)."""
    starts = {f"│ {t['work_order']}. {t['id']}": t["id"] for t in report["tickets"]}
    out: dict[str, list[str]] = {}
    current = None
    for line in lines:
        if not line.startswith("│"):
            current = None if line.startswith("└") else current
            continue
        start = next((s for s in starts if line.startswith(s)), None)
        if start is not None:
            current = starts[start]
            out[current] = [line]
        elif current is not None and not line.split("│")[2].strip():
            out[current].append(line)
        else:
            current = None
    return out


@pytest.mark.parametrize("width", [80, 100])
def test_under_110_columns_a_ticket_is_one_line(report: dict[str, Any], width: int) -> None:
    lines = _text(report, width)
    assert all(len(line) <= width for line in lines), lines
    by_ticket = _ticket_lines(lines, report)
    assert set(by_ticket) == {t["id"] for t in report["tickets"]}
    assert all(len(rows) == 1 for rows in by_ticket.values()), by_ticket
    last = by_ticket[report["tickets"][-1]["id"]][0]
    assert "…" in last and LONG_TITLE not in "\n".join(lines)  # cut, said under the table
    text = "\n".join(lines)
    caption = " ".join(text.split("┘", 1)[1].split())
    cut = "'…': cut to fit (whole in the forecast JSON, the HTML report and on a terminal"
    assert f"{cut} 110 columns wide)" in caption
    # the note as marks: the share still to do, and '*' for effort from story points
    for t in report["tickets"]:
        (row,) = by_ticket[t["id"]]
        effort = row.rsplit("│", 2)[1].strip()
        left = f"{t['mean_remaining_sch']:.1f} left"
        if t["status"] == "done":
            assert effort == left and row.count(" done ") == 2
        elif t["effort_source"] == "story_points":
            assert effort == f"{left}*", row
        elif t["status"] != "todo":
            assert effort == f"{left} ({t['remaining_fraction']:.0%})", row
        else:
            assert effort == left, row
    assert "'(60%)': the share of a started ticket still to do" in caption
    assert "'*': effort from the ticket's story points, not the model" in caption
    assert "effort from model" not in text and "[todo" not in text
    # the dates leave out the year the title gives
    first = report["tickets"][0]
    assert f" {first['completion_date_p85'][5:]} " in by_ticket[first["id"]][0]
    assert first["completion_date_p85"] not in text


def test_from_110_columns_titles_are_whole(report: dict[str, Any]) -> None:
    for width in (110, 120):
        lines = _text(report, width)
        text = "\n".join(lines)
        words = " ".join(text.replace("│", " ").split())
        assert all(w in words for w in LONG_TITLE.split())  # wrapped, never cut
        assert "…" not in text and "cut to fit" not in words
        by_ticket = _ticket_lines(lines, report)
        # the long title wraps; a short one is one line (the note is marks, not words)
        assert len(by_ticket[report["tickets"][-1]["id"]]) > 1
        short = [t["id"] for t in report["tickets"] if len(t["title"]) <= 24]
        assert short and all(len(by_ticket[i]) == 1 for i in short), by_ticket
        assert "[todo; effort from story points]" not in words and "left*" in text
        assert "'*': effort from the ticket's story points, not the model" in words
        assert report["tickets"][0]["completion_date_p85"] in text  # with the year


def test_the_legend_names_only_the_marks_shown(report: dict[str, Any]) -> None:
    """All tickets priced by the model, none started, no title cut: no compact legend line."""
    tickets = [
        {**t, "effort_source": "model", "status": "todo", "remaining_fraction": 1.0,
         "title": t["title"][:10]}
        for t in report["tickets"]
    ]  # fmt: skip
    text = "\n".join(_text({**report, "tickets": tickets}, 80))
    said = " ".join(text.split())
    assert "'*'" not in said and "still to do" not in said and "cut to fit" not in said
    assert "…" not in text.split("┘")[0]
    # a scenario's name cut to fit is said too
    keys = ["p_complete_by_end", "expected_completed_sch", "completion_day_p50",
            "completion_day_p85", "completion_date_p50", "completion_date_p85"]  # fmt: skip
    scenario = {
        "name": "the whole team away at the offsite for a week",
        **{k: report[k] for k in keys},
    }
    text = "\n".join(_text({**report, "tickets": tickets, "scenarios": [scenario]}, 80))
    assert "the whole team away at the offsite for a week" not in text
    assert "'…': cut to fit" in " ".join(text.split())


def test_dates_keep_their_year_when_the_horizon_crosses_one(report: dict[str, Any]) -> None:
    crossing = {**report, "days_after_end": [*report["days_after_end"], "2027-01-04"]}
    text = "\n".join(_text(crossing, 80))
    assert report["completion_date_p50"] in text  # 2026-02-.. whole: 2027 is simulated too


def test_a_late_date_keeps_its_mark_and_the_row_its_line(report: dict[str, Any]) -> None:
    t = report["tickets"][-1]
    late_day = report["n_working_days"] + 1
    date = report["days_after_end"][0]
    moved = {**t, "completion_day_p85": late_day, "completion_date_p85": date}
    lines = _text({**report, "tickets": [*report["tickets"][:-1], moved]}, 80)
    assert all(len(line) <= 80 for line in lines)
    (row,) = _ticket_lines(lines, report)[t["id"]]
    assert f"{date[5:]} (late)" in row
    assert "'(late)': after the sprint's last day" in " ".join("\n".join(lines).split())


def _project(tmp_path: Path) -> Path:
    """A forecast-only project: story-point tickets (no model), one with a long title."""
    sprint = json.loads(SPRINT.read_text())
    for t in sprint["tickets"]:
        t.pop("diff", None)
        t.pop("commit_ids", None)
        t.setdefault("story_points", 3)
    sprint["tickets"][-1]["title"] = LONG_TITLE
    (tmp_path / "sprint.json").write_text(json.dumps(sprint))
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(
        '[outputs]\nbase_dir = "out"\n[forecasting]\nn_sims = 500\n'
        f'sprint_inputs_path = "sprint.json"\nhistorical_outcomes_path = "{HISTORY}"\n'
    )
    return cfg


def test_the_forecast_stage_on_an_80_column_terminal_and_off_one(tmp_path: Path) -> None:
    """The real command: on a pseudo-terminal 80 columns wide a ticket is one line; through a
    pipe (where a line is best kept whole for grep) titles and notes are whole."""
    cfg = _project(tmp_path)
    code, text = in_terminal("pipeline", "--config", str(cfg), "--stages", "forecast",
                             columns=80, timeout=180)  # fmt: skip
    assert code == 0, text
    (saved,) = (tmp_path / "out" / "forecasts").glob("*_forecast.json")
    tickets = json.loads(saved.read_text())["tickets"]
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert rows and all(len(line) <= 80 for line in rows), text
    for t in tickets:
        (row,) = [line for line in rows if line.startswith(f"│ {t['work_order']}. {t['id']}")]
        nxt = rows[rows.index(row) + 1] if rows.index(row) + 1 < len(rows) else "│ 99. "
        assert re.match(r"│ \d+\. ", nxt), (row, nxt)  # the next line is the next ticket's
    said = " ".join(text.split())
    assert any("…" in line for line in rows) and "cut to fit" in said
    assert "left*" in text and "'*': effort from the ticket's story points" in said

    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "pipeline", "--config", str(cfg),
         "--stages", "forecast", "--force"],
        capture_output=True, text=True, env=child_env(), timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    words = " ".join(proc.stdout.replace("│", " ").split())
    assert all(w in words for w in LONG_TITLE.split()) and "left*" in proc.stdout
    assert "…" not in proc.stdout and "cut to fit" not in words


def _numbers_of(lines: list[str], ticket: dict[str, Any]) -> str:
    """The numbers of a ticket's row as printed: the cells after its title on its line (one
    line a ticket), or the line under its title (two lines a ticket)."""
    start = f"│ {ticket['work_order']}. {ticket['id']}"
    (i,) = [k for k, line in enumerate(lines) if line.startswith(start)]
    parts = lines[i].split("│")
    return "│".join(parts[2:]) if len(parts) > 3 else lines[i + 1]


def _number_cells(lines: list[str]) -> list[str]:
    """Every line's text outside the titles: cells after the first (one line a ticket), or
    the lines of numbers (two lines a ticket: a title line starts at the border's space)."""
    body = lines[: next(i for i, line in enumerate(lines) if line.startswith("└"))]
    out = []
    for line in body:
        if not line.startswith("│"):
            continue
        parts = line.split("│")
        if len(parts) > 3:
            out.append("│".join(parts[2:]))
        elif line[2:3] == " ":
            out.append(line)
    return out


@pytest.mark.parametrize("width", [40, 46, 54, 60, 62, 67, 68, 80])
def test_no_number_or_date_is_ever_cut(report: dict[str, Any], width: int) -> None:
    """Under about 66 columns Rich cut the numbers rather than the titles ("100.…", "02-…", a
    probability of "10…" for 100.0 % at 46): now titles give first (to their work order and
    id, "11. PAY-310…": 68 columns here), then a ticket takes two lines (title, then numbers),
    then under 50 columns the P85 dates are left out, said under the table."""
    lines = _text(report, width)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    cells = _number_cells(lines)
    assert cells and not any("…" in c for c in cells), "\n".join(lines)
    text = "\n".join(lines)
    said = " ".join(text.split("└", 1)[1].split())
    p85_shown = "P85" in text.split("└", 1)[0]
    for t in report["tickets"]:
        numbers = _numbers_of(lines, t).split()
        assert f"{t['p_complete']:.1%}" in numbers, (t["id"], numbers)
        assert f"{t['mean_remaining_sch']:.1f}" in numbers
        for key, shown in (("completion_date_p50", True), ("completion_date_p85", p85_shown)):
            if shown and t["status"] != "done":
                assert t[key][5:] in numbers, (t["id"], key, numbers)
    if not p85_shown:  # left out, said with the width that shows it
        assert "'P85 done by' left out to fit" in said
        assert width < 50 and "on a terminal 50 columns wide" in said
    else:
        assert "left out to fit" not in said
    if width >= 68:  # one line a ticket (the titles are cut first)
        assert all(len(rows) == 1 for rows in _ticket_lines(lines, report).values())
    # a title, cut or whole, keeps its work order and id
    assert all(any(line.startswith(f"│ {t['work_order']}. {t['id']}") for line in lines)
               for t in report["tickets"])  # fmt: skip


def test_a_narrow_ticket_takes_two_lines(report: dict[str, Any]) -> None:
    """At 60 columns: the title on its own line (the long one cut with '…', said under the
    table), its numbers on the next, each ending where its header ends."""
    lines = _text(report, 60)
    head = [line for line in lines if line.startswith("┃")]
    assert head[0] == "┃ " + "case / ticket (work order)".ljust(56) + " ┃"
    for t in report["tickets"][:-1]:
        (i,) = [k for k, line in enumerate(lines) if line.startswith(f"│ {t['work_order']}. ")]
        assert lines[i] == "│ " + f"{t['work_order']}. {t['id']} {t['title']}".ljust(56) + " │"
        numbers = lines[i + 1]
        effort = numbers.rstrip(" │").rsplit("  ", 1)[-1].strip()
        for header, value in (("by end)", f"{t['p_complete']:.1%}"), ("SCH hours", effort)):
            end = head[-1].index(header) + len(header)
            assert numbers[end - len(value) : end] == value, (header, numbers)
        assert effort.startswith(f"{t['mean_remaining_sch']:.1f} left")
    last = report["tickets"][-1]
    (row,) = [line for line in lines if line.startswith(f"│ {last['work_order']}. ")]
    assert row.endswith("… │") and LONG_TITLE not in "\n".join(lines)
    assert "'…': cut to fit" in " ".join("\n".join(lines).split())


def test_the_forecast_stage_on_a_46_column_terminal(tmp_path: Path) -> None:
    """The real command on a pseudo-terminal 46 columns wide: two lines a ticket, every
    probability, P50 date and effort whole (Rich printed "10…" for 100.0 % here), the P85 dates
    left out and said so."""
    cfg = _project(tmp_path)
    code, text = in_terminal("pipeline", "--config", str(cfg), "--stages", "forecast",
                             columns=46, timeout=180)  # fmt: skip
    assert code == 0, text
    (saved,) = (tmp_path / "out" / "forecasts").glob("*_forecast.json")
    tickets = json.loads(saved.read_text())["tickets"]
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    table = lines[top : next(i for i, line in enumerate(lines) if line.startswith("[done]"))]
    assert all(len(line) <= 46 for line in table), text  # (a path printed after is not cut)
    assert not any("…" in c for c in _number_cells(table)), text
    for t in tickets:
        numbers = _numbers_of(table, t).split()
        assert f"{t['p_complete']:.1%}" in numbers and f"{t['mean_remaining_sch']:.1f}" in numbers
        if t["status"] != "done":
            assert t["completion_date_p50"][5:] in numbers, (t["id"], numbers)
    said = " ".join(text.split())
    assert "'P85 done by' left out to fit" in said and "left*" in text
