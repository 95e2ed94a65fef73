"""Plain records passed between the SCH domain modules (mining -> work inference -> features).

The SQLite contract behind them (``<base_dir>/raw/mined_commits.sqlite``) is owned by
``standard_coder.sch.mining``; everything downstream reads through ``mining.store`` readers that
yield these records, never through ad-hoc SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FILE_STAT_NAMES: tuple[str, ...] = (
    "other_lines_added",
    "other_lines_deleted",
    "doc_lines_added",
    "config_lines_added",
    "files",
    "folders",
)
"""A commit's counts over every file it touches, of any language (``CommitRecord.file_stats``;
``mining.file_stats`` says what each counts)."""


@dataclass(frozen=True)
class FileChange:
    """One file touched by a commit (only files of configured languages are kept)."""

    path: str
    old_path: str | None
    language: str
    lines_added: int
    lines_deleted: int
    is_binary: bool
    diff: str = ""
    """Unified diff text of this file (``@@`` hunks with ``+``/``-``/context lines; no headers)."""
    before: str | None = None
    """Content in the parent (None: new file, binary, too large, or missing object)."""
    after: str | None = None
    """Content in the commit (None: deleted file, binary, too large, or missing object)."""


@dataclass(frozen=True)
class CommitRecord:
    """One mined non-merge commit.

    ``author_id`` is the canonical identity: the lower-cased, mailmap-resolved author email (with
    ``merge_by_name``, the addresses one name commits under joined: ``mining.identities``).
    Times are unix seconds (UTC); ``author_tz_offset_min`` is minutes east of UTC (-0500 -> -300).
    """

    repo: str
    commit_id: str
    author_id: str
    author_name: str
    authored_at: int
    author_tz_offset_min: int
    committed_at: int
    subject: str = ""
    files: tuple[FileChange, ...] = field(default_factory=tuple)
    file_stats: tuple[int, ...] | None = None
    """Counts over every file the commit touches, of any language (``mining.file_stats``:
    lines of files the token counts do not see, documentation, configuration, files, folders);
    None where unknown (a database mined before they were kept, an unreadable commit)."""
    body: str | None = None
    """The message after its subject (git's ``%b``, trailers included; ``""`` for a one-line
    message); None where unknown (not kept by the mine, a working tree, a raw diff)."""
    excluded_files: tuple[str, ...] = ()
    """Files of an enabled language that ``[filters.languages] exclude_paths`` leaves out
    (vendored code): known where ``estimate`` reads the change from git or a patch, else empty."""

    @property
    def lines_added(self) -> int:
        return sum(f.lines_added for f in self.files)

    @property
    def lines_deleted(self) -> int:
        return sum(f.lines_deleted for f in self.files)
