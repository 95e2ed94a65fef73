"""The forecast JSON dict (keys documented in docs/forecasting.md) and Rich tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table

from standard_coder.forecasting.inputs import Ticket
from standard_coder.forecasting.montecarlo import SimulationResult

SCHEMA_VERSION = 1


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def _day_date(day: int | None, days: Sequence[date]) -> str | None:
    if day is None or day == 0:
        return None
    return days[day - 1].isoformat()


def summarize(sim: SimulationResult, days: Sequence[date]) -> dict[str, Any]:
    """Headline numbers of one simulation: probability, completion days, completed effort.

    ``days`` are the dates of the simulated working days (sprint, then after its end).
    """
    p50 = sim.completion_day_quantile(0.50)
    p85 = sim.completion_day_quantile(0.85)
    return {
        "p_complete_by_end": _r(sim.p_complete_by_end()),
        "completion_day_p50": p50,
        "completion_day_p85": p85,
        "completion_date_p50": _day_date(p50, days),
        "completion_date_p85": _day_date(p85, days),
        "expected_completed_sch": _r(float(sim.completed_sch().mean()), 3),
        "expected_remaining_sch": _r(float(sim.total_effort.mean()), 3),
    }


def build_forecast_report(
    *,
    sprint_id: str,
    start_date: date,
    end_date: date,
    days: Sequence[date],
    capacity: Sequence[float],
    sim: SimulationResult,
    tickets: Sequence[Ticket],
    effort_sources: Sequence[str],
    throughput_method: str,
    history_rates: Sequence[float],
    seed: int,
    scenarios: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The forecast as a JSON-ready dict (``forecasts/<sprint_id>_forecast.json``)."""
    dist = sim.completion_day_distribution()
    remaining = sim.remaining_by_day()
    q15, q50, q85 = np.percentile(remaining, [15, 50, 85], axis=0)
    total = sim.total_effort
    probs = sim.ticket_probabilities()
    means = sim.efforts.mean(axis=0)
    head = summarize(sim, days)
    return {
        "schema_version": SCHEMA_VERSION,
        "sprint_id": sprint_id,
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "working_days": [d.isoformat() for d in days[: sim.n_days]],
        "n_working_days": sim.n_days,
        "days_after_end": [d.isoformat() for d in days[sim.n_days :]],
        "capacity_hours_per_day": [_r(c, 3) for c in capacity],
        "n_sims": sim.n_sims,
        "seed": seed,
        "throughput": {
            "method": throughput_method,
            "history_sprints": len(history_rates),
            "history_sch_per_day": [_r(r, 3) for r in history_rates],
        },
        **head,
        "remaining_sch": {
            "mean": _r(total.mean(), 3),
            "p15": _r(np.percentile(total, 15), 3),
            "p50": _r(np.percentile(total, 50), 3),
            "p85": _r(np.percentile(total, 85), 3),
        },
        "completion_day_distribution": {
            "day": list(range(sim.horizon + 1)),
            "probability": [_r(p) for p in dist[: sim.horizon + 1]],
            "p_after_end": _r(1.0 - sim.p_complete_by_end()),
            "p_after_horizon": _r(dist[-1]),
        },
        "remaining_by_day": {
            "day": list(range(sim.horizon + 1)),
            "p15": [_r(x, 3) for x in q15],
            "p50": [_r(x, 3) for x in q50],
            "p85": [_r(x, 3) for x in q85],
        },
        "tickets": [
            {
                "id": t.id,
                "title": t.title,
                "status": t.status,
                "work_order": i + 1,
                "effort_source": src,
                "mean_remaining_sch": _r(means[i], 3),
                "p_complete": _r(probs[i]),
            }
            for i, (t, src) in enumerate(zip(tickets, effort_sources, strict=True))
        ],
        "scenarios": list(scenarios),
    }


def _day(day: int | None, n_days: int) -> str:
    if day is None:
        return f"> {2 * n_days}"
    return str(day) if day <= n_days else f"{day} (end+{day - n_days})"


def forecast_table(report: dict[str, Any]) -> Table:
    """Rich table: baseline and scenarios, then per-ticket completion probability."""
    table = Table(title=f"Sprint {report['sprint_id']} forecast ({report['n_sims']:,} simulations)")
    for col in ("case", "P(complete by end)", "P50 day", "P85 day", "expected done SCH"):
        table.add_column(col, justify="left" if col == "case" else "right")
    rows = [{"name": "baseline", **report}, *report["scenarios"]]
    for row in rows:
        table.add_row(
            escape(str(row["name"])),
            f"{row['p_complete_by_end']:.1%}",
            _day(row["completion_day_p50"], report["n_working_days"]),
            _day(row["completion_day_p85"], report["n_working_days"]),
            f"{row['expected_completed_sch']:.1f}",
        )
    table.add_section()
    for t in report["tickets"]:
        table.add_row(
            escape(f"  {t['work_order']}. {t['id']} {t['title'][:32]} ({t['effort_source']})"),
            f"{t['p_complete']:.1%}",
            "",
            "",
            f"{t['mean_remaining_sch']:.1f} left",
        )
    return table


def backtest_table(result: dict[str, Any]) -> Table:
    """Rich table: one row per throughput method, the configured one marked."""
    table = Table(title=f"Forecast backtest ({result['n_forecasts']} sprints, rolling origin)")
    for col in ("method", "Brier", "Brier (base rate)", "skill", "P85 coverage"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, m in result["methods"].items():
        mark = " *" if name == result["method"] else ""
        skill = "n/a" if m["brier_skill"] is None else f"{m['brier_skill']:+.3f}"
        table.add_row(
            name + mark,
            f"{m['brier']:.4f}",
            f"{m['brier_reference']:.4f}",
            skill,
            f"{m['p85_coverage']:.2f}",
        )
    return table
