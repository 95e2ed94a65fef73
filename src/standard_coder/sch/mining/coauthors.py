"""Each mined commit's co-authors: the ``Co-authored-by:`` trailers of its message.

An AI coding agent that helped write a commit says so in such a trailer (Claude Code's
``Co-Authored-By: Claude <noreply@anthropic.com>``, Cursor's, Copilot's, aider's): the commit's
time then times a person directing an agent, not a person writing the code, and its label is
not the coding time the effort model learns (``store.agent_assisted_commits``;
docs/mining.md, "Co-authors").

Per mined commit the ``commit_coauthors`` table keeps the trailers' values (``Name <email>``,
one per line; empty when there is none). The pass always runs: one ``git log --no-walk
--stdin`` over the stored commits not yet read (:func:`unread_ids`); a commit whose object the
clone lacks is read alone and, if git cannot read it, left without a row (unknown). A row
records the :data:`VERSION` that read it; rows of another version are read again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from standard_coder.sch.mining.commit_pass import read_message_field, replace_rows, stale_ids

__all__ = ["VERSION", "commit_coauthors", "store_commit_coauthors", "unread_ids"]

VERSION = 1
"""Bump when what is read changes: it is part of every refs key, so every repository is
planned again and each row of another version is read again."""
CoauthorRow = tuple[str, str]
"""``(commit id, co-authors)``: the ``commit_coauthors`` columns after ``repo``."""

TRAILERS = "%(trailers:key=Co-authored-by,valueonly=true,separator=%x0a)"
"""The ``git log`` placeholder: each ``Co-authored-by:`` trailer's value, any casing of the
key, one per line."""


def _lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def commit_coauthors(path: Path, ids: Sequence[str]) -> list[CoauthorRow]:
    """One row per commit of ``ids`` (the repository at ``path``), sorted by id; a commit git
    cannot read (an object missing from the clone) has none."""
    return read_message_field(path, ids, TRAILERS, _lines)


def unread_ids(con: sqlite3.Connection, repo: str) -> list[str]:
    """``repo``'s stored commits without a ``commit_coauthors`` row of this :data:`VERSION`."""
    return stale_ids(con, repo, "commit_coauthors", "read_by", VERSION)


def store_commit_coauthors(
    con: sqlite3.Connection, repo: str, ids: Sequence[str], rows: Sequence[CoauthorRow]
) -> None:
    """Replace the ``commit_coauthors`` rows of ``ids`` (of ``repo``) with ``rows`` (caller's
    transaction); an id without a row in ``rows`` is left without one (unknown)."""
    replace_rows(con, repo, "commit_coauthors", ids, rows, VERSION)
