"""Benchmark: two sets of ``real_history.py`` runs of the same histories, paired.

Whoever changes the effort model asks "did it help on real histories?". Target counts answer
badly: a second run seed of the same code moves the 40 outside histories' count by 4 of 160
and flips SCH > lines added on 3 (docs/effort-models.md, "Session 32"). This script pairs the
histories both sets ran and prints, per history, SCH − lines added before and after and the
targets met, then the paired mean of each figure with its standard error (over histories),
how many histories moved up and down, the flips per target, and as its last line one JSON
object.

Usage::

    python benchmarks/compare_real_history.py BEFORE AFTER [--before-seed B2] [--after-seed A2]

``BEFORE`` and ``AFTER`` are each a comma-separated list of ``real_history.py`` outputs: the
file its standard output went to (the last JSON line is read), or a ``--work-dir`` folder
(each ``NN-name/sc-output/reports/sch_evaluation.json`` in it). A history in both sets is
paired by name; one in only one set is listed and left out of the means. Exit 2 on a path
that is neither.

A change that touches the labels is judged on two seeds or more: ``--before-seed OUTPUTS``
and ``--after-seed OUTPUTS`` (repeatable) add the same side run at another ``--seed``; each
history's figures are then the means over its seeds, and its targets are met or missed by
those means.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHORT = {"sch_above_lines_added": "SCH>LA", "nll_below_loc": "NLL<LOC",
         "coverage_80_in_0_70_0_90": "cov80", "calibration_r2_positive": "R2>0"}  # fmt: skip
PAIRED = {
    "sch_minus_lines_added": "SCH − lines added (Spearman)",
    "spearman_sch": "SCH's Spearman",
    "spearman_lines_added": "lines added's Spearman",
    "nll_minus_loc": "held-out NLL − the LOC baseline's",
}


class RunsError(Exception):
    """A path that holds no ``real_history.py`` output."""


@functools.cache
def _real_history() -> Any:
    """``real_history.py`` (its rows and targets), loaded once."""
    spec = importlib.util.spec_from_file_location("real_history", HERE / "real_history.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TARGETS = tuple(_real_history().targets({}))
"""Issue 12's four targets, as ``real_history.targets`` names them."""


def load_runs(spec: str) -> dict[str, dict[str, Any]]:
    """History name -> its ``real_history.py`` row, from every path of ``spec``."""
    bench = _real_history()
    rows: dict[str, dict[str, Any]] = {}
    for part in (p for p in spec.split(",") if p):
        path = Path(part)
        if path.is_dir():
            found = sorted(path.glob("*/sc-output/reports/sch_evaluation.json"))
            if not found:
                raise RunsError(f"{path}: no NN-name/sc-output/reports/sch_evaluation.json")
            for ev in found:
                name = ev.parents[2].name.split("-", 1)[-1]
                rows[name] = bench.table_row(name, json.loads(ev.read_text()))
        elif path.is_file():
            last = next((ln for ln in reversed(path.read_text(errors="replace").splitlines())
                         if ln.startswith("{")), None)  # fmt: skip
            try:
                got = json.loads(last)["repositories"] if last else None
            except (ValueError, KeyError, TypeError):
                got = None
            if not isinstance(got, list):
                raise RunsError(f"{path}: no real_history.py JSON line (its last line)")
            for row in got:
                if "error" not in row:
                    row.setdefault("targets", bench.targets(row))
                    rows[row["repo"]] = row
        else:
            raise RunsError(f"{path}: no such file or folder")
    return rows


AVERAGED = ("spearman_sch", "spearman_lines_added", "heldout_nll", "baseline_loc_heldout_nll",
            "coverage_80", "binned_calibration_r2", "n_test_normal")  # fmt: skip


