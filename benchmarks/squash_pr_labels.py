"""Benchmark: what a GitHub squash merge's label could be, from its pull request's own commits.

    python benchmarks/squash_pr_labels.py PATH [PATH ...]

A "Squash and merge" commit (committer ``noreply@github.com``, author date = commit date) is
stamped with the merge time: today its label comes from the interval between two merges of its
author (label kind 3, merge-stamped; docs/effort-models.md). Where the clone holds GitHub's pull
request refs (``refs/pull/<n>/head``: a mirror clone has them, a plain clone after
``git fetch origin '+refs/pull/*/head:refs/pull/*/head'``), the pull request's own commits keep
their author dates. For each squash merge whose subject ends in ``(#n)`` and whose
``refs/pull/n/head`` exists, this compares two labels, each by its Spearman correlation with the
squash commit's lines added in ``.py`` files (how much of the change's size a label carries; the
measure of docs/effort-models.md, "Which labels carry the change"):

- ``merge_interval``: the minutes since the author's previous commit on the first-parent history,
  capped at 8 h (what today's labels are built from);
- ``pr_git_hours``: the pull request's commits (not on the history before the squash), 30 min for
  the first plus the gaps between them capped at 2 h each (the git-hours heuristic).

Only reads the repositories (git plumbing); no pipeline runs. The last line is one JSON object
``{"repositories": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

PR_SUBJECT = re.compile(r"\(#(\d+)\)\s*$")
FIRST_COMMIT_MINUTES = 30.0
GAP_CAP_MINUTES = 120.0
INTERVAL_CAP_MINUTES = 480.0


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def first_parent_commits(repo: Path) -> list[dict[str, Any]]:
    """Non-merge first-parent commits with author, committer, times, subject and ``.py`` lines
    added."""
    out = git(repo, "log", "--no-merges", "--first-parent", "HEAD", "--numstat",
              "--format=%x01%H%x00%ae%x00%ce%x00%at%x00%ct%x00%s")  # fmt: skip
    commits: list[dict[str, Any]] = []
    for block in out.split("\x01")[1:]:
        head, _, stat = block.partition("\n")
        sha, author, committer, at, ct, subject = head.split("\x00", 5)
        added = 0
        for line in stat.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[0].isdigit() and parts[2].endswith(".py"):
                added += int(parts[0])
        commits.append({"sha": sha, "author": author, "committer": committer, "at": int(at),
                        "ct": int(ct), "subject": subject, "lines_added": added})  # fmt: skip
    return commits


def squash_rows(repo: Path) -> tuple[list[tuple[int, float, float]], dict[str, int]]:
    """Per squash merge with a pull request ref: (lines added, merge interval, PR git-hours)."""
    commits = first_parent_commits(repo)
    previous: dict[str, int] = {}
    for c in sorted(commits, key=lambda c: c["at"]):
        c["previous"] = previous.get(c["author"])
        previous[c["author"]] = c["at"]
    refs = set(git(repo, "for-each-ref", "--format=%(refname)", "refs/pull").split())
    stamped = [c for c in commits if c["committer"] == "noreply@github.com" and c["at"] == c["ct"]]
    rows: list[tuple[int, float, float]] = []
    for c in stamped:
        m = PR_SUBJECT.search(c["subject"])
        ref = f"refs/pull/{m.group(1)}/head" if m else ""
        if not m or ref not in refs or c["lines_added"] == 0 or c["previous"] is None:
            continue
        # the PR's own commits: reachable from its head, not from the squash's parents
        out = git(repo, "log", "--no-merges", "--format=%at", ref, "--not", f"{c['sha']}^@")
        times = sorted(int(t) for t in out.split())
        if not times:
            continue
        gaps = np.minimum(np.diff(np.array(times, np.float64)) / 60.0, GAP_CAP_MINUTES)
        interval = min((c["at"] - c["previous"]) / 60.0, INTERVAL_CAP_MINUTES)
        rows.append((c["lines_added"], interval, FIRST_COMMIT_MINUTES + float(gaps.sum())))
    counts = {"commits": len(commits), "squash_merges": len(stamped), "with_pr_ref": len(rows),
              "pull_refs": sum(1 for r in refs if r.endswith("/head"))}  # fmt: skip
    return rows, counts


def _rho(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 10 or np.all(a == a[0]) or np.all(b == b[0]):
        return None
    return round(float(spearmanr(a, b)[0]), 3)


def measure(path: Path) -> dict[str, Any]:
    """One repository's counts and the two labels' Spearman with lines added.

    Raises:
        SystemExit: 2, with one line on stderr, when ``path`` is not a readable repository.
    """
    try:
        rows, counts = squash_rows(path)
    except (subprocess.CalledProcessError, OSError) as exc:
        why = (getattr(exc, "stderr", "") or str(exc)).strip()
        print(
            f"squash_pr_labels: {path}: not a readable git repository "
            f"({why.splitlines()[-1] if why else type(exc).__name__})",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    arr = np.array(rows, np.float64).reshape(-1, 3)
    ours, pr = _rho(arr[:, 0], arr[:, 1]), _rho(arr[:, 0], arr[:, 2])
    name = path.resolve().name if path.name not in ("repo", ".git") else path.parent.name
    ratio = round(pr / ours, 2) if ours and pr is not None and ours > 0 else None
    return {"repo": name, **counts, "rho_merge_interval": ours, "rho_pr_git_hours": pr,
            "ratio": ratio}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path, help="git repositories (with refs/pull/*)")
    args = ap.parse_args()
    results = [measure(path) for path in args.paths]
    print(f"{'repo':<20} {'squash':>7} {'w/ PR':>6} {'merge_interval':>15} {'pr_git_hours':>13}"
          f" {'ratio':>6}")  # fmt: skip
    for r in results:
        show = [f"{r[k]:.3f}" if r[k] is not None else "-"
                for k in ("rho_merge_interval", "rho_pr_git_hours", "ratio")]  # fmt: skip
        print(f"{r['repo']:<20} {r['squash_merges']:>7} {r['with_pr_ref']:>6} {show[0]:>15}"
              f" {show[1]:>13} {show[2]:>6}")  # fmt: skip
    print(
        "Spearman with the squash commit's lines added in .py files; '-': fewer than 10 or constant"
    )
    print(json.dumps({"repositories": results}))


if __name__ == "__main__":
    main()
