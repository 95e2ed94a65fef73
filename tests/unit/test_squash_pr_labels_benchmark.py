"""benchmarks/squash_pr_labels.py on a real git repository: a GitHub-style squash merge, its pull
request ref with two commits, and the two labels the benchmark compares."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.benchmodule import load_benchmark

ROOT = Path(__file__).resolve().parents[2]
bench = load_benchmark("squash_pr_labels")
T0 = 1_700_000_000


def _commit(repo: Path, who: str, at: int, path: str, lines: int, subject: str,
            committer: str | None = None) -> str:  # fmt: skip
    (repo / path).write_text("".join(f"x{i} = {i}\n" for i in range(lines)))
    subprocess.run(["git", "-C", str(repo), "add", path], check=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": f"{who}@example.com",
           "GIT_AUTHOR_DATE": f"@{at} +0000", "GIT_COMMITTER_DATE": f"@{at} +0000",
           "GIT_COMMITTER_NAME": committer or who,
           "GIT_COMMITTER_EMAIL": committer or f"{who}@example.com"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", subject], check=True, env=env)
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


def test_a_squash_merge_gets_its_pull_requests_commit_times(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    base = _commit(repo, "alice", T0, "a.py", 5, "start")
    _commit(repo, "bob", T0 + 1800, "c.py", 2, "bob's earlier commit")
    # the pull request, branched from alice's commit: two commits half an hour apart
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-b", "pr", base], check=True)
    _commit(repo, "bob", T0 + 3600, "b.py", 8, "draft")
    head = _commit(repo, "bob", T0 + 5400, "b.py", 12, "finish")
    subprocess.run(["git", "-C", str(repo), "update-ref", "refs/pull/7/head", head], check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True)
    # GitHub's squash merge: committer noreply, author date = commit date = the merge time
    _commit(repo, "bob", T0 + 3 * 3600, "b.py", 12, "Add b (#7)", committer="noreply@github.com")
    _commit(repo, "bob", T0 + 4 * 3600, "d.py", 3, "Other (#8)", committer="noreply@github.com")
    rows, counts = bench.squash_rows(repo)
    # (lines added, minutes since bob's previous commit on main, 30 + the PR's capped gaps);
    # "(#8)" has no pull request ref and is left out
    assert rows == [(12, 150.0, 60.0)]
    assert counts == {"commits": 4, "squash_merges": 2, "with_pr_ref": 1, "pull_refs": 1}


def test_a_folder_that_is_no_repository_is_one_line_and_exit_2(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks/squash_pr_labels.py"),
                        str(tmp_path)], capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 2 and not r.stdout, r.stderr
    assert r.stderr.startswith(f"squash_pr_labels: {tmp_path}: not a readable git repository")
    assert len(r.stderr.strip().splitlines()) == 1
