"""Benchmark: a monotone LOC prior, validation-chosen pools and a residual MDN on real datasets.

    PYTHONPATH=src python benchmarks/effort_prior.py BASE_DIR [BASE_DIR ...] [--seed N]

Each ``BASE_DIR`` is a pipeline output root after ``train_sch`` (it holds
``labels/datasets/coding_train.npz``). The predictors are fitted through ``fit_effort_model``
with the ``[training.mdn]`` / ``[training.optim]`` defaults and scored on the held-out changes
with a normal-interval label (``docs/effort-models.md``, "Monotone LOC prior and model
selection"):

- ``mdn``: the shipped model; ``loc``: the LOC baseline (``loc_vs_lines``: Spearman of its SCH
  with lines added, 1.0 for a model monotone in lines added);
- ``prior``: one log-normal, ``log h ~ N(a + b*log1p(lines added), s)``, least squares on the
  normal train+validation changes' log label samples, ``b >= 0``;
- ``pool_loc`` / ``pool_prior``: ``w*mdn + (1-w)*other`` (a mixture), ``w`` chosen by NLL on
  the last ``--val-fraction`` of the train+validation period by commit time (models refitted
  without it for the choice), applied to the models fitted on everything;
- ``residual``: the MDN fitted to ``label / exp(prior)``, locations shifted back by the prior;
- ``shift``: the location-shift model (``predictor = "shift"``) through ``fit_effort_model``
  (lines-added backbone, ridge refinement shrunk by the time-based validation split, normal
  labels weighted 1, others 0); ``shift_w0``: the same without refinement (``shrink = [0]``).

``--weighting off,kind,session`` (``[training] label_weighting``, docs "Label weights") fits,
per ``--seeds`` seed and mode, the shipped ``auto`` choice (its candidates on the earlier period,
the shipped rule), the MDN and ``shift_w0`` on the whole period and the LOC baseline MDN, all
with that mode's weights; scored on held-out normal changes. Last line:
``{"weighting": {mode: {repo: {sp_minus_lines, nll, loc_nll, cov80, cal, mdn_sp, ...}}}}``.

``--selection`` (issue 12 item 3, ``predictor = "auto"``; docs "Per-repository choice") instead
fits, per ``--seeds`` seed, the MDN, ``shift_w0``, ``shift``, ``shift_tie`` (the tie-break
refinement) and ``shift_near`` (near-tie windows) once on the earlier 80 % of the train +
validation period (scored on the held-back 20 %, normal labels) and once on all of it (scored on
the test split), plus the mixture pool of the MDN and ``shift_tie`` (weight by validation NLL),
and applies the ``auto`` rules (``nll``, ``spearman``, ``both``) to the validation scores: one
JSON line per repository and seed, a table of mean (over seeds) Spearman minus lines added per
repository, and as the last line ``{"selection": {variant: {repo: mean difference}}}``.

Per repository one JSON line: ``{predictor: {sp, nll, cov80, cal}}`` plus ``lines_added`` and
``churn``; then a table of shift vs lines added / churn / LOC MDN / MDN and, as the last line,
one JSON object ``{"repos": [...]}`` with those rows. ``--quick`` skips the pools and the
residual MDN.
A dataset written before label kinds existed reads them from ``labels/work_labels.npz``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from standard_coder.config.training import TrainingSection
from standard_coder.sch.dataset import TEST, TRAIN, VAL, Dataset
from standard_coder.sch.evaluation import binned_calibration, distribution_metrics
from standard_coder.sch.predictors.distributions import MixtureDistribution
from standard_coder.sch.predictors.stage import fit_effort_model
from standard_coder.sch.predictors.train import TrainOptions

GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
Prior = tuple[float, float, float]


def label_kinds(base: Path, ds: Dataset) -> np.ndarray:
    kinds = np.asarray(ds.label_kind)
    path = base / "labels/work_labels.npz"
    if kinds.any() or not path.is_file():
        return kinds
    with np.load(path) as z:  # a dataset written before label kinds: take them from the labels
        if "interval_kind" not in z.files:
            return kinds
        cols = zip(z["repo"], z["commit_id"], z["interval_kind"], strict=True)
        m = {(str(r), str(c)): int(k) for r, c, k in cols}
    return np.array([max(0, m.get((str(r), str(c)), 0))
                     for r, c in zip(ds.repo, ds.commit_id, strict=True)], np.int8)  # fmt: skip


def sp(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b).statistic)


def pool(a: MixtureDistribution, b: MixtureDistribution, w: float) -> MixtureDistribution:
    lw, lb = np.log(max(w, 1e-12)), np.log(max(1.0 - w, 1e-12))
    return MixtureDistribution(torch.cat([a.log_pi + lw, b.log_pi + lb], 1),
                               torch.cat([a.loc, b.loc], 1), torch.cat([a.scale, b.scale], 1),
                               a.family, a.min_hours)  # fmt: skip


def fit_prior(la: np.ndarray, Y: np.ndarray, rows: np.ndarray) -> Prior:
    ly = np.log(np.maximum(Y[rows].astype(np.float64), 1 / 120))
    x = np.repeat(np.log1p(la[rows]), ly.shape[1])
    y = ly.ravel()
    b = max(0.0, float(np.cov(x, y)[0, 1] / max(float(np.var(x)), 1e-9)))
    a = float(y.mean() - b * x.mean())
    return a, b, float(np.std(y - a - b * x))


def prior_dist(p: Prior, la: np.ndarray, like: MixtureDistribution) -> MixtureDistribution:
    loc = torch.as_tensor(p[0] + p[1] * np.log1p(la), dtype=torch.float64)[:, None]
    return MixtureDistribution(torch.zeros_like(loc), loc, torch.full_like(loc, p[2]),
                               like.family, like.min_hours)  # fmt: skip


def scores(dist: MixtureDistribution, Y: np.ndarray) -> dict[str, float]:
    r = distribution_metrics(dist, Y, n_pred_samples=200, seed=0)
    _, _, r2 = binned_calibration(dist.sch(), Y)
    return {"sp": sp(dist.sch(), Y.mean(1)), "nll": r["heldout_nll"], "cov80": r["coverage_80"],
            "cal": r2}  # fmt: skip


def with_split(ds: Dataset, split: np.ndarray, Y: np.ndarray | None = None) -> Dataset:
    fields = {f: getattr(ds, f) for f in ds.__dataclass_fields__}
    return Dataset(**{**fields, "split": split, "Y": ds.Y if Y is None else Y})


def run(base: Path, seed: int, val_fraction: float, quick: bool = False) -> dict[str, Any]:
    ds = Dataset.load(base / "labels/datasets/coding_train.npz")
    ds.label_kind = label_kinds(base, ds)
    T = TrainingSection()
    head = T.mdn.model_dump()
    names = set(TrainOptions.__dataclass_fields__)
    opt = TrainOptions(**{k: v for k, v in T.optim.model_dump().items() if k in names})

    def fit(d: Dataset) -> Any:
        return fit_effort_model(d, "mdn", head, opt, seed=seed)

    la = ds.surface_column("lines_added")
    normal = np.asarray(ds.label_kind) == 0
    te = ds.index(TEST)
    ten = te[normal[te]]
    Yt = ds.Y[ten].astype(np.float64)
    D = np.flatnonzero(ds.split != TEST)
    t0 = time.time()
    m, b = fit(ds), fit(ds.loc_view())
    dm, db = m.distribution(ds.X[ten]), b.distribution(ds.X_loc[ten])
    p = fit_prior(la, ds.Y, D[normal[D]])
    dp = prior_dist(p, la[ten], dm)
    out: dict[str, Any] = {"repo": str(base), "n_test_normal": len(ten), "prior_abs": p,
                           "lines_added": sp(la[ten], Yt.mean(1)), "mdn": scores(dm, Yt),
                           "loc": scores(db, Yt), "prior": scores(dp, Yt)}  # fmt: skip
    out["loc"]["loc_vs_lines"] = sp(db.sch(), la[ten])
    out["churn"] = sp(la[ten] + ds.surface_column("lines_deleted")[ten], Yt.mean(1))
    for name, params in (("shift", {}), ("shift_w0", {"shrink": [0.0]})):
        sm = fit_effort_model(ds, "shift", params, opt, seed=seed)
        out[name] = scores(sm.distribution(ds.X[ten]), Yt)
        out[name]["w"] = float(sm.regressor_.module_.choice[2])
    if quick:
        out["fit_s"] = round(time.time() - t0, 1)
        return out
    # the pool weight, chosen on the end of the training period (the test split is never seen)
    order = D[np.argsort(ds.time[D], kind="stable")]
    tval = order[round(len(order) * (1 - val_fraction)) :]
    tvn = tval[normal[tval]]
    early = ds.split.copy()
    early[tval] = 7  # neither train, validation nor test
    d_early = with_split(ds, early)
    m2, b2 = fit(d_early), fit(d_early.loc_view())
    dmv, dbv = m2.distribution(ds.X[tvn]), b2.distribution(ds.X_loc[tvn])
    fit_rows = np.flatnonzero(((early == TRAIN) | (early == VAL)) & normal)
    dpv = prior_dist(fit_prior(la, ds.Y, fit_rows), la[tvn], dmv)
    Yv = ds.Y[tvn].astype(np.float64)
    for name, val_other, test_other in (("pool_loc", dbv, db), ("pool_prior", dpv, dp)):
        w = min(GRID, key=lambda w: float(-pool(dmv, val_other, w).log_prob(Yv).mean()))
        out[name] = {**scores(pool(dm, test_other, w), Yt), "w": w}
    # the network refines the prior: fit label / exp(prior), shift the locations back
    shift = p[0] + p[1] * np.log1p(la)
    r = fit(with_split(ds, ds.split, (ds.Y / np.exp(shift)[:, None]).astype(ds.Y.dtype)))
    dr = r.distribution(ds.X[ten])
    dr = MixtureDistribution(dr.log_pi, dr.loc + torch.as_tensor(shift[ten])[:, None], dr.scale,
                             dr.family, dr.min_hours)  # fmt: skip
    out["residual"] = scores(dr, Yt)
    out["fit_s"] = round(time.time() - t0, 1)
    return out


CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "mdn": ("mdn", {}),
    "shift_w0": ("shift", {"shrink": [0.0]}),
    "shift": ("shift", {}),
    "shift_tie": ("shift", {"tiebreak": True}),
    "shift_near": ("shift", {"tiebreak": True, "tie_windows": [0.0, 0.05, 0.1, 0.25]}),
}
AUTO_SETS = {"auto": ("mdn", "shift_w0"), "auto_all": ("mdn", "shift_w0", "shift", "shift_tie")}


def run_selection(base: Path, seed: int) -> dict[str, Any]:
    """Validation (time-based, held back) and test scores of every candidate; auto's choices."""
    from standard_coder.sch.predictors.auto import HELD_BACK, RULES, choose
    from standard_coder.sch.predictors.stage import time_validation_split

    ds = Dataset.load(base / "labels/datasets/coding_train.npz")
    ds.label_kind = label_kinds(base, ds)
    T = TrainingSection()
    names = set(TrainOptions.__dataclass_fields__)
    opt = TrainOptions(**{k: v for k, v in T.optim.model_dump().items() if k in names})
    normal = np.asarray(ds.label_kind) == 0
    te = ds.index(TEST)
    ten = te[normal[te]]
    _, late = time_validation_split(ds)
    lvn = late[normal[late]]
    Yt, Yv = ds.Y[ten].astype(np.float64), ds.Y[lvn].astype(np.float64)
    split = ds.split.copy()
    split[late] = HELD_BACK
    early = with_split(ds, split)
    la = ds.surface_column("lines_added")
    out: dict[str, Any] = {"repo": str(base), "seed": seed, "n_test_normal": len(ten),
                           "n_val_normal": len(lvn), "lines_added": sp(la[ten], Yt.mean(1)),
                           "lines_added_val": sp(la[lvn], Yv.mean(1)),
                           "val": {}, "test": {}}  # fmt: skip
    dv: dict[str, Any] = {}
    dt: dict[str, Any] = {}
    for name, (kind, params) in CANDIDATES.items():
        p = T.mdn.model_dump() if kind == "mdn" else params
        dv[name] = fit_effort_model(early, kind, p, opt, seed=seed).distribution(ds.X[lvn])
        dt[name] = fit_effort_model(ds, kind, p, opt, seed=seed).distribution(ds.X[ten])
    w = min(GRID, key=lambda w: float(-pool(dv["mdn"], dv["shift_tie"], w).log_prob(Yv).mean()))
    for d in (dv, dt):  # w 0 / 1: the part itself (a 1e-12 share would reorder ties)
        d["pool"] = (
            d["shift_tie"] if w == 0 else d["mdn"] if w == 1 else pool(d["mdn"], d["shift_tie"], w)
        )
    for name in dv:
        out["val"][name] = {"nll": float(-dv[name].log_prob(Yv).mean()),
                            "spearman": sp(dv[name].sch(), Yv.mean(1))}  # fmt: skip
        out["test"][name] = scores(dt[name], Yt)
    out["test"]["pool"]["w"] = w
    out["chosen"] = {f"{a}_{r}": choose({c: out["val"][c] for c in cs}, r, len(lvn))
                     for a, cs in AUTO_SETS.items() for r in RULES}  # fmt: skip
    for k, c in out["chosen"].items():
        out["test"][k] = out["test"][c]
    return out


