"""The mined-commits SQLite database: schema, writes (parent process only) and readers.

Downstream stages read through :func:`iter_commits` and :func:`load_commit_times`, never through
ad-hoc SQL. The schema is documented in ``docs/mining.md``.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from standard_coder.runner.sqliteread import connect_readonly
from standard_coder.sch.mining.copies import repeated_rows
from standard_coder.sch.mining.filters import is_agent
from standard_coder.sch.mining.integrity import LAYOUT_KEY, CorruptDatabaseError, is_corruption
from standard_coder.sch.mining.schema import SCHEMA, SCHEMA_VERSION
from standard_coder.sch.records import FILE_STAT_NAMES, CommitRecord, FileChange

if TYPE_CHECKING:  # numpy is imported by the one reader that needs it (no-op path stays light)
    import numpy as np

_LAYOUT_KEY = LAYOUT_KEY  # meta row present only while the file is canonical (canonical.py)


def connect(db_path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode with the schema in place."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db_path, isolation_level=None, timeout=60)
    try:
        with _corruption_named(db_path):
            _prepare(con)
    except BaseException:
        con.close()
        raise
    row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None:
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    elif int(row[0]) != SCHEMA_VERSION:
        raise ValueError(
            f"{db_path}: schema version {row[0]}, expected {SCHEMA_VERSION}; delete it to remine"
        )
    return con


def _prepare(con: sqlite3.Connection) -> None:
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint (and fsync) every 32 MiB of WAL instead of every 4 MiB: fewer stalls while a
    # mine streams chunks in; closing the connection checkpoints the rest.
    con.execute("PRAGMA wal_autocheckpoint=8192")
    con.execute("PRAGMA foreign_keys=OFF")
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.executescript(SCHEMA)
    cols = {r[1] for r in con.execute("PRAGMA table_info(commits)")}
    planned_tables = {"pull_commits", "merge_commits", "other_commits", "commit_files",
                      "commit_bodies", "commit_coauthors"}  # fmt: skip
    upgraded = "meta" in tables and not planned_tables <= tables
    if upgraded:  # every repository is planned again, which reads its pull request, merge and
        # other commits' times and its commits' files of every language
        con.execute("UPDATE mine_state SET refs_key = NULL")
    if "committer_email" not in cols:  # a database mined before the column existed
        con.execute("ALTER TABLE commits ADD COLUMN committer_email TEXT")
        upgraded = True
    if upgraded:  # no longer the file the last canonical rewrite stamped: the next mine rewrites
        con.execute("DELETE FROM meta WHERE key = ?", (_LAYOUT_KEY,))


class _corruption_named:
    """Turn SQLite's "malformed"/"not a database" errors into :class:`CorruptDatabaseError`."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None and is_corruption(exc):
            raise CorruptDatabaseError(self.db_path, str(exc)) from None


def open_readonly(db_path: Path) -> sqlite3.Connection:
    """Open an existing database for reading (raises ``FileNotFoundError`` if absent)."""
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"{db_path}: no mined commits database (run the mine stage)")
    return connect_readonly(Path(db_path))


# ---------------------------------------------------------------- writes (parent only)


def write_chunk(
    con: sqlite3.Connection,
    repo: str,
    commits: Sequence[tuple[Any, ...]],
    files: Sequence[tuple[Any, ...]],
    blobs: Sequence[tuple[str, int, bytes]],
    skipped: Sequence[tuple[str, str]],
) -> None:
    """Write one mined chunk and its progress in ONE transaction (all or nothing)."""
    with _tx(con):
        con.executemany("INSERT OR IGNORE INTO blobs VALUES (?,?,?)", blobs)
        con.executemany(
            "INSERT OR REPLACE INTO commits VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", commits
        )
        con.executemany(
            "INSERT OR REPLACE INTO file_changes VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", files
        )
        con.executemany(
            "INSERT OR REPLACE INTO skipped_commits VALUES (?,?,?)",
            [(repo, cid, reason) for cid, reason in skipped],
        )
        con.execute(
            "UPDATE mine_state SET chunks_done = chunks_done + 1, commits_done = commits_done + ?"
            " WHERE repo = ?",
            (len(commits) + len(skipped), repo),
        )


