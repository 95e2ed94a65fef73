"""The mined database in canonical form: same rows, same bytes (``docs/mining.md``).

Chunks are written as they finish, so a database's page layout follows that order. When a mine
finishes having written anything, :func:`rewrite_canonical` copies every table into a fresh file
in primary-key order and stamps the file's checksum in its header; :func:`is_canonical` says
whether the file is still as that rewrite left it.

Example:
    >>> if not is_canonical(con):
    ...     rewrite_canonical(db_path)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import zlib
from contextlib import closing
from pathlib import Path
from typing import Any

from standard_coder.sch.mining.integrity import LAYOUT_KEY
from standard_coder.sch.mining.schema import CONTENT_TABLES, SCHEMA
from standard_coder.sch.mining.store import _corruption_named, open_readonly

__all__ = ["CanonicalRewriteError", "is_canonical", "rewrite_canonical"]

log = logging.getLogger(__name__)
_LAYOUT_KEY = LAYOUT_KEY

#: Every table with the order its rows are written in by :func:`rewrite_canonical`.
CANONICAL_ORDER = (
    ("meta", "key"),
    ("repos", "repo"),
    ("mine_state", "repo"),
    ("commits", "repo, commit_id"),
    ("file_changes", "repo, commit_id, idx"),
    ("skipped_commits", "repo, commit_id"),
    ("pull_commits", "repo, commit_id, pr_commit_id"),
    ("merge_commits", "repo, commit_id"),
    ("other_commits", "repo, commit_id"),
    ("commit_files", "repo, commit_id"),
    ("commit_bodies", "repo, commit_id"),
    ("commit_coauthors", "repo, commit_id"),
    ("blobs", "oid"),
)
_PAGE_SIZE = 4096


def is_canonical(con: sqlite3.Connection) -> bool:
    """True when nothing was written since the last :func:`rewrite_canonical`."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", (_LAYOUT_KEY,)).fetchone()
    if row is None or row[0] != "canonical":
        return False
    # a file rewritten before the header carried its checksum: rewrite it once more to stamp it
    return int(con.execute("PRAGMA application_id").fetchone()[0]) != 0


