"""Whether a SQLite database output holds any row: a stage that made its database and its
schema and was stopped (or killed) before its first row left nothing a rerun continues.

Read only, never written: the database is opened ``mode=ro``, with no wait for a lock (SQLite
writes nothing to it or to its ``-wal`` log; as every reader of a log it marks its read in the
``-shm`` index), and a database in WAL mode whose log holds no frame as ``immutable`` (the file
alone is the database then, and opening it so makes no ``-wal`` or ``-shm`` file beside it).
``sqlite3`` only.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from standard_coder.runner.finding import NO, YES, Finding, cannot_tell

MAGIC = b"SQLite format 3\0"
"""The first 16 bytes of every SQLite database file."""

WAL_SUFFIX = "-wal"
"""A SQLite database's write-ahead log beside it (``mined_commits.sqlite-wal``): committed work
sits there until a checkpoint copies it into the database (the mine's database uses one), so
a file output's work is the file and its log."""

WAL_HEADER = 32
"""Bytes of a SQLite log's header: opening a database in WAL mode makes the log (empty, or this
header alone); a log longer than this holds a frame, a committed write."""


def _header(path: Path) -> bytes:
    """The first 20 bytes of ``path`` (fewer: a shorter or unreadable file)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(20)
    except OSError:
        return b""


def is_database(path: Path) -> bool:
    """Whether the file ``path`` starts as a SQLite database (False: unreadable, or another
    kind of file)."""
    return _header(path).startswith(MAGIC)


def holds_rows(path: Path) -> Finding:
    """Whether the SQLite database ``path`` holds a row in any of its own tables (SQLite's
    ``sqlite_*`` tables aside), as its last commit left it (its ``-wal`` log included): yes,
    no, or unknown and why (``PATH: REASON``): locked by a writer, corrupt, a hot
    ``-journal`` (a write under way or cut short), a log with no ``-shm`` index beside it."""
    wal = path.with_name(path.name + WAL_SUFFIX)
    try:
        framed = wal.stat().st_size > WAL_HEADER
    except FileNotFoundError:
        framed = False
    except OSError as exc:
        return cannot_tell(f"{wal}: {exc.strerror or type(exc).__name__}")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if _header(path)[18:20] == b"\2\2" and not framed:  # WAL mode, the file alone holds all
        uri += "&immutable=1"  # else SQLite makes a -wal and a -shm beside it to read it
    elif framed and not path.with_name(path.name + "-shm").exists():
        return cannot_tell(f"{wal}: its -shm index is missing (reading the log would make one)")
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)) as con:
            tables = "SELECT name FROM sqlite_master WHERE type = 'table'"
            for (name,) in con.execute(tables).fetchall():
                if name.startswith("sqlite_"):
                    continue
                quoted = '"' + name.replace('"', '""') + '"'
                if con.execute(f"SELECT 1 FROM {quoted} LIMIT 1").fetchone() is not None:
                    return YES
    except sqlite3.Error as exc:
        return cannot_tell(f"{path}: {exc}")
    return NO