class _tx:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error) on an autocommit connection.

    A transaction that changed a row also drops the canonical-layout mark in the same commit,
    so the next finished mine rewrites the file (``canonical.rewrite_canonical``).
    """

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.changes = 0

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        self.changes = self.con.total_changes
        return self.con

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            if self.con.total_changes != self.changes:
                self.con.execute("DELETE FROM meta WHERE key = ?", (_LAYOUT_KEY,))
            self.con.execute("COMMIT")
        else:
            self.con.execute("ROLLBACK")


def transaction(con: sqlite3.Connection) -> _tx:
    """Context manager for one write transaction."""
    return _tx(con)


PER_COMMIT_TABLES = ("pull_commits", "other_commits", "commit_files", "commit_bodies",
                     "commit_coauthors")  # fmt: skip
"""Tables of rows per mined (or skipped) commit that the mine's passes fill."""


def has_table(con: sqlite3.Connection, name: str) -> bool:
    """Whether the database has table ``name`` (one mined before the table existed has not)."""
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return con.execute(query, (name,)).fetchone() is not None


def delete_repo_rows(con: sqlite3.Connection, repo: str, *, keep_repo_row: bool = False) -> None:
    """Delete every row of ``repo`` (commits, files, skips, pull request, merge and other commits'
    times, state; blobs via :func:`gc_blobs`)."""
    tables = ("file_changes", "commits", "skipped_commits", "merge_commits", *PER_COMMIT_TABLES)
    for table in (*tables, "mine_state"):
        con.execute(f"DELETE FROM {table} WHERE repo = ?", (repo,))
    if not keep_repo_row:
        con.execute("DELETE FROM repos WHERE repo = ?", (repo,))


def delete_commits(con: sqlite3.Connection, repo: str, ids: Iterable[str]) -> int:
    """Delete the given commits of ``repo`` (rows and file rows, and skip rows)."""
    rows = [(repo, cid) for cid in ids]
    for table in ("file_changes", "commits", "skipped_commits", *PER_COMMIT_TABLES):
        con.executemany(f"DELETE FROM {table} WHERE repo = ? AND commit_id = ?", rows)
    return len(rows)


def gc_blobs(con: sqlite3.Connection) -> int:
    """Delete blobs no file row refers to; returns how many."""
    cur = con.execute(
        "DELETE FROM blobs WHERE oid NOT IN (SELECT old_oid FROM file_changes"
        " UNION SELECT new_oid FROM file_changes)"
    )
    return cur.rowcount


def missing_blob_ids(con: sqlite3.Connection, repo: str) -> list[str]:
    """Blob ids that ``repo``'s file rows want but ``blobs`` lacks (for the backfill).

    A side is wanted for text files that were diffed in full or had no hunks (the same rule as
    the miner): not binary, no missing object, and not dropped by the line cap.
    """
    zero = "0" * 40
    rows = con.execute(
        "SELECT DISTINCT w FROM (SELECT old_oid AS w, diff, lines_added, lines_deleted,"
        " is_binary, missing_object FROM file_changes WHERE repo = ?1"
        " UNION ALL SELECT new_oid, diff, lines_added, lines_deleted, is_binary, missing_object"
        " FROM file_changes WHERE repo = ?1)"
        " WHERE w != ?2 AND is_binary = 0 AND missing_object = 0"
        " AND (diff IS NOT NULL OR lines_added + lines_deleted = 0)"
        " AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.oid = w)",
        (repo, zero),
    ).fetchall()
    return sorted(r[0] for r in rows)


