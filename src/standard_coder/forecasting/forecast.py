"""The forecast stage's domain entry point: inputs in, forecast JSON + PNG out.

Usage::

    result = run_forecast(
        "sprint.json", "history.json",
        options=ForecastOptions(n_sims=10_000),   # the pipeline builds it from [forecasting]
        out_dir=base_dir / "forecasts", model_effort=None, seed=None,
    )
    result.report["p_complete_by_end"]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.forecasting._io import atomic_write_json
from standard_coder.forecasting.effort import (
    ModelEffort,
    PricingNotes,
    effort_samples,
    state_in_story_points,
    story_point_ratio,
)
from standard_coder.forecasting.inputs import (
    HistoricalOutcomes,
    SprintInputs,
    Ticket,
    load_historical_outcomes,
    load_sprint_inputs,
)
from standard_coder.forecasting.montecarlo import simulate, team_capacity
from standard_coder.forecasting.options import ForecastOptions
from standard_coder.forecasting.report import build_forecast_report, summarize
from standard_coder.forecasting.scenarios import apply_scenario
from standard_coder.forecasting.throughput import make_throughput, sprint_rates
from standard_coder.forecasting.validate import CommitLookup, check_forecast_inputs
from standard_coder.sch.words import more_caveats


@dataclass(frozen=True)
class ForecastResult:
    """What :func:`run_forecast` wrote and computed."""

    sprint_id: str
    report: dict[str, Any]
    """The forecast JSON content (keys in docs/forecasting.md)."""
    json_path: Path
    png_path: Path

    @property
    def p_complete_by_end(self) -> float:
        return float(self.report["p_complete_by_end"])


def forecast_sprint(
    sprint: SprintInputs,
    history: HistoricalOutcomes,
    *,
    options: ForecastOptions,
    model_effort: ModelEffort | None = None,
    seed: int | None = None,
    source: str = "sprint inputs",
    history_source: str = "historical outcomes",
    find_commits: CommitLookup | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Forecast one sprint (no files written); returns the report dict.

    The inputs pass :func:`~standard_coder.forecasting.validate.check_forecast_inputs` first
    (the same checks as ``forecast-check``); its warnings land in ``report["warnings"]`` and a
    weak history widens the throughput (``report["throughput"]["widen_sigma"]``).

    Raises:
        ForecastInputError: any input check failed (see ``check_forecast_inputs``).
        ModelRequiredError: tickets need the effort model and ``model_effort`` is None.
        ScenarioError: a scenario names an unknown member.
    """
    seed = options.rng_seed if seed is None else seed
    check = check_forecast_inputs(
        sprint,
        history,
        options,
        sprint_source=source,
        history_source=history_source,
        find_commits=find_commits,
        today=today,
    )
    days = sprint.working_days()
    base_capacity = float(sum(m.daily_capacity_hours for m in sprint.members))
    tickets = sprint.ordered_tickets()
    rng = np.random.default_rng(seed)
    ratio = story_point_ratio(history.sprints, options.story_points_to_sch)
    efforts = effort_samples(
        tickets,
        n_sims=options.n_sims,
        rng=rng,
        story_points_to_sch=ratio.sch_per_point,
        story_points_cv=options.story_points_cv,
        model_effort=model_effort,
        story_points_fallback=options.story_points_fallback,
        story_points_spread=ratio.spread,
    )
    rates = sprint_rates(history.sprints)
    throughput = make_throughput(options.throughput_method).fit(rates)
    # Simulate past the end (as long again) so late completion days have a date too.
    horizon = days + sprint.working_days_after_end(len(days) * (options.horizon_factor - 1))
    tp = throughput.sample(options.n_sims, len(horizon), rng)
    if check.widen_sigma > 0:  # weak history: an uncertain team pace, per simulated sprint
        tp = tp * rng.lognormal(0.0, check.widen_sigma, size=(options.n_sims, 1))
    capacity = team_capacity(sprint.members, horizon)
    sim = simulate(efforts, tp, capacity, base_capacity=base_capacity, sprint_days=len(days))

    scenario_rows = []
    base = summarize(sim, horizon)
    for spec in options.scenarios:
        team = apply_scenario(sprint.members, spec)
        cap = team_capacity(team, horizon)
        s_sim = simulate(
            efforts * spec.scope_factor, tp, cap, base_capacity=base_capacity, sprint_days=len(days)
        )
        row = {"name": spec.name, **summarize(s_sim, horizon)}
        row["delta_p_complete"] = round(row["p_complete_by_end"] - base["p_complete_by_end"], 4)
        scenario_rows.append(row)

    sources = [_source(t, model_effort) for t in tickets]
    report = build_forecast_report(
        sprint_id=sprint.sprint_id,
        start_date=sprint.start_date,
        end_date=sprint.end_date,
        days=horizon,
        capacity=list(capacity),
        sim=sim,
        tickets=tickets,
        effort_sources=sources,
        throughput_method=options.throughput_method,
        history_rates=list(rates),
        seed=seed,
        scenarios=scenario_rows,
    )
    report["throughput"]["widen_sigma"] = check.widen_sigma
    # the pace the simulations drew (each sprint's mean over the sprint's days): a lognormal's
    # median is the past paces' geometric mean, far below their median when they are spread
    paces = np.asarray(tp[:, : len(days)], dtype=float).mean(axis=1)
    report["throughput"]["simulated_sch_per_day"] = {
        q: round(float(np.percentile(paces, int(q[1:]))), 3) for q in ("p10", "p50", "p90")
    }
    report["effort_unit"] = ratio.as_dict(options.unit)
    report["effort_unit"]["ticket_effort"] = options.ticket_effort
    found = getattr(model_effort, "found", None)
    paired = float(getattr(model_effort, "correlation", 0.0))
    if paired > 0 and isinstance(found, PricingNotes) and found.paired_tickets >= 2:
        report["effort_unit"]["model_correlation"] = round(paired, 3)  # tickets move together
        report["effort_unit"]["model_changes"] = found.paired_changes
    if options.unit == "story_points":
        state_in_story_points(report, ratio)
    priced = [t.id for t, src in zip(tickets, sources, strict=True) if src == "model"]
    caveats = getattr(model_effort, "caveats", ()) if priced else ()
    shown = ", ".join(priced[:5]) + (f" and {len(priced) - 5} more" if len(priced) > 5 else "")
    report["warnings"] = check.warnings + (
        list(found.notes) if isinstance(found, PricingNotes) and priced else []
    )
    if caveats:  # one warning (the run summary lists them all), every one kept in the JSON
        report["effort_unit"]["model_warnings"] = list(caveats)
        more = more_caveats(caveats, "effort_unit.model_warnings in the forecast's JSON")
        report["warnings"].append(
            f"the effort model that prices {shown} is weak here: {caveats[0]}{more}"
        )
    return report


