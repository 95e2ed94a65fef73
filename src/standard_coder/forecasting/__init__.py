"""Monte Carlo sprint forecasting from SCH effort: inputs, throughput, simulation, backtest.

Entry points: :func:`run_forecast` (the forecast stage) and :func:`run_backtest`.
"""

from standard_coder.forecasting.backtest import BacktestError, run_backtest
from standard_coder.forecasting.effort import (
    ModelEffort,
    ModelEffortError,
    ModelPricing,
    ModelRequiredError,
    PricingNotes,
)
from standard_coder.forecasting.forecast import (
    ForecastResult,
    forecast_sprint,
    run_forecast,
)
from standard_coder.forecasting.inputs import (
    ForecastInputError,
    HistoricalOutcomes,
    HistoricalSprint,
    Member,
    SprintInputs,
    Ticket,
    load_historical_outcomes,
    load_sprint_inputs,
)
from standard_coder.forecasting.options import ForecastOptions
from standard_coder.forecasting.scenarios import ScenarioError, ScenarioSpec

__all__ = [
    "BacktestError",
    "ForecastInputError",
    "ForecastOptions",
    "ForecastResult",
    "HistoricalOutcomes",
    "HistoricalSprint",
    "Member",
    "ModelEffort",
    "ModelEffortError",
    "ModelPricing",
    "ModelRequiredError",
    "PricingNotes",
    "ScenarioError",
    "ScenarioSpec",
    "SprintInputs",
    "Ticket",
    "forecast_sprint",
    "load_historical_outcomes",
    "load_sprint_inputs",
    "run_backtest",
    "run_forecast",
]
