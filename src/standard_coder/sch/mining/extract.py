"""Mine one chunk of commits of one repository (runs in a worker; never touches SQLite).

``mine_chunk(task)`` is the top-level, picklable function handed to the runner's ``map``: one
``git log -p`` process for the chunk's commit ids, one ``git cat-file --batch`` process for the
before/after contents, and plain tuples back to the parent, which alone writes SQLite.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from standard_coder.sch.mining.filters import language_of
from standard_coder.sch.mining.gitlog import (
    GITLINK_MODE,
    SYMLINK_MODE,
    ZERO_OID,
    GitError,
    ParsedCommit,
    decode,
    git_command,
    git_env,
    iter_records,
    parse_record,
    section_matches,
    section_stats,
    start_log,
)

MISSING_SECTION = b"diff --git \x00missing\n"
"""Placeholder section for a file whose objects could not be read."""

ZLIB_LEVEL = 1
"""Compression level for diffs and blobs (1: several times faster than 6, about 15% larger)."""


@dataclass(frozen=True)
class ExtractOptions:
    """What to extract from each commit (everything here is part of the repo's extraction key)."""

    ext_map: tuple[tuple[str, str], ...]
    """(lower-cased extension, language) pairs."""
    exclude_substrings: tuple[str, ...] = ()
    pathspec: tuple[str, ...] = ()
    max_files_per_commit: int = 300
    max_lines_per_commit: int = 20000
    store_contents: bool = True
    max_blob_bytes: int = 1_000_000
    max_record_bytes: int = 256 << 20
    """Per-commit cap on ``git log -p`` bytes kept in memory (beyond: commit flagged truncated)."""


@dataclass(frozen=True)
class ChunkTask:
    """One map item: some commit ids of one repository."""

    repo: str
    path: str
    ids: tuple[str, ...]
    options: ExtractOptions


CommitRow = tuple[str, str, str, str, str, str, int, int, int, str, int, int, int, int]
FileRow = tuple[
    str, str, int, str, str | None, str, str, int, int, int, bytes | None, str, str, int
]
BlobRow = tuple[str, int, bytes]


@dataclass
class ChunkResult:
    """What a worker sends back: rows ready for ``store.write_chunk``."""

    repo: str
    ids: tuple[str, ...]
    commits: list[CommitRow] = field(default_factory=list)
    files: list[FileRow] = field(default_factory=list)
    blobs: list[BlobRow] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(commit_id, reason) of listed commits not stored."""
    n_truncated: int = 0
    n_missing_objects: int = 0
    error: str | None = None
    seconds: float = 0.0


def _commit_files(
    c: ParsedCommit, opts: ExtractOptions, ext_map: dict[str, str]
) -> tuple[list[FileRow], bool, list[tuple[int, str, str]], int, int, int]:
    """File rows of one commit; also truncation, blob wants, n_files and line totals."""
    truncated = c.clipped
    rows: list[FileRow] = []
    wants: list[tuple[int, str, str]] = []  # (row index, old oid, new oid)
    sections = c.sections
    # A type change (e.g. file -> symlink) prints two patch sections for one raw entry.
    expected = sum(2 if e.status == "T" else 1 for e in c.entries)
    aligned = len(sections) == expected or c.clipped
    si = 0
    budget = opts.max_lines_per_commit
    n_files = added_total = deleted_total = 0
    for e in c.entries:
        nsec = 2 if e.status == "T" else 1
        secs = sections[si : si + nsec] if aligned else []
        si += nsec
        if GITLINK_MODE in (e.old_mode, e.new_mode) or SYMLINK_MODE in (e.old_mode, e.new_mode):
            continue
        path = decode(e.path)
        lang = language_of(path, ext_map, opts.exclude_substrings)
        if lang is None:
            continue
        missing = bool(secs) and secs[0] == MISSING_SECTION
        if missing:
            secs = []
        elif secs and not section_matches(secs[-1], e):
            secs, aligned = [], False
        added = deleted = 0
        binary = False
        hunks = b""
        for s in secs:
            a, d, b, h = section_stats(s)
            added, deleted, binary = added + a, deleted + d, binary or b
            hunks += h
        if not secs and not c.clipped and not missing and aligned is False:
            truncated = True  # patch could not be matched to this entry
        n_files += 1
        added_total += added
        deleted_total += deleted
        if n_files > opts.max_files_per_commit:
            truncated = True
            continue
        diff: bytes | None = None
        if hunks:
            if added + deleted <= budget:
                budget -= added + deleted
                diff = zlib.compress(hunks, ZLIB_LEVEL)
            else:
                truncated = True
                budget = -1
        rows.append(
            (
                "",  # repo, filled by caller
                c.commit_id,
                len(rows),
                path,
                decode(e.old_path) if e.old_path is not None else None,
                e.status[:1],
                lang,
                added,
                deleted,
                int(binary),
                diff,
                e.old_oid,
                e.new_oid,
                int(missing),
            )
        )
        if opts.store_contents and not binary and not missing and (diff is not None or not hunks):
            wants.append((len(rows) - 1, e.old_oid, e.new_oid))
    return rows, truncated, wants, n_files, added_total, deleted_total


def _commit_row(repo: str, c: ParsedCommit, n_files: int, added: int, deleted: int,
                truncated: bool) -> CommitRow:
    return (
        repo,
        c.commit_id,
        c.parents,
        c.author_name,
        c.author_email,
        c.author_email.strip().lower(),
        c.authored_at,
        c.author_tz_offset_min,
        c.committed_at,
        c.subject,
        n_files,
        added,
        deleted,
        int(truncated),
    )


def _run_log(
    repo: Path, ids: Sequence[str], opts: ExtractOptions, pathspec: Sequence[str], *,
    renames: bool = True,
) -> tuple[list[ParsedCommit], bool, str]:
    """Run one ``git log -p`` over ``ids``; returns (complete commits, ok, stderr)."""
    rename_limit = max(1000, opts.max_files_per_commit)
    with tempfile.TemporaryFile() as err:
        proc = start_log(repo, ids, pathspec, patch=True, renames=renames,
                         rename_limit=rename_limit, stderr=err)
        assert proc.stdout is not None
        parsed = [parse_record(r, clip) for r, clip in iter_records(proc.stdout,
                                                                     opts.max_record_bytes)]
        rc = proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace").strip()
    return parsed, rc == 0, stderr


def _fallback_commit(repo: Path, cid: str, opts: ExtractOptions) -> ParsedCommit | None:
    """Mine one commit file by file (after ``git log -p`` died, e.g. on a missing object).

    Returns the commit with one section per entry; unreadable entries get
    :data:`MISSING_SECTION`. Renames are not detected here (they need both contents).
    """
    with tempfile.TemporaryFile() as err:
        proc = start_log(repo, [cid], opts.pathspec, patch=False, renames=False,
                         rename_limit=1000, stderr=err)
        assert proc.stdout is not None
        recs = [parse_record(r) for r, _ in iter_records(proc.stdout, opts.max_record_bytes)]
        proc.wait()
    if not recs:
        return None
    head = recs[0]
    ext_map = dict(opts.ext_map)
    sections: list[bytes] = []
    entries = []
    for e in head.entries:
        if language_of(decode(e.path), ext_map, opts.exclude_substrings) is None:
            continue
        if GITLINK_MODE in (e.old_mode, e.new_mode) or SYMLINK_MODE in (e.old_mode, e.new_mode):
            continue
        spec = [":(literal)" + e.path.decode("utf-8", "surrogateescape")]
        got, ok, _ = _run_log(repo, [cid], opts, spec, renames=False)
        if ok and got and len(got[0].sections) == (2 if e.status == "T" else 1):
            entries.append(e)
            sections.extend(got[0].sections)
        else:
            entries.append(e)
            sections.extend([MISSING_SECTION] * (2 if e.status == "T" else 1))
    head.entries = entries
    head.sections = sections
    return head


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    chunks = []
    while n > 0:
        b = stream.read(n)
        if not b:
            raise GitError("git cat-file ended early")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def fetch_blobs(repo: Path, oids: Sequence[str], max_bytes: int) -> dict[str, bytes | None]:
    """Contents of ``oids`` through ONE ``git cat-file --batch``; None = missing or too large."""
    out: dict[str, bytes | None] = {}
    if not oids:
        return out
    proc = subprocess.Popen(
        git_command(repo, "cat-file", "--batch"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_env(repo),
    )
    assert proc.stdin is not None and proc.stdout is not None
    payload = ("\n".join(oids) + "\n").encode("ascii")
    stdin = proc.stdin

    def feed() -> None:
        try:
            stdin.write(payload)
            stdin.close()
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    stdout = proc.stdout
    try:
        for oid in oids:
            header = stdout.readline()
            if not header:
                break
            parts = header.split()
            if len(parts) < 3 or parts[1] != b"blob":
                out[oid] = None
                if len(parts) >= 3 and parts[2].isdigit():
                    _skip(stdout, int(parts[2]) + 1)
                continue
            size = int(parts[2])
            if size > max_bytes:
                _skip(stdout, size + 1)
                out[oid] = None
            else:
                out[oid] = _read_exact(stdout, size + 1)[:-1]
    finally:
        writer.join()
        stdout.close()
        proc.wait()
    return out


def _skip(stream: IO[bytes], n: int) -> None:
    while n > 0:
        b = stream.read(min(n, 1 << 20))
        if not b:
            return
        n -= len(b)


def mine_chunk(task: ChunkTask) -> ChunkResult:
    """Mine ``task.ids`` of one repository; never raises (errors come back in ``error``)."""
    t0 = time.perf_counter()
    res = ChunkResult(repo=task.repo, ids=task.ids)
    try:
        _mine_chunk(task, res)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the repo
        res.commits, res.files, res.blobs, res.skipped = [], [], [], []
        res.error = f"{type(exc).__name__}: {exc}"
    res.seconds = time.perf_counter() - t0
    return res


def _mine_chunk(task: ChunkTask, res: ChunkResult) -> None:
    repo = Path(task.path)
    opts = task.options
    ext_map = dict(opts.ext_map)
    done: dict[str, ParsedCommit] = {}
    todo = list(task.ids)
    while todo:
        parsed, ok, stderr = _run_log(repo, todo, opts, opts.pathspec)
        if ok:
            for c in parsed:
                done[c.commit_id] = c
            break
        # git died (typically "unable to read <oid>"): keep the complete records, mine the
        # failing commit file by file, then go on after it.
        complete = parsed[:-1] if parsed else []
        for c in complete:
            done[c.commit_id] = c
        pos = {cid: i for i, cid in enumerate(todo)}
        if parsed and parsed[-1].commit_id in pos:
            fail_at = pos[parsed[-1].commit_id]
        elif complete:
            fail_at = pos.get(complete[-1].commit_id, -1) + 1
        else:
            fail_at = 0
        if fail_at >= len(todo):
            raise GitError(f"git log failed in {repo}: {stderr}")
        cid = todo[fail_at]
        head = _fallback_commit(repo, cid, opts)
        if head is None:
            raise GitError(f"git log failed in {repo} at {cid}: {stderr}")
        done[cid] = head
        todo = todo[fail_at + 1 :]

    blob_wants: dict[str, list[tuple[int, str]]] = {}  # oid -> [(file row index, side)]
    for cid in task.ids:
        c = done.get(cid)
        if c is None:
            res.skipped.append((cid, "no_language_files"))
            continue
        rows, truncated, wants, n_files, added, deleted = _commit_files(c, opts, ext_map)
        if n_files == 0:
            res.skipped.append((cid, "no_language_files"))
            continue
        base = len(res.files)
        for r in rows:
            res.n_missing_objects += r[13]
            res.files.append((task.repo, *r[1:]))
        for idx, old, new in wants:
            for oid in (old, new):
                if oid != ZERO_OID:
                    blob_wants.setdefault(oid, []).append((base + idx, oid))
        res.commits.append(_commit_row(task.repo, c, n_files, added, deleted, truncated))
        res.n_truncated += int(truncated)
    if blob_wants:
        blobs = fetch_blobs(repo, list(blob_wants), opts.max_blob_bytes)
        for oid, content in blobs.items():
            if content is not None:
                res.blobs.append((oid, len(content), zlib.compress(content, ZLIB_LEVEL)))