def stored_ids(con: sqlite3.Connection, repo: str) -> dict[str, tuple[str, str] | str]:
    """commit id -> (author_name, author_email) for stored commits, the reason for skipped ones."""
    out: dict[str, tuple[str, str] | str] = {
        cid: reason
        for cid, reason in con.execute(
            "SELECT commit_id, reason FROM skipped_commits WHERE repo = ?", (repo,)
        )
    }
    for cid, name, email in con.execute(
        "SELECT commit_id, author_name, author_email FROM commits WHERE repo = ?", (repo,)
    ):
        out[cid] = (name, email)
    return out


def set_author_ids(con: sqlite3.Connection, repo: str, author_of: Callable[[str, str], str]) -> int:
    """Set each stored commit's ``author_id`` to ``author_of(author_email, author_name)`` where
    it differs; the number of commits changed."""
    rows = con.execute(
        "SELECT DISTINCT author_email, author_name, author_id FROM commits WHERE repo = ?", (repo,)
    ).fetchall()
    changed = 0
    for email, name, current in rows:
        want = author_of(email, name)
        if want != current:
            cur = con.execute(
                "UPDATE commits SET author_id = ?"
                " WHERE repo = ? AND author_email = ? AND author_name = ?",
                (want, repo, email, name),
            )
            changed += cur.rowcount
    return changed


# ---------------------------------------------------------------- readers


def skipped_commits(db_path: Path, reason: str) -> list[tuple[str, str]]:
    """``(repo, commit_id)`` of listed commits set aside for ``reason``, sorted."""
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        rows = con.execute(
            "SELECT repo, commit_id FROM skipped_commits WHERE reason = ? ORDER BY 1, 2",
            (reason,),
        ).fetchall()
    return [(str(r), str(c)) for r, c in rows]


def merge_commit_ids(db_path: Path, ids: Collection[str]) -> dict[str, str]:
    """Id (full or abbreviated) -> the full id of the mined merge commit it names, for the ids
    that name one (merges are listed, not stored as changes)."""
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        rows = [str(c) for (c,) in con.execute("SELECT DISTINCT commit_id FROM merge_commits")]
    return {cid: full for cid in ids for full in rows if full.startswith(cid)}


def unstored_counts(db_path: Path, repo: str) -> dict[str, int]:
    """Why ``repo``'s listed commits were not stored: ``skipped_commits`` per reason, and
    ``author_filtered`` (commits of excluded authors, never stored)."""
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        rows = con.execute(
            "SELECT reason, COUNT(*) FROM skipped_commits WHERE repo = ? GROUP BY reason", (repo,)
        ).fetchall()
        st = con.execute(
            "SELECT n_author_filtered FROM mine_state WHERE repo = ?", (repo,)
        ).fetchone()
    out = {str(r): int(n) for r, n in rows}
    out["author_filtered"] = int(st[0]) if st is not None else 0
    return out


def skipped_commit_ids(db_path: Path, repo: str, reason: str, limit: int = 1000) -> list[str]:
    """Up to ``limit`` ids of ``repo``'s commits skipped for ``reason`` (``skipped_commits``)."""
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        rows = con.execute(
            "SELECT commit_id FROM skipped_commits WHERE repo = ? AND reason = ? "
            "ORDER BY commit_id LIMIT ?",
            (repo, reason, limit),
        ).fetchall()
    return [str(r[0]) for r in rows]


def _unz(data: bytes | None) -> str:
    return zlib.decompress(data).decode("utf-8", "replace") if data else ""


_COMMIT_COLS = (
    "c.repo, c.commit_id, c.author_id, c.author_name, c.authored_at, c.author_tz_offset_min,"
    " c.committed_at, c.subject"
)
_ORDER = "c.author_id, c.authored_at, c.repo, c.commit_id"
_FILE_STAT_COLS = FILE_STAT_NAMES
"""``commit_files`` columns after ``(repo, commit_id)``."""
_N_FILE_STATS = len(_FILE_STAT_COLS)


