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


SHADOW_SUFFIXES = frozenset(
    {"data", "idx", "content", "docsize", "config", "segments", "segdir", "stat"}  # FTS3-5
    | {"node", "rowid", "parent"}  # R*Tree, Geopoly
)
"""What follows ``<virtual table>_`` in the names of the shadow tables SQLite's own virtual
table modules keep (``f_data``, ``f_config``, ... of ``f USING fts5``): the names
:func:`tables` goes by where ``PRAGMA table_list`` (SQLite 3.37) does not say which they are."""

HOT_JOURNAL = "a hot -journal: a write was cut short (the next writer rolls it back)"
"""The reason given for a database that a rollback ``-journal`` left by a writer stopped in a
write makes unreadable read-only (SQLite says ``attempt to write a readonly database``, as if
the runner had tried to write)."""


def tables(
    con: sqlite3.Connection, *, table_list: bool | None = None
) -> tuple[list[str], list[str]]:
    """The ordinary tables and the virtual tables of ``con``'s main database, SQLite's own
    (``sqlite_*``) and the shadow tables of virtual tables aside: those hold rows from the
    moment their virtual table is made (FTS5's ``f_data`` and ``f_config``), so they are work
    only as their virtual table shows it.

    Args:
        con: an open connection.
        table_list: ask ``PRAGMA table_list``, whose ``type`` says ``shadow`` and ``virtual``
            (True), or read ``sqlite_master``, a virtual table's ``sql`` starting ``CREATE
            VIRTUAL TABLE`` and its shadow tables by name (False); None: the pragma where
            SQLite has it (3.37 on: older versions ignore an unknown pragma).
    """
    if table_list is None:
        table_list = sqlite3.sqlite_version_info >= (3, 37)
    if table_list:
        rows = con.execute("PRAGMA main.table_list").fetchall()
        kinds = [(str(row[1]), str(row[2])) for row in rows]
    else:
        master = "SELECT name, sql FROM main.sqlite_master WHERE type = 'table'"
        found = [(str(name), str(sql or "")) for name, sql in con.execute(master).fetchall()]
        virtual = {
            name.lower()
            for name, sql in found
            if " ".join(sql.split()[:3]).upper() == "CREATE VIRTUAL TABLE"
        }
        kinds = []
        for name, _ in found:
            stem, _, suffix = name.lower().rpartition("_")
            if name.lower() in virtual:
                kinds.append((name, "virtual"))
            elif stem in virtual and suffix in SHADOW_SUFFIXES:
                kinds.append((name, "shadow"))
            else:
                kinds.append((name, "table"))
    own = [(name, kind) for name, kind in kinds if not name.lower().startswith("sqlite_")]
    return (
        [name for name, kind in own if kind == "table"],
        [name for name, kind in own if kind == "virtual"],
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def holds_rows(path: Path, only: frozenset[str] | None = None) -> Finding:
    """Whether the SQLite database ``path`` holds a row in any of its own tables (SQLite's
    ``sqlite_*`` tables aside; a virtual table by what its module shows, its shadow tables
    not looked at: :func:`tables`; ``only``: of those, the tables named there, where the others
    hold bookkeeping, not work), as its last commit left it (its ``-wal`` log included):
    yes, no, or unknown and why (``PATH: REASON``): locked by a writer, corrupt, a hot
    ``-journal`` (a write cut short: :data:`HOT_JOURNAL`), a log with no ``-shm`` index beside
    it, a virtual table whose module this SQLite lacks."""
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
    unread: str | None = None
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)) as con:
            plain, virtual = tables(con)
            if only is not None:
                plain, virtual = [t for t in plain if t in only], [t for t in virtual if t in only]
            for name in plain:
                if con.execute(f"SELECT 1 FROM {_quoted(name)} LIMIT 1").fetchone() is not None:
                    return YES
            for name in virtual:  # through its module, which reads its shadow tables
                try:
                    row = con.execute(f"SELECT 1 FROM {_quoted(name)} LIMIT 1").fetchone()
                except sqlite3.OperationalError as exc:
                    if "no such module" not in str(exc):
                        raise
                    unread = unread or f"virtual table {name}: {exc} (not in this SQLite)"
                    continue
                if row is not None:
                    return YES
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY_ROLLBACK":
            return cannot_tell(f"{path}: {HOT_JOURNAL}")
        return cannot_tell(f"{path}: {exc}")
    return NO if unread is None else cannot_tell(f"{path}: {unread}")
