"""Benchmark: would the cross-repository prior rank better with inputs the pipeline lacks?

    PYTHONPATH=src python benchmarks/prior_inputs.py --corpus RUN_DIR... --judge RUN_DIR...
        --clones DIR [DIR ...] --inputs body|context|hunks|vocabulary|shape [--drop COLUMN ...]
        [--no-body] [--body-weight W] [--bag K] [--seed N] [--leave-one-out]

Each ``RUN_DIR`` is a ``benchmarks/real_history.py`` work folder (or a folder of them), as for
``benchmarks/cross_repo_prior.py``; the history named ``X`` must have a clone at ``DIR/X`` in
one of ``--clones``. The candidate columns are computed here from each clone's git history (the
pipeline does not compute them) and joined to the run's changes by commit id; a squashed group
gets its newest member's. Two arms, the same recipe (``--bag``, default the shipped five
ensembles): the prior fitted on the ``--corpus`` histories with and without the candidate
columns, each scored on every ``--judge`` history (Spearman of the score with inferred coding
time minus lines added's, held-out normal changes and fitted-period normal changes), paired
per history. ``--leave-one-out``: also each corpus history scored by the prior fitted on the
others (both arms). A history whose clone cannot be read (a mirror missing objects) is left
out of both arms and named on stderr.

Candidates (docs/effort-models.md, "Session 26"):

- ``body``: the commit message after its subject line: non-blank lines (trailers such as
  ``Signed-off-by:`` left out), their words, bullet lines (``* `` or ``- ``: a squash merge's
  list of its pull request's commits), and ``Co-authored-by:`` trailers;
- ``context``: the touched Python files before the change (lines, sum and largest; earlier
  commits touching them; the oldest one's age in days; how many are new; how many authors had
  touched them) and the files the repository had;
- ``hunks``, ``vocabulary``, ``shape`` (session 28), from the Python files' diffs as the mine
  stores them (three lines of context): the ``@@`` hunks and the distinct folders touched; the
  distinct identifier-like words on inserted lines (comments and strings too; keywords left
  out) and those no deleted line of the commit has; the deepest indentation of an inserted
  line (in fours of spaces, a tab four) and the inserted comment lines.

``--no-body``: leave the runs' own message body columns (``body|...``, runs made with
``commit_body``) out of both arms, as the shipped default reads none; where they stay, every
prior is the recipe's mix with the fit without them (``--body-weight``, default
``RECIPE_BODY_WEIGHT``; 1: the body fit alone).

Prints per history and in sum; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import keyword
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.pipelines.sch_prior import PriorInputError, find_outputs, load_history
from standard_coder.sch.features.message_body import BODY_PREFIX
from standard_coder.sch.features.prior_corpus import (
    RECIPE_BAG,
    RECIPE_BODY_WEIGHT,
    History,
    LeaveOneOut,
    PriorCorpus,
    score_history,
    summarise,
)

BODY = ("subject|body_lines", "subject|body_words", "subject|body_bullets", "subject|co_authors")
DIFF = ("surface|hunks", "surface|directories", "surface|distinct_ids", "surface|new_ids",
        "surface|max_indent", "surface|comment_lines")  # fmt: skip
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PY_KEYWORDS = frozenset(keyword.kwlist + keyword.softkwlist)
CONTEXT = ("surface|ctx_file_lines", "surface|ctx_max_file_lines", "surface|ctx_file_commits",
           "surface|ctx_file_age_days", "surface|ctx_new_files", "surface|ctx_repo_files",
           "surface|ctx_file_authors")  # fmt: skip
TRAILER = re.compile(r"(?i)^(co-authored-by|signed-off-by|reviewed-by|change-id):")
BULLET = re.compile(r"^\s*[*-] ")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          errors="replace", check=True).stdout  # fmt: skip


def body_columns(repo: Path) -> dict[str, np.ndarray]:
    """:data:`BODY` per commit id of ``repo``'s ``HEAD`` history."""
    out: dict[str, np.ndarray] = {}
    for record in _git(repo, "log", "HEAD", "--format=%H%x00%B%x01").split("\x01"):
        sha, sep, message = record.strip("\n").partition("\x00")
        if not sep:
            continue
        lines = message.strip().splitlines()[1:]
        body = [x for x in lines if x.strip() and not TRAILER.match(x.strip())]
        co = sum(1 for x in lines if x.strip().lower().startswith("co-authored-by:"))
        words = sum(len(x.split()) for x in body)
        bullets = sum(1 for x in body if BULLET.match(x))
        out[sha.strip()] = np.array([len(body), words, bullets, co], float)
    return out


