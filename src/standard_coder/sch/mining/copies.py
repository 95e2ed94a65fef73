"""One history in several repositories: a clone or fork beside its upstream, a worktree beside
its repository (``~/code/*`` often holds both). The mine stores each repository's commits in its
own rows, so the database stays a clean mine of the config; every reader counts a commit once,
under the repository whose path sorts first among those holding it (:func:`repeated_rows`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter


def repeated_rows(con: sqlite3.Connection, table: str = "commits") -> dict[tuple[str, str], str]:
    """``(repo, commit_id) -> first`` for the rows of ``table`` that repeat a commit stored under
    another repository, ``first``, whose path sorts first among those holding it: one history
    mined through several clones, worktrees or forks. Every reader of commits counts each commit
    once, under ``first``. Empty, at the cost of two index lookups, for a single repository."""
    lo, hi = con.execute(f"SELECT MIN(repo), MAX(repo) FROM {table}").fetchone()
    if (
        lo == hi
        or not con.execute(  # unrelated repositories: one pass, no window
            f"SELECT 1 FROM {table} GROUP BY commit_id HAVING COUNT(*) > 1 LIMIT 1"
        ).fetchone()
    ):
        return {}
    rows = con.execute(
        "SELECT repo, commit_id, first FROM (SELECT t.repo, t.commit_id, FIRST_VALUE(t.repo)"
        " OVER (PARTITION BY t.commit_id ORDER BY COALESCE(r.path, t.repo), t.repo) AS first"
        f" FROM {table} t LEFT JOIN repos r ON r.repo = t.repo) WHERE repo != first"
    ).fetchall()
    return {(str(r), str(c)): str(f) for r, c, f in rows}


def shared_histories(con: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """``(repo, first, n)``: ``n`` commits of ``repo`` are also stored under ``first`` (a clone,
    worktree or fork of one history) and count there (:func:`repeated_rows`), by repo."""
    pairs = Counter((repo, first) for (repo, _), first in repeated_rows(con).items())
    return [(repo, first, n) for (repo, first), n in sorted(pairs.items())]