def selection_main(bases: list[Path], seeds: list[int]) -> int:
    rows = []
    for base in bases:
        for seed in seeds:
            r = run_selection(base, seed)
            print(json.dumps(r, default=lambda v: round(float(v), 4)), flush=True)
            rows.append(r)
    variants = list(rows[0]["test"])
    diff: dict[str, dict[str, float]] = {v: {} for v in variants}
    for v in variants:
        for base in bases:
            d = [r["test"][v]["sp"] - r["lines_added"] for r in rows if r["repo"] == str(base)]
            diff[v][str(base)] = float(np.mean(d))
    print("mean over seeds of Spearman(SCH) - Spearman(lines added), held-out normal changes")
    print(f"{'variant':<20} " + " ".join(f"{str(b)[-14:]:>14}" for b in bases) + "  above/below")
    for v in variants:
        d = list(diff[v].values())
        print(f"{v:<20} " + " ".join(f"{x:+14.3f}" for x in d)
              + f"  {sum(x > 0.001 for x in d)}/{sum(x < -0.001 for x in d)}")  # fmt: skip
    print(json.dumps({"selection": diff}, default=lambda v: round(float(v), 4)), flush=True)
    return 0


def run_weighting(base: Path, seed: int, modes: list[str]) -> dict[str, Any]:
    """Per ``[training] label_weighting`` mode: the shipped ``auto`` (its candidates fitted on the
    earlier period and chosen by the shipped rule, then refitted), the MDN and ``shift_w0`` on
    the whole period, and the LOC baseline MDN, all fitted with that mode's weights."""
    from standard_coder.pipelines.sch_train_options import head_params
    from standard_coder.sch.predictors.auto import (
        HELD_BACK,
        choose,
        effective_count,
        validation_scores,
    )
    from standard_coder.sch.predictors.splits import label_weights, time_validation_split

    ds = Dataset.load(base / "labels/datasets/coding_train.npz")
    ds.label_kind = label_kinds(base, ds)
    T = TrainingSection()
    auto = head_params(T.model_copy(update={"predictor": "auto"}))
    names = set(TrainOptions.__dataclass_fields__)
    opt = TrainOptions(**{k: v for k, v in T.optim.model_dump().items() if k in names})
    normal = np.asarray(ds.label_kind) == 0
    te = ds.index(TEST)
    ten = te[normal[te]]
    Yt = ds.Y[ten].astype(np.float64)
    _, late = time_validation_split(ds)
    split = ds.split.copy()
    split[late] = HELD_BACK
    early = with_split(ds, split)
    la = ds.surface_column("lines_added")
    out: dict[str, Any] = {"repo": str(base), "seed": seed, "n_test_normal": len(ten),
                           "lines_added": sp(la[ten], Yt.mean(1)), "modes": {}}  # fmt: skip
    for mode in modes:
        t0 = time.time()
        wl = label_weights(ds, mode)[late]
        val, test = {}, {}
        for name, (kind, params) in auto["candidates"].items():
            kw = {"seed": seed, "label_weighting": mode}
            val[name] = validation_scores(fit_effort_model(early, kind, params, opt, **kw),
                                          ds.X[late], ds.Y[late], wl)  # fmt: skip
            test[name] = scores(fit_effort_model(ds, kind, params, opt, **kw).distribution(
                ds.X[ten]), Yt)  # fmt: skip
        chosen = choose(val, auto["rule"], effective_count(wl))  # as fit_auto chooses
        base_m = fit_effort_model(ds.loc_view(), "mdn", T.mdn.model_dump(), opt, seed=seed,
                                  label_weighting=mode)  # fmt: skip
        loc = scores(base_m.distribution(ds.X_loc[ten]), Yt)
        out["modes"][mode] = {"chosen": chosen, "auto": test[chosen], "loc_nll": loc["nll"],
                              "val": val, "test": test,
                              "fit_s": round(time.time() - t0, 1)}  # fmt: skip
    return out


