"""``runner.dbrows``: whether a SQLite database output holds a row, read without writing (real
databases; a writer SIGKILLed in a real subprocess)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from standard_coder.runner.dbrows import holds_rows, is_database, tables
from standard_coder.runner.partial import NO, YES, kept_work, output_stats

WRITER = """
import os, signal, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA journal_mode=WAL")
con.execute("CREATE TABLE items (k, i, PRIMARY KEY (k, i))")
con.commit()
if sys.argv[2] == "row":
    con.execute("INSERT INTO items VALUES (1, 2)")
    con.commit()
os.kill(os.getpid(), signal.SIGKILL)
"""


def _execute(db: Path, *statements: str) -> None:
    """Run ``statements`` on ``db`` and commit (a writer that finished)."""
    with closing(sqlite3.connect(db)) as con:
        for sql in statements:
            con.execute(sql)
        con.commit()


def _killed_writer(db: Path, what: str) -> None:
    """A writer that made ``db`` in WAL mode, its schema and (``row``) one row, then was
    SIGKILLed: its commits sit in the ``-wal`` log, with its ``-shm`` index beside it."""
    res = subprocess.run([sys.executable, "-c", WRITER, str(db), what], timeout=60)
    assert res.returncode == -signal.SIGKILL


def _state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in ``folder`` but the ``-shm`` index: its bytes and mtime."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in folder.iterdir()
        if not p.name.endswith("-shm")
    }


def test_a_killed_writers_schema_alone_is_no_row_and_is_read_without_writing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "items.sqlite"
    _killed_writer(db, "schema")
    assert db.with_name("items.sqlite-wal").stat().st_size > 32  # the schema's frames
    left, names = _state(tmp_path), sorted(p.name for p in tmp_path.iterdir())
    assert is_database(db) and holds_rows(db) == NO
    assert _state(tmp_path) == left and sorted(p.name for p in tmp_path.iterdir()) == names
    rows = tmp_path / "rows" / "items.sqlite"
    rows.parent.mkdir()
    _killed_writer(rows, "row")
    assert holds_rows(rows) == YES


def test_a_closed_database_is_read_without_making_a_log(tmp_path: Path) -> None:
    """A database in WAL mode closed cleanly has no ``-wal`` or ``-shm``; reading it makes
    neither (SQLite makes both for a plain read-only open)."""
    db = tmp_path / "items.sqlite"
    with closing(sqlite3.connect(db)) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE items (i INTEGER PRIMARY KEY AUTOINCREMENT)")
        con.execute("INSERT INTO items DEFAULT VALUES")
        con.execute("DELETE FROM items")  # sqlite_sequence keeps a row: SQLite's, not work
        con.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.sqlite"]
    assert holds_rows(db) == NO
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.sqlite"]
    _execute(db, "INSERT INTO items DEFAULT VALUES")
    assert holds_rows(db) == YES


def test_a_locked_or_corrupt_database_cannot_be_told(tmp_path: Path) -> None:
    db = tmp_path / "items.sqlite"
    with closing(sqlite3.connect(db, isolation_level=None)) as con:
        con.execute("CREATE TABLE items (i)")
        con.execute("BEGIN EXCLUSIVE")  # a writer holds it (rollback journal mode)
        con.execute("INSERT INTO items VALUES (1)")
        why = holds_rows(db).why
        assert why is not None and why.startswith(f"{db}: ") and "locked" in why, why
        con.execute("ROLLBACK")
    assert holds_rows(db) == NO
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(db.read_bytes()[:100] + b"\xff" * 4000)  # its header, then garbage
    why = holds_rows(bad).why
    assert why is not None and why.startswith(f"{bad}: "), why
    (tmp_path / "notes.txt").write_text("SQLite\n")
    assert not is_database(tmp_path / "notes.txt") and not is_database(tmp_path / "absent")


def test_a_new_database_with_no_row_is_no_kept_work(tmp_path: Path) -> None:
    """What a stop compares: a database made since the stage started that holds no row is no
    work (as an empty folder); one whose rows cannot be read is not "nothing": the runner
    cannot tell."""
    db, cdir = tmp_path / "out" / "items.sqlite", tmp_path / "ckpt"
    db.parent.mkdir()
    cdir.mkdir()
    before = output_stats([db])
    _killed_writer(db, "schema")
    assert kept_work(cdir, [db], before) == NO
    with closing(sqlite3.connect(db, isolation_level=None)) as con:
        con.execute("PRAGMA locking_mode=EXCLUSIVE")  # held from the first read on
        con.execute("SELECT 1 FROM items").fetchall()
        kept = kept_work(cdir, [db], before)
        assert kept.unknown and "locked" in str(kept.why), kept
        con.execute("INSERT INTO items VALUES (1, 1)")
    assert kept_work(cdir, [db], before).yes


@pytest.mark.parametrize("size", [0, 32])
def test_a_log_with_no_frame_is_not_read_as_rows(tmp_path: Path, size: int) -> None:
    """A log of an opened database (empty, or its header alone) beside a database with a row:
    the file alone is read, and holds it."""
    db = tmp_path / "items.sqlite"
    _execute(
        db, "PRAGMA journal_mode=WAL", "CREATE TABLE items (i)", "INSERT INTO items VALUES (1)"
    )
    db.with_name("items.sqlite-wal").write_bytes(b"\0" * size)
    assert holds_rows(db) == YES


VTAB_WRITER = """
import os, signal, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA journal_mode=WAL")
con.execute("CREATE VIRTUAL TABLE f USING fts5(a)")
con.execute("CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)")
con.commit()
if sys.argv[2] == "row":
    con.execute("INSERT INTO f VALUES ('a row')")
    con.commit()
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("what", ["schema", "row"])
def test_the_shadow_tables_of_a_virtual_table_are_no_rows(tmp_path: Path, what: str) -> None:
    """Session 42: FTS5 and R*Tree keep shadow tables (``f_data``, ``f_config``, ``r_node``)
    that hold rows from the moment ``CREATE VIRTUAL TABLE`` made them, so a writer killed right
    after it was taken for kept work. Shadow tables are not looked at; a virtual table holds
    what its module shows (an FTS5 row counts)."""
    db = tmp_path / "index.sqlite"
    res = subprocess.run([sys.executable, "-c", VTAB_WRITER, str(db), what], timeout=60)
    assert res.returncode == -signal.SIGKILL
    assert holds_rows(db) == (YES if what == "row" else NO)


