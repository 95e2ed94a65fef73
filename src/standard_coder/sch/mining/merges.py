"""Merge commits' and other commits' author times: when someone was at the keyboard without
making a change the effort model sees.

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

A commit that touches no file of an enabled language (``skipped_commits``, reason
``no_language_files``: documentation, CI, packaging, configuration) is its author's work too, and
the same kind of event: without it, the interval of the author's next mined commit spans it and
prices its work as that commit's. :func:`other_commit_times` reads their times (the same fields,
one ``git log --no-walk`` over their ids), the mine keeps them in ``other_commits``
(:func:`replace_other_commits`) and :func:`load_other_times` reads them back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from standard_coder.sch.mining.filters import AuthorRule, author_identity
from standard_coder.sch.mining.gitlog import decode, parse_tz_offset, run_git

__all__ = [
    "EventCommit",
    "load_merge_times",
    "load_other_times",
    "merge_times",
    "other_commit_times",
    "replace_merge_commits",
    "replace_other_commits",
]

EventCommit = tuple[str, int, int, str]
"""``(commit id, authored_at, tz offset minutes, author id)`` of a merge or of a commit touching no
enabled language: an event in its author's timeline, never a change."""

EventTimes = dict[str, list[tuple[int, int, tuple[str, str]]]]
"""author id -> ``(authored_at, tz offset, (repo, commit id))``, oldest first."""


def merge_times(path: Path, authors: AuthorRule, since: int | None) -> list[EventCommit]:
    """The merge commits reachable from ``HEAD`` of the repository at ``path`` whose author the
    filter ``authors`` keeps, authored at or after ``since`` (unix seconds; None: all), sorted
    by ``(authored_at, id)``. The author id is the lower-cased mailmapped email, as a mined
    commit's."""
    fields = run_git(path, "log", "--merges", "-z", f"--format={_FORMAT}", "HEAD", "--").split(
        b"\x00"
    )
    return _author_times(fields, authors, since)


def other_commit_times(path: Path, ids: Sequence[str], authors: AuthorRule) -> list[EventCommit]:
    """The commits ``ids`` of the repository at ``path`` (mined and skipped as touching no file
    of an enabled language) as ``(id, authored_at, tz offset, author id)`` rows whose author the
    filter ``authors`` keeps, sorted as :func:`merge_times`'s."""
    if not ids:
        return []
    fields = run_git(
        path, "log", "--no-walk=unsorted", "--stdin", "-z", f"--format={_FORMAT}",
        stdin="".join(f"{i}\n" for i in ids).encode("ascii"),
    ).split(b"\x00")  # fmt: skip
    return _author_times(fields, authors, None)


_FORMAT = "%H%x00%aN%x00%aE%x00%at%x00%ai"


def _author_times(
    fields: Sequence[bytes], authors: AuthorRule, since: int | None
) -> list[EventCommit]:
    """``git log -z --format=_FORMAT`` records as rows (see :func:`merge_times`)."""
    verdict: dict[tuple[str, str], bool] = {}
    out: list[EventCommit] = []
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
            out.append((sha, at, tz, author_identity(email, name)))
    out.sort(key=lambda r: (r[1], r[0]))
    return out


def replace_merge_commits(con: sqlite3.Connection, repo: str, rows: Sequence[EventCommit]) -> None:
    """Set ``repo``'s merge commit rows to ``rows`` (caller's transaction)."""
    _replace(con, "merge_commits", repo, rows)


def replace_other_commits(con: sqlite3.Connection, repo: str, rows: Sequence[EventCommit]) -> None:
    """Set ``repo``'s other commit rows (no enabled language) to ``rows`` (caller's transaction)."""
    _replace(con, "other_commits", repo, rows)


def _replace(con: sqlite3.Connection, table: str, repo: str, rows: Sequence[EventCommit]) -> None:
    con.execute(f"DELETE FROM {table} WHERE repo = ?", (repo,))
    con.executemany(
        f"INSERT OR REPLACE INTO {table} VALUES (?,?,?,?,?)", [(repo, *r) for r in rows]
    )


def load_merge_times(db_path: Path) -> EventTimes:
    """Every author's merge times from the mined database (empty for a database mined before
    the table existed)."""
    return _load(db_path, "merge_commits")


def load_other_times(db_path: Path) -> EventTimes:
    """Every author's times of commits that touch no enabled language (empty for a database
    mined before the table existed)."""
    return _load(db_path, "other_commits")


def _load(db_path: Path, table: str) -> EventTimes:
    from standard_coder.sch.mining.copies import repeated_rows
    from standard_coder.sch.mining.store import _corruption_named, open_readonly

    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        if not con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone():
            return {}
        rows = con.execute(
            "SELECT author_id, authored_at, author_tz_offset_min, repo, commit_id"
            f" FROM {table} ORDER BY author_id, authored_at, repo, commit_id"
        ).fetchall()
        repeats = repeated_rows(con, table)  # one history through several clones: once
    out: EventTimes = {}
    for author, at, tz, repo, cid in rows:
        if repeats and (repo, cid) in repeats:
            continue
        out.setdefault(str(author), []).append((int(at), int(tz), (str(repo), str(cid))))
    return out
