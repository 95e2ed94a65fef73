"""Benchmark and builder: the cross-repository prior against lines added, leave one history out.

    PYTHONPATH=src python benchmarks/cross_repo_prior.py RUN_DIR [RUN_DIR ...]
        [--write PRIOR.npz] [--write-loro DIR] [--seed N] [--inputs common|union]

Each ``RUN_DIR`` is a ``benchmarks/real_history.py`` work folder (or a folder of them): a
history's ``sc-output`` after ``train_sch`` (``labels/datasets/coding_train.npz`` and
``features/change_rep``). For every history the prior (``sch/features/cross_repo.py``) is
fitted on the *other* histories' normal-interval changes and scored on this one, which it has
never seen: Spearman of its score with each change's mean inferred coding time, minus lines
added's, on the held-out changes (normal intervals, as ``spearman_sch``) and on the fitted
period (train + validation, normal); then the mean held-out Spearman of each and their ratio.
``--write`` fits one prior on every history given (the shipped
``standard_coder/sch/features/data/cross_repo_prior.npz`` was made this way, from the 28
histories of docs/effort-models.md "A cross-repository prior");
``--write-loro DIR`` saves each leave-one-out prior as ``DIR/<history>.npz`` (to run a history
end to end with ``[training.features] cross_repo_prior_path``). ``--inputs``: the count columns
every history's representation has (``common``, the default) or any has (``union``), each
with every Python identifier counted together. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from standard_coder.sch.features.cross_repo import ID_TOTAL, fit_prior, prior_inputs

DATASET = Path("labels/datasets/coding_train.npz")
REP = Path("features/change_rep")
KEEP_PREFIXES = ("python|kw|", "python|op|", "python|num|", "python|str|", "surface|", "ast")


def history_dirs(paths: list[Path]) -> list[Path]:
    """Every ``sc-output`` below the paths (a run folder, or a folder of them), in order."""
    out: list[Path] = []
    for p in paths:
        found = sorted(q.parent.parent.parent for q in p.glob("**/" + str(DATASET)))
        out += [q for q in found if (q / REP / "scaling.npz").exists()]
    return out


def history_name(sc_output: Path) -> str:
    name = sc_output.parent.name
    return name.split("-", 1)[1] if name[:2].isdigit() and "-" in name else name


def load_history(sc_output: Path) -> dict[str, np.ndarray | list[str]]:
    with np.load(sc_output / DATASET, allow_pickle=False) as z:
        names = [str(n) for n in z["feature_names"]]
        X = np.asarray(z["X"], np.float64)
        y, split, kind = z["Y"].mean(axis=1), np.asarray(z["split"]), np.asarray(z["label_kind"])
        lines_added = np.asarray(z["surface"][:, 3], np.float64)
    with np.load(sc_output / REP / "scaling.npz", allow_pickle=False) as s:
        counts = np.expm1(X * s["scale"] + s["mean"])
    return {"names": names, "counts": np.maximum(np.round(counts, 6), 0.0), "y": y,
            "split": split, "kind": kind, "lines_added": lines_added}  # fmt: skip


def input_names(histories: dict[str, dict], which: str = "common") -> list[str]:
    """The prior's inputs: the keyword, operator, literal, surface and AST columns that every
    history's representation has (``common``) or any has (``union``), and every identifier."""
    sets = [{n for n in h["names"] if n.startswith(KEEP_PREFIXES)} for h in histories.values()]
    chosen = set.intersection(*sets) if which == "common" else set.union(*sets)
    return [*sorted(chosen), ID_TOTAL]


def standardised_log(y: np.ndarray) -> np.ndarray:
    ly = np.log(np.maximum(y, 1e-3))
    out: np.ndarray = (ly - ly.mean()) / (ly.std() + 1e-9)
    return out


def fitting_rows(histories: dict[str, dict], names: list[str]) -> dict[str, tuple]:
    """Per history, the prior's inputs and targets of its normal-interval changes (once)."""
    out = {}
    for key, h in histories.items():
        normal = h["kind"] == 0
        out[key] = (prior_inputs(names, h["counts"][normal], h["names"]),
                    standardised_log(h["y"][normal]))  # fmt: skip
    return out


