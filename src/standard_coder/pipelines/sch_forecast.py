"""The ``forecast`` stage: Monte Carlo sprint forecast, with ticket effort from the SCH model."""

from __future__ import annotations

from standard_coder.config import FlagshipConfig
from standard_coder.runner.context import StageContext


def run(ctx: StageContext, *, cfg: FlagshipConfig) -> None:
    """Forecast the configured sprint; tickets with diffs or commit ids use the trained model."""
    from standard_coder.forecasting import ForecastOptions, load_sprint_inputs, run_forecast
    from standard_coder.forecasting.report import forecast_table
    from standard_coder.pipelines.sch import paths
    from standard_coder.runner.console import make_console

    f = cfg.forecasting
    assert f.sprint_inputs_path is not None and f.historical_outcomes_path is not None
    sprint = load_sprint_inputs(f.sprint_inputs_path)
    from standard_coder.pipelines.sch_effort import commit_lookup

    model_effort = None
    if any(t.needs_model for t in sprint.tickets):
        from standard_coder.pipelines.sch_effort import model_effort_for

        model_effort = model_effort_for(cfg, device=ctx.device)
    result = run_forecast(
        f.sprint_inputs_path,
        f.historical_outcomes_path,
        options=ForecastOptions.from_section(f),
        out_dir=paths(cfg)["forecasts"],
        model_effort=model_effort,
        seed=f.rng_seed,
        find_commits=commit_lookup(cfg),
    )
    for warning in result.report["warnings"]:
        ctx.log.warning("%s", warning)
    make_console(stderr=True).print(forecast_table(result.report))
    ctx.set_summary(
        sprint_id=result.sprint_id,
        p_complete_by_end=round(float(result.p_complete_by_end), 4),
        forecast=str(result.json_path),
        warnings=len(result.report["warnings"]),
    )
