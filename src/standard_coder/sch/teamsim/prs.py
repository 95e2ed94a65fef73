"""Simulated pull requests for a simulated team, with delivery time from KNOWN factors.

Each author's commits in one repository are grouped, in time order, into PRs of 1-4 commits.
A PR's size is the true coding minutes of its commits (from ``truth.json``); its review rounds,
comments and CI failures are drawn, and its open -> merge time is

    hours = exp(B0 + B_REVIEW * review_rounds + B_CI * ci_failures
                + B_SIZE * log1p(size_minutes / 30) + N(0, NOISE))

so delivery grows with review rounds, CI failures and size by known amounts (``expected_hours``
is the same without the noise, stored as ``truth``). A PR opens at its last commit and merges
``hours`` later. Written as a PR file (docs/delivery-effort.md) next to ``truth.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from standard_coder.runner.atomic import atomic_write_text
from standard_coder.sch.teamsim.team import Truth

B0, B_REVIEW, B_CI, B_SIZE, NOISE = 0.8, 0.55, 0.45, 0.35, 0.25
"""The simulator's delivery-time coefficients (log-hours)."""


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat()


def simulate_pull_requests(
    truth: Truth, *, seed: int = 0, max_commits: int = 4
) -> list[dict[str, Any]]:
    """PR records (the PR file's ``pull_requests``) grouping every simulated commit once."""
    rng = np.random.default_rng(seed)
    by_stream: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for c in truth.commits:  # sorted by time
        by_stream[(c.repo, c.author)].append(c)
    prs: list[dict[str, Any]] = []
    for (repo, _author), commits in sorted(by_stream.items()):
        i = 0
        while i < len(commits):
            n = int(min(max_commits, rng.geometric(0.5)))
            group = commits[i : i + n]
            i += n
            size = float(sum(c.coding_minutes for c in group))
            s = math.log1p(size / 30.0)
            rounds = int(rng.poisson(0.3 + 0.5 * s))
            ci = int(rng.poisson(0.5))
            comments = int(rng.poisson(0.5 + 2.0 * rounds))
            log_expected = B0 + B_REVIEW * rounds + B_CI * ci + B_SIZE * s
            hours = math.exp(log_expected + rng.normal(0.0, NOISE))
            opened = float(group[-1].authored_at)
            prs.append(
                {
                    "id": f"{repo}#{len(prs) + 1}",
                    "repo": repo,
                    "opened_at": _iso(opened),
                    "merged_at": _iso(opened + round(hours * 3600)),
                    "review_rounds": rounds,
                    "comments": comments,
                    "ci_failures": ci,
                    "commit_ids": [c.commit_id for c in group],
                    "truth": {
                        "expected_hours": round(math.exp(log_expected), 4),
                        "size_coding_minutes": size,
                    },
                }
            )
    return prs


def write_pull_requests(truth: Truth, path: Path, *, seed: int = 0) -> Path:
    """Simulate the team's PRs and write them as a PR file at ``path`` (atomic)."""
    doc = {"schema_version": 1, "pull_requests": simulate_pull_requests(truth, seed=seed)}
    atomic_write_text(Path(path), json.dumps(doc, indent=1))
    return Path(path)
