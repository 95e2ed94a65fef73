"""Benchmark: refit the effort model of saved real-history runs under other ``[training]`` keys.

A change to the effort model alone (its predictor, backbone, shape, pool, recency, ...) leaves
mining, work inference and the change features, and so every label, as they were. Rerunning
``real_history.py`` for it costs 20-220 s a history, most of it labelling. This script refits
only what ``train_sch`` fits once its dataset is built (the model, its size-MDN pool and the
LOC baseline, through the stage's own ``fit_effort_model`` and ``fit_baseline_and_pool``) on
each run's saved dataset, with ``--set training.KEY=VALUE`` applied to the run's own
``pipeline_config.toml``, and writes each evaluation where ``compare_real_history.py`` reads
it, so the two sides are paired on the very same labels::

    python benchmarks/refit_effort.py RUNS... --out REFIT --set 'training.shift.spreads=[]'
    python benchmarks/compare_real_history.py RUNS REFIT

``RUNS``: ``real_history.py --work-dir`` folders (``NN-name/sc-output`` below them) or run
folders holding ``sc-output`` and its ``pipeline_config.toml``. ``REFIT/<run>/sc-output/reports/
sch_evaluation.json`` is written per run (the plots are left out). Without ``--set`` a refit
is the run again: each history's line says whether its four target figures came out
bit-identical (``reproduced``), which holds for runs made by the same code. Per history one
line (targets met before -> after, SCH - lines added before -> after), then the totals, and
as the last line one JSON object ``{"refit": {"overrides", "histories", "reproduced",
"targets_before", "targets_after", "ratio", "rows"}}`` (``ratio``: targets met after / before).

Only keys that act after the dataset may be set: ``predictor`` (not ``multitask``, which
needs the pull requests), ``label_weighting``, ``recency_half_life``, ``pool_size_mdn`` and
the ``mdn``, ``quantile``, ``shift``, ``auto`` and ``optim`` tables (less
``optim.validation_fraction``, which splits the dataset). Exit 2, one line: a path that holds
no run, an override of another key, a config the schema refuses, an ``--out`` that would write
over a run's own evaluation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

REFIT_KEYS = ("predictor", "label_weighting", "recency_half_life", "pool_size_mdn")
REFIT_TABLES = ("mdn", "quantile", "shift", "auto", "optim")
NOT_REFIT = ("optim.validation_fraction",)
FIGURES = ("spearman_sch", "spearman_lines_added", "heldout_nll", "baseline_loc_heldout_nll",
           "coverage_80", "binned_calibration_r2")  # fmt: skip
"""The figures issue 12's four targets read (``real_history.targets``)."""


class RefitError(Exception):
    """Bad input: a path, an override or a config (one line, exit 2)."""


def _real_history() -> Any:
    """``real_history.py`` (its rows and targets), imported from this folder."""
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    import real_history  # a sibling script, found once its folder is on the path

    return real_history


def check_override(text: str) -> None:
    """Refuse an override that is not a ``[training]`` key acting after the dataset."""
    key = text.split("=", 1)[0].strip()
    parts = key.split(".")
    inner = ".".join(parts[1:])
    ok = (
        len(parts) >= 2
        and parts[0] == "training"
        and inner not in NOT_REFIT
        and (inner in REFIT_KEYS or (len(parts) >= 3 and parts[1] in REFIT_TABLES))
    )
    if not ok:
        raise RefitError(
            f"--set {text!r}: only training.{{{', '.join(REFIT_KEYS)}}} and the training."
            f"{{{', '.join(REFIT_TABLES)}}} tables act after the dataset (labels and features "
            "are reused); rerun real_history.py for the others"
        )


def find_runs(paths: list[Path]) -> list[Path]:
    """Every ``sc-output`` folder of ``paths`` (a work dir's ``*/sc-output`` or ``sc-output``)."""
    runs: list[Path] = []
    for path in paths:
        found = [path / "sc-output"] if (path / "sc-output").is_dir() else []
        found = found or sorted(p for p in path.glob("*/sc-output") if p.is_dir())
        if not found:
            raise RefitError(f"{path}: no sc-output folder in it or below it")
        runs += found
    return runs