def rewrite_canonical(db_path: Path, *, wait_s: float = 60.0) -> bool:
    """Rewrite ``db_path`` so that its bytes depend on its rows only, not on their history.

    Chunks are written as they finish (in parallel, and across runs after an interrupt), so
    row ids and page layout follow that order. This copies every table into a fresh file in
    primary-key order (repository, then commit id, then file index), with fixed settings (page
    size, no auto-vacuum, WAL mode recorded in the header), in one transaction, stamps the
    header with the file's checksum (:func:`~standard_coder.sch.mining.integrity.stamp_digest`:
    a later check tells a garbled row from the rows this wrote), then replaces ``db_path``
    atomically: two mines of the same history give the same bytes, however they were
    interrupted. A kill during the rewrite leaves ``db_path`` as it was (and unmarked, so the
    next mine rewrites it: :func:`is_canonical`).

    The old file's WAL is checkpointed into it and emptied first (``wal_checkpoint(TRUNCATE)``,
    waiting up to ``wait_s`` for a reader in the middle of a read), and the stale ``-wal`` and
    ``-shm`` are removed once the new file is in place, so no frame of the old file can ever be
    replayed onto the new one. The caller must be the only writer (the mine stage: the run's
    lock); idle readers may stay open.

    Returns True (the file was replaced).

    Raises:
        CanonicalRewriteError: the WAL could not be emptied within ``wait_s`` (a connection
            kept a read open, or wrote meanwhile); the file is left as it was, unmarked.
    """
    import os
    import time

    from standard_coder.sch.mining.integrity import stamp_digest

    db_path = Path(db_path)
    tmp = db_path.with_name(db_path.name + ".canonical.tmp")
    wal, shm = Path(f"{db_path}-wal"), Path(f"{db_path}-shm")
    for leftover in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    deadline = time.monotonic() + wait_s
    _empty_wal(db_path, wal, deadline)
    con = sqlite3.connect(tmp.resolve().as_uri(), isolation_level=None, uri=True)
    try:
        con.execute(f"PRAGMA page_size={_PAGE_SIZE}")
        con.execute("PRAGMA auto_vacuum=NONE")
        con.execute("PRAGMA journal_mode=OFF")  # a torn tmp file is thrown away, never used
        con.execute("PRAGMA synchronous=OFF")
        con.execute("ATTACH DATABASE ? AS src", (f"{db_path.resolve().as_uri()}?mode=ro",))
        con.executescript(SCHEMA)
        with _corruption_named(db_path):
            con.execute("BEGIN")
            for table, order in CANONICAL_ORDER:
                # meta: only the keys this module writes (a garbled key never travels on)
                where = " WHERE key = 'schema_version'" if table == "meta" else ""
                con.execute(
                    f"INSERT INTO main.{table} SELECT * FROM src.{table}{where} ORDER BY {order}"
                )
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, 'canonical')", (_LAYOUT_KEY,))
            con.execute("COMMIT")
        con.execute("DETACH DATABASE src")
        con.execute("PRAGMA journal_mode=WAL")  # as connect() sets it: reopening changes nothing
    finally:
        con.close()
    try:
        # the copy read the old file and its WAL as one snapshot; a frame written since would
        # be lost by the replace: empty it again (it is empty unless someone wrote meanwhile)
        if wal.exists() and wal.stat().st_size > 0:
            raise CanonicalRewriteError(
                f"{db_path}: another connection wrote to it during the canonical rewrite; "
                "left as it was (the next mine rewrites it)"
            )
        stamp_digest(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, db_path)
    for stale in (wal, shm):  # the old file's (empty) WAL and its index: never the new one's
        stale.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        dfd = os.open(db_path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return True


class CanonicalRewriteError(RuntimeError):
    """The canonical rewrite could not run without racing another connection."""


def _empty_wal(db_path: Path, wal: Path, deadline: float) -> None:
    """Checkpoint ``db_path``'s WAL into it and truncate the WAL to 0 bytes, waiting (until
    ``deadline``, monotonic) for readers in the middle of a read to finish."""
    import gc
    import time

    if not wal.exists() or wal.stat().st_size == 0:
        return
    log.info(
        "%s: %d bytes left in its WAL before the canonical rewrite", db_path, wal.stat().st_size
    )
    # a connection closed while one of its cursors was still alive (kept by a reference cycle
    # or a traceback) stays open until the cursor is collected, holding its WAL: collect now
    gc.collect()
    while True:
        con = sqlite3.connect(db_path, isolation_level=None, timeout=1.0)
        try:
            with _corruption_named(db_path):
                busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            busy = 1
        finally:
            con.close()
        if not busy and (not wal.exists() or wal.stat().st_size == 0):
            return
        if time.monotonic() > deadline:
            raise CanonicalRewriteError(
                f"{db_path}: its WAL could not be checkpointed (another connection kept a read "
                f"open); not rewritten in canonical order: rerun to rewrite it"
            )
        time.sleep(0.05)


def canonical_dump(db_path: Path) -> str:
    """Sorted rows of every content table as text (blobs as sha256 of their content).

    Two databases with equal dumps hold the same mined data; progress counters are left out.
    """
    lines: list[str] = []
    with closing(open_readonly(db_path)) as con:
        for table in CONTENT_TABLES:
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            for row in sorted(
                (tuple(_canon(v) for v in r) for r in con.execute(f"SELECT * FROM {table}")),
            ):
                cells = (f"{c}={v}" for c, v in zip(cols, row, strict=True))
                lines.append(f"{table}\t" + "\t".join(cells))
        for row in sorted(con.execute("SELECT repo, refs_key, extract_key FROM mine_state")):
            lines.append("mine_state\t" + "\t".join(str(v) for v in row))
        for oid, size, content in sorted(con.execute("SELECT oid, size, content FROM blobs")):
            digest = hashlib.sha256(zlib.decompress(content)).hexdigest()
            lines.append(f"blobs\t{oid}\t{size}\t{digest}")
    return "\n".join(lines) + "\n"


def _canon(v: Any) -> str:
    if isinstance(v, bytes):
        return "z:" + hashlib.sha256(zlib.decompress(v)).hexdigest()[:16]
    return repr(v)
