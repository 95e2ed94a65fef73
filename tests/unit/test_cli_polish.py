"""Issue 14 items 5 and 6: forecasts a scrum master reads, and the CLI's streams and options."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from forecastexamples import HISTORY, LONG_TITLE, SPRINT
from proctools import child_env, in_terminal
from standard_coder.forecasting import run_forecast
from standard_coder.forecasting.effort import story_point_ratio
from standard_coder.forecasting.inputs import HistoricalSprint, Ticket
from standard_coder.forecasting.options import ForecastOptions
from standard_coder.forecasting.report import forecast_table


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=cwd,
        timeout=180,
    )


def fake_model(tickets: list[Ticket]) -> dict[str, np.ndarray]:
    return {t.id: np.array([2.0, 3.0, 4.0]) for t in tickets}


def _forecast(tmp_path: Path, *, history: Path = HISTORY) -> dict:
    sprint = json.loads(SPRINT.read_text())
    sprint["tickets"][-1]["title"] = LONG_TITLE
    path = tmp_path / "sprint.json"
    path.write_text(json.dumps(sprint))
    result = run_forecast(
        path,
        history,
        options=ForecastOptions(n_sims=2000),
        out_dir=tmp_path / "fc",
        model_effort=fake_model,
    )
    return result.report


def test_ticket_rows_carry_p50_p85_dates_and_their_remaining_share(tmp_path: Path) -> None:
    rep = _forecast(tmp_path)
    days = rep["working_days"] + rep["days_after_end"]
    for t in rep["tickets"]:
        if t["status"] == "done":
            assert t["completion_date_p50"] is None and t["completion_date_p85"] is None
            assert t["remaining_fraction"] == 0.0
            continue
        assert t["completion_date_p50"] in days and t["completion_date_p85"] in days
        assert t["completion_date_p50"] <= t["completion_date_p85"]
        assert days[t["completion_day_p85"] - 1] == t["completion_date_p85"]
    by_id = {t["id"]: t for t in rep["tickets"]}
    assert by_id["PAY-301"]["remaining_fraction"] == 0.6  # given in the file
    assert by_id["PAY-303"]["remaining_fraction"] == 0.2  # in_review: the documented default
    # the work order holds: a later ticket is never done before an earlier one
    open_rows = [t for t in rep["tickets"] if t["status"] != "done"]
    p85 = [t["completion_day_p85"] for t in open_rows]
    assert p85 == sorted(p85)
    # the last ticket's P85 date is the whole scope's
    assert open_rows[-1]["completion_date_p85"] == rep["completion_date_p85"]


def test_story_points_are_converted_by_a_ratio_learned_from_past_sprints(tmp_path: Path) -> None:
    history = json.loads(HISTORY.read_text())["sprints"]
    hours = sum(s["committed_sch"] for s in history)
    points = sum(s["committed_story_points"] for s in history)
    rep = _forecast(tmp_path)
    unit = rep["effort_unit"]
    assert unit["unit"] == "sch_hours"
    assert unit["story_points_ratio_source"] == "learned"
    assert unit["story_points_ratio_sprints"] == len(history)
    assert unit["story_points_to_sch"] == pytest.approx(hours / points, abs=1e-4)
    # a story-point ticket's mean effort is its points at that ratio (cv keeps the mean)
    row = next(t for t in rep["tickets"] if t["id"] == "PAY-306")  # 8 points, todo
    assert row["mean_remaining_sch"] == pytest.approx(8 * hours / points, rel=0.05)
    text = _render(rep, 200)
    assert (
        f"1 point = {hours / points:.2f} h (learned from {len(history)} past sprints; it moves"
        in text
    )
    assert "SCH = standard-coder hours" in text

    # without points in the history: the configured ratio, said so
    for s in history:
        del s["committed_story_points"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"sprints": history}))
    rep2 = _forecast(tmp_path, history=bare)
    assert rep2["effort_unit"]["story_points_ratio_source"] == "configured"
    assert rep2["effort_unit"]["story_points_to_sch"] == 2.0
    assert "configured" in _render(rep2, 200)


def test_story_point_ratio_ignores_sprints_without_points() -> None:
    def sprint(i: int, sch: float, points: float | None) -> HistoricalSprint:
        start = date(2026, 1, 5) + timedelta(days=14 * i)
        return HistoricalSprint(
            sprint_id=f"S{i}", start_date=start, end_date=start + timedelta(days=11),
            committed_sch=sch, done_sch=sch, workdays=10, completed=True,
            completed_on_day=9, committed_story_points=points,
        )  # fmt: skip

    ratio = story_point_ratio([sprint(0, 30, 10), sprint(1, 50, None), sprint(2, 60, 20)], 2.0)
    assert ratio.source == "learned" and ratio.n_sprints == 2
    assert ratio.sch_per_point == pytest.approx(90 / 30)
    assert story_point_ratio([sprint(0, 30, None)], 2.5).sch_per_point == 2.5


def _render(report: dict, width: int) -> str:
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(forecast_table(report))
    return console.export_text()


def test_console_table_wraps_full_titles_and_shows_dates(tmp_path: Path) -> None:
    """On 110 columns and more (and off a terminal: 120) titles are whole; under 110 the table
    keeps a line a ticket and cuts them (tests/unit/test_forecast_table.py)."""
    rep = _forecast(tmp_path)
    text = _render(rep, 110)
    words = " ".join(text.replace("│", " ").split())
    for word in LONG_TITLE.split():
        assert word in words, word  # wrapped over lines, never cut
    assert "…" not in text
    last = rep["tickets"][-1]
    assert last["completion_date_p85"] in text  # dates, not day numbers
    assert "P50 done by" in text and "P85 done by" in text


def test_forecast_check_suggests_the_nearest_field_name(tmp_path: Path) -> None:
    sprint = json.loads(SPRINT.read_text())
    sprint["tickets"][5]["stroy_points"] = sprint["tickets"][5].pop("story_points")
    bad = tmp_path / "sprint.json"
    bad.write_text(json.dumps(sprint))
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(
        f'[outputs]\nbase_dir = "out"\n[forecasting]\nsprint_inputs_path = {json.dumps(str(bad))}\n'
        f"historical_outcomes_path = {json.dumps(str(HISTORY))}\n"
    )
    proc = cli("forecast-check", "-c", str(cfg))
    assert proc.returncode == 2, proc.stderr
    assert "$.tickets[5].stroy_points: unknown field; did you mean 'story_points'?" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_backtest_explains_its_scores_on_stdout_and_logs_on_stderr(tmp_path: Path) -> None:
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(
        f'[outputs]\nbase_dir = "out"\n[forecasting]\nn_sims = 300\n'
        f"historical_outcomes_path = {json.dumps(str(HISTORY))}\n"
    )
    proc = cli("backtest", "-c", str(cfg))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Forecast backtest" in out and "lognormal *" in out
    for needle in ("Brier: mean squared gap", "skill: 1 - Brier", "P85 coverage: share of past"):
        assert needle in out, needle
    # 14 past sprints, 3 to start from: 11 backtested, enough to choose a method
    doc = json.loads((tmp_path / "out" / "reports" / "forecast_backtest.json").read_text())
    assert doc["enough_history_to_choose"] is True and doc["best_method"] in doc["methods"]
    assert "wrote" in proc.stderr and "wrote" not in out  # `> file` captures only the answer


@pytest.mark.parametrize("columns", [46, 60])
def test_backtest_scores_are_whole_on_a_narrow_terminal(tmp_path: Path, columns: int) -> None:
    """Rich cut the scores under about 60 columns ("0.12…", "-0.…"): a method's name folds, and
    where the scores do not fit beside it a method is a block of lines, every score whole."""
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(
        f'[outputs]\nbase_dir = "out"\n[forecasting]\nn_sims = 300\n'
        f"historical_outcomes_path = {json.dumps(str(HISTORY))}\n"
    )
    code, text = in_terminal("backtest", "-c", str(cfg), columns=columns, timeout=180)
    assert code == 0, text
    lines = text.splitlines()
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("└")) + 1]
    assert all(len(line) <= columns for line in table) and "…" not in "\n".join(table), text
    words = [w for line in table for w in line.replace("│", " ").split()]
    doc = json.loads((tmp_path / "out" / "reports" / "forecast_backtest.json").read_text())
    for name, m in doc["methods"].items():
        assert name in words or name in "".join(words), (name, text)
        for score in (f"{m['brier']:.4f}", f"{m['brier_reference']:.4f}",
                      f"{m['brier_skill']:+.3f}", f"{m['p85_coverage']:.2f}"):  # fmt: skip
            assert score in words, (name, score, text)

    short = json.loads(HISTORY.read_text())
    short["sprints"] = short["sprints"][:6]
    few = tmp_path / "few.json"
    few.write_text(json.dumps(short))
    cfg.write_text(
        f'[outputs]\nbase_dir = "out"\n[forecasting]\nn_sims = 300\n'
        f"historical_outcomes_path = {json.dumps(str(few))}\n"
    )
    proc = cli("backtest", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert "Too few past sprints to choose a method: 3 backtested" in proc.stdout
    doc = json.loads((tmp_path / "out" / "reports" / "forecast_backtest.json").read_text())
    assert doc["enough_history_to_choose"] is False and doc["best_method"] is None


def test_version() -> None:
    from standard_coder import __version__

    for args in (["--version"], ["--version", "status"]):
        proc = cli(*args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"standard-coder {__version__}\n"


def test_every_command_that_takes_a_config_takes_dash_c() -> None:
    import typer.main

    from standard_coder.cli import commands  # noqa: F401
    from standard_coder.cli.app import app

    group = typer.main.get_command(app)
    with_config = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            if "--config" in param.opts:
                with_config.append(name)
                assert "-c" in param.opts, name
                assert param.metavar == "FILE", name
            if "--set" in param.opts:
                assert param.metavar == "KEY.PATH=VALUE", name
    assert {"pipeline", "status", "backtest", "forecast-check", "gc", "report", "eval"} <= set(
        with_config
    )


def test_a_stage_failure_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / "pipeline.toml").write_text(
        '[pipeline]\nname = "fail-once"\n[outputs]\nbase_dir = "out"\n'
        '[[stages]]\nname = "one"\n'
        'cmd = ["python", "-c", "import sys; sys.exit(4)"]\n'
        'outs = ["o.json"]\n'
    )
    proc = cli("pipeline", "-c", str(tmp_path / "pipeline.toml"), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count("exited with status 4") == 1, proc.stderr
    assert "[FAIL] one" in proc.stderr and "Traceback" not in proc.stderr


def test_backtest_is_a_readable_table_in_the_report(tmp_path: Path) -> None:
    from standard_coder.forecasting.backtest import run_backtest
    from standard_coder.forecasting.inputs import load_historical_outcomes
    from standard_coder.reporting.evaluation import render_evaluation
    from standard_coder.reporting.forecasts import render_forecasts
    from standard_coder.runner.report import SectionInput

    result = run_backtest(load_historical_outcomes(HISTORY).sprints, n_sims=300)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "forecast_backtest.json").write_text(json.dumps(result))
    given = SectionInput(base_dir=tmp_path, cache_dir=None, run_id=None, stamp={})
    html = render_forecasts(given)
    assert "<th class='num'>Brier</th>" in html and "<th class='num'>P85 coverage</th>" in html
    for method, scores in result["methods"].items():
        assert f"<td>{method}" in html
        assert f"{scores['brier']:.3f}"[:4] in html
    assert "lognormal <span class='muted'>(configured)</span>" in html
    assert "0 is perfect, 0.25 is a coin flip" in html  # the words, not only numbers
    # shown once: the Evaluation section no longer lists it as flattened keys
    assert "forecast backtest" not in render_evaluation(given)


def test_team_outputs_files_are_shown_once_in_their_own_section(tmp_path: Path) -> None:
    from standard_coder.pipelines.sch_layout import SchLayout
    from standard_coder.pipelines.sch_team import people_json, reapplied_json
    from standard_coder.reporting.evaluation import render_evaluation
    from standard_coder.runner.report import SectionInput

    layout = SchLayout(tmp_path)
    layout.reports.mkdir(parents=True)
    layout.team_output_people.write_text(people_json({"a@home.example": "a@work.example"}, True))
    row = {
        "repo": "r",
        "commit_id": "c" * 40,
        "source_commit_id": "d" * 40,
        "share": 1.0,
        "lines": 5,
        "period": "2025-W01",
        "author": "a@work.example",
        "sch_hours": 0.5,
    }
    layout.team_output_reapplied.write_text(reapplied_json([row]))
    (layout.reports / "other_tool.json").write_text(json.dumps({"answer": 42}))
    html = render_evaluation(SectionInput(base_dir=tmp_path, cache_dir=None, run_id=None, stamp={}))
    assert "team output people" not in html and "a@home.example" not in html
    assert "team output reapplied" not in html and "c" * 40 not in html
    assert "other tool" in html  # a file no section shows is still listed


def test_report_card_lists_tickets_with_dates_and_explains_sch(tmp_path: Path) -> None:
    from standard_coder.reporting.forecasts import render_forecasts
    from standard_coder.runner.report import SectionInput

    rep = _forecast(tmp_path)  # writes <tmp>/fc/PAY-55_forecast.json
    (tmp_path / "forecasts").mkdir()
    (tmp_path / "forecasts" / "PAY-55_forecast.json").write_text(json.dumps(rep))
    html = render_forecasts(SectionInput(base_dir=tmp_path, cache_dir=None, run_id=None, stamp={}))
    assert "SCH = standard-coder hours" in html
    assert LONG_TITLE in html  # the whole title
    last = rep["tickets"][-1]
    late = " (late)" if last["completion_day_p85"] > rep["n_working_days"] else ""
    assert f"<td class='num'>{last['completion_date_p85']}{late}</td>" in html
    assert rep["completion_date_p85"] in html  # the P85 tile is a date
    assert "learned from 14 past sprints" in html
    # vcrpy: "expected remaining sch 72.04" right after "expected completed sch 68.85" read as
    # what is left at the end; it is the open effort at the sprint's start
    assert "expected remaining sch (open effort at the sprint&#39;s start)" in html


def _evaluation_section(base: Path, ev: dict[str, object]) -> str:
    """The report's Evaluation section over ``ev`` written as ``reports/sch_evaluation.json``."""
    from standard_coder.reporting.evaluation import render_evaluation
    from standard_coder.runner.report import SectionInput

    reports = base / "reports"
    reports.mkdir(parents=True)
    (reports / "sch_evaluation.json").write_text(json.dumps(ev))
    return render_evaluation(SectionInput(base_dir=base, cache_dir=None, run_id=None, stamp={}))


