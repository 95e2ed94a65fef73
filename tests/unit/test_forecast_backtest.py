"""Rolling-origin backtest on handcrafted histories, and the backtest CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from standard_coder.forecasting.backtest import (
    BacktestError,
    backtest_method,
    run_backtest,
    wilson_interval,
)
from standard_coder.forecasting.inputs import HistoricalSprint

ROOT = Path(__file__).resolve().parents[2]


def _sprint(i: int, committed: float, done: float, day: int | None) -> HistoricalSprint:
    start = date(2026, 1, 5) + timedelta(days=14 * i)
    return HistoricalSprint(
        sprint_id=f"H{i}",
        start_date=start,
        end_date=start + timedelta(days=11),
        committed_sch=committed,
        done_sch=done,
        workdays=10,
        completed=day is not None,
        completed_on_day=day,
    )


def test_constant_rate_history_gives_exact_scores() -> None:
    """Every past sprint ran at 10 SCH/day, so each forecast is certain: p is 0 or 1."""
    history = [
        _sprint(0, 100, 100, 10),  # 10/day
        _sprint(1, 50, 50, 5),  # 10/day
        _sprint(2, 150, 100, None),  # 10/day, not done
        _sprint(3, 60, 60, 6),  # forecast p=1, day 6: right, covered
        _sprint(4, 120, 100, None),  # forecast p=0, P85 day 12; would have needed 12: covered
        _sprint(5, 90, 90, 10),  # forecast p=1, P85 day 9; took 10: a miss, not covered
        _sprint(6, 105, 100, None),  # p=0; H5 ran at 9/day so P85 day is 12; est. 10.5: covered
    ]
    r = backtest_method(history, method="bootstrap", n_sims=500, seed=0, min_history=3)
    rows = {x["sprint_id"]: x for x in r["sprints"]}
    assert [rows[k]["p_complete"] for k in ("H3", "H4", "H5", "H6")] == [1.0, 0.0, 1.0, 0.0]
    assert [rows[k]["p85_day"] for k in ("H3", "H4", "H5", "H6")] == [6, 12, 9, 12]
    assert [rows[k]["covered"] for k in ("H3", "H4", "H5", "H6")] == [True, True, False, True]
    # rolling base rates: 2/3, 3/4, 3/5, 4/6
    assert [rows[k]["base_rate"] for k in ("H3", "H4", "H5", "H6")] == pytest.approx(
        [2 / 3, 3 / 4, 3 / 5, 4 / 6], abs=1e-4
    )
    assert r["n_forecasts"] == 4
    # outcomes 1, 0, 1, 0 and forecasts 1, 0, 1, 0 (H5 was slower than forecast but finished)
    assert r["brier"] == 0.0
    ref = ((2 / 3 - 1) ** 2 + (3 / 4) ** 2 + (3 / 5 - 1) ** 2 + (4 / 6) ** 2) / 4
    assert r["brier_reference"] == pytest.approx(ref, abs=1e-4)
    assert r["brier_skill"] == pytest.approx(1.0)
    assert r["p85_coverage"] == 0.75
    assert r["base_rate"] == 0.5


def test_wrong_forecast_scores_badly() -> None:
    """Past sprints at 20/day, then the team slows to 5/day: confident and wrong."""
    history = [_sprint(i, 100, 100, 5) for i in range(3)] + [_sprint(3, 100, 50, None)]
    r = backtest_method(history, method="bootstrap", n_sims=200, seed=0, min_history=3)
    assert r["sprints"][0]["p_complete"] == 1.0
    assert r["brier"] == 1.0
    assert r["brier_reference"] == 1.0  # base rate 1.0 was wrong too
    assert r["brier_skill"] == 0.0
    assert r["p85_coverage"] == 0.0  # P85 day 5, estimated actual day 20


def test_a_p85_past_the_horizon_covers_a_finish_within_it_and_is_said() -> None:
    """A team that finishes far less than it commits: every forecast puts P85 past the
    simulated horizon (2 sprints). A finish within the horizon is covered; one past it too
    cannot be compared (it was counted covered, so coverage read 100 % of sprints no forecast
    gave a date for); the explanation says how many forecasts gave no date."""
    from standard_coder.forecasting.report import backtest_explanation

    history = [_sprint(i, 100, 20, None) for i in range(3)]  # 2/day; 100 needs 50 days
    history += [_sprint(3, 60, 60, 10), _sprint(4, 100, 20, None)]  # took 10; needs 50 days
    r = backtest_method(history, method="bootstrap", n_sims=200, seed=0, min_history=3)
    rows = {x["sprint_id"]: x for x in r["sprints"]}
    assert rows["H3"]["p85_day"] is None and rows["H3"]["covered"] is True
    assert rows["H4"]["p85_day"] is None and rows["H4"]["covered"] is None
    assert r["p85_coverage"] == 1.0 and r["n_coverage_scored"] == 1
    assert r["n_p85_past_horizon"] == 2
    full = run_backtest(history, method="bootstrap", n_sims=200, seed=0, min_history=3)
    said = backtest_explanation(full)[-2]
    assert "covered 100% of 1 past sprints (1 more could not be scored" in said, said
    assert "2 of 2 forecasts put P85 past the horizon, so they gave no date" in said, said


def test_too_few_sprints() -> None:
    with pytest.raises(BacktestError, match="needs more than 3 past sprints"):
        run_backtest([_sprint(i, 1, 1, 1) for i in range(3)], n_sims=100)


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(17, 20)
    assert lo == pytest.approx(0.6396, abs=1e-3) and hi == pytest.approx(0.9476, abs=1e-3)


def test_run_backtest_compares_methods_deterministically() -> None:
    from standard_coder.forecasting.inputs import load_historical_outcomes

    sprints = load_historical_outcomes(
        ROOT / "examples" / "forecasting" / "historical_outcomes.example.json"
    ).sprints
    a = run_backtest(sprints, method="bootstrap", n_sims=1_000, seed=3)
    b = run_backtest(sprints, method="bootstrap", n_sims=1_000, seed=3)
    assert a == b
    assert list(a["methods"]) == ["lognormal", "bootstrap", "bootstrap_daily"]
    assert a["brier"] == a["methods"]["bootstrap"]["brier"]
    assert len(a["sprints"]) == a["n_forecasts"] == len(sprints) - 3


def test_backtest_cli_writes_report(tmp_path: Path) -> None:
    cfg = tmp_path / "pipeline_config.toml"
    history = ROOT / "examples" / "forecasting" / "historical_outcomes.example.json"
    cfg.write_text(
        f'[outputs]\nbase_dir = "out"\n[forecasting]\nn_sims = 500\n'
        f"historical_outcomes_path = {json.dumps(str(history))}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "standard_coder", "backtest", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "reports" / "forecast_backtest.json").read_text())
    for key in ("brier", "brier_reference", "brier_skill", "p85_coverage", "methods", "sprints"):
        assert key in report
    assert report["method"] == "lognormal" and report["n_sims"] == 500
    assert "Forecast backtest" in proc.stdout and "lognormal *" in proc.stdout