def iter_commits(
    db_path: Path,
    *,
    with_files: bool = True,
    with_contents: bool = False,
    id_prefixes: Collection[str] | None = None,
) -> Iterator[CommitRecord]:
    """Every stored commit, ordered by ``(author_id, authored_at)`` (ties: repo, commit id);
    a commit stored under several repositories once, under the first (``copies.repeated_rows``).

    Streams with bounded memory. ``with_files`` adds each commit's file changes with their diff
    text (in git's order); ``with_contents`` also adds before/after file contents.
    ``id_prefixes`` keeps only commits whose id starts with one of them (full or abbreviated
    ids), filtered in SQL so other commits' files are never read.
    """
    content_cols = ", bo.content, ba.content" if with_contents else ", NULL, NULL"
    joins = (
        " LEFT JOIN blobs bo ON bo.oid = f.old_oid LEFT JOIN blobs ba ON ba.oid = f.new_oid"
        if with_contents
        else ""
    )
    files_sql = (
        "SELECT f.path, f.old_path, f.language, f.lines_added, f.lines_deleted, f.is_binary,"
        f" f.diff{content_cols} FROM file_changes f{joins}"
        " WHERE f.repo = ? AND f.commit_id = ? ORDER BY f.idx"
    )
    with (
        _corruption_named(db_path),
        closing(open_readonly(db_path)) as con,
        closing(open_readonly(db_path)) as con2,
    ):
        where, args = "", cast(tuple[Any, ...], ())
        if id_prefixes is not None:
            prefixes = sorted(set(id_prefixes))
            if not prefixes:
                return
            where = " WHERE " + " OR ".join(["substr(c.commit_id, 1, ?) = ?"] * len(prefixes))
            args = tuple(v for p in prefixes for v in (len(p), p))
        stats_cols, stats_join = ", NULL" + ", NULL" * (_N_FILE_STATS - 1), ""
        # a database mined before the table existed: every change's file stats unknown
        if has_table(con, "commit_files"):
            stats_cols = "".join(f", s.{n}" for n in _FILE_STAT_COLS)
            stats_join = (
                " LEFT JOIN commit_files s ON s.repo = c.repo AND s.commit_id = c.commit_id"
            )
        body_col, body_join = ", NULL", ""
        if has_table(con, "commit_bodies"):  # mined before the table existed: every body unknown
            body_col = ", b.body"
            body_join = (
                " LEFT JOIN commit_bodies b ON b.repo = c.repo AND b.commit_id = c.commit_id"
            )
        sql = (
            f"SELECT {_COMMIT_COLS}{body_col}{stats_cols} FROM commits c{stats_join}{body_join}"
            f"{where} ORDER BY {_ORDER}"
        )
        repeats = repeated_rows(con)
        for row in con.execute(sql, args):
            if repeats and (row[0], row[1]) in repeats:
                continue
            body, stats = row[8], row[9:]
            files: tuple[FileChange, ...] = ()
            if with_files:
                files = tuple(
                    FileChange(
                        path=path,
                        old_path=old,
                        language=lang,
                        lines_added=add,
                        lines_deleted=dele,
                        is_binary=bool(binary),
                        diff=_unz(diff),
                        before=_unz(before) if before is not None else None,
                        after=_unz(after) if after is not None else None,
                    )
                    for path, old, lang, add, dele, binary, diff, before, after in con2.execute(
                        files_sql, (row[0], row[1])
                    )
                )
            yield CommitRecord(
                repo=row[0],
                commit_id=row[1],
                author_id=row[2],
                author_name=row[3],
                authored_at=row[4],
                author_tz_offset_min=row[5],
                committed_at=row[6],
                subject=row[7],
                files=files,
                file_stats=None if stats[0] is None else tuple(int(v) for v in stats),
                body=None if body is None else str(body),
            )