def test_the_report_shows_how_sure_each_target_is(tmp_path: Path) -> None:
    sure = {"level": 0.9, "resamples": 1000, "n": 53,
            "sch_above_lines_added": {"value": -0.0888, "low": -0.2104, "high": 0.0241,
                                      "verdict": "undecided"},
            "calibration_r2_positive": {"value": 0.61, "low": 0.2, "high": 0.8,
                                        "verdict": "met"},
            "sch_ranks_above_chance": {"value": 0.31, "low": 0.09, "high": 0.5,
                                       "verdict": "met"}}  # fmt: skip
    ev = {"heldout_nll": 1.1, "baseline_loc_heldout_nll": 1.2, "target_intervals": sure}
    html = _evaluation_section(tmp_path, ev)
    assert "90% bootstrap interval over 53 held-out changes" in html
    assert "<td>SCH ranks above chance (its Spearman &gt; 0)</td>" in html
    assert "<td>SCH ranks above lines added (Spearman difference &gt; 0)</td>" in html
    assert "<td class='num'>-0.089</td><td class='num'>-0.210 to 0.024</td>" in html
    assert "missed on its figure, within the held-out changes' noise" in html
    assert "<span class='good'>met</span>" in html
    assert "sch_above_lines_added.verdict" not in html  # a table, not flattened keys
    assert "What to keep in mind" not in html  # nothing to warn of: no such list
    # a figure near 0 is no "-9.000e-04" among three-decimal cells (vcrpy's NLL difference)
    sure["nll_below_loc"] = {"value": -0.0004, "low": -0.0133, "high": 0.0104,
                             "verdict": "undecided"}  # fmt: skip
    html = _evaluation_section(tmp_path / "near0", ev | {"target_intervals": sure})
    assert "e-04" not in html
    assert "<td class='num'>-0.0004</td><td class='num'>-0.013 to 0.010</td>" in html


