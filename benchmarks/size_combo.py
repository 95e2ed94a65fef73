"""Benchmark: combined size backbones, leave-one-repository-out, on finished real-history outputs.

    PYTHONPATH=src python benchmarks/size_combo.py BASE_DIR [BASE_DIR ...] [--boot 1000]

``BASE_DIR`` is a finished pipeline's output folder (``labels/datasets/coding_train.npz``, e.g.
from ``benchmarks/real_history.py --work-dir``). Each candidate is a *direction* over the
dataset's scaled surface columns (``X``'s ``surface|*``: ``(log1p(count) - mean) / std`` with
the repository's own train + validation statistics), with non-negative weights, so the score
is monotone in every count. The shift model without refinement (``shift_w0``) ranks held-out
changes exactly as its backbone, so the held-out Spearman of the score with the mean label
(normal-interval changes of split 2) is what ``spearman_sch`` becomes.

Candidates (declared before any result was looked at; docs/effort-models.md, "Combined
backbone"):

- ``unmoved``: ``surface|lines_added_unmoved`` alone (the default before);
- ``eq_utf``: unmoved, tokens and files touched, equal weights;
- ``churn``: unmoved + 0.5 x lines deleted;
- ``eq_all``: the six surface columns, equal weights;
- ``loro``: non-negative least squares of the standardised mean log label on the six columns,
  pooled over the *other* repositories' train + validation normal changes (each repository's
  target standardised on its own), normalised to unit sum;
- ``repo_shrunk``: per repository, ridge toward ``unmoved`` alone (``lambda = n`` on the
  early part of train + validation, the split the shift uses), kept only where its validation
  Spearman beats ``unmoved``'s by more than one standard error, ``1.03 / sqrt(n - 3)``;
- ``loro_shrunk``: the same with ``loro`` as the prior and the alternative.

Second round (declared after the first table, before any of these was looked at), with four
cheap counts recounted from the mined diffs (``raw/mined_commits.sqlite``, the pipeline's squash
rule; scaled like the surface columns): ``hunks`` (``@@`` headers), ``new_files`` (files the
change adds), ``src_added`` and ``test_added`` (lines added outside / inside test files):

- ``u_hunks``: unmoved and hunks, equal weights; ``u_src``: unmoved and source lines added;
- ``loro_diff``: ``loro`` over the six surface columns and the four diff counts;
- ``tie_la``: unmoved, lines added breaking its ties (weight 0.001; post hoc: itsdangerous'
  held-out loss to lines added looked like a matter of ties).

Third round (session 16, docs/effort-models.md "Test lines as a third count"; measured, not
adopted): ``u_src_test``: unmoved, source lines added and test lines added, equal weights (a
change that writes code *and* its tests ranks above one writing as many lines of either alone:
the counts are log-scaled).

Per repository: held-out Spearman of each candidate minus that of raw lines added, with a
paired bootstrap 90 % interval, the same in the training period (train + validation, where
``repo_shrunk`` / ``loro_shrunk`` were fitted: in-sample there), and each candidate minus
``unmoved`` held out; the last line is one JSON object.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls
from scipy.stats import spearmanr

from standard_coder.sch.mining.store import iter_commits

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling, however it is loaded
from size_backbone import base_dir_args, squash_sum

SURFACE = ("files_touched", "spaces", "tokens", "lines_added", "lines_deleted",
           "lines_added_unmoved")  # fmt: skip
U = SURFACE.index("lines_added_unmoved")
FIXED: dict[str, np.ndarray] = {
    "unmoved": np.eye(10)[U],
    "eq_utf": np.eye(10)[[0, 2, U]].sum(0) / 3.0,
    "churn": (np.eye(10)[U] + 0.5 * np.eye(10)[4]) / 1.5,
    "eq_all": np.eye(10)[:6].sum(0) / 6.0,
}
DIFF = ("hunks", "new_files", "src_added", "test_added")
ROUND2: dict[str, np.ndarray] = {
    "u_hunks": np.eye(10)[[U, 6]].sum(0) / 2.0,
    "u_src": np.eye(10)[[U, 8]].sum(0) / 2.0,
    "tie_la": (np.eye(10)[U] + 1e-3 * np.eye(10)[SURFACE.index("lines_added")]),
}
ROUND3: dict[str, np.ndarray] = {
    "u_src_test": np.eye(10)[[U, 8, 9]].sum(0) / 3.0,
}
CANDIDATES = (*FIXED, "loro", "repo_shrunk", "loro_shrunk", *ROUND2, "loro_diff", *ROUND3)
TEST = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_test\.py$|(^|/)conftest\.py$")
VALIDATION_FRACTION = 0.2


def sp(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def diff_counts(base: Path, squash_minutes: int = 2) -> dict[str, np.ndarray]:
    """Per change (keyed by its newest commit): ``DIFF`` summed over its commits."""
    db = base / "raw" / "mined_commits.sqlite"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT commit_id, path, change_type FROM file_changes").fetchall()
    new = {(c, p) for c, p, t in rows if t == "A"}
    per: dict[str, np.ndarray] = {}
    times: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for rec in iter_commits(db, with_files=True):
        v = np.zeros(len(DIFF))
        for f in rec.files:
            if f.is_binary:
                continue
            v[0] += sum(1 for line in f.diff.splitlines() if line.startswith("@@"))
            v[1] += (rec.commit_id, f.path) in new
            v[3 if TEST.search(f.path) else 2] += f.lines_added
        per[rec.commit_id] = v
        times[rec.author_id].append((rec.authored_at, rec.commit_id))
    return squash_sum(per, times, squash_minutes)


def load(base: Path) -> dict[str, Any]:
    with np.load(base / "labels/datasets/coding_train.npz", allow_pickle=False) as z:
        names = [str(n) for n in z["feature_names"]]
        cols = [names.index(f"surface|{s}") for s in SURFACE]
        d = {k: z[k] for k in ("split", "label_kind", "time")}
        d["S"] = z["X"][:, cols].astype(np.float64)
        d["la"] = z["surface"][:, SURFACE.index("lines_added")].astype(np.float64)
        d["Y"] = z["Y"].astype(np.float64)
        cid = [str(c) for c in z["commit_id"]]
    counts = diff_counts(base)
    D = np.log1p(np.array([counts.get(c, np.full(len(DIFF), np.nan)) for c in cid]))
    trv = d["split"] < 2
    mu, sd = np.nanmean(D[trv], axis=0), np.nanstd(D[trv], axis=0)
    D = np.nan_to_num((D - mu) / np.where(sd > 1e-12, sd, 1.0))  # unmatched: the mean
    d["n_unmatched"] = sum(c not in counts for c in cid)
    d["S"] = np.hstack([d["S"], D])
    d["y"] = d["Y"].mean(axis=1)
    d["m"] = np.log(np.maximum(d["Y"], 1 / 120)).mean(axis=1)
    d["name"] = base.parent.name or str(base)  # the folder holding the output (as size_backbone)
    normal = d["label_kind"] == 0
    trv = np.flatnonzero(d["split"] < 2)
    order = trv[np.argsort(d["time"][trv], kind="stable")]
    cut = max(1, min(len(order) - 1, round(len(order) * (1 - VALIDATION_FRACTION))))
    d["early"] = order[:cut][normal[order[:cut]]]
    d["late"] = order[cut:][normal[order[cut:]]]
    d["fit"] = trv[normal[trv]]
    d["test"] = np.flatnonzero(normal & (d["split"] == 2))
    return d


def _std(v: np.ndarray) -> np.ndarray:
    s = v.std()
    out: np.ndarray = (v - v.mean()) / (s if s > 1e-12 else 1.0)
    return out


def nnls_dir(S: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Non-negative least squares direction (unit sum; unmoved alone if all weights are 0)."""
    w, _ = nnls(S - S.mean(0), t - t.mean())
    if not w.any():
        w = FIXED["unmoved"][: S.shape[1]].copy()
    return np.pad(w / w.sum(), (0, 10 - len(w)))


