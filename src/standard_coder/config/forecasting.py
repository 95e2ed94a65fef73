"""Config section ``[forecasting]``: Monte Carlo sprint forecasts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from standard_coder.config.base import ConfigPath, IsoDate, Seed, StrictModel


class Scenario(StrictModel):
    """A what-if applied on top of the sprint inputs."""

    name: str = Field(min_length=1, description="shown in the forecast table")
    days_off: dict[str, list[IsoDate]] = Field(
        default_factory=dict, description="member -> extra days off (ISO dates)"
    )
    scope_growth_percent: float = Field(
        0.0, ge=-100, description="extra remaining effort, in percent"
    )
    member_joins: dict[str, Annotated[float, Field(ge=0, le=24)]] = Field(
        default_factory=dict, description="new member -> daily capacity hours"
    )
    member_leaves: list[str] = Field(default_factory=list, description="members who leave")


class ForecastingSection(StrictModel):
    """Sprint forecasting."""

    enable: bool = Field(True, description="run the forecast stage")
    sprint_inputs_path: ConfigPath | None = Field(None, description="sprint inputs JSON")
    historical_outcomes_path: ConfigPath | None = Field(None, description="past sprints JSON")
    n_sims: int = Field(10_000, ge=100, le=10_000_000, description="Monte Carlo simulations")
    rng_seed: Seed = Field(7, description="simulation seed")
    story_points_to_sch: float = Field(2.0, gt=0, description="SCH hours per story point")
    unit: Literal["sch_hours", "story_points"] = Field(
        "sch_hours",
        description="unit of the forecast's effort figures: SCH hours, or story points "
        "(SCH hours divided by the hours-per-point ratio learned from past sprints)",
    )
    ticket_effort: Literal["coding", "delivery"] = Field(
        "coding",
        description="price tickets with a diff or commit ids by coding effort (SCH) or by "
        'delivery effort (open->merge hours; needs [training] predictor = "multitask")',
    )
    story_points_cv: float = Field(0.5, ge=0, description="lognormal spread of story-point effort")
    throughput_method: Literal["lognormal", "bootstrap", "bootstrap_daily"] = Field(
        "lognormal",
        description="daily team throughput: a lognormal fitted to past sprints' rates (chosen "
        "by the backtest, see docs/forecasting.md), their bootstrap, or an iid-per-day bootstrap",
    )
    story_points_fallback: bool = Field(
        False,
        description="without a trained effort model, use story points for tickets that carry "
        "a diff or commit ids and also have story points (else the stage asks for train_sch)",
    )
    backtest_min_history: int = Field(
        3, ge=1, description="backtest: past sprints needed before a sprint is forecast"
    )
    scenarios: list[Scenario] = Field(
        default_factory=list,
        description=(
            "what-if scenarios: replace this line by one [[forecasting.scenarios]] table "
            "each: name, days_off = {member = [dates]}, scope_growth_percent, "
            "member_joins = {name = hours}, member_leaves = [names] (docs/forecasting.md)"
        ),
    )