class AmbiguousCommitId(ValueError):
    """An abbreviated commit id matches more than one stored commit (``commit_id``: the id as
    given, so a caller can say where it was listed)."""

    def __init__(self, message: str, commit_id: str = "") -> None:
        super().__init__(message)
        self.commit_id = commit_id


def commits_by_id(
    db_path: Path, ids: Collection[str], *, with_contents: bool = False
) -> dict[str, CommitRecord]:
    """The stored commit each id names (full or abbreviated, as people paste them).

    Ids that match nothing are absent from the result. The same commit mined from several
    clones counts once (:func:`iter_commits`).

    Raises:
        AmbiguousCommitId: an abbreviated id matches two different commits.
    """
    found: dict[str, CommitRecord] = {}
    for rec in iter_commits(db_path, with_contents=with_contents, id_prefixes=ids):
        for cid in ids:
            if not rec.commit_id.startswith(cid):
                continue
            other = found.setdefault(cid, rec)
            if other.commit_id != rec.commit_id:
                raise AmbiguousCommitId(
                    f"commit {cid} is ambiguous in {db_path}: it abbreviates "
                    f"{other.commit_id} and {rec.commit_id}; give more digits",
                    cid,
                )
    return found


GITHUB_WEB_COMMITTER = "noreply@github.com"
_STAMPED = "committer_email = ? AND authored_at = committed_at"
"""The merge-stamped predicate (one parameter: ``GITHUB_WEB_COMMITTER``)."""


def merge_stamped_commits(db_path: Path) -> set[tuple[str, str]]:
    """``(repo, commit_id)`` of commits whose time is a GitHub merge time, not an authoring time.

    GitHub's "Squash and merge" (and an edit made in the browser) commits with committer
    ``noreply@github.com`` and an author date equal to the commit date: the moment someone
    pressed the button. The interval before such a commit is the time between two merges, not
    the author's coding. A "Rebase and merge" keeps the author dates, so it is not flagged.
    """
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        rows = con.execute(
            f"SELECT repo, commit_id FROM commits WHERE {_STAMPED}", (GITHUB_WEB_COMMITTER,)
        ).fetchall()
    return {(str(r), str(c)) for r, c in rows}


def agent_assisted_commits(db_path: Path) -> set[tuple[str, str]]:
    """``(repo, commit_id)`` of commits an AI coding agent helped write: a ``Co-authored-by:``
    trailer names one (``filters.AGENT_PATTERNS``; ``mining.coauthors``), or an agent is the
    author (mined only with ``exclude_agents`` off). Their commit time times a person directing
    an agent, or the agent, not a person writing the change. Trailers are unknown in a database
    mined before they were read."""
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        agents = [  # each author once, not each commit
            (n, e)
            for n, e in con.execute("SELECT DISTINCT author_name, author_email FROM commits")
            if is_agent(f"{n} <{e}>")
        ]
        authored = [
            row
            for n, e in agents
            for row in con.execute(
                "SELECT repo, commit_id FROM commits WHERE author_name = ? AND author_email = ?",
                (n, e),
            )
        ]
        rows = (
            con.execute(
                "SELECT repo, commit_id, coauthors FROM commit_coauthors WHERE coauthors != ''"
            ).fetchall()
            if has_table(con, "commit_coauthors")
            else []
        )
    out = {(str(r), str(c)) for r, c in authored}
    return out | {(str(r), str(c)) for r, c, names in rows
                  if any(is_agent(n) for n in str(names).split("\n"))}  # fmt: skip


def merge_stamped_rows(con: sqlite3.Connection, repo: str) -> list[tuple[str, str, int]]:
    """``(commit_id, subject, authored_at)`` of ``repo``'s merge-stamped commits."""
    rows = con.execute(
        f"SELECT commit_id, subject, authored_at FROM commits WHERE repo = ? AND {_STAMPED}"
        " ORDER BY commit_id",
        (repo, GITHUB_WEB_COMMITTER),
    ).fetchall()
    return [(str(c), str(s), int(t)) for c, s, t in rows]


