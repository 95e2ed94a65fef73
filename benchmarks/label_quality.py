"""Benchmark: how much of a change's size its work-inference label carries, on real histories.

    PYTHONPATH=src python benchmarks/label_quality.py DB [DB ...] [--work-dir DIR] [--workers N]

Each DB is a mined database (``sc-output/raw/mined_commits.sqlite`` after ``pipeline --to
mine``). Labels are made from commit times only; this script then reads each commit's lines
added from the database and reports Spearman's rho of lines added with the label on the
changes of the training period (the earliest 80 % of each repository's changes, the dataset's
time split) whose label comes from a normal interval and whose time is an authoring time (not
merge-stamped), overall and by wall-clock interval band. A label that relates to the size of
the change it ends is a label that carries the change; the labels never see the diffs, so the
relation is not circular.

Variants (the same seed and options otherwise):

- ``gap``, ``hmm``: the git-hours heuristic and the HMM as shipped (every commit in the
  author's timeline);
- ``gap_local``, ``hmm_local``: the same with merge-stamped commits out of the timeline
  (``WorkInferenceOptions.stamped_out_of_timeline``; measured worse, not the default);
- ``*_last_session``: the same fits, labelled with the coding of the session the commit ends
  (the HMM's last coding bout) instead of all coding since the previous commit;
- ``weight>=0.5`` / ``weight<0.5``: the labels split by the share of the label that
  lies in that last session (the dataset's ``label_weight``).

The timelines are the pipeline's (``sch_train.load_histories``): a squash merge whose pull
request commits were mined is timed and labelled by them (they are events in its author's
timeline, not changes) and is no longer merge-stamped. Squashed groups (same-author commits
under 2 minutes apart, ``sch_train.squash_groups``) count as one change with their summed
label and lines, as in the dataset. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

BANDS = ((0.0, 60.0), (60.0, 480.0), (480.0, float("inf")))


def _rho(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 5 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return round(float(spearmanr(a, b).statistic), 3)


def _pool_map(workers: int) -> Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]:
    def run(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        items = list(items)
        if workers <= 1:
            for it in items:
                yield it, fn(it)
            return
        with ProcessPoolExecutor(workers) as ex:
            yield from zip(items, ex.map(fn, items), strict=True)

    return run


def commit_sizes(db: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """(repo, commit) -> (lines added, files touched) over the configured languages."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT repo, commit_id, lines_added, n_files FROM commits").fetchall()
    finally:
        con.close()
    return {(r, c): (int(a), int(f)) for r, c, a, f in rows}


def changes(labels: Any, histories: dict[str, Any], stamped: set[Any]) -> dict[str, np.ndarray]:
    """Per change (squashed group): lines added, label, last-session label, interval, kind."""
    from standard_coder.pipelines.sch_train import squash_groups

    index = {k: i for i, k in enumerate(labels.keys)}
    last = labels.last_session_minutes
    if last is None:
        last = labels.expected_minutes
    members: dict[Any, list[int]] = {k: [i] for k, i in index.items()}
    for g in squash_groups(histories, 2):
        rows = [index[k] for k in g if k in index]
        for k in g:
            members.pop(k, None)
        members[g[-1]] = rows
    out: dict[str, list[Any]] = {n: [] for n in ("key", "rows")}
    for key, rows in members.items():
        out["key"].append(key)
        out["rows"].append(rows)
    res: dict[str, np.ndarray] = {}
    rows_l = out["rows"]
    res["expected"] = np.array([labels.expected_minutes[r].sum() for r in rows_l])
    res["last"] = np.array([last[r].sum() for r in rows_l])
    res["interval"] = np.array([labels.interval_minutes[r[0]] for r in rows_l])
    kind = np.array([int(labels.interval_kind[r[0]]) for r in rows_l])
    res["stamped"] = np.array([k in stamped for k in out["key"]])
    res["kind"] = np.where(res["stamped"], 3, kind)
    res["pooled"] = np.array([bool(labels.pooled[r[0]]) for r in rows_l])
    res["repo"] = np.array([k[0] for k in out["key"]])
    res["commit_id"] = np.array([k[1] for k in out["key"]])
    return res


def train_mask(
    ch: dict[str, np.ndarray], times: dict[Any, int], test_fraction: float
) -> np.ndarray:
    """The earliest (1 - test_fraction) of each repository's changes by time."""
    t = np.array([times[(r, c)] for r, c in zip(ch["repo"], ch["commit_id"], strict=True)])
    train = np.zeros(t.shape[0], dtype=bool)
    for repo in np.unique(ch["repo"]):
        idx = np.flatnonzero(ch["repo"] == repo)
        idx = idx[np.argsort(t[idx], kind="stable")]
        n_test = int(np.ceil(test_fraction * idx.shape[0]))
        train[idx[: idx.shape[0] - n_test]] = True
    return train


