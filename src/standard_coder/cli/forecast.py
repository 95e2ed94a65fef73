"""``backtest``: rolling-origin calibration of the sprint forecast on past sprints."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from standard_coder.cli.app import app
from standard_coder.cli.options import ConfigOpt, SetOpt


@app.command("backtest")
def backtest(
    config: ConfigOpt,
    set_: SetOpt = None,
) -> None:
    """Forecast each past sprint from the sprints before it; write reports/forecast_backtest.json.

    Scores: Brier score of `completed`, Brier skill against the rolling base rate, and coverage
    of the P85 completion day, for every throughput method (the configured one is marked).
    """
    from standard_coder.config import ConfigError
    from standard_coder.forecasting._io import atomic_write_json
    from standard_coder.forecasting.backtest import BacktestError, run_backtest
    from standard_coder.forecasting.inputs import ForecastInputError, load_historical_outcomes
    from standard_coder.forecasting.report import backtest_explanation, backtest_table
    from standard_coder.pipelines.sch_languages import load_sch_config
    from standard_coder.runner.console import make_console

    err = make_console(stderr=True)
    try:
        cfg = load_sch_config(config, set_ or [])
        section = cfg.forecasting
        if section.historical_outcomes_path is None:
            raise ConfigError(
                f"{cfg.config_path}: forecasting.historical_outcomes_path: required for the "
                "backtest (a JSON file of past sprints; see docs/forecasting.md)"
            )
        history = load_historical_outcomes(section.historical_outcomes_path)
        result = run_backtest(
            history.sprints,
            method=section.throughput_method,
            n_sims=section.n_sims,
            seed=section.rng_seed,
            min_history=section.backtest_min_history,
        )
    except BacktestError as exc:  # the file and the key that decide it, named
        fix = f"; {exc.fix}" if exc.fix else ""
        err.print(f"error: {section.historical_outcomes_path}: {exc}{fix}", markup=False,
                  highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(2) from None
    except (ConfigError, ForecastInputError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    result["historical_outcomes_path"] = str(section.historical_outcomes_path)
    out = atomic_write_json(
        Path(cfg.outputs.base_dir) / "reports" / "forecast_backtest.json", result
    )
    console = make_console()
    console.print(backtest_table(result))
    for line in backtest_explanation(result):
        console.print(line, markup=False, highlight=False)
    err.print(f"wrote {out}", markup=False, highlight=False)


@app.command("forecast-check")
def forecast_check(
    config: ConfigOpt,
    set_: SetOpt = None,
) -> None:
    """Validate the [forecasting] input files and show what the forecast will use.

    Exits 2 with one message naming the file, the JSON path and the expected form when an input
    is invalid. Lists the tickets that need the trained effort model (diff or commit ids).
    """
    from standard_coder.config import ConfigError
    from standard_coder.forecasting.checktable import CheckTable
    from standard_coder.forecasting.inputs import (
        ForecastInputError,
        load_historical_outcomes,
        load_sprint_inputs,
    )
    from standard_coder.forecasting.scenarios import ScenarioError
    from standard_coder.forecasting.validate import check_forecast_inputs
    from standard_coder.pipelines.sch import configured_repositories, git_repositories
    from standard_coder.pipelines.sch_effort import commit_lookup
    from standard_coder.pipelines.sch_languages import load_sch_config
    from standard_coder.pipelines.sch_layout import SchLayout
    from standard_coder.pipelines.sch_options import forecast_options
    from standard_coder.runner.console import make_console

    err = make_console(stderr=True)
    try:
        cfg = load_sch_config(config, set_ or [])
        section = cfg.forecasting
        missing = [
            k
            for k in ("sprint_inputs_path", "historical_outcomes_path")
            if getattr(section, k) is None
        ]
        if missing:
            raise ConfigError(
                f"{cfg.config_path}: forecasting.{missing[0]}: required (a JSON file; see "
                "docs/forecasting.md)"
            )
        assert section.sprint_inputs_path and section.historical_outcomes_path
        sprint = load_sprint_inputs(section.sprint_inputs_path)
        history = load_historical_outcomes(section.historical_outcomes_path)
        # the forecast stage's own checks, through the same function
        check = check_forecast_inputs(
            sprint,
            history,
            forecast_options(section),
            sprint_source=str(section.sprint_inputs_path),
            history_source=str(section.historical_outcomes_path),
            find_commits=commit_lookup(
                SchLayout(cfg.outputs.base_dir).db, git_repositories(configured_repositories(cfg))
            ),
            today=date.today(),
        )
    except (ConfigError, ForecastInputError, ScenarioError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    # a column each where the console is wide enough, else borderless (`1. PAY-301`), else a
    # block a ticket: a status, number or id is never cut (Rich cut `in_progress` at 40 columns)
    table = CheckTable.of(sprint)
    console = make_console()
    console.print(table)
    console.print(
        f"{len(sprint.members)} members, {len(history.sprints)} past sprints; tickets needing the "
        f"trained model: {', '.join(t.id for t in sprint.tickets if t.needs_model) or 'none'}",
        markup=False,
        highlight=False,
    )
    needs_lookup = any(t.commit_ids for t in sprint.tickets if t.status != "done")
    if needs_lookup and not check.commits_checked:
        err.print(
            "note: commit ids not checked: no mined database yet (the mine stage makes it)",
            markup=False,
            highlight=False,
        )
    for warning in check.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
