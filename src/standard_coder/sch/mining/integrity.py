"""Is the mined-commits database sound? A header check plus SQLite's ``PRAGMA quick_check``.

A torn write, a bad disk block or a stray edit can leave ``raw/mined_commits.sqlite`` unreadable
(garbled header, truncated file) or readable with broken pages mid-file. The mine stage checks the
file before it mines into it and again before it records it as its output; a corrupt one is set
aside (never deleted) and mined again. Readers turn SQLite's corruption errors into
:class:`CorruptDatabaseError`, whose message names the file and says what to do.

Example:
    >>> reason = check_database(db)      # None when sound (or absent)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

__all__ = ["CorruptDatabaseError", "check_database", "is_corruption", "set_aside_if_corrupt"]

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
MAX_REPORTED = 3


class CorruptDatabaseError(ValueError):
    """The mined database is corrupt; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: Path, reason: str, *, hint: str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.hint = hint or (
            "run the pipeline again: the mine stage sets a corrupt database aside and mines "
            "the repositories again"
        )
        super().__init__(f"{self.path}: mined database is corrupt ({reason}); {self.hint}")


def is_corruption(exc: BaseException) -> bool:
    """True for SQLite's "not a database" / "malformed" errors, not for I/O, locks or disk full.

    ``sqlite3.OperationalError`` (locked, unable to open, disk I/O error, full) is a subclass
    of ``DatabaseError`` and is left out: those say nothing about the file's content.
    """
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)


def check_database(path: Path) -> str | None:
    """Why ``path`` is not a sound SQLite database, or ``None`` (sound, empty or absent).

    Reads the 100-byte header (magic string, page size, declared page count against the file
    size) and runs ``PRAGMA quick_check`` (every page and index entry read once: about a second
    per few hundred MB). I/O errors propagate as ``OSError``/``sqlite3.OperationalError``.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None  # SQLite treats an empty file as an empty database
    with path.open("rb") as fh:
        header = fh.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES or not header.startswith(SQLITE_MAGIC):
        return "not an SQLite database: the file header is garbled or cut short"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"the header's page size ({page_size}) is invalid"
    n_pages = int.from_bytes(header[28:32], "big")
    counter_valid = header[24:28] == header[92:96]
    if counter_valid and n_pages and size < n_pages * page_size:
        return f"truncated: {size} bytes, the header declares {n_pages * page_size}"
    try:
        with closing(sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)) as con:
            rows = con.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        return str(exc)
    problems = [
        line.strip()
        for r in rows
        if r and r[0] != "ok"
        for line in str(r[0]).splitlines()
        if line.strip() and not line.startswith("***")
    ]
    if not problems:
        return None
    more = f" (+{len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
    return "integrity check failed: " + "; ".join(problems[:MAX_REPORTED]) + more


def set_aside_if_corrupt(path: Path, set_aside: Callable[[Path], Path]) -> tuple[str, Path] | None:
    """Check ``path``; when corrupt, move it with ``set_aside`` (e.g. the runner's quarantine).

    Returns ``(reason, new path)`` when it was set aside, else ``None``.
    """
    reason = check_database(path)
    if reason is None:
        return None
    return reason, set_aside(Path(path))
