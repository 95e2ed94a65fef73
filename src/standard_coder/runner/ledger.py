"""Durable ledger of finished work items: SQLite in WAL mode, committed per item or per batch.

An item is ``(item_id, key)``: ``item_id`` names the unit of work, ``key`` digests everything
that determines its result. A rerun redoes only items that never finished or whose key
changed. Results are stored as JSON. Only the parent process writes the ledger.

Durability: each commit survives SIGKILL of the process; a crash loses at most the items of
the open batch (``batch_size``), which a rerun redoes. On power loss SQLite's
``synchronous=NORMAL`` may roll back the last commits, never corrupt the file.

Example:
    >>> with SqliteLedger(ckpt_dir / "items.sqlite", batch_size=50) as ledger:
    ...     for repo, key in todo:
    ...         if not ledger.is_done(repo, key):
    ...             ledger.mark_done(repo, key, mine(repo))
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from standard_coder.runner.errors import CorruptStateError
from standard_coder.runner.fserrors import sqlite_error

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "SqliteLedger"]

FORMAT_NAME = "standard-coder-ledger"
FORMAT_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    key     TEXT NOT NULL,
    result  TEXT NOT NULL,
    done_ts REAL NOT NULL
);
"""


class SqliteLedger:
    """Item ledger in one SQLite file (see the module docstring).

    Args:
        path: the ledger file (created with its folder if missing).
        batch_size: commit after this many ``mark_done``/``forget`` calls (1 = every call).

    Raises:
        CorruptStateError: the file is not a ledger (garbage, truncated, other format or
            version). The caller may :func:`~standard_coder.runner.quarantine.quarantine` it.
    """

    def __init__(self, path: Path, *, batch_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.path = Path(path)
        self.batch_size = batch_size
        self._pending = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_header()
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:  # pragma: no cover - open rarely fails by itself
            raise sqlite_error(self.path, exc, "cannot open ledger") from exc
        try:
            self._open()
        except CorruptStateError:
            self._conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise sqlite_error(self.path, exc, "not a readable ledger") from exc

    # -- opening ---------------------------------------------------------------------------
    def _check_header(self) -> None:
        """Reject a non-empty file without SQLite's magic before SQLite touches it."""
        try:
            with self.path.open("rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except FileNotFoundError:
            return
        if head and head != _SQLITE_MAGIC:
            raise CorruptStateError(self.path, "not an SQLite file (bad header)")

    def _open(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA busy_timeout = 5000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. some network filesystems
            raise CorruptStateError(self.path, f"cannot switch ledger to WAL (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        check = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if check != ["ok"]:
            raise CorruptStateError(self.path, "integrity check failed: " + "; ".join(check[:3]))
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            conn.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO meta(name, value) VALUES (?, ?)",
                [("format", FORMAT_NAME), ("version", str(FORMAT_VERSION))],
            )
            conn.execute("COMMIT")
            return
        if not {"meta", "items"} <= tables:
            raise CorruptStateError(self.path, "not a ledger (tables meta/items missing)")
        meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        if meta.get("format") != FORMAT_NAME:
            raise CorruptStateError(self.path, f"not a ledger (format {meta.get('format')!r})")
        if meta.get("version") != str(FORMAT_VERSION):
            raise CorruptStateError(
                self.path,
                f"ledger format version {meta.get('version')} unsupported "
                f"(this runner reads {FORMAT_VERSION})",
            )

    # -- writing -----------------------------------------------------------------------------
    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        if self._pending == 0:
            self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute(sql, args)
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush()

    def mark_done(self, item_id: str, key: str, result: Any = None) -> None:
        """Record ``item_id`` as finished under ``key`` with a JSON-serialisable ``result``.

        Replaces any earlier record of the item. Committed once the batch is full.

        Raises:
            TypeError: ``result`` is not JSON-serialisable (nothing is written).
        """
        payload = json.dumps(result, sort_keys=True)
        self._write(
            "INSERT OR REPLACE INTO items(item_id, key, result, done_ts) VALUES (?, ?, ?, ?)",
            (str(item_id), str(key), payload, time.time()),
        )

    def forget(self, item_id: str) -> None:
        """Drop the record of ``item_id`` (it will be redone)."""
        self._write("DELETE FROM items WHERE item_id = ?", (str(item_id),))

    def flush(self) -> None:
        """Commit the open batch (a no-op when nothing is pending)."""
        if self._pending:
            self._conn.execute("COMMIT")
            self._pending = 0

    def close(self) -> None:
        """Commit the open batch, fold the WAL into the main file, and close."""
        if getattr(self, "_conn", None) is None:
            return
        try:
            self.flush()
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------
    def is_done(self, item_id: str, key: str) -> bool:
        """True iff ``item_id`` finished under exactly this ``key``."""
        row = self._conn.execute(
            "SELECT 1 FROM items WHERE item_id = ? AND key = ?", (str(item_id), str(key))
        ).fetchone()
        return row is not None

    def get(self, item_id: str) -> tuple[str, Any] | None:
        """``(key, result)`` of the finished record for ``item_id``, or None."""
        row = self._conn.execute(
            "SELECT key, result FROM items WHERE item_id = ?", (str(item_id),)
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def items(self) -> Iterator[tuple[str, str, Any]]:
        """All records as ``(item_id, key, result)``, sorted by ``item_id``."""
        rows = self._conn.execute(
            "SELECT item_id, key, result FROM items ORDER BY item_id"
        ).fetchall()
        for item_id, key, result in rows:
            yield item_id, key, json.loads(result)

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def __repr__(self) -> str:
        return f"SqliteLedger({str(self.path)!r}, batch_size={self.batch_size})"
