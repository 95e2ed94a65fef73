"""What the mined database holds for the stages that learn from it, as one digest.

``train_sch`` and ``team_output`` read the database through this key (``Stage.input_keys``,
``docs/mining.md``, "The database's content key"): the mine writes it beside the database,
and their fingerprints cover it instead of the file's bytes. The file also records which
commits the mine has looked at and where each repository's HEAD was, so a commit touching no
enabled language (documentation, CI) or an empty one changes the file and not what training
reads: with the key, such a commit reruns the mine alone.

Left out of the key: ``meta`` and ``mine_state`` (the mine's bookkeeping), ``repos.head``
(where HEAD was when last mined) and the ``skipped_commits`` rows of commits touching no
enabled language (read by the forecast's ticket lookup only, whose fingerprint keeps the
database's bytes). Every other row of every table is in it, in the canonical rewrite's order.
"""

from __future__ import annotations

import hashlib
from contextlib import closing
from pathlib import Path

from standard_coder.sch.mining.canonical import CANONICAL_ORDER
from standard_coder.sch.mining.store import open_readonly

__all__ = ["KEY_VERSION", "content_key"]

KEY_VERSION = 1
"""Bumped when what the key covers changes (every reader then reruns once)."""

_BOOKKEEPING = ("meta", "mine_state")
_SKIPPED_UNREAD = "no_language_files"


def content_key(db: Path) -> str:
    """sha256 over the rows of ``db`` that the learning stages read (module docstring)."""
    digest = hashlib.sha256(f"mined-commits-key {KEY_VERSION}".encode())
    with closing(open_readonly(db)) as con:
        for table, order in CANONICAL_ORDER:
            if table in _BOOKKEEPING:
                continue
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            if table == "repos":
                cols.remove("head")
            where = f" WHERE reason != '{_SKIPPED_UNREAD}'" if table == "skipped_commits" else ""
            digest.update(f"\0{table}\0{','.join(cols)}\0".encode())
            query = f"SELECT {', '.join(cols)} FROM {table}{where} ORDER BY {order}"
            for row in con.execute(query):
                for value in row:
                    raw = value if isinstance(value, bytes) else repr(value).encode()
                    digest.update(b"%c%d:" % (b"b" if isinstance(value, bytes) else b"v", len(raw)))
                    digest.update(raw)
    return digest.hexdigest()