def shrunk_dir(S: np.ndarray, t: np.ndarray, prior: np.ndarray, lam: float) -> np.ndarray:
    """``min |S w - t|^2 + lam |w - b prior|^2`` over w >= 0 (b: the prior's own LS slope)."""
    Sc, tc = S - S.mean(0), t - t.mean()
    x = Sc @ prior
    b = max(float(x @ tc) / max(float(x @ x), 1e-12), 1e-3)
    A = np.vstack([Sc, math.sqrt(lam) * np.eye(S.shape[1])])
    w, _ = nnls(A, np.concatenate([tc, math.sqrt(lam) * b * prior]))
    return w / w.sum() if w.sum() > 1e-12 else prior.copy()


def se_choice(d: dict[str, Any], alt: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, bool]:
    """``alt`` fitted on early, kept over ``base`` only if validation Spearman beats by > SE."""
    late = d["late"]
    if len(late) < 5:
        return base, False
    gain = sp(d["S"][late] @ alt, d["y"][late]) - sp(d["S"][late] @ base, d["y"][late])
    return (alt, True) if gain > 1.03 / math.sqrt(len(late) - 3) else (base, False)


def directions(repos: list[dict[str, Any]], i: int) -> dict[str, tuple[np.ndarray, bool]]:
    d = repos[i]
    out = {k: (v, False) for k, v in (FIXED | ROUND2 | ROUND3).items()}
    others = [r for j, r in enumerate(repos) if j != i and len(r["fit"]) > 10]
    S = np.vstack([r["S"][r["fit"]] for r in others])
    t = np.concatenate([_std(r["m"][r["fit"]]) for r in others])
    loro = nnls_dir(S[:, :6], t)
    out["loro_diff"] = (nnls_dir(S, t), False)
    out["loro"] = (loro, False)
    e = d["early"]
    for name, prior in (("repo_shrunk", FIXED["unmoved"]), ("loro_shrunk", loro)):
        alt = shrunk_dir(d["S"][e][:, :6], _std(d["m"][e]), prior[:6], lam=float(len(e)))
        alt = np.pad(alt, (0, len(prior) - 6))
        out[name] = se_choice(d, alt, prior)
    return out