def test_the_report_says_the_summarys_warnings(tmp_path: Path) -> None:
    sure = {"level": 0.9, "resamples": 1000, "n": 942,
            "nll_below_loc": {"value": -0.0607, "low": -0.0763, "high": -0.0475,
                              "verdict": "missed"}}  # fmt: skip
    ev = {"heldout_nll": 1.199, "baseline_loc_heldout_nll": 1.138, "spearman_sch": 0.20,
          "spearman_lines_added": 0.30, "target_intervals": sure}  # fmt: skip
    html = _evaluation_section(tmp_path, ev)
    assert "<h3>What to keep in mind</h3><ul class='warns'>" in html
    assert "<li>the model ranks changes worse than counting lines added" in html
    assert "fit the held-out changes worse than the LOC baseline&#39;s" in html


def test_a_metric_and_its_every_change_twin_share_a_row(tmp_path: Path) -> None:
    ev = {"coverage_80": 0.77, "baseline_loc_coverage_80": 0.72,
          "coverage_80_all": 0.78, "baseline_loc_coverage_80_all": 0.73,
          "heldout_nll": 1.0, "baseline_loc_heldout_nll": 1.1,
          "crps_all": 0.5,  # a twin without its metric keeps a row of its own
          "spearman_sch": 0.32, "spearman_sch_all": 0.26, "baseline_loc_spearman_sch": 0.30,
          "spearman_lines_added": 0.33, "spearman_lines_added_all": 0.28}  # fmt: skip
    html = _evaluation_section(tmp_path, ev)
    cells = {
        re.sub(r"<[^>]+>", "", r.split("</td>")[0]): re.findall(r"<td class='num'>(.*?)</td>", r)
        for r in html.split("<tr>")
        if r.startswith("<td>")
    }
    assert cells["coverage 80 (nominal 80%)"] == ["0.770", "0.720", "0.780", "0.730"]
    assert "model better" in html.split("coverage 80")[1].split("</tr>")[0]
    # figures that read the same are level, not a win by a digit the page does not show
    # (vcrpy: "0.803 | 0.803 | model better", "0.448 | 0.448 | baseline better")
    html = _evaluation_section(tmp_path / "level", ev | {"coverage_80": 0.80315,
                                               "baseline_loc_coverage_80": 0.8034})  # fmt: skip
    row = html.split("coverage 80")[1].split("</tr>")[0]
    assert "level" in row and "better" not in row
    assert cells["heldout nll"] == ["1", "1.1", "—", "—"]
    assert cells["crps all"] == ["0.500", "—", "—", "—"]
    assert not any(k.startswith("coverage 80 all") for k in cells) and "_all%" not in html
    assert "<th class='num'>model, every change</th>" in html
    assert cells["sch"] == ["0.320", "0.300", "0.260"] and "sch all" not in cells
    assert cells["lines added"] == ["0.330", "—", "0.280"]