def score(la: np.ndarray, y: np.ndarray, iv: np.ndarray, m: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {"n": int(m.sum()), "rho": _rho(la[m], y[m])}
    for lo, hi in BANDS:
        b = m & (iv >= lo) & (iv < hi)
        name = f"{int(lo)}_{'inf' if hi == float('inf') else int(hi)}min"
        out[name] = {"n": int(b.sum()), "rho": _rho(la[b], y[b])}
    return out


VARIANTS = ("gap", "hmm", "gap_local", "hmm_local")


def run_repo(
    db: Path, work: Path, seed: int, workers: int, variants: tuple[str, ...] = VARIANTS
) -> dict[str, Any]:
    from dataclasses import replace

    from standard_coder.pipelines.sch_train import load_histories, merge_stamped, squash_groups
    from standard_coder.sch.work_inference.labels import WorkInferenceOptions, infer_labels
    from standard_coder.sch.work_inference.pulls import (
        MERGE_EVENT,
        OTHER_EVENT,
        fold_pull_events,
        is_event,
        is_pull_event,
    )

    # the pipeline's own timelines: squash merges timed by their pull request's commits (those
    # events sit in the timeline, they are not changes), the rest flagged when merge-stamped
    with_flags = load_histories(db)
    stamped = merge_stamped(db)
    no_flags = {a: replace(h, stamped=None) for a, h in with_flags.items()}
    times = {k: int(t) for h in no_flags.values() for k, t in zip(h.keys, h.times, strict=True)}
    sizes = commit_sizes(db)
    lines: dict[Any, int] = {}  # a change's lines added; -1: it touches no mined-language file
    for h in no_flags.values():
        for k in h.keys:
            if not is_event(k):
                lines[k] = sizes[k][0] if sizes[k][1] > 0 else -1
    for group in squash_groups(no_flags, 2):  # a squashed change: its members' summed lines
        total = sum(sizes[m][0] for m in group)
        lines[group[-1]] = total if any(sizes[m][1] > 0 for m in group) else -1
    opts = WorkInferenceOptions()
    name = db.parents[2].name if db.name == "mined_commits.sqlite" else db.stem
    out: dict[str, Any] = {
        "name": name,
        "db": str(db),
        "n_commits": len(lines),
        "n_pull_request_events": sum(is_pull_event(k) for k in times),
        "n_merge_events": sum(str(k[1]).endswith(MERGE_EVENT) for k in times),
        "n_other_events": sum(str(k[1]).endswith(OTHER_EVENT) for k in times),
        "n_stamped": len(stamped),
    }
    local = replace(opts, stamped_out_of_timeline=True)
    all_variants = {
        "gap": ("gap", no_flags, opts),
        "hmm": ("hmm", no_flags, opts),
        "gap_local": ("gap", with_flags, local),
        "hmm_local": ("hmm", with_flags, local),
    }
    for name in variants:
        kind, hist, o = all_variants[name]
        t0 = time.perf_counter()
        labels = fold_pull_events(  # a squash merge labelled over its pull request, as in
            infer_labels(  # the pipeline (sch_train.label_commits)
                hist, o, kind=kind, out_dir=work / name, seed=seed, map_fn=_pool_map(workers)
            )
        )
        ch = changes(labels, hist, stamped)
        la = np.array([lines[k] for k in zip(ch["repo"], ch["commit_id"], strict=True)], float)
        has_py = la >= 0
        train = train_mask(ch, times, 0.2)
        normal = (ch["kind"] == 0) & has_py
        res: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 1)}
        for part, pm in (("train", train), ("test", ~train)):
            m = normal & pm
            res[part] = score(la, ch["expected"], ch["interval"], m)
            res[f"{part}_last_session"] = score(la, ch["last"], ch["interval"], m)
            share = np.divide(ch["last"], ch["expected"], out=np.ones_like(ch["last"]),
                              where=ch["expected"] > 0)  # fmt: skip
            res[f"{part}_weight>=0.5"] = score(
                la, ch["expected"], ch["interval"], m & (share >= 0.5)
            )
            res[f"{part}_weight<0.5"] = score(la, ch["expected"], ch["interval"], m & (share < 0.5))
            res[f"{part}_own_hmm"] = score(la, ch["expected"], ch["interval"], m & ~ch["pooled"])
            res[f"{part}_pooled"] = score(la, ch["expected"], ch["interval"], m & ch["pooled"])
            res[f"{part}_median_label_minutes"] = (
                round(float(np.median(ch["expected"][m])), 1) if m.any() else None
            )
        out[name] = res
        print(f"{db}: {name} train rho {res['train']['rho']} "
              f"(last session {res['train_last_session']['rho']}) "
              f"in {res['seconds']} s", file=sys.stderr, flush=True)  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dbs", nargs="+", type=Path, help="mined databases")
    ap.add_argument("--work-dir", type=Path, default=None, help="keep (and reuse) fitted items")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    args = ap.parse_args(argv)
    variants = tuple(v for v in args.variants.split(",") if v)
    if not variants or set(variants) - set(VARIANTS):
        print(f"error: --variants: choose from {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    for db in args.dbs:
        if not db.is_file():
            print(f"error: {db}: not a file", file=sys.stderr)
            return 2
    tmp = tempfile.TemporaryDirectory(prefix="sc-labels-") if args.work_dir is None else None
    root = Path(tmp.name) if tmp is not None else args.work_dir
    try:
        rows = [
            run_repo(db, root / f"{i:02d}", args.seed, args.workers, variants)
            for i, db in enumerate(args.dbs)
        ]
    finally:
        if tmp is not None:
            tmp.cleanup()
    print("repo | variant | train rho (n) | <1 h | 1-8 h | >= 8 h | last session | test rho")
    for row in rows:
        for v in variants:
            r = row[v]
            bands = " | ".join(
                str(r["train"][f"{int(lo)}_{'inf' if hi == float('inf') else int(hi)}min"]["rho"])
                for lo, hi in BANDS
            )
            print(f"{row['name']} | {v} | {r['train']['rho']} ({r['train']['n']}) | {bands} | "
                  f"{r['train_last_session']['rho']} | {r['test']['rho']}")  # fmt: skip
    print(json.dumps({"repositories": rows, "seed": args.seed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