def weighting_main(bases: list[Path], seeds: list[int], modes: list[str]) -> int:
    rows = []
    for base in bases:
        for seed in seeds:
            r = run_weighting(base, seed, modes)
            print(json.dumps(r, default=lambda v: round(float(v), 4)), flush=True)
            rows.append(r)
    keys = ("sp", "nll", "cov80", "cal")
    summary: dict[str, dict[str, dict[str, float]]] = {m: {} for m in modes}
    print(
        "auto per label_weighting, mean over seeds; held-out normal changes: Spearman of SCH "
        "minus lines added / NLL (LOC baseline) / coverage_80 / calibration R2 / MDN chosen"
    )
    for base in bases:
        rs = [r for r in rows if r["repo"] == str(base)]
        for m in modes:
            a = {k: float(np.mean([r["modes"][m]["auto"][k] for r in rs])) for k in keys}
            a["sp_minus_lines"] = float(np.mean([r["modes"][m]["auto"]["sp"] - r["lines_added"]
                                                 for r in rs]))  # fmt: skip
            a["loc_nll"] = float(np.mean([r["modes"][m]["loc_nll"] for r in rs]))
            a["mdn_sp"] = float(np.mean([r["modes"][m]["test"]["mdn"]["sp"] for r in rs]))
            a["mdn_chosen"] = sum(r["modes"][m]["chosen"] == "mdn" for r in rs)
            summary[m][str(base)] = a
            print(f"{str(base)[-30:]:<30} {m:<13} {a['sp_minus_lines']:+.3f} / {a['nll']:.3f} "
                  f"({a['loc_nll']:.3f}) / {a['cov80']:.2f} / {a['cal']:+.2f} / "
                  f"{a['mdn_chosen']}/{len(rs)} (MDN sp {a['mdn_sp']:+.3f})")  # fmt: skip
    print(json.dumps({"weighting": summary}, default=lambda v: round(float(v), 4)), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("base_dirs", nargs="+", type=Path)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--quick", action="store_true", help="skip the pools and the residual MDN")
    ap.add_argument(
        "--selection", action="store_true", help="validation vs test of the auto candidates"
    )
    ap.add_argument("--seeds", default="0,1,2", help="--selection: comma-separated seeds")
    ap.add_argument(
        "--weighting",
        default=None,
        help="comma-separated [training] label_weighting modes "
        "to compare (auto, MDN, shift_w0, LOC baseline per mode; --seeds)",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    for base in args.base_dirs:
        if not (base / "labels/datasets/coding_train.npz").is_file():
            print(f"{base}: no labels/datasets/coding_train.npz (run train_sch first)",
                  file=sys.stderr)  # fmt: skip
            return 2
    if args.weighting:
        return weighting_main(args.base_dirs, [int(x) for x in args.seeds.split(",")],
                              args.weighting.split(","))  # fmt: skip
    if args.selection:
        return selection_main(args.base_dirs, [int(x) for x in args.seeds.split(",")])
    rows = []
    for base in args.base_dirs:
        res = run(base, args.seed, args.val_fraction, args.quick)
        print(json.dumps(res, default=lambda v: round(float(v), 4)), flush=True)
        rows.append({"repo": str(base), "n_test_normal": res["n_test_normal"],
                     "lines_added": res["lines_added"], "churn": res["churn"],
                     **{k: res[k] for k in ("shift", "shift_w0", "loc", "mdn")}})  # fmt: skip
    print(f"{'repo':<40} {'lines':>6} {'churn':>6} | shift sp/nll/cov80/cal (w) | LOC MDN "
          "sp/nll | MDN sp/nll | shift-lines")  # fmt: skip
    for r in rows:
        s, lo, m = r["shift"], r["loc"], r["mdn"]
        print(f"{r['repo'][-40:]:<40} {r['lines_added']:6.3f} {r['churn']:6.3f} | {s['sp']:.3f}/"
              f"{s['nll']:.3f}/{s['cov80']:.3f}/{s['cal']:.2f} ({s['w']}) | {lo['sp']:.3f}/"
              f"{lo['nll']:.3f} | {m['sp']:.3f}/{m['nll']:.3f} | "
              f"{s['sp'] - r['lines_added']:+.3f}")  # fmt: skip
    print(json.dumps({"repos": rows}, default=lambda v: round(float(v), 4)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