def averaged(sets: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One row per history from runs of several seeds: each figure of :data:`AVERAGED` is its
    mean over the seeds that hold it (undefined in all: None), and the targets are met or missed
    by those means. One set is returned as it is."""
    if len(sets) == 1:
        return sets[0]
    bench = _real_history()
    rows: dict[str, dict[str, Any]] = {}
    for name in sorted({n for s in sets for n in s}):
        held = [s[name] for s in sets if name in s]
        row: dict[str, Any] = {"repo": name, "seeds": len(held)}
        for k in AVERAGED:
            vals = [float(r[k]) for r in held if isinstance(r.get(k), int | float)]
            row[k] = round(statistics.mean(vals), 4) if vals else None
        row["targets"] = bench.targets(row)
        rows[name] = row
    return rows


def figures(row: dict[str, Any]) -> dict[str, float | None]:
    """The paired figures of one row (None where a metric is undefined)."""

    def diff(a: str, b: str) -> float | None:
        x, y = row.get(a), row.get(b)
        ok = isinstance(x, int | float) and isinstance(y, int | float)
        return float(x) - float(y) if ok else None  # type: ignore[arg-type]

    def num(k: str) -> float | None:
        v = row.get(k)
        return float(v) if isinstance(v, int | float) else None

    return {
        "sch_minus_lines_added": diff("spearman_sch", "spearman_lines_added"),
        "spearman_sch": num("spearman_sch"),
        "spearman_lines_added": num("spearman_lines_added"),
        "nll_minus_loc": diff("heldout_nll", "baseline_loc_heldout_nll"),
    }


def compare(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Paired summary over the histories in both sets."""
    both = sorted(set(before) & set(after))
    met = {w: {t: 0 for t in TARGETS} for w in ("before", "after")}
    flips = {t: {"gained": [], "lost": []} for t in TARGETS}
    diffs: dict[str, list[float]] = {k: [] for k in PAIRED}
    for name in both:
        tb, ta = before[name].get("targets") or {}, after[name].get("targets") or {}
        for t in TARGETS:
            met["before"][t] += bool(tb.get(t))
            met["after"][t] += bool(ta.get(t))
            if tb.get(t) is not None and ta.get(t) is not None and tb[t] != ta[t]:
                flips[t]["gained" if ta[t] else "lost"].append(name)
        fb, fa = figures(before[name]), figures(after[name])
        for k in PAIRED:
            if fb[k] is not None and fa[k] is not None:
                diffs[k].append(fa[k] - fb[k])  # type: ignore[operator]
    paired = {}
    for k, d in diffs.items():
        se = statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else None
        paired[k] = {"n": len(d), "mean": round(statistics.mean(d), 4) if d else None,
                     "se": round(se, 4) if se is not None else None,
                     "up": sum(x > 0 for x in d), "down": sum(x < 0 for x in d)}  # fmt: skip
    total = {w: sum(met[w].values()) for w in met}
    return {
        "histories": len(both),
        "only_before": sorted(set(before) - set(after)),
        "only_after": sorted(set(after) - set(before)),
        "targets_met": {w: {**met[w], "total": total[w]} for w in met},
        "flips": flips,
        "paired": paired,
    }


def _f(v: Any) -> str:
    return f"{v:+.3f}" if isinstance(v, float) else "-"


def print_report(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], out: dict[str, Any]
) -> None:
    print("Per history: SCH − lines added (held-out Spearman), targets met (of 4)")
    print(f"{'history':24s} {'normal':>7s} {'before':>8s} {'after':>8s} {'change':>8s}  targets")
    for name in sorted(set(before) & set(after)):
        b, a = figures(before[name]), figures(after[name])
        mb, ma = b["sch_minus_lines_added"], a["sch_minus_lines_added"]
        ch = ma - mb if mb is not None and ma is not None else None
        tb = sum(bool(v) for v in (before[name].get("targets") or {}).values())
        ta = sum(bool(v) for v in (after[name].get("targets") or {}).values())
        n = after[name].get("n_test_normal")
        print(f"{name:24s} {n if n is not None else '-':>7} {_f(mb):>8s} {_f(ma):>8s} "
              f"{_f(ch):>8s}  {tb} -> {ta}")  # fmt: skip
    for side in ("only_before", "only_after"):
        if out[side]:
            print(f"{side.replace('_', ' ')} (left out): {', '.join(out[side])}")
    n = out["histories"]
    print(f"\nTargets met over {n} histories (of {4 * n}), before -> after")
    for t in TARGETS:
        f = out["flips"][t]
        print(f"  {SHORT[t]:7s} {out['targets_met']['before'][t]:3d} -> "
              f"{out['targets_met']['after'][t]:3d}  (gained {len(f['gained'])}, lost "
              f"{len(f['lost'])})")  # fmt: skip
    tot = out["targets_met"]
    print(f"  all     {tot['before']['total']:3d} -> {tot['after']['total']:3d}")
    print("\nPaired over histories (after − before): mean ± standard error (up / down)")
    for k, label in PAIRED.items():
        p = out["paired"][k]
        if p["mean"] is None:
            continue
        se = f" ± {p['se']:.4f}" if p["se"] is not None else ""
        print(f"  {label:36s} {p['mean']:+.4f}{se}  ({p['up']} / {p['down']})")
    p = out["paired"]["sch_minus_lines_added"]
    if p["mean"] is not None and p["up"] == p["down"] == 0:  # rankings as they were (a refit)
        print("  SCH − lines added did not move on any history")
    elif p["se"] is not None and p["mean"] is not None:
        ratio = p["mean"] / p["se"] if p["se"] > 0 else float("inf")
        seeds = out.get("seeds") or {"before": 1, "after": 1}
        print(f"  SCH − lines added moved {ratio:+.1f} standard errors. Two run seeds of the same "
              "code moved it +0.010 ± 0.007 over 40 histories: a change of under about 0.015 "
              "is not told from a seed's (here the mean of "
              f"{seeds['before']} seed(s) before, {seeds['after']} after)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", help="real_history.py outputs (comma-separated)")
    ap.add_argument("after", help="real_history.py outputs (comma-separated)")
    ap.add_argument("--before-seed", action="append", default=[], metavar="OUTPUTS",
                    help="the before side again at another run seed (repeatable): each "
                    "history's figures are averaged over its seeds before pairing")  # fmt: skip
    ap.add_argument("--after-seed", action="append", default=[], metavar="OUTPUTS",
                    help="the after side again at another run seed (repeatable)")  # fmt: skip
    args = ap.parse_args(argv)
    try:
        before = averaged([load_runs(x) for x in (args.before, *args.before_seed)])
        after = averaged([load_runs(x) for x in (args.after, *args.after_seed)])
    except RunsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = compare(before, after)
    out["seeds"] = {"before": 1 + len(args.before_seed), "after": 1 + len(args.after_seed)}
    print_report(before, after, out)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