def context_columns(repo: Path) -> dict[str, np.ndarray]:
    """:data:`CONTEXT` per commit id: one ``git log --numstat`` pass, oldest commit first."""
    lines: dict[str, int] = defaultdict(int)
    commits: dict[str, int] = defaultdict(int)
    authors: dict[str, set[str]] = defaultdict(set)
    first: dict[str, int] = {}
    out: dict[str, np.ndarray] = {}
    log = _git(repo, "log", "HEAD", "--reverse", "--topo-order", "--numstat", "--no-renames",
               "--format=@%H %at %ae")  # fmt: skip
    for block in log.split("\n@"):
        head, *rest = block.lstrip("@").split("\n")
        if not head.strip():
            continue
        sha, t, email = head.split(" ", 2)
        files = []
        for row in rest:
            parts = row.split("\t")
            if len(parts) == 3:
                added, deleted, path = parts
                files.append((path, int(added) if added.isdigit() else 0,
                              int(deleted) if deleted.isdigit() else 0))  # fmt: skip
        py = [p for p, _, _ in files if p.endswith(".py")]
        v = np.zeros(len(CONTEXT))
        if py:
            sizes = [max(lines[p], 0) for p in py]
            ages = [(int(t) - first[p]) / 86400 for p in py if p in first]
            oldest = max(max(ages), 0) if ages else 0
            new_files = sum(1 for p in py if p not in first)
            v[:5] = (sum(sizes), max(sizes), sum(commits[p] for p in py), oldest, new_files)
            v[6] = len(set().union(*(authors[p] for p in py)))
        v[5] = len(first)
        out[sha] = v
        for p, a, d in files:
            lines[p] += a - d
            commits[p] += 1
            first.setdefault(p, int(t))
            authors[p].add(email)
    return out


def diff_columns(repo: Path) -> dict[str, np.ndarray]:
    """:data:`DIFF` per commit id (commits touching a Python file): one ``git log -p`` pass."""
    out: dict[str, np.ndarray] = {}
    log = _git(repo, "log", "HEAD", "--no-merges", "--no-ext-diff", "--no-textconv",
               "--no-color", "-p", "--format=@@@C %H", "--", "*.py")  # fmt: skip
    sha = ""
    hunks = indent = comments = 0
    folders: set[str] = set()
    inserted: set[str] = set()
    deleted: set[str] = set()

    def close() -> None:
        if sha:
            counts = (hunks, len(folders), len(inserted), len(inserted - deleted), indent / 4,
                      comments)  # fmt: skip
            out[sha] = np.array(counts, float)

    for line in log.split("\n"):
        if line.startswith("@@@C "):
            close()
            sha, hunks, indent, comments = line[5:].strip(), 0, 0, 0
            folders, inserted, deleted = set(), set(), set()
        elif line.startswith("diff --git "):
            path = line.rsplit(" b/", 1)[-1]
            folders.add(path.rsplit("/", 1)[0] if "/" in path else "")
        elif line.startswith("@@ "):
            hunks += 1
        elif line.startswith("+") and not line.startswith("+++ "):
            text = line[1:].replace("\t", "    ")
            if text.strip():
                indent = max(indent, len(text) - len(text.lstrip()))
                comments += text.lstrip().startswith("#")
            inserted.update(t for t in IDENTIFIER.findall(text) if t not in PY_KEYWORDS)
        elif line.startswith("-") and not line.startswith("--- "):
            deleted.update(t for t in IDENTIFIER.findall(line[1:]) if t not in PY_KEYWORDS)
    close()
    return out