def training_rows(rows: dict[str, tuple], leave_out: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Every history's rows but ``leave_out``'s, stacked."""
    kept = [v for k, v in rows.items() if k != leave_out]
    return np.vstack([z for z, _ in kept]), np.concatenate([t for _, t in kept])


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b)[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--write", type=Path, help="fit one prior on every history; save it here")
    ap.add_argument("--write-loro", type=Path, help="save each leave-one-out prior in this folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--inputs", choices=("common", "union"), default="common",
                    help="columns every history has (default) or any has")  # fmt: skip
    args = ap.parse_args(argv)
    dirs = history_dirs(args.runs)
    if len(dirs) < 2:
        print("cross_repo_prior: need at least two run folders with a dataset", file=sys.stderr)
        return 2
    histories = {history_name(d): load_history(d) for d in dirs}
    names = input_names(histories, args.inputs)
    fitting = fitting_rows(histories, names)
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    print(f"{'history':16s} {'n':>5s} {'lines':>7s} {'prior-lines':>12s} {'fit period':>11s}")
    for key, h in histories.items():
        Z, t = training_rows(fitting, key)
        others = sorted(k for k in histories if k != key)
        prior = fit_prior(Z, t, names, seed=args.seed, meta={"trained_on": others})
        if args.write_loro:
            prior.save(args.write_loro / f"{key}.npz")
        s = prior.score(h["counts"], h["names"])
        y, split, kind, la = h["y"], h["split"], h["kind"], h["lines_added"]
        held, fitted = (split == 2) & (kind == 0), (split < 2) & (kind == 0)
        row = {"history": key, "n_test_normal": int(held.sum()),
               "spearman_lines_added": _rho(la[held], y[held]),
               "spearman_prior": _rho(s[held], y[held]),
               "fit_spearman_lines_added": _rho(la[fitted], y[fitted]),
               "fit_spearman_prior": _rho(s[fitted], y[fitted])}  # fmt: skip
        rows.append(row)
        d = row["spearman_prior"] - row["spearman_lines_added"]  # type: ignore[operator]
        fd = row["fit_spearman_prior"] - row["fit_spearman_lines_added"]  # type: ignore[operator]
        print(f"{key:16s} {row['n_test_normal']:5d} {row['spearman_lines_added']:+7.3f} "
              f"{d:+12.3f} {fd:+11.3f}", flush=True)  # fmt: skip
    seconds = time.perf_counter() - t0
    diff = np.array([float(r["spearman_prior"]) - float(r["spearman_lines_added"])  # type: ignore[arg-type]
                     for r in rows])  # fmt: skip
    fdiff = np.array([float(r["fit_spearman_prior"]) - float(r["fit_spearman_lines_added"])  # type: ignore[arg-type]
                      for r in rows])  # fmt: skip
    ok, fok = np.isfinite(diff), np.isfinite(fdiff)
    prior_mean = float(np.nanmean([float(r["spearman_prior"]) for r in rows]))  # type: ignore[arg-type]
    lines_mean = float(np.nanmean([float(r["spearman_lines_added"]) for r in rows]))  # type: ignore[arg-type]
    summary = {
        "held_out_mean_spearman_prior": round(prior_mean, 4),
        "held_out_mean_spearman_lines_added": round(lines_mean, 4),
        "ratio": round(prior_mean / lines_mean, 3) if lines_mean else None,
        "histories": len(rows),
        "held_out_mean_diff": round(float(diff[ok].mean()), 4),
        "held_out_above_lines_added": int((diff[ok] > 0).sum()),
        "fit_period_mean_diff": round(float(fdiff[fok].mean()), 4),
        "fit_period_above_lines_added": int((fdiff[fok] > 0).sum()),
        "seconds": round(seconds, 1),
    }
    print(f"held-out Spearman, mean over histories: prior {prior_mean:.3f}, lines added "
          f"{lines_mean:.3f} (ratio {summary['ratio']})")  # fmt: skip
    print(f"prior minus lines added, held out: mean {summary['held_out_mean_diff']:+.4f}, above "
          f"on {summary['held_out_above_lines_added']} of {ok.sum()}; fitted period: mean "
          f"{summary['fit_period_mean_diff']:+.4f}, above on "
          f"{summary['fit_period_above_lines_added']} of {fok.sum()}")  # fmt: skip
    if args.write:
        Z, t = training_rows(fitting, None)
        prior = fit_prior(Z, t, names, seed=args.seed,
                          meta={"trained_on": sorted(histories), "changes": len(t)})  # fmt: skip
        prior.save(args.write)
        print(f"wrote {args.write} ({len(t)} changes of {len(histories)} histories)")
    print(json.dumps({"cross_repo_prior": rows, "summary": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