def test_shadow_tables_are_told_apart_with_and_without_table_list(tmp_path: Path) -> None:
    """``PRAGMA table_list`` (SQLite 3.37 on) says which tables are shadow and virtual; on an
    older SQLite the names and ``sqlite_master.sql`` say the same: a user's table named like a
    shadow table of no virtual table, or with another suffix, is a table of its own."""
    db = tmp_path / "index.sqlite"
    with closing(sqlite3.connect(db)) as con:
        con.execute("CREATE VIRTUAL TABLE f USING fts5(a)")
        con.execute("create  virtual table R using rtree(id, x0, x1)")
        con.execute("CREATE TABLE f_notes (a)")  # not a suffix FTS5 uses
        con.execute("CREATE TABLE g_data (a)")  # g is no virtual table
        con.execute("CREATE TABLE items (i INTEGER PRIMARY KEY AUTOINCREMENT)")
        con.commit()
        expected = (["f_notes", "g_data", "items"], ["R", "f"])
        modes: list[bool] = [False]
        if sqlite3.sqlite_version_info >= (3, 37):
            modes.append(True)
        for table_list in modes:
            plain, virtual = tables(con, table_list=table_list)
            assert (sorted(plain), sorted(virtual)) == expected, table_list
    assert holds_rows(db) == NO
    _execute(db, "INSERT INTO g_data VALUES (1)")
    assert holds_rows(db) == YES


def test_a_virtual_table_of_a_module_this_sqlite_lacks_cannot_be_told(tmp_path: Path) -> None:
    db = tmp_path / "vec.sqlite"
    with closing(sqlite3.connect(db, isolation_level=None)) as con:
        con.execute("CREATE TABLE items (i)")
        con.execute("PRAGMA writable_schema=ON")  # as a database made with an extension loaded
        con.execute(
            "INSERT INTO sqlite_master VALUES "
            "('table', 'v', 'v', 0, 'CREATE VIRTUAL TABLE v USING vec0(a)')"
        )
    why = holds_rows(db).why
    assert why == f"{db}: virtual table v: no such module: vec0 (not in this SQLite)", why
    with closing(sqlite3.connect(db, isolation_level=None)) as con:
        con.execute("INSERT INTO items VALUES (1)")
    assert holds_rows(db) == YES  # a row elsewhere says it, whatever v holds


HOT_WRITER = """
import os, signal, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("CREATE TABLE items (i)")
con.execute("PRAGMA cache_size=1")  # pages spill to the file mid-transaction
con.execute("BEGIN")
con.executemany("INSERT INTO items VALUES (?)", [("x" * 1000,) for _ in range(2000)])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_hot_journal_is_named_as_a_write_cut_short(tmp_path: Path) -> None:
    """A writer killed mid-transaction (rollback journal) leaves a hot ``-journal``; a
    read-only open cannot roll it back, and SQLite says ``attempt to write a readonly
    database``, as if the runner had tried to write. The reason now says what it is."""
    db = tmp_path / "items.sqlite"
    res = subprocess.run([sys.executable, "-c", HOT_WRITER, str(db)], timeout=60)
    assert res.returncode == -signal.SIGKILL
    journal = db.with_name("items.sqlite-journal")
    assert journal.stat().st_size > 0
    left = _state(tmp_path)
    found = holds_rows(db)
    assert (
        found.unknown
        and found.why
        == f"{db}: a hot -journal: a write was cut short (the next writer rolls it back)"
    )
    assert _state(tmp_path) == left  # nothing rolled back, nothing written
