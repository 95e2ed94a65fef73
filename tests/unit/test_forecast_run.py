"""run_forecast end to end: files written, keys, determinism, scenarios, the model requirement."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from standard_coder.config.forecasting import ForecastingSection, Scenario
from standard_coder.forecasting import (
    ForecastOptions,
    ModelRequiredError,
    ScenarioError,
    ScenarioSpec,
    Ticket,
    run_forecast,
)
from standard_coder.forecasting.report import forecast_table
from standard_coder.pipelines.sch_options import forecast_options

ROOT = Path(__file__).resolve().parents[2]
SPRINT = ROOT / "examples" / "forecasting" / "sprint_inputs.example.json"
HISTORY = ROOT / "examples" / "forecasting" / "historical_outcomes.example.json"


def fake_model(tickets: list[Ticket]) -> dict[str, np.ndarray]:
    """A stand-in effort model: lognormal samples whose size grows with the diff."""
    rng = np.random.default_rng(0)
    out = {}
    for t in tickets:
        size = len(t.diff or "") / 200 + 4 * len(t.commit_ids)
        out[t.id] = rng.lognormal(np.log(max(size, 1.0)), 0.5, 300)
    return out


def _opts(**kw: object) -> ForecastOptions:
    return ForecastOptions(n_sims=2_000, **kw)  # type: ignore[arg-type]


def test_writes_json_and_png_with_documented_keys(tmp_path: Path) -> None:
    res = run_forecast(
        SPRINT, HISTORY, options=_opts(), out_dir=tmp_path, model_effort=fake_model, seed=1
    )
    assert res.json_path == tmp_path / "PAY-55_forecast.json"
    assert res.png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(res.json_path.read_text())
    assert data == res.report
    for key in (
        "schema_version", "sprint_id", "working_days", "n_working_days", "days_after_end",
        "capacity_hours_per_day", "n_sims", "seed", "throughput", "p_complete_by_end",
        "completion_day_p50", "completion_day_p85", "completion_date_p50", "completion_date_p85",
        "expected_completed_sch", "expected_remaining_sch", "remaining_sch",
        "completion_day_distribution", "remaining_by_day", "tickets", "scenarios",
        "horizon_end",
    ):  # fmt: skip
        assert key in data, key
        assert f"`{key}`" in (ROOT / "docs" / "forecasting.md").read_text(), key
    assert 0.0 <= data["p_complete_by_end"] <= 1.0
    assert data["n_working_days"] == 9  # 16 Feb is a holiday
    # the horizon's last day, stated (the report no longer works it out from the day lists)
    assert data["horizon_end"] == data["days_after_end"][-1]
    assert date.fromisoformat(data["horizon_end"]) > date.fromisoformat(data["end_date"])
    assert data["capacity_hours_per_day"][3] == 17.0  # dana off on 20 Feb
    dist = data["completion_day_distribution"]
    assert sum(dist["probability"]) + dist["p_after_horizon"] == pytest.approx(1.0, abs=1e-3)
    by_id = {t["id"]: t for t in data["tickets"]}
    assert by_id["PAY-297"]["effort_source"] == "done" and by_id["PAY-297"]["p_complete"] == 1.0
    assert by_id["PAY-302"]["effort_source"] == "model"
    assert by_id["PAY-305"]["effort_source"] == "story_points"
    probs = [t["p_complete"] for t in data["tickets"]]
    assert probs == sorted(probs, reverse=True)  # worked in order: later tickets finish later
    assert list(tmp_path.iterdir()) == sorted(tmp_path.iterdir())  # no temp files left
    assert {p.name for p in tmp_path.iterdir()} == {"PAY-55_forecast.json", "PAY-55_forecast.png"}


def test_a_ticket_with_nothing_left_says_so_not_later(tmp_path: Path) -> None:
    """0 h left (0 story points, or commits that touch no mined language): done at once, in
    the JSON (day 0) and the table ("nothing left"), never "later"."""
    sprint = json.loads(SPRINT.read_text())
    first = next(t for t in sprint["tickets"] if t["status"] != "done")
    first.update(story_points=0, diff=None, commit_ids=[])
    path = tmp_path / "sprint.json"
    path.write_text(json.dumps(sprint))
    res = run_forecast(path, HISTORY, options=_opts(), out_dir=tmp_path / "out",
                       model_effort=fake_model, seed=1)  # fmt: skip
    row = next(t for t in res.report["tickets"] if t["id"] == first["id"])
    assert row["completion_day_p50"] == 0 and row["completion_day_p85"] == 0
    assert row["p_complete"] == 1.0
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(forecast_table(res.report))
    line = next(x for x in console.export_text().splitlines() if first["id"] in x)
    assert line.count("nothing left") == 2 and "later" not in line


def test_deterministic_under_a_seed(tmp_path: Path) -> None:
    runs = [
        run_forecast(
            SPRINT, HISTORY, options=_opts(), out_dir=tmp_path / str(i),
            model_effort=fake_model, seed=s,
        ).report
        for i, s in enumerate([5, 5, 6])
    ]  # fmt: skip
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_model_required_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelRequiredError, match="tickets PAY-301, PAY-302, PAY-303, PAY-304 "):
        run_forecast(SPRINT, HISTORY, options=_opts(), out_dir=tmp_path, model_effort=None)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_runs_without_a_model_when_no_ticket_needs_one(tmp_path: Path) -> None:
    sprint = json.loads(SPRINT.read_text())
    for t in sprint["tickets"]:
        t.pop("diff", None)
        t.pop("commit_ids", None)
        t.setdefault("story_points", 3)
    f = tmp_path / "s.json"
    f.write_text(json.dumps(sprint))
    res = run_forecast(f, HISTORY, options=_opts(), out_dir=tmp_path / "out", model_effort=None)
    assert {t["effort_source"] for t in res.report["tickets"]} == {"story_points", "done"}


def test_scenarios_move_the_forecast_the_right_way(tmp_path: Path) -> None:
    section = ForecastingSection(
        n_sims=2_000,
        scenarios=[
            Scenario(name="more scope", scope_growth_percent=30),
            Scenario(name="chen away", days_off={"chen": [date(2026, 2, 18), date(2026, 2, 19)]}),
            Scenario(name="bo leaves", member_leaves=["bo"]),
            Scenario(name="eve joins", member_joins={"eve": 6.0}),
        ],
    )
    opts = forecast_options(section)
    rep = run_forecast(
        SPRINT, HISTORY, options=opts, out_dir=tmp_path, model_effort=fake_model
    ).report
    base = rep["p_complete_by_end"]
    rows = {r["name"]: r for r in rep["scenarios"]}
    assert rows["more scope"]["p_complete_by_end"] < base
    assert rows["more scope"]["expected_remaining_sch"] == pytest.approx(
        1.3 * rep["expected_remaining_sch"], rel=1e-3
    )
    assert rows["chen away"]["p_complete_by_end"] <= base
    assert rows["bo leaves"]["p_complete_by_end"] < rows["chen away"]["p_complete_by_end"]
    assert rows["eve joins"]["p_complete_by_end"] > base
    assert rows["eve joins"]["delta_p_complete"] > 0
    table = forecast_table(rep)
    assert table.row_count == 5 + len(rep["tickets"])


def test_scenario_with_unknown_member_is_named(tmp_path: Path) -> None:
    opts = _opts(scenarios=(ScenarioSpec(name="x", member_leaves=("zed",)),))
    with pytest.raises(ScenarioError, match="scenario 'x': unknown member 'zed'"):
        run_forecast(SPRINT, HISTORY, options=opts, out_dir=tmp_path, model_effort=fake_model)


def test_options_from_default_section() -> None:
    opts = forecast_options(ForecastingSection())
    assert opts.n_sims == 10_000 and opts.throughput_method == "lognormal"
    assert opts.story_points_fallback is False and opts.scenarios == ()


def test_no_working_days_or_no_capacity_is_an_input_error(tmp_path: Path) -> None:
    from standard_coder.forecasting import ForecastInputError

    sprint = json.loads(SPRINT.read_text())
    sprint["start_date"], sprint["end_date"] = "2026-02-21", "2026-02-22"  # a weekend
    f = tmp_path / "s.json"
    f.write_text(json.dumps(sprint))
    with pytest.raises(ForecastInputError, match=r"s\.json: \$\.end_date: expected at least one"):
        run_forecast(f, HISTORY, options=_opts(), out_dir=tmp_path, model_effort=fake_model)
    sprint = json.loads(SPRINT.read_text())
    for m in sprint["members"]:
        m["daily_capacity_hours"] = 0
    f.write_text(json.dumps(sprint))
    with pytest.raises(ForecastInputError, match=r"\$\.members: expected at least one member"):
        run_forecast(f, HISTORY, options=_opts(), out_dir=tmp_path, model_effort=fake_model)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    from standard_coder.forecasting._io import atomic_write, atomic_write_json

    target = atomic_write_json(tmp_path / "f.json", {"a": 1})

    def boom(fh: object) -> None:
        fh.write(b"partial")  # type: ignore[attr-defined]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
