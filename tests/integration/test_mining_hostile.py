"""Hostile-but-valid histories: commits that carry the log parser's marker bytes in their subject,
author name, email or a file path are mined like any other (issue 15 item 3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from gitrepos import BASE_TS, commit, git, init, py_lines

from standard_coder.sch.mining import MineOptions, iter_commits, mine_repositories

pytestmark = pytest.mark.integration

SEP = "\x1e\x1fSCH:"


def test_marker_bytes_in_subject_author_email_and_path(tmp_path: Path) -> None:
    repo = init(tmp_path / "hostile")
    commit(repo, {"a.py": py_lines(3)}, "first", ts=BASE_TS)
    evil = {
        "subject": commit(
            repo,
            {"a.py": py_lines(5)},
            f"fix {SEP}0000000000000000000000000000000000000000 x{SEP}",
            ts=BASE_TS + 60,
        ),
        "author": commit(
            repo,
            {"b.py": py_lines(2)},
            "name",
            author=(f"Mal{SEP}lory", f"mal{SEP}@example.com"),
            ts=BASE_TS + 120,
        ),
        "path": commit(repo, {f"odd{SEP}name.py": py_lines(4)}, "path", ts=BASE_TS + 180),
    }
    commit(repo, {"a.py": py_lines(7)}, "last", ts=BASE_TS + 240)
    n_listed = len(git(repo, "rev-list", "HEAD").split())
    assert n_listed == 5

    db = tmp_path / "mined.sqlite"
    summary = mine_repositories([repo], db, MineOptions())
    assert summary.errors == {}
    (rs,) = summary.repos
    assert rs.status == "mined"
    assert rs.commits_stored == 5

    got = {c.commit_id: c for c in iter_commits(db)}
    assert SEP in got[evil["subject"]].subject
    assert got[evil["author"]].author_name == f"Mal{SEP}lory"
    assert got[evil["author"]].author_id == f"mal{SEP}@example.com".lower()
    (f,) = got[evil["path"]].files
    assert f.path == f"odd{SEP}name.py"
    assert f.lines_added == 4
    # a rerun finds nothing to do
    again = mine_repositories([repo], db, MineOptions())
    assert again.repos[0].status == "unchanged"
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM commits").fetchone()[0] == 5
    con.close()
