"""Sprint inputs / historical outcomes: every bad input gives one message naming file and field."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from standard_coder.forecasting.inputs import (
    SCHEMA_FILES,
    ForecastInputError,
    load_historical_outcomes,
    load_sprint_inputs,
    schema_text,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "forecasting"

SPRINT: dict[str, Any] = {
    "sprint_id": "S-1",
    "start_date": "2026-03-02",
    "end_date": "2026-03-13",
    "members": [{"name": "ann", "daily_capacity_hours": 6}],
    "tickets": [
        {"id": "T-1", "title": "a", "status": "todo", "story_points": 3},
        {"id": "T-2", "title": "b", "status": "done"},
    ],
}
HISTORY: dict[str, Any] = {
    "sprints": [
        {
            "sprint_id": "H-1",
            "start_date": "2026-02-02",
            "end_date": "2026-02-13",
            "committed_sch": 50,
            "done_sch": 50,
            "workdays": 10,
            "completed": True,
            "completed_on_day": 8,
        }
    ]
}


def _mutated(base: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    node = data
    for p in path[:-1]:
        node = node[p]
    if value is _DELETE:
        del node[path[-1]]
    elif path[-1] == "append":
        node.append(value)
    else:
        node[path[-1]] = value
    return data


_DELETE = object()

# (kind, which file, mutation path, new value, expected JSON path, expected words)
SPRINT_CASES = [
    ("missing field", ["sprint_id"], _DELETE, "$.sprint_id", "required field is missing"),
    ("wrong type", ["tickets", 0, "story_points"], "five", "$.tickets[0].story_points", "number"),
    ("end before start", ["end_date"], "2026-03-01", "$.end_date", "on or after start_date"),
    (
        "negative capacity",
        ["members", 0, "daily_capacity_hours"],
        -2,
        "$.members[0].daily_capacity_hours",
        "greater than or equal to 0",
    ),
    ("unknown status", ["tickets", 0, "status"], "blocked", "$.tickets[0].status", '"todo"'),
    (
        "null hours",
        ["members", 0, "daily_capacity_hours"],
        None,
        "$.members[0].daily_capacity_hours",
        "(got null)",
    ),
    (
        "duplicate ticket id",
        ["tickets", "append"],
        {"id": "T-1", "status": "todo", "story_points": 1},
        "$.tickets",
        "duplicate ticket id 'T-1'",
    ),
    ("bad date", ["start_date"], "March 2nd", "$.start_date", "expected a date written YYYY-MM-DD"),
    ("no such day", ["start_date"], "2026-02-30", "$.start_date", "day value is outside"),
    ("bad id", ["sprint_id"], "S 1", "$.sprint_id", "expected letters, digits, '.', '_' or '-'"),
    ("no effort source", ["tickets", 0, "story_points"], _DELETE, "$.tickets[0]", "story_points"),
    ("unknown field", ["tickets", 0, "points"], 3, "$.tickets[0].points", "unknown field"),
    # a tracker export's "3" was read as the number quietly, though the schema says a number
    (
        "number as text",
        ["tickets", 0, "story_points"],
        "3",
        "$.tickets[0].story_points",
        'expected a number, not text (write it without quotes) (got "3")',
    ),
    (
        "hours as text",
        ["members", 0, "daily_capacity_hours"],
        "6",
        "$.members[0].daily_capacity_hours",
        "expected a number, not text",
    ),
]


@pytest.mark.parametrize(("kind", "path", "value", "json_path", "words"), SPRINT_CASES)
def test_sprint_input_errors_name_file_and_field(
    tmp_path: Path, kind: str, path: list[Any], value: Any, json_path: str, words: str
) -> None:
    f = tmp_path / "sprint.json"
    f.write_text(json.dumps(_mutated(SPRINT, path, value)))
    with pytest.raises(ForecastInputError) as info:
        load_sprint_inputs(f)
    msg = str(info.value)
    assert msg.startswith(f"{f}: {json_path}: "), msg
    assert words in msg, msg
    assert "\n" not in msg and "Traceback" not in msg


HISTORY_CASES = [
    ("missing field", ["sprints", 0, "completed"], _DELETE, "$.sprints[0].completed", "missing"),
    ("wrong type", ["sprints", 0, "workdays"], "ten", "$.sprints[0].workdays", "integer"),
    (
        "integer as text",
        ["sprints", 0, "workdays"],
        "10",
        "$.sprints[0].workdays",
        'expected an integer, not text (write it without quotes) (got "10")',
    ),
    (
        "end before start",
        ["sprints", 0, "end_date"],
        "2026-01-01",
        "$.sprints[0].end_date",
        "on or after",
    ),
    (
        "day after end",
        ["sprints", 0, "completed_on_day"],
        11,
        "$.sprints[0].completed_on_day",
        "between 1 and workdays",
    ),
    (
        "completed without day",
        ["sprints", 0, "completed_on_day"],
        _DELETE,
        "$.sprints[0].completed_on_day",
        "when completed is true",
    ),
    (
        "negative done",
        ["sprints", 0, "done_sch"],
        -1,
        "$.sprints[0].done_sch",
        "greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(("kind", "path", "value", "json_path", "words"), HISTORY_CASES)
def test_history_errors_name_file_and_field(
    tmp_path: Path, kind: str, path: list[Any], value: Any, json_path: str, words: str
) -> None:
    f = tmp_path / "history.json"
    f.write_text(json.dumps(_mutated(HISTORY, path, value)))
    with pytest.raises(ForecastInputError) as info:
        load_historical_outcomes(f)
    msg = str(info.value)
    assert msg.startswith(f"{f}: {json_path}: "), msg
    assert words in msg, msg


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "sprint.json"
    f.write_text('{"sprint_id": "S-1",,}')
    with pytest.raises(ForecastInputError, match=r"sprint\.json: not valid JSON \(line 1, column"):
        load_sprint_inputs(f)
    f.write_text("[1, 2]")
    with pytest.raises(
        ForecastInputError,
        match=r"sprint\.json: the sprint inputs file is a JSON array, not an object",
    ):
        load_sprint_inputs(f)
    with pytest.raises(ForecastInputError, match="file not found"):
        load_historical_outcomes(tmp_path / "nope.json")


def test_several_problems_are_one_message(tmp_path: Path) -> None:
    data = _mutated(SPRINT, ["tickets", 0, "status"], "blocked")
    data["members"][0]["daily_capacity_hours"] = -1
    f = tmp_path / "sprint.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ForecastInputError) as info:
        load_sprint_inputs(f)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{f}: 2 problems in sprint inputs"
    assert any("$.tickets[0].status" in x for x in lines)
    assert any("$.members[0].daily_capacity_hours" in x for x in lines)


def test_examples_load_and_cover_every_effort_source() -> None:
    sprint = load_sprint_inputs(EXAMPLES / "sprint_inputs.example.json")
    history = load_historical_outcomes(EXAMPLES / "historical_outcomes.example.json")
    assert any(t.diff and t.diff.startswith("diff --git") for t in sprint.tickets)
    assert any(t.commit_ids for t in sprint.tickets)
    assert any(t.story_points is not None and not t.needs_model for t in sprint.tickets)
    assert any(t.status == "done" for t in sprint.tickets)
    assert len(history.sprints) >= 10
    starts = [s.start_date for s in history.sprints]
    assert starts == sorted(starts)
    # each example diff is whole (its hunks hold what their headers count), so it prices the
    # same as a ticket and as `estimate --diff`, which refuses a hunk cut short
    from standard_coder.sch.predictors.stage import parse_unified_diff

    for t in sprint.tickets:
        if t.diff:
            assert parse_unified_diff(t.diff, strict=True), t.id


def test_work_order_is_priority_then_listed_order() -> None:
    from standard_coder.forecasting.inputs import SprintInputs

    data = copy.deepcopy(SPRINT)
    data["tickets"] = [
        {"id": "a", "status": "todo", "story_points": 1},
        {"id": "b", "status": "todo", "story_points": 1, "priority": 2},
        {"id": "c", "status": "todo", "story_points": 1},
        {"id": "d", "status": "todo", "story_points": 1, "priority": 1},
    ]
    assert [t.id for t in SprintInputs.model_validate(data).ordered_tickets()] == list("dbac")


def test_working_days_skip_weekends_and_holidays() -> None:
    from standard_coder.forecasting.inputs import SprintInputs

    data = {**SPRINT, "holidays": ["2026-03-04"]}
    s = SprintInputs.model_validate(data)
    days = s.working_days()
    assert len(days) == 9 and all(d.weekday() < 5 for d in days)
    assert [d.isoformat() for d in s.working_days_after_end(2)] == ["2026-03-16", "2026-03-17"]


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_committed_schema_files_equal_generated(name: str) -> None:
    committed = (ROOT / "docs" / name).read_text()
    assert committed == schema_text(SCHEMA_FILES[name]), (
        f"docs/{name} is stale: PYTHONPATH=src python -m standard_coder.forecasting.schema_gen docs"
    )


def test_examples_validate_against_committed_schemas() -> None:
    import jsonschema

    for example, name in (
        ("sprint_inputs.example.json", "sprint_inputs.schema.json"),
        ("historical_outcomes.example.json", "historical_outcomes.schema.json"),
    ):
        schema = json.loads((ROOT / "docs" / name).read_text())
        jsonschema.validate(json.loads((EXAMPLES / example).read_text()), schema)


# --- the CLI: bad input exits 2 with one message and no traceback ---------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def _config(tmp_path: Path, sprint: Any, history: Any) -> Path:
    (tmp_path / "sprint.json").write_text(sprint if isinstance(sprint, str) else json.dumps(sprint))
    (tmp_path / "history.json").write_text(
        history if isinstance(history, str) else json.dumps(history)
    )
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(
        '[outputs]\nbase_dir = "out"\n[forecasting]\n'
        'sprint_inputs_path = "sprint.json"\nhistorical_outcomes_path = "history.json"\n'
    )
    return cfg


@pytest.mark.parametrize(("kind", "path", "value", "json_path", "words"), SPRINT_CASES[:6])
def test_forecast_check_cli_exits_2(
    tmp_path: Path, kind: str, path: list[Any], value: Any, json_path: str, words: str
) -> None:
    cfg = _config(tmp_path, _mutated(SPRINT, path, value), HISTORY)
    proc = _cli("forecast-check", "--config", str(cfg))
    assert proc.returncode == 2, proc.stderr
    assert f"sprint.json: {json_path}:" in proc.stderr and words in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_forecast_check_cli_not_json_exits_2(tmp_path: Path) -> None:
    cfg = _config(tmp_path, '{"sprint_id": ', HISTORY)
    proc = _cli("forecast-check", "--config", str(cfg))
    said = "sprint.json: not valid JSON (it ends too early)"
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "history.json: the historical outcomes file is empty (expected a JSON object)"),
        (" \n", "history.json: the historical outcomes file is empty (expected a JSON object)"),
        ('{"sprints": []}', "history.json: $.sprints: the list is empty (expected at least 1"),
    ],
)
def test_an_empty_history_file_is_named_as_empty(tmp_path: Path, text: str, said: str) -> None:
    proc = _cli("forecast-check", "--config", str(_config(tmp_path, SPRINT, text)))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {tmp_path}") and said in line, line


def test_a_history_that_finished_nothing_is_an_error(tmp_path: Path) -> None:
    """Every past sprint at done_sch 0 forecast a sprint that never ends and a backtest that
    scored its P85 coverage 1.00: a data slip, named."""
    history = _mutated(HISTORY, ["sprints", 0, "done_sch"], 0)
    history = _mutated(history, ["sprints", 0, "completed"], False)
    history = _mutated(history, ["sprints", 0, "completed_on_day"], None)
    proc = _cli("forecast-check", "--config", str(_config(tmp_path, SPRINT, history)))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "history.json: $.sprints: every past sprint has done_sch 0" in line, line


def test_an_empty_scope_and_holidays_outside_the_sprint_are_said(tmp_path: Path) -> None:
    """Accepted without a word before: a sprint of no ticket (P = 1 by definition) and a
    holiday of the wrong year (it removes no working day)."""
    sprint = _mutated(SPRINT, ["tickets"], [])
    sprint["holidays"] = ["2025-03-04", "2026-03-05"]  # the first: a wrong year
    sprint["members"][0]["days_off"] = ["2027-03-03"]  # a member's day off, a year late
    proc = _cli("forecast-check", "--config", str(_config(tmp_path, sprint, HISTORY)))
    assert proc.returncode == 0, proc.stderr
    said = " ".join(proc.stderr.split())
    assert "$.tickets is empty: there is nothing to forecast" in said, said
    assert "$.holidays: 2025-03-04 outside the sprint (2026-03-02 to 2026-03-13)" in said
    assert "2026-03-05" not in said  # inside the sprint: it removes a working day
    assert "$.members[0].days_off: 2027-03-03 outside the sprint" in said


def test_forecast_check_cli_lists_model_tickets(tmp_path: Path) -> None:
    sprint = copy.deepcopy(SPRINT)
    sprint["tickets"].append({"id": "T-3", "status": "todo", "commit_ids": ["abc"]})
    sprint["tickets"].append({"id": "[fe]T-4", "status": "todo", "story_points": 2})
    proc = _cli("forecast-check", "--config", str(_config(tmp_path, sprint, HISTORY)))
    assert proc.returncode == 0, proc.stderr
    assert "tickets needing the trained model: T-3" in proc.stdout
    assert "[fe]T-4" in proc.stdout  # the work-order table shows an id as written


_IDLE = {"done_sch": 0, "completed": False, "completed_on_day": None}
_IDLE_HISTORY = {"sprints": [HISTORY["sprints"][0] | _IDLE | {"sprint_id": f"H-{i}"}
                             for i in range(5)]}  # fmt: skip
"""Five past sprints that finished nothing (enough for the backtest, no pace to learn)."""


@pytest.mark.parametrize(
    ("history", "words"),
    [
        ("{not json", "history.json: not valid JSON"),
        (_mutated(HISTORY, ["sprints", 0, "workdays"], "ten"), "$.sprints[0].workdays"),
        (_mutated(HISTORY, ["sprints", 0, "completed"], _DELETE), "required field is missing"),
        (HISTORY, "the backtest needs more than 3 past sprints (got 1)"),
        (_IDLE_HISTORY, "history.json: $.sprints: every past sprint has done_sch 0"),
    ],
)
def test_backtest_cli_bad_input_exits_2(tmp_path: Path, history: Any, words: str) -> None:
    cfg = _config(tmp_path, SPRINT, history)
    proc = _cli("backtest", "--config", str(cfg))
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out" / "reports" / "forecast_backtest.json").exists()


def test_backtest_with_too_few_sprints_names_the_file_and_the_key(tmp_path: Path) -> None:
    # colorama with 3 past sprints: "... or lower backtest_min_history" named no file, and a
    # key without its section
    proc = _cli("backtest", "--config", str(_config(tmp_path, SPRINT, HISTORY)))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and "history.json: the backtest needs more than 3" in line
    assert line.endswith("lower [forecasting] backtest_min_history")


def test_backtest_cli_bad_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[forecasting]\nn_sim = 5\n")
    proc = _cli("backtest", "--config", str(cfg))
    assert proc.returncode == 2 and "forecasting.n_sim" in proc.stderr
    cfg.write_text("[forecasting]\nn_sims = 500\n")
    proc = _cli("backtest", "--config", str(cfg))
    assert proc.returncode == 2 and "historical_outcomes_path: required" in proc.stderr


def test_a_sprint_under_way_is_said_to_be_forecast_from_its_start(tmp_path: Path) -> None:
    """A sprint that started days ago was forecast as if it started now, without a word (its
    past days' capacity counted); forecast-check and the stage say so. A sprint ahead draws no
    such line; one among the recorded past sprints draws its own."""
    from datetime import date, timedelta

    from standard_coder.forecasting.inputs import HistoricalOutcomes, SprintInputs
    from standard_coder.forecasting.options import ForecastOptions
    from standard_coder.forecasting.validate import check_forecast_inputs

    sprint = SprintInputs.model_validate(SPRINT)  # 2026-03-02 .. 2026-03-13, Mon-Fri
    history = HistoricalOutcomes.model_validate(HISTORY)

    def said(today: date) -> list[str]:
        check = check_forecast_inputs(sprint, history, ForecastOptions(), today=today)
        return [w for w in check.warnings if "the sprint started on" in w]

    (line,) = said(date(2026, 3, 5))
    assert "today is 2026-03-05 (3 of its 10 working days gone)" in line, line
    assert said(date(2026, 3, 2)) == [] and said(date(2026, 3, 20)) == []
    # a sprint among the recorded past ones (a wrong year) is said, whatever today is (it drew
    # no word but its unused holidays); the history's own dates are the clock, so a frozen
    # example (the demo's) forecasting its next sprint draws none
    past = SprintInputs.model_validate({**SPRINT, "start_date": "2025-03-02",
                                         "end_date": "2025-03-13"})  # fmt: skip
    check = check_forecast_inputs(past, history, ForecastOptions(), today=date(2026, 3, 20))
    (line,) = [w for w in check.warnings if "before the last past sprint" in w]
    assert line.startswith("sprint inputs: the sprint starts on 2025-03-02, before the"), line
    assert "a wrong year or month?" in line
    check = check_forecast_inputs(sprint, history, ForecastOptions(), today=date(2026, 12, 7))
    assert not [w for w in check.warnings if "before the last past sprint" in w]
    start = date.today() - timedelta(days=7)  # five working days gone, whatever the weekday
    live = {**SPRINT, "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=13)).isoformat()}  # fmt: skip
    proc = _cli("forecast-check", "--config", str(_config(tmp_path, live, HISTORY)))
    assert proc.returncode == 0 and "the sprint started on" in " ".join(proc.stderr.split())


def test_a_capacity_below_the_past_pace_is_said_to_bind() -> None:
    """Capacity in clock hours under the team's SCH pace caps every simulated day: the
    forecast followed daily_capacity_hours (P 99.7 % for a lead who gave 3 h a day) silently."""
    from standard_coder.forecasting.inputs import HistoricalOutcomes, SprintInputs
    from standard_coder.forecasting.options import ForecastOptions
    from standard_coder.forecasting.validate import check_forecast_inputs

    history = HistoricalOutcomes.model_validate(HISTORY)
    pace = sorted(s.throughput for s in history.sprints)[len(history.sprints) // 2]
    low = [{"name": "a", "daily_capacity_hours": round(pace / 3, 2)}]
    sprint = SprintInputs.model_validate({**SPRINT, "members": low})
    check = check_forecast_inputs(sprint, history, ForecastOptions())
    (line,) = [w for w in check.warnings if "is below its past pace" in w]
    assert f"({pace:.2f} SCH h per working day" in line and "daily_capacity_hours" in line
    ample = [{"name": "a", "daily_capacity_hours": pace * 2}]
    check = check_forecast_inputs(
        SprintInputs.model_validate({**SPRINT, "members": ample}), history, ForecastOptions()
    )
    assert not [w for w in check.warnings if "past pace" in w]


def test_a_story_point_scale_off_the_team_s_is_said() -> None:
    """An engineering lead's history gave no committed_story_points: the configured 2 h per
    point made a 30-point ticket more than any past sprint finished, and nothing said so."""
    from standard_coder.forecasting.inputs import HistoricalOutcomes, SprintInputs
    from standard_coder.forecasting.options import ForecastOptions
    from standard_coder.forecasting.validate import check_forecast_inputs

    tickets = [{"id": "PTS", "status": "todo", "story_points": 30},
               {"id": "DONE", "status": "done", "story_points": 90}]  # fmt: skip
    sprint = SprintInputs.model_validate({**SPRINT, "tickets": tickets})
    history = HistoricalOutcomes.model_validate(HISTORY)  # done 50 SCH h, no points
    said = check_forecast_inputs(sprint, history, ForecastOptions(story_points_to_sch=2.0))
    (pts,) = [w for w in said.warnings if "story_points_to_sch" in w]
    assert "ticket PTS's 30 story points are 60.0 SCH h at the configured" in pts, pts
    assert "more than any past sprint finished (50.0 SCH h)" in pts
    # a ratio learned from past sprints, or a smaller ticket: nothing said
    learned = {"sprints": [{**HISTORY["sprints"][0], "committed_story_points": 10}]}
    quiet = check_forecast_inputs(sprint, HistoricalOutcomes.model_validate(learned),
                                  ForecastOptions(story_points_to_sch=2.0))  # fmt: skip
    assert not [w for w in quiet.warnings if "story_points_to_sch" in w]
    few = [{"id": "PTS", "status": "todo", "story_points": 3}]
    check = check_forecast_inputs(SprintInputs.model_validate({**SPRINT, "tickets": few}),
                                  history, ForecastOptions())  # fmt: skip
    assert not [w for w in check.warnings if "story_points_to_sch" in w]


def test_an_ambiguous_commit_id_is_named_where_the_sprint_file_lists_it() -> None:
    from standard_coder.forecasting.inputs import HistoricalOutcomes, SprintInputs
    from standard_coder.forecasting.options import ForecastOptions
    from standard_coder.forecasting.validate import check_forecast_inputs
    from standard_coder.sch.mining.store import AmbiguousCommitId

    tickets = [{"id": "T-1", "status": "todo", "story_points": 1},
               {"id": "T-2", "status": "todo", "commit_ids": ["abc1234", "abc12"]}]  # fmt: skip

    def lookup(ids: object) -> dict[str, object]:
        raise AmbiguousCommitId("commit abc12 is ambiguous in db: give more digits", "abc12")

    with pytest.raises(ForecastInputError) as err:
        check_forecast_inputs(SprintInputs.model_validate({**SPRINT, "tickets": tickets}),
                              HistoricalOutcomes.model_validate(HISTORY), ForecastOptions(),
                              find_commits=lookup)  # fmt: skip
    assert str(err.value) == (
        "sprint inputs: $.tickets[1].commit_ids[1]: commit abc12 is ambiguous in db: give more "
        "digits"
    )
