"""`forecast-check` runs every check the forecast stage runs (one function), and weak histories
warn and widen the forecast (issue 15 item 8)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standard_coder.forecasting.forecast import ForecastOptions, forecast_sprint
from standard_coder.forecasting.inputs import (
    ForecastInputError,
    HistoricalOutcomes,
    SprintInputs,
)
from standard_coder.forecasting.validate import WIDEN_SIGMA, check_forecast_inputs
from standard_coder.pipelines.sch_options import forecast_options
from standard_coder.sch.mining import store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "forecasting"
EXAMPLE_HISTORY: list[dict[str, Any]] = json.loads(
    (EXAMPLES / "historical_outcomes.example.json").read_text()
)["sprints"]

SPRINT: dict[str, Any] = {
    "sprint_id": "S-1",
    "start_date": "2026-03-02",
    "end_date": "2026-03-13",
    "members": [
        {"name": "ann", "daily_capacity_hours": 6},
        {"name": "bo", "daily_capacity_hours": 5},
    ],
    "tickets": [
        {"id": "T-1", "status": "todo", "story_points": 8},
        {"id": "T-2", "status": "in_progress", "story_points": 5, "remaining_fraction": 0.5},
        {"id": "T-3", "status": "done"},
    ],
}
HISTORY: dict[str, Any] = {"sprints": EXAMPLE_HISTORY[:5]}
KNOWN_COMMIT = "a" * 40


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standard_coder", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )


def project(tmp_path: Path, sprint: Any, history: Any = HISTORY, extra: str = "") -> Path:
    (tmp_path / "sprint.json").write_text(sprint if isinstance(sprint, str) else json.dumps(sprint))
    (tmp_path / "history.json").write_text(json.dumps(history))
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(
        '[outputs]\nbase_dir = "out"\n[forecasting]\nn_sims = 200\n'
        'sprint_inputs_path = "sprint.json"\nhistorical_outcomes_path = "history.json"\n' + extra
    )
    return cfg


def mined_db(base: Path) -> None:
    """A real mined database holding one commit (what the mine stage writes)."""
    db = base / "raw" / "mined_commits.sqlite"
    con = store.connect(db)
    con.execute("INSERT INTO mine_state (repo, refs_key, extract_key) VALUES ('r', 'k', 'e')")
    row = ("r", KNOWN_COMMIT, "", "Ann", "ann@x", "ann@x", 1, 0, 1, "s", 1, 1, 0, 0, "ann@x")
    store.write_chunk(con, "r", [row], [], [], [])
    con.close()


def stage_error(tmp_path: Path, sprint: dict[str, Any], scenarios: str = "") -> str:
    """The forecast stage's domain call, with the same commit lookup the stage wires in."""
    from standard_coder.config import load_config
    from standard_coder.pipelines.sch_effort import commit_lookup
    from standard_coder.pipelines.sch_layout import SchLayout

    cfg = load_config(project(tmp_path, sprint, extra=scenarios))
    s = SprintInputs.model_validate(sprint)
    h = HistoricalOutcomes.model_validate(HISTORY)
    with pytest.raises(ValueError) as exc:
        forecast_sprint(
            s,
            h,
            options=forecast_options(cfg.forecasting),
            source=str(tmp_path / "sprint.json"),
            find_commits=commit_lookup(SchLayout(cfg.outputs.base_dir).db),
            model_effort=lambda ts: {t.id: np.ones(10) for t in ts},
        )
    return str(exc.value)


