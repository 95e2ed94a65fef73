"""One git pass over a repository's stored commits, with a fallback commit by commit.

The mine's per-commit passes (``file_stats``, ``message_body``, ``coauthors``) read every id in one
``git log --no-walk --stdin``. One object missing from the clone fails that whole log: the
commits are then read one at a time, and a commit git cannot read is left out (unknown). Each
pass keeps one row per commit in its own table, stamped with the version of the pass that
wrote it: :func:`stale_ids` are the commits to read, :func:`replace_rows` stores them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from standard_coder.sch.mining.gitlog import MARKER, GitError, run_git

Row = TypeVar("Row", bound=tuple[object, ...])


def read_each(read: Callable[[Sequence[str]], list[Row]], ids: Sequence[str]) -> list[Row]:
    """``read(ids)`` sorted; when git fails on the whole, ``read([id])`` per id, skipping the
    ids git cannot read."""
    if not ids:
        return []
    try:
        rows = read(ids)
    except GitError:  # one unreadable object fails the whole log: read the commits one by one
        rows = []
        for cid in ids:
            try:
                rows += read([cid])
            except GitError:
                continue
    return sorted(rows)


def stale_ids(
    con: sqlite3.Connection, repo: str, table: str, stamp: str, version: int
) -> list[str]:
    """``repo``'s stored commits without a row in ``table`` whose ``stamp`` column is
    ``version`` (never read, or read by another version of the pass)."""
    return [str(r[0]) for r in con.execute(
        f"SELECT c.commit_id FROM commits c LEFT JOIN {table} t"
        " ON t.repo = c.repo AND t.commit_id = c.commit_id"
        f" WHERE c.repo = ? AND (t.commit_id IS NULL OR t.{stamp} != ?) ORDER BY c.commit_id",
        (repo, version))]  # fmt: skip


def replace_rows(
    con: sqlite3.Connection,
    repo: str,
    table: str,
    ids: Sequence[str],
    rows: Sequence[tuple[object, ...]],
    version: int,
) -> None:
    """Replace ``table``'s rows of ``ids`` (of ``repo``) with ``rows`` (``(commit id,
    *values)``), each stamped with ``version`` (caller's transaction); an id without a row in
    ``rows`` is left without one (unknown)."""
    con.executemany(f"DELETE FROM {table} WHERE repo = ? AND commit_id = ?",
                    [(repo, cid) for cid in ids])  # fmt: skip
    if rows:
        marks = ", ".join("?" * (len(rows[0]) + 2))
        con.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})",
                        [(repo, *row, version) for row in rows])  # fmt: skip


def read_message_field(
    path: Path, ids: Sequence[str], placeholder: str, clean: Callable[[str], str]
) -> list[tuple[str, str]]:
    """``(commit id, clean(text))`` per commit of ``ids`` (the repository at ``path``), sorted
    by id, where ``text`` is what the ``git log`` format ``placeholder`` prints for it (``%b``,
    ``%(trailers:...)``), decoded as UTF-8 with its line ends made ``\\n``; a commit git cannot
    read has no row (:func:`read_each`)."""
    fmt = "%x1e%x1fSCH:" + MARKER[6:].decode("ascii") + "%H%x00" + placeholder

    def read(some: Sequence[str]) -> list[tuple[str, str]]:
        out = run_git(path, "log", "--no-walk=unsorted", "--stdin", f"--format={fmt}",
                      stdin="".join(f"{i}\n" for i in some).encode("ascii"))  # fmt: skip
        rows = []
        for record in out.split(MARKER)[1:]:
            sha, _, value = record.partition(b"\x00")
            text = value.decode("utf-8", "replace").replace("\r\n", "\n")
            rows.append((sha.decode("ascii", "replace").strip(), clean(text)))
        return rows

    return read_each(read, ids)
