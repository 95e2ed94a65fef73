"""A read-only SQLite connection that leaves the folder as it found it.

SQLite's read-only mode (``mode=ro``) makes the ``-wal`` and ``-shm`` files a WAL database needs
and leaves them behind on close; the last *writable* connection to close removes them. So where
the file and its folder may be written, the connection is a writable one that refuses writes
(``PRAGMA query_only``); elsewhere (a read-only mount, another user's results) it is ``mode=ro``,
or immutable where SQLite could not make the ``-shm`` it needs.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from standard_coder.runner.dbrows import WAL_HEADER, WAL_SUFFIX


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection to the existing database ``path`` that cannot write to it (nor make it: a
    file gone since, set aside by another process, raises rather than being made empty). A WAL
    database closed cleanly has no ``-shm`` file, and SQLite cannot make one in a folder it may
    not write: there the file is opened as immutable, which is true of it while the folder is
    read-only and no ``-wal`` beside it holds committed pages (else the error is raised)."""
    uri = path.resolve().as_uri()
    if path.is_file() and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        conn = sqlite3.connect(f"{uri}?mode=rw", uri=True, isolation_level=None)
        try:
            conn.execute("PRAGMA query_only=ON")
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")
            return conn
        except sqlite3.OperationalError:  # another user's -wal/-shm, a lock: read it as before
            conn.close()
        except BaseException:
            conn.close()
            raise
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK) or _wal_has_pages(path):  # os.access: False on a
            raise  # read-only mount, for root too
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
    except BaseException:
        conn.close()
        raise
    return conn


def _wal_has_pages(path: Path) -> bool:
    """A ``-wal`` beside ``path`` holds pages the database file lacks (longer than its header)."""
    try:
        return path.with_name(path.name + WAL_SUFFIX).stat().st_size > WAL_HEADER
    except FileNotFoundError:
        return False
