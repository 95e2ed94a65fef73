"""Benchmark: size counts against inferred coding time on real histories (the shift's backbone).

    PYTHONPATH=src python benchmarks/size_backbone.py BASE_DIR [BASE_DIR ...] [--boot 1000]

``BASE_DIR`` is a finished pipeline's output folder (``sc-output``: ``raw/mined_commits.sqlite``
and ``labels/datasets/coding_train.npz``, e.g. from ``benchmarks/real_history.py --work-dir``).
Each change's size is recounted from the mined diffs (the pipeline's squash rule: same-author
commits under 2 minutes apart are one change) in several variants, and Spearman with the mean
label is reported on normal-interval changes of the training period (splits 0, 1) and of the
held-out period (split 2), against raw lines added, with a paired bootstrap 90 % interval of
the difference and its spread over 10 disjoint slices of the label samples.

Variants (chosen before any result was looked at; docs/effort-models.md, "Size backbone"):
``unmoved`` is the shipped ``lines_added_unmoved`` (``features/tokens.py``); ``nonblank``, ``code``
(not blank, not a comment, not inside a Python docstring), ``effective`` (``code`` and unmoved,
outside vendored/generated paths), ``test_half`` (lines in test files count half) and
``new_half`` (lines of new files count half) are measured here only.
The ratio line is the mean held-out Spearman of ``unmoved`` over that of lines added; the
last line is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sqlite3
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from standard_coder.sch.features.tokens import file_token_counts
from standard_coder.sch.mining.store import iter_commits
from standard_coder.sch.records import CommitRecord

VARIANTS = ("unmoved", "nonblank", "code", "effective", "test_half", "new_half")
VENDOR = re.compile(r"(^|/)(vendor|_vendor|vendored|third_party|extern|node_modules|generated)/"
                    r"|_pb2\.py$|\.min\.js$")  # fmt: skip
TEST = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_test\.py$|(^|/)conftest\.py$")
TRIPLE = re.compile(r"\"\"\"|'''")


def _added(diff: str, py: bool) -> tuple[list[tuple[str, bool]], list[str]]:
    """Inserted lines as (stripped text, is code) and deleted non-blank stripped lines."""
    added: list[tuple[str, bool]] = []
    deleted: list[str] = []
    in_doc = False
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_doc = False
            continue
        if not line or line[0] not in "+- ":
            continue
        s = line[1:].strip()
        if line[0] == "-":
            if s:
                deleted.append(s)
            continue
        doc = in_doc or (py and bool(TRIPLE.match(s)))
        if py and len(TRIPLE.findall(s)) % 2:
            in_doc = not in_doc
        if line[0] == "+":
            comment = s.startswith("#") if py else s.startswith(("//", "/*", "*", "#"))
            added.append((s, bool(s) and not comment and not doc))
    return added, deleted


def commit_variants(rec: CommitRecord, change_type: dict[tuple[str, str], str]) -> np.ndarray:
    """``[lines_added, *VARIANTS]`` of one commit."""
    surface = file_token_counts(rec.files).surface
    out = dict.fromkeys(VARIANTS, 0.0)
    out["unmoved"] = surface[5]
    files = []
    for f in rec.files:
        if f.is_binary:
            continue
        added, deleted = _added(f.diff, f.path.endswith(".py"))
        la = f.lines_added if (f.lines_added or not f.diff) else len(added)
        new = change_type.get((rec.commit_id, f.path)) == "A"
        out["test_half"] += la * (0.5 if TEST.search(f.path) else 1.0)
        out["new_half"] += la * (0.5 if new else 1.0)
        files.append((f.path, added, deleted))
    dels = Counter(s for _, _, d in files for s in d)
    for path, added, _ in files:
        for s, code in added:
            if not s:
                continue
            out["nonblank"] += 1
            out["code"] += code
            if dels[s] > 0:
                dels[s] -= 1
            elif code and not VENDOR.search(path):
                out["effective"] += 1
    return np.array([surface[3], *(out[v] for v in VARIANTS)])


def change_sizes(base: Path, squash_minutes: int = 2) -> dict[str, np.ndarray]:
    """Per change (keyed by its newest commit), the summed sizes of its commits."""
    db = base / "raw" / "mined_commits.sqlite"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT commit_id, path, change_type FROM file_changes").fetchall()
    change_type = {(c, p): t for c, p, t in rows}
    per: dict[str, np.ndarray] = {}
    times: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for rec in iter_commits(db, with_files=True):
        per[rec.commit_id] = commit_variants(rec, change_type)
        times[rec.author_id].append((rec.authored_at, rec.commit_id))
    return squash_sum(per, times, squash_minutes)


def squash_sum(per: dict[str, np.ndarray], times: dict[str, list[tuple[int, str]]],
               squash_minutes: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Per change, keyed by its newest commit, the sum of ``per`` over its commits: an author's
    commits less than ``squash_minutes`` apart form one change (the pipeline's squash rule);
    ``times``: author -> ``(authored_at, commit_id)``."""
    out: dict[str, np.ndarray] = {}
    for seq in times.values():
        seq.sort()
        run = [seq[0][1]]
        for (t0, _), (t1, c) in itertools.pairwise(seq):
            if t1 - t0 >= squash_minutes * 60:
                out[run[-1]] = np.sum([per[m] for m in run], axis=0)
                run = []
            run.append(c)
        out[run[-1]] = np.sum([per[m] for m in run], axis=0)
    return out