def test_the_counts_are_said_in_words_from_fitted_to_held_out(tmp_path: Path) -> None:
    # colorama's report read "22 n test pooled", "8 n test r3 all": the evaluation's keys
    ev = {"n_test": 29, "n_test_normal": 18, "n_test_pooled": 22, "n_test_r3": 8,
          "n_test_r3_all": 8, "n_train": 103, "n_validation": 11, "heldout_nll": 0.5}  # fmt: skip
    html = _evaluation_section(tmp_path, ev)
    labels = re.findall(r"<div class='tl'>(.*?)</div>", html)
    assert labels[:3] == ["changes fitted", "changes for early stopping", "held-out changes"]
    assert not any(t.startswith("n ") for t in labels) and len(labels) == 7


def test_a_correlation_near_zero_is_said_to_three_decimals(tmp_path: Path) -> None:
    # colorama's churn over every change: "-2.484e-04" between cells of "0.530" and "-0.098"
    ev = {"spearman_churn": 0.215, "spearman_churn_all": -0.0002484,
          "spearman_sch": 0.0004, "baseline_loc_spearman_sch": -0.573}  # fmt: skip
    html = _evaluation_section(tmp_path, ev)
    assert "e-04" not in html and "<td class='num'>-0.000</td>" in html
    assert "<td class='num'>0.000</td>" in html and "<td class='num'>-0.573</td>" in html


