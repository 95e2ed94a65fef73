"""Each mined commit's message body: what its author wrote about the change after the subject.

Per mined commit the ``commit_bodies`` table keeps the body git prints as ``%b`` (the message
less its subject paragraph, trailers included; empty for a one-line message). The effort
model's ``body|...`` columns count it (``features.message_body``); the text, not the counts, is
stored, so a change of what is counted needs no new mine.

:func:`unread_ids` are the stored commits still to read; :func:`commit_bodies` reads them from
git (one ``git log --no-walk --stdin`` over the ids; a commit whose object the clone lacks is
read alone and, if git cannot read it, left without a row: unknown, not empty). A row records
the :data:`VERSION` that read it; rows of another version are read again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from standard_coder.sch.mining.commit_pass import read_message_field, replace_rows, stale_ids

__all__ = ["commit_bodies", "store_commit_bodies", "unread_ids"]

VERSION = 1
"""Bump when what is read changes (the format, the stripping): it is part of the refs key while
bodies are kept, so every repository is planned again and each row of another version is read
again."""
BodyRow = tuple[str, str]
"""``(commit id, body)``: the ``commit_bodies`` columns after ``repo``."""


def commit_bodies(path: Path, ids: Sequence[str]) -> list[BodyRow]:
    """One row per commit of ``ids`` (the repository at ``path``), sorted by id; a commit git
    cannot read (an object missing from the clone) has none."""
    return read_message_field(path, ids, "%b", lambda text: text.strip("\n"))


def unread_ids(con: sqlite3.Connection, repo: str) -> list[str]:
    """``repo``'s stored commits without a ``commit_bodies`` row of this :data:`VERSION`."""
    return stale_ids(con, repo, "commit_bodies", "read_by", VERSION)


def store_commit_bodies(
    con: sqlite3.Connection, repo: str, ids: Sequence[str], rows: Sequence[BodyRow]
) -> None:
    """Replace the ``commit_bodies`` rows of ``ids`` (of ``repo``) with ``rows`` (caller's
    transaction); an id without a row in ``rows`` is left without one (unknown)."""
    replace_rows(con, repo, "commit_bodies", ids, rows, VERSION)