def refit(run: Path, overrides: list[str], out_root: Path) -> dict[str, Any]:
    """Refit one run's effort model with ``overrides``; write and compare its evaluation."""
    from standard_coder.config.schema import ConfigError, load_config
    from standard_coder.pipelines.sch_layout import SchLayout
    from standard_coder.pipelines.sch_train import fit_baseline_and_pool
    from standard_coder.pipelines.sch_train_options import (
        head_params,
        recency_of,
        train_options,
    )
    from standard_coder.sch.dataset import Dataset
    from standard_coder.sch.evaluation import evaluate
    from standard_coder.sch.predictors.stage import fit_effort_model

    name = run.parent.name
    config, old_eval = run.parent / "pipeline_config.toml", run / "reports/sch_evaluation.json"
    for need in (config, old_eval, SchLayout(run).dataset):
        if not need.is_file():
            raise RefitError(f"{need}: missing (a run whose train_sch finished is needed)")
    try:
        cfg = load_config(config, overrides)
    except ConfigError as exc:
        raise RefitError(" ".join(str(exc).split())) from None
    t, seed = cfg.training, cfg.runner.seed
    if t.predictor == "multitask":
        raise RefitError(f"{config}: predictor multitask needs the pull requests; not refitted")
    dataset = Dataset.load(SchLayout(run).dataset)
    head, training = head_params(t), train_options(t, cfg.runner.precision)

    def fit(view: Dataset, kind: str, params: Any, _name: str = "", _label: str = "") -> Any:
        return fit_effort_model(view, kind, params, training, seed=seed,
                                label_weighting=t.label_weighting,
                                recency_half_life=recency_of(t))  # fmt: skip

    t0 = time.perf_counter()
    model = fit(dataset, t.predictor, head)
    baseline = fit_baseline_and_pool(dataset, t, model, t.predictor, head, fit)
    old = json.loads(old_eval.read_text())
    reports = out_root / name / "sc-output" / "reports"
    new = evaluate(model, dataset, reports, loc_baseline_model=baseline,
                   truth_pearson=old.get("work_inference_pearson_vs_truth"), seed=seed,
                   plots=False)  # fmt: skip
    bench = _real_history()
    before, after = bench.table_row(name, old), bench.table_row(name, new)
    return {
        "repo": name,
        "seconds": round(time.perf_counter() - t0, 1),
        "reproduced": all(old.get(k) == new.get(k) for k in FIGURES),
        "chosen": (new.get("model_selection") or {}).get("chosen"),
        "before": {k: before[k] for k in (*FIGURES, "targets")},
        "after": {k: after[k] for k in (*FIGURES, "targets")},
    }


def _met(targets: dict[str, bool | None]) -> int:
    return sum(bool(v) for v in targets.values())


def _margin(row: dict[str, Any]) -> str:
    sch, la = row["spearman_sch"], row["spearman_lines_added"]
    return "-" if sch is None or la is None else f"{sch - la:+.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="real_history.py work dirs or run folders")
    ap.add_argument("--out", type=Path, required=True, help="where the refits' evaluations go")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="a training.* key acting after the dataset (repeatable)")  # fmt: skip
    args = ap.parse_args(argv)
    try:
        for text in args.overrides:
            check_override(text)
        runs = find_runs(args.runs)
        for run in runs:  # before any fit: a refit never overwrites what it compares with
            if (args.out / run.parent.name / "sc-output").resolve() == run.resolve():
                raise RefitError(f"--out {args.out}: would overwrite {run}'s own evaluation")
        rows = []
        for run in runs:
            row = refit(run, args.overrides, args.out)
            b, a = row["before"], row["after"]
            print(f"{row['repo']}: targets {_met(b['targets'])} -> {_met(a['targets'])}, "
                  f"SCH - lines added {_margin(b)} -> {_margin(a)}, chosen {row['chosen']}, "
                  f"reproduced {row['reproduced']} ({row['seconds']} s)", flush=True)  # fmt: skip
            rows.append(row)
    except RefitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = {side: sum(_met(r[side]["targets"]) for r in rows) for side in ("before", "after")}
    print(f"{len(rows)} histories: targets met {total['before']} -> {total['after']} of "
          f"{4 * len(rows)}; reproduced {sum(r['reproduced'] for r in rows)}")  # fmt: skip
    print(json.dumps({"refit": {
        "overrides": args.overrides, "histories": len(rows),
        "reproduced": sum(r["reproduced"] for r in rows),
        "targets_before": total["before"], "targets_after": total["after"],
        "ratio": round(total["after"] / total["before"], 4) if total["before"] else None,
        "rows": rows,
    }}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