def test_the_loc_baselines_every_change_spearman_is_in_the_spearman_table(
    tmp_path: Path,
) -> None:
    """Session 38 (pint, funcy): the table gave SCH's every-change rho but left the LOC
    baseline's under "Other metrics" as "baseline loc spearman sch all"."""
    ev = {"spearman_sch": 0.325, "spearman_sch_all": 0.252, "baseline_loc_spearman_sch": 0.312,
          "baseline_loc_spearman_sch_all": 0.144, "spearman_lines_added": 0.292,
          "spearman_lines_added_all": 0.279}  # fmt: skip
    html = _evaluation_section(tmp_path, ev)
    head = html.split("Spearman correlation with inferred coding time")[1].split("</thead>")[0]
    assert "<th class='num'>LOC baseline, every change</th>" in head
    row = html.split("<tr><td>sch</td>")[1].split("</tr>")[0]
    assert re.findall(r"<td class='num'>(.*?)</td>", row) == ["0.325", "0.312", "0.252", "0.144"]
    assert "baseline loc spearman sch all" not in html


def test_the_models_untruncated_mean_is_named_as_the_models_in_the_spearman_table(
    tmp_path: Path,
) -> None:
    """Session 40 (pytest-rerunfailures): the table listed "mean" among the counts (spaces,
    churn, tokens), as if it were the mean of them, where it is the model's predicted mean."""
    ev = {"spearman_sch": 0.739, "spearman_mean": 0.313, "spearman_churn": 0.456,
          "spearman_spaces": 0.504}  # fmt: skip
    html = _evaluation_section(tmp_path, ev)
    rows = re.findall(r"<tr><td>([^<]*)</td><td class='num'>([^<]*)</td>", html)
    assert ("the model&#39;s mean, not truncated at 1 h (SCH is)", "0.313") in rows
    assert ("mean", "0.313") not in rows and ("sch", "0.739") in rows
    assert ("churn", "0.456") in rows and ("spaces", "0.504") in rows


def test_report_shows_the_newest_forecast_and_lists_older_sprints_apart(tmp_path: Path) -> None:
    """After sprint_id changes, the old sprint's file stays in forecasts/: the report's card is
    the newest file's; the old one is an 'earlier forecast' row, not a second current card."""
    import os

    from standard_coder.reporting.forecasts import render_forecasts
    from standard_coder.runner.report import SectionInput

    rep = _forecast(tmp_path)
    fdir = tmp_path / "forecasts"
    fdir.mkdir()
    old = dict(rep, sprint_id="OLD-1")
    (fdir / "OLD-1_forecast.json").write_text(json.dumps(old))
    os.utime(fdir / "OLD-1_forecast.json", (1_700_000_000, 1_700_000_000))
    (fdir / "PAY-55_forecast.json").write_text(json.dumps(rep))
    html = render_forecasts(SectionInput(base_dir=tmp_path, cache_dir=None, run_id=None, stamp={}))
    assert html.count("<h3>Sprint ") == 1 and "<h3>Sprint PAY-55</h3>" in html
    assert "Earlier forecasts" in html and "<td>OLD-1</td><td>2023-11-14 22:13 UTC</td>" in html
    # touching the old sprint's file (a copy, a backup restored) does not make it current:
    # the card is the latest sprint's, by the start_date in the file
    (fdir / "OLD-1_forecast.json").write_text(json.dumps(dict(old, start_date="2026-01-05")))
    os.utime(fdir / "PAY-55_forecast.json", (1_700_000_000, 1_700_000_000))
    html = render_forecasts(SectionInput(base_dir=tmp_path, cache_dir=None, run_id=None, stamp={}))
    assert html.count("<h3>Sprint ") == 1 and "<h3>Sprint PAY-55</h3>" in html, html
    assert "<td>OLD-1</td>" in html


