"""Merge commits' author times: when someone was at the keyboard without making a change.

The mine stores non-merge commits only, but a merge commit is its author's own act at its author
date: a maintainer pressing GitHub's "Merge pull request" button (the merge is authored by them),
or merging a branch locally. Work inference puts these times in the author's timeline as events
that are not changes (``work_inference.pulls.with_merge_events``), so the interval before the
author's next commit starts at their last merge instead of at their previous commit, hours or
days earlier, and review-and-merge time is not priced as the next change's coding.

:func:`merge_times` reads them from git (merges reachable from ``HEAD``, mailmapped, the author
filter applied, none older than the repository's oldest mined commit); the mine keeps them in the
``merge_commits`` table (:func:`replace_merge_commits`), and :func:`load_merge_times` reads them
back for the stage without running git.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from standard_coder.sch.mining.filters import AuthorRule
from standard_coder.sch.mining.gitlog import decode, parse_tz_offset, run_git

__all__ = ["MergeCommit", "load_merge_times", "merge_times", "replace_merge_commits"]

MergeCommit = tuple[str, int, int, str]
"""``(merge commit id, authored_at, tz offset minutes, author id)``."""

MergeTimes = dict[str, list[tuple[int, int, tuple[str, str]]]]
"""author id -> ``(authored_at, tz offset, (repo, merge commit id))``, oldest first."""


def merge_times(path: Path, authors: AuthorRule, since: int | None) -> list[MergeCommit]:
    """The merge commits reachable from ``HEAD`` of the repository at ``path`` whose author the
    filter ``authors`` keeps, authored at or after ``since`` (unix seconds; None: all), sorted
    by ``(authored_at, id)``. The author id is the lower-cased mailmapped email, as a mined
    commit's."""
    fields = run_git(
        path, "log", "--merges", "-z", "--format=%H%x00%aN%x00%aE%x00%at%x00%ai", "HEAD", "--"
    ).split(b"\x00")
    verdict: dict[tuple[str, str], bool] = {}
    out: list[MergeCommit] = []
    for i in range(0, len(fields) - 4, 5):
        sha = fields[i].strip().decode("ascii", "replace")
        stamp = fields[i + 3].strip()
        if not sha or not stamp.isdigit():
            continue
        at = int(stamp)
        if since is not None and at < since:
            continue
        name, email = decode(fields[i + 1]), decode(fields[i + 2])
        ok = verdict.get((name, email))
        if ok is None:
            ok = verdict[(name, email)] = authors.allows(name, email)
        if ok:
            tz = parse_tz_offset(decode(fields[i + 4]).rsplit(" ", 1)[-1])
            out.append((sha, at, tz, email.strip().lower()))
    out.sort(key=lambda r: (r[1], r[0]))
    return out


def replace_merge_commits(con: sqlite3.Connection, repo: str, rows: Sequence[MergeCommit]) -> None:
    """Set ``repo``'s merge commit rows to ``rows`` (caller's transaction)."""
    con.execute("DELETE FROM merge_commits WHERE repo = ?", (repo,))
    con.executemany(
        "INSERT OR REPLACE INTO merge_commits VALUES (?,?,?,?,?)", [(repo, *r) for r in rows]
    )


def load_merge_times(db_path: Path) -> MergeTimes:
    """Every author's merge times from the mined database (empty for a database mined before
    the table existed)."""
    from standard_coder.sch.mining.store import _corruption_named, open_readonly

    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        if not con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'merge_commits'"
        ).fetchone():
            return {}
        rows = con.execute(
            "SELECT author_id, authored_at, author_tz_offset_min, repo, commit_id"
            " FROM merge_commits ORDER BY author_id, authored_at, repo, commit_id"
        ).fetchall()
    out: MergeTimes = {}
    for author, at, tz, repo, cid in rows:
        out.setdefault(str(author), []).append((int(at), int(tz), (str(repo), str(cid))))
    return out
