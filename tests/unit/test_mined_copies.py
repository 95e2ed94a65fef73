"""One history stored under several repositories (a clone, fork or worktree beside its
repository): readers count each commit once, under the repository whose path sorts first
(``store.repeated_rows``); the mined tables as the mine writes them, filled directly."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from standard_coder.sch.mining.copies import repeated_rows, shared_histories
from standard_coder.sch.mining.store import connect, load_pull_times


def _commit(con: sqlite3.Connection, repo: str, cid: str, at: int) -> None:
    con.execute(
        "INSERT INTO commits (repo, commit_id, parents, author_name, author_email, author_id,"
        " authored_at, author_tz_offset_min, committed_at, subject, n_files, lines_added,"
        " lines_deleted, truncated) VALUES (?, ?, '', 'A', 'a@x', 'a@x', ?, 0, ?, 's', 1, 1, 0, 0)",
        (repo, cid, at, at),
    )


def _db(tmp_path: Path, paths: dict[str, str]) -> Path:
    db = tmp_path / "mined.sqlite"
    with closing(connect(db)) as con:
        for repo, path in paths.items():
            con.execute(
                "INSERT INTO repos (repo, path, name, is_shallow, is_bare) VALUES (?, ?, ?, 0, 0)",
                (repo, path, repo),
            )
    return db


def test_copies_count_under_the_repository_whose_path_sorts_first(tmp_path: Path) -> None:
    """The ids hash the path (``app-9f...`` may sort after ``app-bugfix-1c...``): the path
    orders them, so a worktree ``~/code/app-bugfix`` does not take the history of ``~/code/app``."""
    db = _db(tmp_path, {"app-9f": "/code/app", "app-bugfix-1c": "/code/app-bugfix"})
    with closing(connect(db)) as con:
        for repo in ("app-9f", "app-bugfix-1c"):
            _commit(con, repo, "c" * 40, 100)
        _commit(con, "app-bugfix-1c", "d" * 40, 200)
        assert repeated_rows(con) == {("app-bugfix-1c", "c" * 40): "app-9f"}
        # a squash merge whose pull request times only the copy's refs hold (a mirror beside a
        # plain clone of it): they time the commit where it counts
        con.execute(
            "INSERT INTO pull_commits VALUES ('app-bugfix-1c', ?, 'e', 50, 0, 'a@x')", ("c" * 40,)
        )
    assert load_pull_times(db) == {("app-9f", "c" * 40): [(50, 0)]}
    with closing(connect(db)) as con:
        assert shared_histories(con) == [("app-bugfix-1c", "app-9f", 1)]


def test_finding_copies_is_not_quadratic(tmp_path: Path) -> None:
    """20,000 commits in two clones: a join on the repeated ids without an index on the
    commit id took a minute (each repeat scanned the table); one window pass takes well
    under a second."""
    db = _db(tmp_path, {"a-1": "/code/a", "b-2": "/code/b"})
    with closing(connect(db)) as con:
        con.execute("BEGIN")
        for i in range(20_000):
            cid = hashlib.sha1(str(i).encode()).hexdigest()
            for repo in ("a-1", "b-2"):
                _commit(con, repo, cid, i)
        con.execute("COMMIT")
        t0 = time.perf_counter()
        repeats = repeated_rows(con)
        took = time.perf_counter() - t0
    assert len(repeats) == 20_000 and set(repeats.values()) == {"a-1"}
    assert took < 5.0, took