def test_the_calibration_extras_are_said_in_words(tmp_path: Path) -> None:
    # pint's report read "binned calibration r2 r3" and "binned calibration slope", unexplained
    ev = {"binned_calibration_r2": 0.7, "binned_calibration_r2_r3": -0.7,
          "binned_calibration_slope": 1.2, "binned_calibration_bias": -0.01}  # fmt: skip
    html = _evaluation_section(tmp_path, ev)
    assert "binned calibration R², the paper&#39;s R3 (changes whose raw commit interval" in html
    assert "calibration slope, actual on SCH per bin" in html
    assert "calibration level error, SCH minus actual (h per bin)" in html
    assert "binned calibration r2 r3" not in html and "binned calibration slope" not in html


def test_the_reports_fit_details_are_titled_and_their_numbers_rounded(tmp_path: Path) -> None:
    """What `auto` chose and the shift model's fit read as words and rounded numbers, not as
    the JSON's keys and sixteen digits (mistune's report, a new user's first look)."""
    ev = {"heldout_nll": 1.1, "baseline_loc_heldout_nll": 1.2,
          "shift_fit": {"location_range": [-1.867177365371601, 0.29021930989621014],
                        "sch_map": [0.0693, 0.864]},
          "held_out_shift": {"mean_actual_fitted": 0.462, "mean_actual_held_out": 0.474},
          "target_intervals": {"level": 0.9, "n": 134,
                               "sch_above_lines_added": {"value": 0.07, "low": -0.001,
                                                         "high": 0.16,
                                                         "verdict": "undecided"}}}  # fmt: skip
    html = _evaluation_section(tmp_path, ev)
    assert "The location-shift model as fitted" in html
    assert "How the held-out period differs from the fitted one" in html
    assert "[-1.867, 0.290]" in html and "1.867177365371601" not in html
    assert "mean actual held out" in html and "mean_actual_held_out" not in html
    assert "met on its figure, within the held-out changes' noise" in html


def test_the_forecasts_section_says_how_a_forecast_is_made(tmp_path: Path) -> None:
    from standard_coder.reporting.forecasts import render_forecasts
    from standard_coder.runner.report import SectionInput

    html = render_forecasts(SectionInput(base_dir=tmp_path, cache_dir=None, run_id=None, stamp={}))
    assert "No forecasts in" in html
    assert "[forecasting] sprint_inputs_path names a sprint file" in html


def test_eval_repos_warnings_speak_of_the_given_repositories() -> None:
    """``eval --repos`` scores every change of other repositories; the summary's warnings said
    "of the held-out changes" (an AI-agent share, coverage, squash merges)."""
    from standard_coder.cli.eval_cmd import _scored

    said = _scored(
        "40% of the held-out changes were written with an AI coding agent; the 80% ranges hold "
        "61% of the held-out changes' inferred coding time; more held-out history would tell"
    )
    assert "held-out" not in said and "the given repositories' changes were written" in said
    assert "more history would tell" in said


