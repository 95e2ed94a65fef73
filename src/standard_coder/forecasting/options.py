"""What a sprint forecast is asked to do, besides its two input files."""

from __future__ import annotations

from dataclasses import dataclass, field

from standard_coder.forecasting.scenarios import ScenarioSpec
from standard_coder.forecasting.throughput import ThroughputMethod


@dataclass(frozen=True)
class ForecastOptions:
    """Everything the forecast needs besides the two input files (the flagship pipeline builds
    it from ``[forecasting]``: ``standard_coder.pipelines.sch_options.forecast_options``)."""

    n_sims: int = 10_000
    rng_seed: int = 7
    story_points_to_sch: float = 2.0
    story_points_cv: float = 0.5
    unit: str = "sch_hours"
    """``sch_hours`` or ``story_points``: the unit the effort figures are stated in (the
    simulation is the same; story points are SCH hours over the learned hours per point)"""
    throughput_method: ThroughputMethod = "lognormal"
    story_points_fallback: bool = False
    ticket_effort: str = "coding"
    """``coding`` (SCH) or ``delivery``: what ``model_effort`` prices tickets by (stated in
    ``effort_unit.ticket_effort`` and under the table)"""
    backtest_min_history: int = 3
    horizon_factor: int = 2
    """simulate ``horizon_factor`` x the sprint's working days (completion days past the end)"""
    scenarios: tuple[ScenarioSpec, ...] = field(default_factory=tuple)