def _diff_part(names: tuple[str, ...]) -> tuple[tuple[str, ...], Any]:
    pick = [DIFF.index(n) for n in names]
    return names, lambda repo: {k: v[pick] for k, v in diff_columns(repo).items()}


COLUMNS = {"body": (BODY, body_columns), "context": (CONTEXT, context_columns),
           "hunks": _diff_part(DIFF[:2]), "vocabulary": _diff_part(DIFF[2:4]),
           "shape": _diff_part(DIFF[4:])}  # fmt: skip


def with_columns(
    h: History, out_dir: Path, clones: list[Path], which: str, drop: tuple[str, ...] = ()
) -> History | None:
    """``h`` with the candidate columns (less ``drop``) appended; None when its clone cannot be
    read."""
    names, compute = COLUMNS[which]
    clone = next((c / h.name for c in clones if (c / h.name).exists()), None)
    if clone is None:
        print(f"prior_inputs: {h.name}: no clone in {[str(c) for c in clones]}", file=sys.stderr)
        return None
    try:
        table = compute(clone)
    except subprocess.CalledProcessError as e:
        print(f"prior_inputs: {h.name}: git failed ({e.stderr.strip()[:80]})", file=sys.stderr)
        return None
    with np.load(out_dir / "labels" / "datasets" / "coding_train.npz") as z:
        ids = [str(c) for c in z["commit_id"]]
    extra = np.array([table.get(c, np.zeros(len(names))) for c in ids]).reshape(len(ids), -1)
    keep = [j for j, n in enumerate(names) if n not in drop]
    return dataclasses.replace(h, feature_names=h.feature_names + tuple(names[j] for j in keep),
                               counts=np.hstack([h.counts, extra[:, keep]]))  # fmt: skip


def without_body(h: History) -> History:
    """``h`` without the run's own message body columns (``body|...``)."""
    return h.without((BODY_PREFIX,))


def load(paths: list[Path]) -> list[tuple[Path, History]]:
    dirs, _ = find_outputs(paths)
    return [(d, load_history(d, history_name(d))) for d in dirs]


def history_name(sc_output: Path) -> str:
    name = sc_output.resolve().parent.name
    return name.split("-", 1)[1] if name[:2].isdigit() and "-" in name else name