def test_gc_and_report_take_set_for_the_outputs_keys_they_read(tmp_path: Path) -> None:
    """README: any key can be overridden for one run with --set; ``gc --set
    outputs.retention_days=0`` was Click's three-line "No such option". They take the keys they
    read, and name those for any other."""
    (tmp_path / "pipeline.toml").write_text('[outputs]\nbase_dir = "out"\n[[stages]]\n'
                                            'name = "one"\ncmd = ["true"]\n')  # fmt: skip
    (tmp_path / "other").mkdir()
    config = str(tmp_path / "pipeline.toml")
    gc = cli("gc", "-c", config, "--dry-run", "--set", "outputs.base_dir=elsewhere", cwd=tmp_path)
    assert gc.returncode == 0 and "elsewhere does not exist" in " ".join(gc.stdout.split())
    report = cli("report", "-c", config, "--set", "outputs.base_dir=other", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert report.stdout.strip() == str(tmp_path / "other" / "reports" / "index.html")
    bad = cli("gc", "-c", config, "--set", "outputs.retention_day=0", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: --set outputs.retention_day: this command reads only outputs.base_dir and "
        "outputs.retention_days; did you mean 'outputs.retention_days'?"
    )


def test_eval_repos_says_when_its_figures_are_in_sample(tmp_path: Path) -> None:
    """``eval --repos`` of a repository the config mines scored the model on history it had
    trained on without a word; and the config's commit cap applied to --repos silently."""
    import subprocess

    from standard_coder.cli.eval_cmd import _repos_notes
    from standard_coder.config import load_config

    for name in ("mined", "other"):
        subprocess.run(["git", "init", "-q", str(tmp_path / name)], check=True)
    (tmp_path / "c.toml").write_text(
        '[repos]\ninclude_paths = ["mined"]\nmax_commits_per_repo = 150\n'
    )
    cfg = load_config(tmp_path / "c.toml", [])
    in_sample, cap = _repos_notes(cfg, [tmp_path / "mined", tmp_path / "other"])
    assert in_sample.startswith(f"warning: --repos {tmp_path / 'mined'}: the config mines it")
    assert "in-sample" in in_sample and cap.startswith("note: --repos mines the last 150 commits")
    assert _repos_notes(cfg, []) == []
    # without --config (the checkpoint's run folder's defaults: include_paths ".") nothing is
    # known of what the model mined: no in-sample warning for the repository one stands in
    from standard_coder.cli.eval_cmd import _defaults_for

    model = tmp_path / "run" / "models" / "mdn" / "model.pt"
    defaults = _defaults_for(model, [])
    assert defaults.config_path is None
    notes = _repos_notes(defaults, [Path(".").resolve(), tmp_path / "mined"])
    assert not [n for n in notes if "in-sample" in n], notes


def test_eval_repos_says_when_a_clone_elsewhere_holds_mined_commits(tmp_path: Path) -> None:
    """itsdangerous: ``eval --repos`` on a fresh clone of the mined repository scored it as
    unseen history (Spearman 0.34 against 0.17 held out) with no warning: the path differed."""
    import sqlite3
    import subprocess

    from standard_coder.cli.eval_cmd import _repos_notes
    from standard_coder.config import load_config
    from standard_coder.sch.mining.schema import SCHEMA

    src = tmp_path / "mined"
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    for i in range(3):
        (src / f"m{i}.py").write_text(f"x = {i}\n")
        subprocess.run(["git", "-C", str(src), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(src), "-c", "user.name=A", "-c", "user.email=a@x",
                        "commit", "-qm", f"c{i}"], check=True)  # fmt: skip
    ids = subprocess.run(["git", "-C", str(src), "rev-list", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.split()  # fmt: skip
    subprocess.run(["git", "clone", "-q", str(src), str(tmp_path / "clone")], check=True)
    (tmp_path / "c.toml").write_text('[repos]\ninclude_paths = ["mined"]\n')
    cfg = load_config(tmp_path / "c.toml", [])
    db = tmp_path / "sc-output" / "raw" / "mined_commits.sqlite"
    assert _repos_notes(cfg, [tmp_path / "clone"]) == []  # nothing mined yet: nothing known
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as con:
        con.executescript(SCHEMA)
        for cid in ids[1:]:  # the mine stored two of the three
            con.execute("INSERT INTO commits VALUES ('mined-1', ?, '', 'A', 'a@x', 'a@x', 0, 0, "
                        "0, 's', 1, 1, 0, 0, NULL)", (cid,))  # fmt: skip
    con.close()
    (line,) = _repos_notes(cfg, [tmp_path / "clone"])
    assert line.startswith(f"warning: --repos {tmp_path / 'clone'}: 2 of its 3 commits are in "
                           f"the history the model was mined from ({db}; a clone")  # fmt: skip
    assert line.endswith("in part in-sample, not a test on history it has not seen")
    # a repository of other commits, and a folder that is none: nothing said
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    assert _repos_notes(cfg, [other, tmp_path / "no-repo"]) == []


def test_the_report_says_in_words_why_auto_chose_its_model(tmp_path: Path) -> None:
    """vcrpy: the table read "chosen shift_w0" beside a higher validation Spearman of the MDN,
    and nothing said that the MDN needed a lead of two standard errors (and fitted worse)."""
    from standard_coder.reporting.evaluation import selection_words

    ms = {"chosen": "shift_w0", "kind": "shift", "rule": "spearman_se", "margin_se": 2.0,
          "margin_spearman": 0.2555, "n_validation": 68,
          "validation": {"mdn": {"nll": 1.0593, "spearman": 0.1167},
                         "shift_w0": {"nll": 0.9846, "spearman": -0.0443}}}  # fmt: skip
    said = selection_words(ms)
    assert said == (
        "shift_w0 kept: mdn ranked the 68 validation changes better (Spearman 0.117 against "
        "-0.044), but by less than the lead a switch from it needs (2 standard errors: 0.256) "
        "and fitted them worse (NLL 1.059 against 0.985)."
    )
    html = _evaluation_section(tmp_path, {"heldout_nll": 1.0, "model_selection": ms})
    assert f"<p>{said}</p>" in html.replace("&#39;", "'")
    ms |= {"chosen": "mdn", "kind": "mdn"}
    ms["validation"]["mdn"]["spearman"] = 0.4
    assert selection_words(ms) == (
        "mdn chosen: it ranked the 68 validation changes best (Spearman 0.400; shift_w0 -0.044)."
    )
    assert selection_words({"chosen": "mdn"}) is None and selection_words(None) is None
    # the other rules are said as what they are: no floor is "kept" by them
    ms |= {"rule": "nll", "chosen": "shift_w0", "kind": "shift"}
    assert selection_words(ms) == (
        "shift_w0 chosen: it fitted the 68 validation changes best (NLL 0.985; mdn 1.059; "
        "the rule is nll)."
    )
    ms |= {"rule": "both", "nll_slack": 0.05}
    assert selection_words(ms) == (
        "shift_w0 chosen: mdn ranked the 68 validation changes better (Spearman 0.400 against "
        "-0.044) but fitted them more than the 0.05 NLL the rule both allows above the best "
        "fit (mdn 1.059, shift_w0 0.985)."
    )
    # three candidates: the one dropped is measured against the best fit, not the one chosen
    ms["validation"] |= {"a": {"nll": 1.0, "spearman": 0.0}, "b": {"nll": 1.045, "spearman": 0.1},
                         "c": {"nll": 1.055, "spearman": 0.5}}  # fmt: skip
    del ms["validation"]["mdn"], ms["validation"]["shift_w0"]
    ms["chosen"] = "b"
    assert selection_words(ms) == (
        "b chosen: c ranked the 68 validation changes better (Spearman 0.500 against 0.100) but "
        "fitted them more than the 0.05 NLL the rule both allows above the best fit (c 1.055, "
        "a 1.000)."
    )


def test_the_reports_eval_runs_say_what_was_scored_with_the_summarys_figures(
    tmp_path: Path,
) -> None:
    """itsdangerous, five ``eval`` runs: every column was ``baseline loc ...`` (the first ten
    keys in alphabetical order), and nothing said which checkpoint was scored or on what."""
    import hashlib
    import re

    from standard_coder.pipelines.sch_layout import SchLayout

    layout = SchLayout(tmp_path)
    model = tmp_path / "models" / "auto" / "model.pt"
    baseline = tmp_path / "models" / "baseline_loc" / "model.pt"
    for path, body in ((model, b"model v1"), (baseline, b"baseline")):
        path.parent.mkdir(parents=True)
        path.write_bytes(body)
    figures = {"n_test_normal": 29, "spearman_sch": 0.169, "spearman_lines_added": 0.11,
               "heldout_nll": 0.41, "baseline_loc_heldout_nll": 0.44, "coverage_80": 0.79,
               "binned_calibration_r2": -0.2, "baseline_loc_coverage_50": 0.5}  # fmt: skip
    runs = {
        "20261207-221214-aaaa": {"checkpoint": str(model), "split": "held-out (test)",
                                 "checkpoint_sha256": hashlib.sha256(b"model v0").hexdigest()},
        "20261207-221244-bbbb": {"checkpoint": str(baseline), "split": "held-out (test)",
                                 "checkpoint_sha256": hashlib.sha256(b"baseline").hexdigest()},
        "20261207-221347-cccc": {"checkpoint": str(model), "repos": ["/x/repo2"],
                                 "checkpoint_sha256": hashlib.sha256(b"model v1").hexdigest()},
    }  # fmt: skip
    for eid, doc in runs.items():
        (layout.eval_runs / eid).mkdir(parents=True)
        (layout.eval_runs / eid / "metrics.json").write_text(json.dumps(doc | figures))
    html = _evaluation_section(tmp_path, {"heldout_nll": 0.41})
    table = html.split("Evaluation runs")[1].split("</table>")[0]
    heads = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", table)
    assert heads == ["eval", "checkpoint", "scored on", "changes", "Spearman SCH",
                     "Spearman lines added", "NLL", "LOC baseline NLL", "80% coverage",
                     "calibration R²"]  # fmt: skip
    cells = [
        re.findall(r"<td[^>]*>(.*?)</td>", tr)
        for tr in table.split("<tbody>")[1].split("</tr>")[:-1]
    ]
    assert [c[:3] for c in cells] == [
        ["20261207-221214-aaaa", "auto (retrained since)", "held-out (test)"],
        ["20261207-221244-bbbb", "baseline_loc", "held-out (test)"],
        ["20261207-221347-cccc", "auto", "repo2"],
    ]
    assert cells[0][3:5] == ["29", "0.169"]
