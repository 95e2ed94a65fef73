"""One git pass over a repository's stored commits, with a fallback commit by commit.

The mine's per-commit passes (``file_stats``, ``message_body``) read every id in one
``git log --no-walk --stdin``. One object missing from the clone fails that whole log: the
commits are then read one at a time, and a commit git cannot read is left out (unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from standard_coder.sch.mining.gitlog import GitError

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