def paired(a: list[LeaveOneOut], b: list[LeaveOneOut]) -> dict[str, Any]:
    """Mean (standard error) of ``a`` minus ``b`` per history, held out and fitted period."""
    out: dict[str, Any] = {}
    for key, f in (("held_out", lambda r: r.gain),
                   ("fit_period", lambda r: r.fit_spearman_prior)):  # fmt: skip
        d = np.array([f(x) - f(y) for x, y in zip(a, b, strict=True)])
        d = d[np.isfinite(d)]
        out[key] = {"mean": round(float(d.mean()), 4),
                    "se": round(float(d.std(ddof=1) / np.sqrt(len(d))), 4),
                    "better": int((d > 0).sum()), "of": len(d)}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, nargs="+", required=True)
    ap.add_argument("--judge", type=Path, nargs="+", required=True)
    ap.add_argument("--clones", type=Path, nargs="+", required=True)
    ap.add_argument("--inputs", choices=tuple(COLUMNS), required=True)
    ap.add_argument("--bag", type=int, default=RECIPE_BAG)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--leave-one-out", action="store_true")
    ap.add_argument("--no-body", action="store_true",
                    help="leave the runs' own body|... columns out of both arms")  # fmt: skip
    ap.add_argument("--body-weight", type=float, default=RECIPE_BODY_WEIGHT,
                    help="where the runs' own body|... columns are read, the recipe's share of "
                         "the fit with them (default the shipped recipe's)")  # fmt: skip
    ap.add_argument("--drop", nargs="+", default=[], metavar="COLUMN",
                    help="leave these columns out, e.g. subject|body_bullets")  # fmt: skip
    args = ap.parse_args(argv)
    if args.bag < 1:
        ap.error(f"--bag: at least 1 ensemble, got {args.bag}")
    if not 0.0 <= args.body_weight <= 1.0:
        ap.error(f"--body-weight: between 0 and 1, got {args.body_weight}")
    unknown = sorted(set(args.drop) - set(COLUMNS[args.inputs][0]))
    if unknown:
        ap.error(f"--drop: not a column of --inputs {args.inputs}: {', '.join(unknown)}")
    t0 = time.perf_counter()
    try:
        sets = {"corpus": load(args.corpus), "judge": load(args.judge)}
    except PriorInputError as e:
        print(f"prior_inputs: {e}", file=sys.stderr)
        return 2
    arms: dict[str, dict[str, list[History]]] = {"without": {}, "with": {}}
    for key, pairs in sets.items():
        if args.no_body:
            pairs = [(d, without_body(h)) for d, h in pairs]
        kept = [(h, with_columns(h, d, args.clones, args.inputs, tuple(args.drop)))
                for d, h in pairs]  # fmt: skip
        arms["without"][key] = [h for h, x in kept if x is not None]
        arms["with"][key] = [x for _, x in kept if x is not None]
    scored: dict[str, dict[str, list[LeaveOneOut]]] = {}
    for arm, hs in arms.items():
        prior = PriorCorpus(hs["corpus"]).fit(seed=args.seed, bag=args.bag,
                                              body_weight=args.body_weight)  # fmt: skip
        scored[arm] = {"judge": [score_history(h, prior) for h in hs["judge"]]}
        if args.leave_one_out:
            loo = PriorCorpus(hs["corpus"]).leave_one_out(seed=args.seed, bag=args.bag,
                                                          body_weight=args.body_weight)  # fmt: skip
            scored[arm]["corpus"] = [r for r, _ in loo]
    result: dict[str, Any] = {"inputs": args.inputs, "dropped": args.drop, "bag": args.bag,
                              "no_body": args.no_body, "body_weight": args.body_weight}  # fmt: skip
    for key in scored["with"]:
        w, wo = scored["with"][key], scored["without"][key]
        print(f"{key}: {'history':22s} {'n':>5s} {'held-out gain':>14s} {'fit-period gain':>16s}")
        for x, y in zip(w, wo, strict=True):
            print(f"{key}: {x.history:22s} {x.n_test_normal:5d} {x.gain - y.gain:+14.3f} "
                  f"{x.fit_spearman_prior - y.fit_spearman_prior:+16.3f}")  # fmt: skip
        result[key] = {"paired": paired(w, wo), "with": summarise(w), "without": summarise(wo)}
        with_rho = result[key]["with"]["held_out_mean_spearman_prior"]
        without_rho = result[key]["without"]["held_out_mean_spearman_prior"]
        if with_rho is not None and without_rho:
            result[key]["ratio"] = round(with_rho / without_rho, 3)
            print(f"{key}: held-out mean Spearman of the prior {with_rho:.3f} with, "
                  f"{without_rho:.3f} without ({result[key]['ratio']}x)")  # fmt: skip
        p = result[key]["paired"]
        print(f"{key} ({len(w)} histories), with minus without: held out "
              f"{p['held_out']['mean']:+.4f} ± {p['held_out']['se']:.4f} (better on "
              f"{p['held_out']['better']}), fitted periods {p['fit_period']['mean']:+.4f} ± "
              f"{p['fit_period']['se']:.4f} (better on {p['fit_period']['better']}); prior "
              f"minus lines added, held out: {result[key]['with']['held_out_mean_diff']} with, "
              f"{result[key]['without']['held_out_mean_diff']} without")  # fmt: skip
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
