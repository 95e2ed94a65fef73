"""Monte Carlo sprint forecast speed, and a throughput-method backtest on a long synthetic history.

Part 1: 100,000 simulations of a 50-ticket, 10-working-day sprint, end to end (effort draws,
throughput draws, simulation, report dict; no file writes), against a per-simulation Python loop
(the peer's shape) timed on fewer simulations, and beside a floor: the effort draws alone (one
lognormal per simulation and open ticket, as numpy draws them: 4.7 M normals and their
exponentials), which any forecast of this size pays. Target (issue 22): <= 0.25 s on one core.

Part 2: rolling-origin backtest of the three throughput methods on a synthetic 160-sprint history
whose sprint rates vary from sprint to sprint (lognormal team level with drift, plus days lost to
incidents) and from day to day.

    PYTHONPATH=src python benchmarks/forecast.py [--quick]

Last line: JSON with n_sims, seconds (median wall), cpu_seconds (median process CPU time; the
shared machine's load inflates wall time), sims_per_second, loop_sims_per_second, speedup,
floor_cpu_seconds (the draws alone, median CPU) and over_floor (cpu_seconds / floor).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import json
import math
import statistics
import time
from datetime import date, timedelta

import numpy as np

from standard_coder.forecasting.backtest import METHODS, backtest_method
from standard_coder.forecasting.forecast import ForecastOptions, forecast_sprint
from standard_coder.forecasting.inputs import (
    HistoricalOutcomes,
    HistoricalSprint,
    SprintInputs,
)


def make_sprint(n_tickets: int) -> SprintInputs:
    """A 10-working-day sprint (Mon 2 Mar - Fri 13 Mar 2026) of story-point tickets."""
    rng = np.random.default_rng(0)
    return SprintInputs.model_validate(
        {
            "sprint_id": "BENCH-1",
            "start_date": "2026-03-02",
            "end_date": "2026-03-13",
            "members": [
                {
                    "name": f"dev{i}",
                    "daily_capacity_hours": 6.0,
                    "days_off": ["2026-03-06"] * (i == 0),
                }
                for i in range(5)
            ],
            "tickets": [
                {
                    "id": f"T-{i}",
                    "status": "done" if i < 3 else "todo",
                    "story_points": float(rng.choice([1, 2, 3, 5])),
                }
                for i in range(n_tickets)
            ],
        }
    )


def synthetic_history(n: int, seed: int, level: float = 14.0) -> list[HistoricalSprint]:
    """Sprints whose daily throughput = team level x sprint effect x day noise (incidents too)."""
    rng = np.random.default_rng(seed)
    out = []
    start = date(2020, 1, 6)
    for i in range(n):
        level *= math.exp(rng.normal(0, 0.03))
        sprint_effect = math.exp(rng.normal(0, 0.25))
        if rng.random() < 0.15:  # an incident week eats a big share of the sprint
            sprint_effect *= 0.5
        days = level * sprint_effect * rng.gamma(4.0, 0.25, size=10)
        committed = float(level * 10 * rng.uniform(0.7, 1.15))
        cum = np.cumsum(days)
        done_day = int(np.searchsorted(cum, committed) + 1)
        completed = done_day <= 10
        s = start + timedelta(days=14 * i)
        out.append(
            HistoricalSprint(
                sprint_id=f"S{i}",
                start_date=s,
                end_date=s + timedelta(days=11),
                committed_sch=round(committed, 2),
                done_sch=round(committed if completed else float(cum[-1]), 2),
                workdays=10,
                completed=completed,
                completed_on_day=done_day if completed else None,
            )
        )
    return out


def loop_forecast(efforts: np.ndarray, rates: np.ndarray, cap: np.ndarray, seed: int) -> float:
    """Per-simulation Python loop (the peer's shape): day by day, work through the tickets in
    order, recording the day each one completes. Efforts are pre-drawn, so it does less."""
    rng = np.random.default_rng(seed)
    n_sims, n_tickets = efforts.shape
    full = cap.max()
    done = 0
    for s in range(n_sims):
        rate = rates[rng.integers(0, rates.size)]
        left = list(efforts[s])
        finished = [0] * n_tickets
        i = 0
        for day, c in enumerate(cap, start=1):
            budget = min(rate * c / full, c)
            while i < n_tickets and budget > 0:
                used = min(budget, left[i])
                left[i] -= used
                budget -= used
                if left[i] <= 0:
                    finished[i] = day
                    i += 1
        done += i == n_tickets
    return done / n_sims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    args = ap.parse_args()
    n_sims = 5_000 if args.quick else 100_000
    reps = 1 if args.quick else 5
    loop_sims = 500 if args.quick else 5_000

    sprint = make_sprint(50)
    history = HistoricalOutcomes(sprints=synthetic_history(12, seed=1, level=30.0))
    opts = ForecastOptions(n_sims=n_sims, rng_seed=3)
    forecast_sprint(sprint, history, options=ForecastOptions(n_sims=1_000))  # warm up
    times, cpu_times, floor_times = [], [], []
    n_open = sum(t.status != "done" for t in sprint.tickets)
    for _ in range(reps):  # interleaved with the floor, so load hits both alike
        t0, c0 = time.perf_counter(), time.process_time()
        report = forecast_sprint(sprint, history, options=opts)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        c0 = time.process_time()
        draws = np.random.default_rng(3).standard_normal((n_sims, n_open))
        np.exp(draws, out=draws)
        floor_times.append(time.process_time() - c0)
        del draws
    seconds = statistics.median(times)
    cpu_seconds = statistics.median(cpu_times)
    floor_cpu = statistics.median(floor_times)

    rng = np.random.default_rng(0)
    efforts = rng.lognormal(1.0, 0.5, size=(loop_sims, 47))
    rates = np.array([s.throughput for s in history.sprints])
    n_days = report["n_working_days"]
    cap = np.array(report["capacity_hours_per_day"][:n_days])
    t0, c0 = time.perf_counter(), time.process_time()
    loop_forecast(efforts, rates, cap, seed=1)
    loop_s, loop_cpu = time.perf_counter() - t0, time.process_time() - c0
    loop_rate = loop_sims / loop_s
    vec_rate = n_sims / seconds

    print(f"Forecast speed: 50 tickets, {len(cap)} working days, one core (median of {reps})")
    print(f"{'implementation':<34}{'simulations':>12}{'wall s':>9}{'cpu s':>9}{'sims/s':>12}")
    print(
        f"{'vectorised (forecast_sprint)':<34}{n_sims:>12,}{seconds:>9.3f}{cpu_seconds:>9.3f}"
        f"{vec_rate:>12,.0f}"
    )
    print(f"{'floor: the effort draws alone':<34}{n_sims:>12,}{'':>9}{floor_cpu:>9.3f}")
    print(
        f"{'per-simulation Python loop':<34}{loop_sims:>12,}{loop_s:>9.3f}{loop_cpu:>9.3f}"
        f"{loop_rate:>12,.0f}"
    )
    over = cpu_seconds / floor_cpu
    print(f"p_complete_by_end = {report['p_complete_by_end']}; CPU {over:.2f}x the floor")

    n_hist = 40 if args.quick else 160
    bt_sims = 2_000 if args.quick else 10_000
    hist = synthetic_history(n_hist, seed=11)
    print(f"\nBacktest on a synthetic {n_hist}-sprint history ({bt_sims:,} sims per forecast)")
    print(f"{'method':<18}{'Brier':>9}{'reference':>11}{'skill':>9}{'P85 cover':>11}")
    for m in METHODS:
        r = backtest_method(hist, method=m, n_sims=bt_sims, seed=5, min_history=6)
        print(
            f"{m:<18}{r['brier']:>9.4f}{r['brier_reference']:>11.4f}"
            f"{r['brier_skill']:>+9.3f}{r['p85_coverage']:>11.3f}"
        )
    print(
        json.dumps(
            {
                "n_sims": n_sims,
                "n_tickets": 50,
                "n_days": n_days,
                "seconds": round(seconds, 4),
                "cpu_seconds": round(cpu_seconds, 4),
                "sims_per_second": round(vec_rate),
                "loop_sims_per_second": round(loop_rate),
                "speedup": round(vec_rate / loop_rate, 1),
                "floor_cpu_seconds": round(floor_cpu, 4),
                "over_floor": round(cpu_seconds / floor_cpu, 2),
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