def squash_counts(con: sqlite3.Connection, repo: str) -> tuple[int, int]:
    """``repo``'s squash merges (merge-stamped commits whose subject names their pull request,
    ``(#n)``: an edit made in the browser is stamped too, but has no pull request), and how
    many of them have pull request commit times."""
    from standard_coder.sch.mining.pulls import named_squashes  # reads git only: no cycle

    named = len(named_squashes(merge_stamped_rows(con, repo)))
    timed = con.execute(
        "SELECT COUNT(DISTINCT commit_id) FROM pull_commits WHERE repo = ?", (repo,)
    ).fetchone()[0]
    return named, int(timed)


def replace_pull_commits(
    con: sqlite3.Connection, repo: str, rows: Sequence[tuple[str, str, int, int, str]]
) -> None:
    """Set ``repo``'s pull request commit rows (``pulls.PullCommit``) to ``rows`` (caller's
    transaction)."""
    con.execute("DELETE FROM pull_commits WHERE repo = ?", (repo,))
    con.executemany(
        "INSERT OR REPLACE INTO pull_commits VALUES (?,?,?,?,?,?)", [(repo, *r) for r in rows]
    )


PullTimes: TypeAlias = "dict[tuple[str, str], list[tuple[int, int]]]"


def load_pull_times(db_path: Path) -> PullTimes:
    """``(repo, squash commit id)`` -> its pull request commits' ``(authored_at, tz offset)``,
    oldest first, for the squash merges still among the mined commits. A squash merge stored
    under several repositories is keyed by the one it counts under (``copies.repeated_rows``),
    with that repository's pull request times, else those of the first copy that has any (a
    mirror holds ``refs/pull/*``, a plain clone of it does not)."""
    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        if not has_table(con, "pull_commits"):
            return {}  # a database mined before the table existed
        rows = con.execute(
            "SELECT p.repo, p.commit_id, p.authored_at, p.author_tz_offset_min"
            " FROM pull_commits p JOIN commits c ON c.repo = p.repo AND c.commit_id = p.commit_id"
            " ORDER BY p.repo, p.commit_id, p.authored_at, p.pr_commit_id"
        ).fetchall()
        repeats = repeated_rows(con)
    grouped: PullTimes = {}
    for repo, cid, at, tz in rows:
        grouped.setdefault((str(repo), str(cid)), []).append((int(at), int(tz)))
    out = {key: times for key, times in grouped.items() if key not in repeats}
    for key, times in grouped.items():
        if key in repeats:
            out.setdefault((repeats[key], key[1]), times)
    return out


CommitTimes: TypeAlias = "dict[str, tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]]"


def load_commit_times(db_path: Path) -> CommitTimes:
    """author_id -> (authored_at seconds int64, tz offsets minutes int32, [(repo, commit_id)]).

    One query; arrays sorted by time (ties by repo, commit id); a commit stored under several
    repositories once, under the first (:func:`~standard_coder.sch.mining.copies.repeated_rows`).
    """
    import numpy as np

    with _corruption_named(db_path), closing(open_readonly(db_path)) as con:
        rows = con.execute(
            "SELECT c.author_id, c.authored_at, c.author_tz_offset_min, c.repo, c.commit_id"
            f" FROM commits c ORDER BY {_ORDER}"
        ).fetchall()
        repeats = repeated_rows(con)
    if repeats:
        rows = [r for r in rows if (r[3], r[4]) not in repeats]
    out: CommitTimes = {}
    i, n = 0, len(rows)
    while i < n:
        author = rows[i][0]
        j = i
        while j < n and rows[j][0] == author:
            j += 1
        block = rows[i:j]
        out[author] = (
            np.fromiter((r[1] for r in block), dtype=np.int64, count=len(block)),
            np.fromiter((r[2] for r in block), dtype=np.int32, count=len(block)),
            [(r[3], r[4]) for r in block],
        )
        i = j
    return out
