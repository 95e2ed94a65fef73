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


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection to the existing database ``path`` that cannot write to it. A WAL database
    closed cleanly has no ``-shm`` file, and SQLite cannot make one in a folder it may not write:
    there the file is opened as immutable, which is true of it while the folder is read-only."""
    if path.is_file() and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA query_only=ON")
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")
            return conn
        except sqlite3.OperationalError:  # another user's -wal/-shm, a lock: read it as before
            conn.close()
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")
    except sqlite3.OperationalError:
        conn.close()
        if os.access(path.parent, os.W_OK):  # False on a read-only mount, for root too
            raise
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
    return conn
