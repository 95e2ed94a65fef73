"""Benchmark: how often the 80 % range of a total of several changes holds the actual total.

``estimate A..B`` and ``team_output`` price a set of changes by summing each change's draws. A
model of the change alone shares its errors across changes made close together (the pace of a
period, who wrote them), so a sum of independent draws gives a total whose range is too narrow.
Since session 55 the draws of a total are paired at the correlation ``train_sch`` measures on
the fitted changes (``standard_coder.sch.totals``). This script scores both on saved real-history
runs (``real_history.py --work-dir`` folders, or run folders holding ``sc-output`` and its
``pipeline_config.toml``): per history it measures the model's error correlation on the fitted
changes (as ``train_sch`` now does, so runs saved before it are scored alike), then takes the
held-out changes with a normal label in time order, cuts them into windows of 5, 10 and 20
consecutive changes, and counts how often each window's 80 % range holds its labels' total,
paired (ours) and independent (the plain sum a user adds up by hand, and estimate before);
and the same for sprints: every held-out change of a repository made within one span of 14
days (3 or more of them; the key ``sprint``, with their ``mean_changes``), what a forecast's
tickets and team output's weeks sum::

    python benchmarks/total_ranges.py WORK_DIR... [--draws 1000]

Per history one line; then per window the coverage over every window of every history, ours
and independent, and their distance from 0.80; as the last line one JSON object
``{"total_ranges": {"histories", "by_window": {k: {"windows", "coverage_80",
"coverage_80_independent", "miss", "miss_independent"}}, "ratio", "rows"}}`` (``miss``: mean
over histories of ``|coverage - 0.80|``; ``ratio``: independent's miss over ours at 10
changes, above 1 when ours is closer to 0.80). Exit 2, one line: a path that holds no run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

WINDOWS = (5, 10, 20)
SPRINT_DAYS = 14
SPRINT = "sprint"
"""The key of the calendar windows: every held-out change of a repository made within one span
of SPRINT_DAYS days (a sprint's, or team output's weeks'), at least 3 of them."""
TARGET = 0.8


class RunError(Exception):
    """A path that holds no finished run (one line, exit 2)."""


def find_runs(paths: list[Path]) -> list[Path]:
    """Every ``sc-output`` folder of ``paths`` (``refit_effort.py``'s rule, imported from this
    folder)."""
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    import refit_effort  # a sibling script, found once its folder is on the path

    try:
        return list(refit_effort.find_runs(paths))
    except refit_effort.RefitError as exc:
        raise RunError(str(exc)) from None


def score_run(run: Path, n_draws: int) -> dict[str, Any]:
    """One history's error correlation and its held-out totals' coverage per window."""
    from standard_coder.config.schema import ConfigError, load_config
    from standard_coder.pipelines.sch_effort import load_effort_model
    from standard_coder.pipelines.sch_layout import SchLayout
    from standard_coder.sch.dataset import TEST, Dataset
    from standard_coder.sch.totals import (
        calendar_windows,
        fitted_correlation,
        held_out_draws,
        window_coverage,
    )

    config = run.parent / "pipeline_config.toml"
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise RunError(" ".join(str(exc).split())) from None
    layout = SchLayout(run, cfg.training.predictor)
    for need in (layout.dataset, layout.model):
        if not need.is_file():
            raise RunError(f"{need}: missing (a run whose train_sch finished is needed)")
    t0 = time.perf_counter()
    model, _rep = load_effort_model(layout.model, layout.change_rep)
    dataset = Dataset.load(layout.dataset)
    fitted = fitted_correlation(model, dataset)
    rho = fitted["correlation"]
    test = dataset.index(TEST)
    normal = test[dataset.label_kind[test] == 0]
    seed = cfg.runner.seed
    held = held_out_draws(model, dataset, normal, seed=seed, n_draws=n_draws)
    scored = {str(k): window_coverage(held.draws, held.actual, rho, held.seeds, window=k,
                                      seed=seed, groups=held.repos) for k in WINDOWS}  # fmt: skip
    # a sprint: every held-out change of one repository in SPRINT_DAYS (at least 3 of them)
    sprints = calendar_windows(held.times, SPRINT_DAYS, held.repos)
    scored[SPRINT] = window_coverage(held.draws, held.actual, rho, held.seeds, window=0,
                                     seed=seed, parts=sprints)  # fmt: skip
    scored[SPRINT]["mean_changes"] = (
        round(float(np.mean([len(p) for p in sprints])), 1) if sprints else None
    )
    return {"repo": run.parent.name, "correlation": rho, "by_window": fitted["by_window"],
            "n_fitted": fitted["n_changes"], "n_held_out": len(held.actual), "windows": scored,
            "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip


def _cov(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.2f}"


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per window: coverage over every window of every history, and the mean distance of each
    history's coverage from 0.80 (histories with at least 2 windows)."""
    out: dict[str, Any] = {}
    for k in [*map(str, WINDOWS), SPRINT]:
        scored = [r["windows"][k] for r in rows if r["windows"][k]["coverage_80"] is not None]
        n = sum(s["windows"] for s in scored)
        entry: dict[str, Any] = {"histories": len(scored), "windows": n}
        for side in ("coverage_80", "coverage_80_independent"):
            entry[side] = round(sum(s[side] * s["windows"] for s in scored) / n, 4) if n else None
            miss = [abs(s[side] - TARGET) for s in scored]
            name = "miss" + side.removeprefix("coverage_80")
            entry[name] = round(sum(miss) / len(miss), 4) if miss else None
        out[k] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="real_history.py work dirs or run folders")
    ap.add_argument("--draws", type=int, default=1000, help="draws per change (default 1000)")
    args = ap.parse_args(argv)
    try:
        runs = find_runs(args.runs)
        rows = []
        for run in runs:
            row = score_run(run, args.draws)
            cells = "  ".join(
                f"{k}: {_cov(w['coverage_80'])} vs {_cov(w['coverage_80_independent'])} "
                f"({w['windows']})"
                for k, w in row["windows"].items()
            )
            print(f"{row['repo']}: correlation {row['correlation']:.3f} on {row['n_fitted']} "
                  f"fitted; 80 % range of a total holds it, ours vs independent (windows), "
                  f"{cells} ({row['seconds']} s)", flush=True)  # fmt: skip
            rows.append(row)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    by_window = summary(rows)
    for k, e in by_window.items():
        what = f"{k} changes" if k != SPRINT else f"the changes of {SPRINT_DAYS} days (3 or more)"
        print(f"totals of {what}: {e['windows']} windows of {e['histories']} histories; "
              f"coverage {_cov(e['coverage_80'])} ours vs {_cov(e['coverage_80_independent'])} "
              f"independent; mean distance from 0.80 {_cov(e['miss'])} vs "
              f"{_cov(e['miss_independent'])}")  # fmt: skip
    ten = by_window["10"]
    ratio = (round(ten["miss_independent"] / ten["miss"], 3)
             if ten["miss"] and ten["miss_independent"] is not None else None)  # fmt: skip
    print(json.dumps({"total_ranges": {"histories": len(rows), "by_window": by_window,
                                       "ratio": ratio, "rows": rows}}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