def sp(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def evaluate(base: Path, n_boot: int, seed: int = 0) -> dict[str, Any]:
    with np.load(base / "labels/datasets/coding_train.npz", allow_pickle=False) as z:
        cid, Y, split = z["commit_id"], z["Y"].astype(np.float64), z["split"]
        kind = z["label_kind"] if "label_kind" in z.files else np.zeros(len(cid), np.int8)
    sizes = change_sizes(base)
    M = np.array([sizes.get(str(c), np.full(len(VARIANTS) + 1, np.nan)) for c in cid])
    y = Y.mean(axis=1)
    rng = np.random.default_rng(seed)
    slices = np.array_split(np.arange(Y.shape[1]), 10)
    res: dict[str, Any] = {"repo": base.parent.name or str(base), "n_changes": len(cid),
                           "n_unmatched": int(np.isnan(M[:, 0]).sum())}  # fmt: skip
    normal = kind == 0
    for period, mask in (("train", normal & (split < 2)), ("test", normal & (split == 2))):
        idx = np.flatnonzero(mask & ~np.isnan(M[:, 0]))
        row: dict[str, Any] = {"n": len(idx), "lines_added": sp(M[idx, 0], y[idx])}
        boots = [rng.choice(idx, len(idx)) for _ in range(n_boot)] if len(idx) >= 3 else []
        for j, v in enumerate(VARIANTS, 1):
            rho = sp(M[idx, j], y[idx])
            d = np.array([sp(M[b, j], y[b]) - sp(M[b, 0], y[b]) for b in boots])
            lab = [sp(M[idx, j], Y[idx][:, s].mean(1)) - sp(M[idx, 0], Y[idx][:, s].mean(1))
                   for s in slices]  # fmt: skip
            ok = d[np.isfinite(d)]
            nan = float("nan")
            ci = (
                [float(np.percentile(ok, 5)), float(np.percentile(ok, 95))]
                if ok.size
                else [nan, nan]
            )
            sd = float(np.nanstd(lab)) if np.isfinite(lab).any() else nan
            row[v] = {
                "spearman": rho,
                "delta": rho - row["lines_added"],
                "boot90": ci,
                "label_sd": sd,
            }
        res[period] = row
    return res


NEEDED = ("raw/mined_commits.sqlite", "labels/datasets/coding_train.npz")
"""What a size benchmark reads below each pipeline output folder."""


def base_dir_args(prog: str, doc: str, argv: list[str] | None) -> argparse.Namespace | None:
    """``BASE_DIR... [--boot N]`` of a size benchmark (this one and ``size_combo.py``); None,
    after one line on stderr, when a folder lacks what the pipeline writes (then exit 2)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("base_dirs", nargs="+", type=Path)
    ap.add_argument("--boot", type=int, default=1000, help="paired bootstrap resamples")
    args = ap.parse_args(argv)
    for b in args.base_dirs:
        missing = [name for name in NEEDED if not (b / name).is_file()]
        if missing:
            print(f"{prog}: {b}: no {' or '.join(missing)} (run the pipeline first)",
                  file=sys.stderr)  # fmt: skip
            return None
    return args


def main(argv: list[str] | None = None) -> int:
    args = base_dir_args("size_backbone", __doc__, argv)
    if args is None:
        return 2
    rows = [evaluate(b, args.boot) for b in args.base_dirs]
    head = " ".join(f"{v:>22}" for v in VARIANTS)
    print(f"{'repo':<16} {'period':<6} {'n':>5} {'lines':>7} {head}")
    for r in rows:
        for period in ("train", "test"):
            p = r[period]
            cells = " ".join(
                f"{p[v]['delta']:+.3f} [{p[v]['boot90'][0]:+.2f},{p[v]['boot90'][1]:+.2f}]"
                .rjust(22) for v in VARIANTS
            )  # fmt: skip
            print(f"{r['repo'][-16:]:<16} {period:<6} {p['n']:>5} {p['lines_added']:+7.3f} {cells}")
    test = [(r["test"]["lines_added"], r["test"]["unmoved"]["spearman"]) for r in rows]
    test = [t for t in test if np.isfinite(t).all()]
    la_mean = float(np.mean([t[0] for t in test])) if test else float("nan")
    un_mean = float(np.mean([t[1] for t in test])) if test else float("nan")
    print(f"held-out Spearman, mean over {len(test)} repositories: unmoved {un_mean:.3f} / lines "
          f"added {la_mean:.3f} = {un_mean / la_mean:.2f}x")  # fmt: skip
    summary = {"repositories": rows, "mean_test_unmoved": un_mean, "mean_test_lines_added": la_mean}
    print(json.dumps(summary, default=lambda v: round(float(v), 4)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
