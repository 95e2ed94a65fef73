"""Is the mined-commits database sound? A header check plus SQLite's ``PRAGMA quick_check``.

A torn write, a bad disk block or a stray edit can leave ``raw/mined_commits.sqlite`` unreadable
(garbled header, truncated file), readable with broken pages mid-file, or structurally sound with
wrong content (bytes garbled inside a row: a diff, a blob, an overflow page), which
``quick_check`` cannot see. For that last kind a finished mine stamps the file's own checksum into
its header (:func:`stamp_digest`, 8 bytes: ``user_version`` and ``application_id``); while the
file is as that mine left it (its ``layout`` mark present) :func:`check_database` verifies it.
The mine stage checks the file before it mines into it and again before it records it as its
output; a corrupt one is set aside (never deleted) and mined again. Readers turn SQLite's
corruption errors into :class:`CorruptDatabaseError`, whose message names the file and says what
to do.

Example:
    >>> reason = check_database(db)      # None when sound (or absent)
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

__all__ = [
    "LAYOUT_KEY",
    "CorruptDatabaseError",
    "check_database",
    "file_digest",
    "is_corruption",
    "set_aside_if_corrupt",
    "stamp_digest",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
MAX_REPORTED = 3
#: ``meta`` key present (value ``canonical``) only while the file is as the last finished mine's
#: canonical rewrite left it (any write transaction deletes it).
LAYOUT_KEY = "layout"
#: Header bytes that hold the stamp: ``user_version`` (60-63) and ``application_id`` (68-71),
#: read by nobody else and never touched by SQLite itself.
_STAMP_AT = ((60, 64), (68, 72))
_READ = 1 << 20


def file_digest(path: Path) -> bytes:
    """The 8-byte stamp of ``path``: sha256 of the file with the stamp's own bytes zeroed.

    Its byte 4 (``application_id``'s first) has its top bit set, so a stamped file's
    ``application_id`` is never 0 (0 means "not stamped").
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        head = bytearray(fh.read(HEADER_BYTES))
        for a, b in _STAMP_AT:
            head[a:b] = bytes(b - a)
        h.update(head)
        while chunk := fh.read(_READ):
            h.update(chunk)
    stamp = bytearray(h.digest()[:8])
    stamp[4] |= 0x80
    return bytes(stamp)


def _stored_stamp(header: bytes) -> bytes:
    return b"".join(header[a:b] for a, b in _STAMP_AT)


def stamp_digest(path: Path) -> bytes:
    """Write :func:`file_digest` into ``path``'s header (no connection may have it open)."""
    stamp = file_digest(path)
    with Path(path).open("r+b") as fh:
        for (a, _b), part in zip(_STAMP_AT, (stamp[:4], stamp[4:]), strict=True):
            fh.seek(a)
            fh.write(part)
    return stamp


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
    per few hundred MB). A file still as the last finished mine left it (``layout`` mark and a
    header stamp) must also match its stamp (:func:`file_digest`, one more read of the file): a
    byte garbled inside a row is caught too. I/O errors propagate as
    ``OSError``/``sqlite3.OperationalError``.
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
            marked = _layout_marked(con) if rows == [("ok",)] else False
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
        stamp = _stored_stamp(header)
        if marked and any(stamp) and file_digest(path) != stamp:
            return (
                "its content does not match the checksum its last mine stamped in the header "
                "(bytes garbled inside a row)"
            )
        return None
    more = f" (+{len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
    return "integrity check failed: " + "; ".join(problems[:MAX_REPORTED]) + more


def _layout_marked(con: sqlite3.Connection) -> bool:
    """True when the ``layout`` mark says the file is as its last canonical rewrite left it."""
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (LAYOUT_KEY,)).fetchone()
    except sqlite3.OperationalError:  # no meta table: not a mined database of ours
        return False
    return row is not None and row[0] == "canonical"


def set_aside_if_corrupt(path: Path, set_aside: Callable[[Path], Path]) -> tuple[str, Path] | None:
    """Check ``path``; when corrupt, move it with ``set_aside`` (e.g. the runner's quarantine).

    Returns ``(reason, new path)`` when it was set aside, else ``None``.
    """
    reason = check_database(path)
    if reason is None:
        return None
    return reason, set_aside(Path(path))