def mutate(path: list[Any], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(SPRINT)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


NO_CAPACITY = mutate(["members"], [{"name": "ann", "daily_capacity_hours": 0}])
ALL_HOLIDAY = mutate(["holidays"], [f"2026-03-{d:02d}" for d in range(2, 14)])
ALL_OFF = mutate(
    ["members"],
    [{"name": "ann", "daily_capacity_hours": 6, "days_off": ALL_HOLIDAY["holidays"]}],
)
UNKNOWN_COMMIT = mutate(
    ["tickets", 0], {"id": "T-1", "status": "todo", "commit_ids": [KNOWN_COMMIT, "b" * 12]}
)
SCENARIO = '[[forecasting.scenarios]]\nname = "x"\nmember_leaves = ["zed"]\n'


@pytest.mark.parametrize(
    ("sprint", "scenarios", "words"),
    [
        (NO_CAPACITY, "", "$.members: expected at least one member with daily_capacity_hours"),
        (ALL_HOLIDAY, "", "$.end_date: expected at least one working day"),
        (ALL_OFF, "", "$.members: every member is off on every working day"),
        (UNKNOWN_COMMIT, "", "$.tickets[0].commit_ids[1]: commit 'bbbbbbbbbbbb' is not in"),
        (SPRINT, SCENARIO, "scenario 'x': unknown member 'zed'"),
    ],
    ids=["no-capacity", "all-holiday", "all-off", "unknown-commit", "scenario"],
)
def test_check_rejects_what_the_stage_rejects(
    tmp_path: Path, sprint: dict[str, Any], scenarios: str, words: str
) -> None:
    mined_db(tmp_path / "out")
    proc = cli("forecast-check", "--config", str(project(tmp_path, sprint, extra=scenarios)))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr
    # the stage fails with the very same message
    assert stage_error(tmp_path, sprint, scenarios) in proc.stderr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1e308", "$.tickets[0].story_points: expected"),
        ("Infinity", "$.tickets[0].story_points: expected a finite number"),
        ("NaN", "$.tickets[0].story_points: expected a finite number"),
    ],
)
def test_absurd_story_points_are_rejected(tmp_path: Path, text: str, words: str) -> None:
    raw = json.dumps(SPRINT).replace('"story_points": 8', f'"story_points": {text}')
    proc = cli("forecast-check", "--config", str(project(tmp_path, raw)))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr and "sprint.json" in proc.stderr


def test_a_commit_without_code_is_known_and_every_unknown_id_is_named_at_once(
    tmp_path: Path,
) -> None:
    """A commit the mine listed but did not store (no file of the mined languages) is in the
    mined history: priced 0 h, as ``estimate`` prices it. Unknown ids are all named, once."""
    from standard_coder.pipelines.sch_effort import mined_changes

    mined_db(tmp_path / "out")
    db = tmp_path / "out" / "raw" / "mined_commits.sqlite"
    docs_only = "c" * 40
    con = store.connect(db)
    store.write_chunk(con, "r", [], [], [], [(docs_only, "no_language_files")])
    con.close()
    got = mined_changes(db, [docs_only[:10], KNOWN_COMMIT])
    assert got[docs_only[:10]].commit_id == docs_only and not got[docs_only[:10]].files
    ids = [docs_only[:10], "d" * 12, "e" * 12]
    sprint = mutate(["tickets", 0], {"id": "T-1", "status": "todo", "commit_ids": ids})
    proc = cli("forecast-check", "--config", str(project(tmp_path, sprint)))
    assert proc.returncode == 2, proc.stderr
    assert "2 commit ids are not in the mined history nor in a configured repository" in (
        proc.stderr
    )
    # where it looked, and the ways out
    assert "then in each configured repository ([repos], any branch" in proc.stderr
    assert "$.tickets[0].commit_ids[1]: 'dddddddddddd'" in proc.stderr
    assert "$.tickets[0].commit_ids[2]: 'eeeeeeeeeeee'" in proc.stderr
    assert "cccccccccc" not in proc.stderr


def test_a_merge_commit_and_a_diff_that_is_no_diff_are_named(tmp_path: Path) -> None:
    mined_db(tmp_path / "out")
    con = store.connect(tmp_path / "out" / "raw" / "mined_commits.sqlite")
    con.execute("INSERT INTO merge_commits VALUES ('r', ?, 1, 0, 'ann@x')", ("f" * 40,))
    con.commit()
    con.close()
    merge = mutate(["tickets", 0], {"id": "T-1", "status": "todo", "commit_ids": ["f" * 9]})
    proc = cli("forecast-check", "--config", str(project(tmp_path, merge)))
    assert proc.returncode == 2 and "commit fffffffff is a merge commit" in proc.stderr
    # where the sprint file lists it, as for an unknown id (an engineering lead missed it)
    assert "$.tickets[0].commit_ids[0]: commit fffffffff is a merge" in proc.stderr
    assert "list the commits it merged" in proc.stderr and "Traceback" not in proc.stderr
    prose = mutate(["tickets", 0], {"id": "T-1", "status": "todo", "diff": "hello world"})
    proc = cli("forecast-check", "--config", str(project(tmp_path, prose)))
    assert proc.returncode == 2, proc.stderr
    assert "$.tickets[0].diff: not a unified diff" in proc.stderr
    assert stage_error(tmp_path, prose) in proc.stderr  # the stage says the very same


def test_commit_ids_without_a_mined_database_are_noted(tmp_path: Path) -> None:
    proc = cli("forecast-check", "--config", str(project(tmp_path, UNKNOWN_COMMIT)))
    assert proc.returncode == 0, proc.stderr
    assert "commit ids not checked: no mined database yet" in proc.stderr