def _ci(diff: np.ndarray) -> list[float]:
    ok = diff[np.isfinite(diff)]
    return [float(np.percentile(ok, 5)), float(np.percentile(ok, 95))] if ok.size else []


def evaluate(repos: list[dict[str, Any]], n_boot: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i, d in enumerate(repos):
        idx = d["test"]
        y, la = d["y"][idx], d["la"][idx]
        row: dict[str, Any] = {"repo": d["name"], "n_test": len(idx), "lines_added": sp(la, y),
                               "n_unmatched": d["n_unmatched"]}  # fmt: skip
        boots = [rng.choice(len(idx), len(idx)) for _ in range(n_boot)] if len(idx) > 3 else []
        base_boot = np.array([sp(la[b], y[b]) for b in boots])
        fit = d["fit"]
        un = d["S"][idx, U]
        un_boot = np.array([sp(un[b], y[b]) for b in boots])
        for name, (w, used) in directions(repos, i).items():
            s = d["S"][idx] @ w
            rho = sp(s, y)
            cand = np.array([sp(s[b], y[b]) for b in boots])
            row[name] = {"spearman": rho, "delta": rho - row["lines_added"],
                         "boot90": _ci(cand - base_boot), "vs_unmoved": rho - sp(un, y),
                         "vs_unmoved_boot90": _ci(cand - un_boot),
                         "train_delta": sp(d["S"][fit] @ w, d["y"][fit]) - sp(d["la"][fit],
                                                                              d["y"][fit]),
                         "weights": [round(float(v), 3) for v in w], "fitted": used}  # fmt: skip
        rows.append(row)
    return rows


def too_few(base_dirs: list[Path], repos: list[dict[str, Any]]) -> str | None:
    """Why leave-one-repository-out cannot run (each repository's directions are fitted on the
    others'), or None."""
    usable = [str(b) for b, r in zip(base_dirs, repos, strict=True) if len(r["fit"]) > 10]
    if len(usable) >= 2:
        return None
    return ("leave-one-repository-out needs at least two folders with more than 10 "
            f"normal-interval changes in train + validation; usable: "
            f"{', '.join(usable) or 'none'}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = base_dir_args("size_combo", __doc__, argv)
    if args is None:
        return 2
    repos = [load(b) for b in args.base_dirs]
    problem = too_few(args.base_dirs, repos)
    if problem:
        print(f"size_combo: {problem}", file=sys.stderr)
        return 2
    rows = evaluate(repos, args.boot)
    for part in (CANDIDATES[:6], CANDIDATES[6:]):
        print(f"{'repo':<14} {'n':>4} {'lines':>7} " + " ".join(f"{c:>21}" for c in part))
        for r in rows:
            cells = " ".join(
                (f"{r[c]['delta']:+.3f} [{r[c]['boot90'][0]:+.2f},{r[c]['boot90'][1]:+.2f}]"
                 if r[c]["boot90"] else "undefined").rjust(21) for c in part
            )  # fmt: skip
            print(f"{r['repo'][-14:]:<14} {r['n_test']:>4} {r['lines_added']:+7.3f} {cells}")
    print("training period (train + validation, normal), candidate minus lines added:")
    for r in rows:
        print(f"{r['repo'][-14:]:<14} " + " ".join(f"{c} {r[c]['train_delta']:+.3f}"
                                                   for c in CANDIDATES))  # fmt: skip
    print("each candidate minus unmoved, held out [paired bootstrap 90 %]:")
    for r in rows:
        cells = " ".join(
            (f"{c} {r[c]['vs_unmoved']:+.3f} [{r[c]['vs_unmoved_boot90'][0]:+.2f},"
             f"{r[c]['vs_unmoved_boot90'][1]:+.2f}]" if r[c]["vs_unmoved_boot90"] else "")
            for c in CANDIDATES[1:]
        )  # fmt: skip
        print(f"{r['repo'][-14:]:<14} {cells}")
    summary: dict[str, Any] = {"repositories": rows}
    for c in CANDIDATES:
        dl = [r[c]["delta"] for r in rows if math.isfinite(r[c]["delta"])]
        summary[c] = {"mean_delta": float(np.mean(dl)) if dl else float("nan"),
                      "wins": sum(x > 0 for x in dl), "defined": len(dl)}  # fmt: skip
        print(
            f"{c:<12} mean delta {summary[c]['mean_delta']:+.4f}  "
            f"above lines added on {summary[c]['wins']}/{len(dl)}"
        )
    un = summary["unmoved"]["mean_delta"]
    best = max(CANDIDATES, key=lambda c: summary[c]["mean_delta"])
    la = float(np.nanmean([r["lines_added"] for r in rows]))
    print(
        f"best {best}: mean held-out Spearman {la + summary[best]['mean_delta']:.3f} vs "
        f"unmoved {la + un:.3f} = {(la + summary[best]['mean_delta']) / (la + un):.2f}x"
    )
    print(json.dumps(summary, default=lambda v: round(float(v), 4)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
