"""Every file a commit touches, of any language: what the change did outside the code it counts.

The mine stores the files of enabled languages only (their diffs feed the token and AST counts),
but a change is more than its code: the documentation, configuration, CI and data files it
edits alongside, and how spread over the tree it is. Per mined commit the ``commit_files`` table
keeps :data:`FILE_STAT_NAMES`:

- ``other_lines_added`` / ``other_lines_deleted``: lines in files of no enabled language (or of
  an enabled language under an excluded path: whatever the token counts do not see);
- ``doc_lines_added``: of those, documentation: ``.rst``, ``.md``, ``.txt``, ``.adoc`` files and
  any file under a top-level ``docs/`` or ``doc/`` folder;
- ``config_lines_added``: of those, configuration: ``.toml``, ``.cfg``, ``.ini``, ``.yml``,
  ``.yaml``, ``.json``;
- ``files``: every file touched, of any language; ``folders``: the distinct folders they are in.

Binary files count as files with no lines. :func:`uncounted_ids` are the stored commits still to
count; :func:`commit_file_stats` reads them from git (one
``git log --no-walk --numstat`` over the mined ids; a commit whose objects the clone lacks is
read alone and, if git cannot diff it, left without a row: unknown, not zero).
:func:`file_stats` counts the same from ``(path, added, deleted)`` triples, for changes that
never went through the mine (a patch, a working tree).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from standard_coder.sch.mining.commit_pass import read_each, replace_rows, stale_ids
from standard_coder.sch.mining.gitlog import MARKER, run_git
from standard_coder.sch.records import FILE_STAT_NAMES

__all__ = [
    "FILE_STAT_NAMES",
    "commit_file_stats",
    "file_stats",
    "store_commit_files",
    "uncounted_ids",
]

DOC_SUFFIXES = (".rst", ".md", ".txt", ".adoc")
DOC_FOLDERS = ("docs", "doc")
CONFIG_SUFFIXES = (".toml", ".cfg", ".ini", ".yml", ".yaml", ".json")

VERSION = 1
"""Bump when what a row counts changes: it is part of the refs key while the counts are on, so
every repository is planned again, and each stored row of another version is counted again
(rows of this version are kept: a mine reads only the commits it has not counted)."""
FileStatRow = tuple[str, int, int, int, int, int, int]
"""``(commit id, *FILE_STAT_NAMES)``: the ``commit_files`` columns after ``repo``."""

_FORMAT = "%x1e%x1fSCH:" + MARKER[6:].decode("ascii") + "%H"


def file_stats(
    files: Iterable[tuple[str, int, int]], is_counted: Callable[[str], bool]
) -> tuple[int, int, int, int, int, int]:
    """:data:`FILE_STAT_NAMES` of a change's files ``(path, lines added, lines deleted)``;
    ``is_counted(path)``: the file is one the token counts see (an enabled language, not
    excluded)."""
    added = deleted = doc = config = n = 0
    folders: set[str] = set()
    for path, a, d in files:
        n += 1
        folders.add(path.rsplit("/", 1)[0] if "/" in path else "")
        if is_counted(path):
            continue
        added, deleted = added + a, deleted + d
        low = path.lower()
        if low.endswith(DOC_SUFFIXES) or low.split("/", 1)[0] in DOC_FOLDERS:
            doc += a
        if low.endswith(CONFIG_SUFFIXES):
            config += a
    return added, deleted, doc, config, n, len(folders)


def _numstat_entries(block: bytes) -> list[tuple[str, int, int]]:
    """``added\\tdeleted\\tpath`` entries of one commit's ``--numstat -z`` output."""
    out = []
    for entry in block.split(b"\x00"):
        entry = entry.lstrip(b"\n")
        if not entry:
            continue
        parts = entry.split(b"\t", 2)
        if len(parts) != 3:
            continue
        a, d, path = parts
        out.append((path.decode("utf-8", "replace"), int(a) if a.isdigit() else 0,
                    int(d) if d.isdigit() else 0))  # fmt: skip
    return out


def _parse(out: bytes, is_counted: Callable[[str], bool]) -> list[FileStatRow]:
    rows: list[FileStatRow] = []
    for record in out.split(MARKER)[1:]:
        sha, _, rest = record.partition(b"\x00")
        rows.append((sha.decode("ascii", "replace").strip(),
                     *file_stats(_numstat_entries(rest), is_counted)))  # fmt: skip
    return rows


def _log(path: Path, ids: Sequence[str]) -> bytes:
    return run_git(
        path, "log", "--no-walk=unsorted", "--stdin", "--no-merges", "-z", "--numstat",
        "--no-renames", "--no-ext-diff", "--no-textconv", f"--format={_FORMAT}",
        stdin="".join(f"{i}\n" for i in ids).encode("ascii"),
    )  # fmt: skip


def commit_file_stats(
    path: Path, ids: Sequence[str], is_counted: Callable[[str], bool]
) -> list[FileStatRow]:
    """One row per commit of ``ids`` (the repository at ``path``), sorted by id; a commit git
    cannot diff (an object missing from the clone) has none."""
    return read_each(lambda some: _parse(_log(path, some), is_counted), ids)


def uncounted_ids(con: sqlite3.Connection, repo: str) -> list[str]:
    """``repo``'s stored commits without a ``commit_files`` row of this :data:`VERSION`."""
    return stale_ids(con, repo, "commit_files", "counted_by", VERSION)


def store_commit_files(
    con: sqlite3.Connection, repo: str, ids: Sequence[str], rows: Sequence[FileStatRow]
) -> None:
    """Replace the ``commit_files`` rows of ``ids`` (of ``repo``) with ``rows`` (caller's
    transaction); an id without a row in ``rows`` is left without one (unknown)."""
    replace_rows(con, repo, "commit_files", ids, rows, VERSION)
