"""GitHub web merges are recognised from the mined committer (their time is not authoring time)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gitrepos import BASE_TS, commit, init
from test_mining_repos import options

from standard_coder.sch.mining import mine_repositories
from standard_coder.sch.mining.store import connect, merge_stamped_commits

GITHUB = ("GitHub", "noreply@github.com")


def _history(root: Path) -> dict[str, str]:
    repo = init(root / "r")
    return {
        "local": commit(repo, {"a.py": "x = 1\n"}, "local work", ts=BASE_TS),
        # "Squash and merge": GitHub commits with author date = commit date = merge time
        "squash": commit(
            repo, {"b.py": "y = 2\n"}, "Feature (#12)", ts=BASE_TS + 7200, committer=GITHUB
        ),
        # "Rebase and merge": GitHub is the committer but the author date is kept
        "rebased": commit(
            repo,
            {"c.py": "z = 3\n"},
            "Fix",
            ts=BASE_TS + 9000,
            committer_ts=BASE_TS + 90000,
            committer=GITHUB,
        ),
        # a maintainer's own squash: author and commit dates equal, committer not GitHub
        "own": commit(repo, {"d.py": "w = 4\n"}, "Release", ts=BASE_TS + 99000),
    }


def test_squash_merges_by_github_are_flagged_and_nothing_else(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    db = tmp_path / "out" / "raw" / "mined_commits.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    with sqlite3.connect(db) as con:
        stored = dict(con.execute("SELECT commit_id, committer_email FROM commits").fetchall())
    assert stored[ids["squash"]] == stored[ids["rebased"]] == "noreply@github.com"
    assert stored[ids["local"]] == stored[ids["own"]] == "committer@example.com"
    assert {c for _, c in merge_stamped_commits(db)} == {ids["squash"]}


def test_a_database_mined_before_the_column_gains_it_and_flags_nothing(tmp_path: Path) -> None:
    _history(tmp_path)
    db = tmp_path / "out" / "raw" / "mined_commits.sqlite"
    mine_repositories([tmp_path / "r"], db, options(tmp_path))
    with sqlite3.connect(db) as con:  # as an older version wrote it
        con.execute("ALTER TABLE commits DROP COLUMN committer_email")
    connect(db).close()  # the next run's connection adds the column back, rows unknown (NULL)
    with sqlite3.connect(db) as con:
        assert (
            con.execute("SELECT count(*) FROM commits WHERE committer_email IS NULL").fetchone()[0]
            == 4
        )
    assert merge_stamped_commits(db) == set()