def _source(ticket: Ticket, model_effort: ModelEffort | None) -> str:
    if ticket.status == "done":
        return "done"
    if ticket.needs_model and model_effort is not None:
        return "model"
    return "story_points"


def run_forecast(
    sprint_inputs_path: Path,
    historical_outcomes_path: Path,
    *,
    options: ForecastOptions,
    out_dir: Path,
    model_effort: ModelEffort | None = None,
    seed: int | None = None,
    find_commits: CommitLookup | None = None,
    today: date | None = None,
) -> ForecastResult:
    """Load both input files, forecast, and write ``<out_dir>/<sprint_id>_forecast.json`` and
    ``<out_dir>/<sprint_id>_forecast.png`` atomically (pass ``<base_dir>/forecasts``).

    Args:
        model_effort: tickets with a diff or commit ids -> SCH samples per ticket; None when
            no trained model exists.
        seed: overrides ``options.rng_seed`` when given.
        find_commits: looks up tickets' commit ids in the mined history (unknown ids are errors).
        today: the date the forecast is made on (a sprint under way draws a warning).

    Raises:
        ForecastInputError: an input file is missing or invalid (message names file and field).
        ModelRequiredError: tickets need the trained model and ``model_effort`` is None.
        ScenarioError: a scenario names an unknown member.
    """
    from standard_coder.forecasting.plots import plot_forecast

    sprint = load_sprint_inputs(Path(sprint_inputs_path))
    history = load_historical_outcomes(Path(historical_outcomes_path))
    report = forecast_sprint(
        sprint,
        history,
        options=options,
        model_effort=model_effort,
        seed=seed,
        source=str(sprint_inputs_path),
        history_source=str(historical_outcomes_path),
        find_commits=find_commits,
        today=today,
    )
    out_dir = Path(out_dir)
    json_path = atomic_write_json(out_dir / f"{sprint.sprint_id}_forecast.json", report)
    png_path = plot_forecast(report, out_dir / f"{sprint.sprint_id}_forecast.png")
    return ForecastResult(
        sprint_id=sprint.sprint_id, report=report, json_path=json_path, png_path=png_path
    )