def test_one_past_sprint_warns_and_widens(tmp_path: Path) -> None:
    history = {"sprints": EXAMPLE_HISTORY[:1]}
    proc = cli("forecast-check", "--config", str(project(tmp_path, SPRINT, history)))
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr and "only 1 past sprint" in proc.stderr

    # the forecast stage says it as a [warn] line (event stage_warning), not a raw log line
    proc = cli("pipeline", "--config", str(tmp_path / "pipeline_config.toml"),
               "--stages", "forecast")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = [s for s in proc.stderr.splitlines() if "only 1 past sprint" in s]
    assert line.startswith(f"[warn] forecast: {tmp_path / 'history.json'}: only 1 past sprint")
    assert "WARNING" not in proc.stderr, proc.stderr

    big = mutate(
        ["tickets"], [{"id": f"T{i}", "status": "todo", "story_points": 20} for i in (1, 2)]
    )
    s = SprintInputs.model_validate(big)
    opts = ForecastOptions(n_sims=4000)
    weak = forecast_sprint(s, HistoricalOutcomes.model_validate(history), options=opts)
    assert weak["throughput"]["widen_sigma"] == WIDEN_SIGMA
    assert any("only 1 past sprint" in w for w in weak["warnings"])
    # the same single sprint repeated three times is "enough" history: not widened
    same = {"sprints": [{**EXAMPLE_HISTORY[0], "sprint_id": f"H{i}"} for i in range(3)]}
    sure = forecast_sprint(s, HistoricalOutcomes.model_validate(same), options=opts)
    unsure = [w for w in sure["warnings"] if "past pace" not in w]  # the capacity's note aside
    assert unsure == [] and sure["throughput"]["widen_sigma"] == 0.0
    # the widened forecast is less sure either way (nearer 0.5) than the narrow one
    assert abs(weak["p_complete_by_end"] - 0.5) < abs(sure["p_complete_by_end"] - 0.5)
    lo, hi = weak["remaining_sch"]["p15"], weak["remaining_sch"]["p85"]
    assert lo <= hi


def test_done_far_above_committed_warns_and_widens() -> None:
    sprints = copy.deepcopy(EXAMPLE_HISTORY[:5])
    sprints[2]["done_sch"] = sprints[2]["committed_sch"] * 10
    sprints[2]["completed"], sprints[2]["completed_on_day"] = True, 5
    check = check_forecast_inputs(
        SprintInputs.model_validate(SPRINT),
        HistoricalOutcomes.model_validate({"sprints": sprints}),
        ForecastOptions(),
    )
    # (the capacity's note: this fixture's 11 h a day is under the inflated pace; not widening)
    (warning,) = [w for w in check.warnings if "past pace" not in w]
    assert sprints[2]["sprint_id"] in warning and "committed_sch" in warning
    assert check.widen_sigma == WIDEN_SIGMA


# ---------------------------------------------------------------- property: parity


@st.composite
def sprints(draw: st.DrawFn) -> dict[str, Any]:
    n_members = draw(st.integers(1, 3))
    members = [
        {
            "name": f"m{i}",
            "daily_capacity_hours": draw(st.sampled_from([0, 0.5, 6, 24])),
            "days_off": draw(st.sampled_from([[], ["2026-03-02"], ALL_HOLIDAY["holidays"]])),
        }
        for i in range(n_members)
    ]
    points = st.one_of(
        st.none(), st.floats(0, 1e6, allow_nan=False), st.sampled_from([0.0, 1e6, 13.0])
    )
    tickets = []
    for i in range(draw(st.integers(0, 4))):
        status = draw(st.sampled_from(["todo", "in_progress", "done"]))
        sp = draw(points)
        if sp is None and status != "done":
            sp = 1.0
        tickets.append({"id": f"T{i}", "status": status, "story_points": sp})
    holidays = draw(st.sampled_from([[], ["2026-03-03"], ALL_HOLIDAY["holidays"]]))
    return {**SPRINT, "members": members, "tickets": tickets, "holidays": holidays}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sprint=sprints(), n_hist=st.integers(1, 4))
def test_what_the_check_passes_the_stage_forecasts(sprint: dict[str, Any], n_hist: int) -> None:
    s = SprintInputs.model_validate(sprint)
    h = HistoricalOutcomes.model_validate({"sprints": EXAMPLE_HISTORY[:n_hist]})
    opts = ForecastOptions(n_sims=100)
    try:
        check_forecast_inputs(s, h, opts)
    except ForecastInputError as exc:
        with pytest.raises(ForecastInputError) as stage:
            forecast_sprint(s, h, options=opts)
        assert str(stage.value) == str(exc)
        return
    report = forecast_sprint(s, h, options=opts)
    assert 0.0 <= report["p_complete_by_end"] <= 1.0
