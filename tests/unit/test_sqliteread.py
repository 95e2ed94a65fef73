"""``runner.sqliteread.connect_readonly``: reads without leaving ``-wal``/``-shm`` files, and
never makes or changes the database."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from standard_coder.runner.sqliteread import connect_readonly


def _wal_db(path: Path) -> None:
    with closing(sqlite3.connect(path)) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE t (x INTEGER)")
        con.execute("INSERT INTO t VALUES (1)")
        con.commit()


def test_reads_a_wal_database_and_leaves_the_folder_as_it_found_it(tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite"
    _wal_db(db)
    before = db.read_bytes()
    with closing(connect_readonly(db)) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(1,)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            con.execute("INSERT INTO t VALUES (2)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.sqlite"]
    assert db.read_bytes() == before


def test_a_database_gone_since_raises_and_is_not_made(tmp_path: Path) -> None:
    """A reader racing the quarantine of a corrupt file (moved away between the check and the
    open) must not leave an empty database where it was."""
    with pytest.raises(sqlite3.OperationalError):
        connect_readonly(tmp_path / "gone.sqlite")
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_no_database_raises(tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite"
    db.write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        connect_readonly(db)
