"""The ``forecast`` stage: Monte Carlo sprint forecast, with ticket effort from the SCH model."""

from __future__ import annotations

from datetime import date

from standard_coder.runner.context import StageContext, warn


def run(ctx: StageContext) -> None:
    """Forecast the configured sprint; tickets with diffs or commit ids use the trained model.

    Reads ``ctx.params["forecasting"]``, the named inputs ``sprint`` and ``history`` (plus
    ``model`` and ``change_rep`` from ``train_sch`` when a ticket needs the model, and ``db``
    from ``mine`` when a ticket lists commit ids; ``repositories``: where a ticket's commit the
    mine did not read is looked up) and writes below the named output ``forecasts``. Nothing
    else: the mined database is read only when it is declared.
    """
    from standard_coder.config.forecasting import ForecastingSection
    from standard_coder.config.mining import LanguageFilter
    from standard_coder.forecasting import load_sprint_inputs, run_forecast
    from standard_coder.forecasting.report import forecast_table
    from standard_coder.forecasting.validate import under_way_note
    from standard_coder.pipelines.sch_options import forecast_options, languages_of
    from standard_coder.pipelines.wiring import section_from_params
    from standard_coder.runner.console import make_console

    f = section_from_params(ForecastingSection, ctx.params["forecasting"], ctx.root_dir)
    sprint_path, history_path = ctx.inputs["sprint"], ctx.inputs["history"]
    sprint = load_sprint_inputs(sprint_path)
    from pathlib import Path

    from standard_coder.pipelines.sch_effort import commit_lookup

    # for commits not mined; a path inside the project folder is a param relative to it
    repos = [Path(ctx.root_dir) / p for p in ctx.params.get("repositories", [])]
    # the mined database (an input when a ticket lists commits), then the repositories: an id
    # in neither is an error. One lookup for the input check and the pricing: each id is
    # resolved once (git is asked once where a commit the mine did not read is)
    db = ctx.inputs.get("db")
    if db is None and any(t.commit_ids for t in sprint.tickets if t.status != "done"):
        raise ValueError(
            f"{sprint_path}: a ticket lists commit ids but the stage was declared without the "
            "mined database (rerun: the pipeline reads the sprint file when it is built)"
        )
    commits = None if db is None else commit_lookup(db, repos)
    model_effort = None
    if any(t.needs_model for t in sprint.tickets):
        from standard_coder.pipelines.sch_effort import model_effort_for

        if "model" not in ctx.inputs:
            raise ValueError(
                f"{sprint_path}: a ticket needs the effort model but the stage was declared "
                "without it (rerun: the pipeline reads the sprint file when it is built)"
            )
        model_effort = model_effort_for(
            ctx.inputs["model"],
            ctx.inputs["change_rep"],
            db,
            seed=int(ctx.params["seed"]),  # estimate's seed: a commit has its estimate draws
            rng_seed=f.rng_seed,
            device=ctx.device,
            ticket_effort=f.ticket_effort,
            langs=None
            if "filters" not in ctx.params
            else languages_of(LanguageFilter.model_validate(ctx.params["filters"]["languages"])),
            repos=repos,
            commits=commits,
            evaluation=ctx.inputs.get("evaluation"),  # its warnings, said with the tickets'
        )
    result = run_forecast(
        sprint_path,
        history_path,
        options=forecast_options(f),
        out_dir=ctx.outputs["forecasts"],
        model_effort=model_effort,
        seed=f.rng_seed,
        find_commits=commits,
        today=None,  # the stored forecast is of its inputs alone, the same on any day
    )
    for warning in result.report["warnings"]:
        warn(ctx, warning)
    # a sprint under way is forecast from its start: said on the day it runs, not stored
    if (note := under_way_note(sprint, str(sprint_path), date.today())) is not None:
        warn(ctx, note)
    make_console().print(forecast_table(result.report))  # a result: stdout (logs: stderr)
    ctx.set_summary(
        sprint_id=result.sprint_id,
        p_complete_by_end=round(float(result.p_complete_by_end), 4),
        forecast=str(result.json_path),
        warnings=len(result.report["warnings"]),
    )
