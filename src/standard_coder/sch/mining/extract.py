"""Mine one chunk of commits of one repository (runs in a worker; never touches SQLite).

``mine_chunk(task)`` is the top-level, picklable function handed to the runner's ``map``: one
``git log -p`` process for the chunk's commit ids, one ``git cat-file --batch`` process for the
before/after contents, and plain tuples back to the parent, which alone writes SQLite.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from standard_coder.runner.executor import ItemStopped, stop_requested
from standard_coder.sch.mining.filters import author_identity, language_of
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
    widen_pipe,
)

MISSING_SECTION = b"diff --git \x00missing\n"
"""Placeholder section for a file whose objects could not be read."""

FUTURE_TOLERANCE_S = 86_400
"""Commits authored more than this after the mining time are set aside as ``future_dated``."""

ZLIB_LEVEL = 1
"""Compression level for diffs and blobs (1: several times faster than 6, a little larger)."""


def zlib_compress(data: bytes) -> bytes:
    """Standard-library zlib with a window sized to the data.

    ``zlib.compress`` sets up a 32 KiB window and 128 KiB hash tables for every call; for the
    typical 1-8 KiB diff or file that setup costs 5-10x the compression itself.
    """
    wbits = min(15, max(9, len(data).bit_length()))
    c = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, wbits, 6)
    return c.compress(data) + c.flush()


zcompress: Callable[[bytes], bytes] = zlib_compress
"""zlib format (read back with plain ``zlib.decompress``) for diffs and blobs.

The standard library's zlib only: its output is a function of the input and the settings, so
two mines of one history store the same bytes. ISA-L (the ``isal`` package, 2.5x faster at
level 1) was used here until 2026-12-01 and is not: ten of 431 blobs of the chaos benchmark's
history came out as other (equally valid) bytes in one of two runs (docs/mining.md)."""


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


CommitRow = tuple[str, str, str, str, str, str, int, int, int, str, int, int, int, int, str]
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
                diff = zcompress(hunks)
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


def _commit_row(
    repo: str, c: ParsedCommit, n_files: int, added: int, deleted: int, truncated: bool
) -> CommitRow:
    return (
        repo,
        c.commit_id,
        c.parents,
        c.author_name,
        c.author_email,
        author_identity(c.author_email, c.author_name),
        c.authored_at,
        c.author_tz_offset_min,
        c.committed_at,
        c.subject,
        n_files,
        added,
        deleted,
        int(truncated),
        c.committer_email,
    )


def _run_log(
    repo: Path,
    ids: Sequence[str],
    opts: ExtractOptions,
    pathspec: Sequence[str],
    *,
    renames: bool = True,
) -> tuple[list[ParsedCommit], bool, str]:
    """Run one ``git log -p`` over ``ids``; returns (complete commits, ok, stderr)."""
    rename_limit = max(1000, opts.max_files_per_commit)
    with tempfile.TemporaryFile() as err:
        proc = start_log(
            repo, ids, pathspec, patch=True, renames=renames, rename_limit=rename_limit, stderr=err
        )
        assert proc.stdout is not None
        parsed = [
            parse_record(r, clip) for r, clip in iter_records(proc.stdout, opts.max_record_bytes)
        ]
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
        proc = start_log(
            repo, [cid], opts.pathspec, patch=False, renames=False, rename_limit=1000, stderr=err
        )
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


def _skip(stream: IO[bytes], n: int) -> None:
    while n > 0:
        b = stream.read(min(n, 1 << 20))
        if not b:
            return
        n -= len(b)


class BlobFetcher:
    """Reads wanted blobs with ONE ``git cat-file --batch`` that runs while the chunk is parsed.

    ``request`` queues an id; ``flush`` hands the queued ids to a writer thread that feeds
    cat-file (started on the first flush), so the parsing thread never waits on the pipe; a
    reader thread reads and compresses the contents as they come (zlib and pipe reads release
    the GIL, so this overlaps parsing). ``close()`` waits for everything and returns the rows.
    Contents over ``max_bytes`` are skipped.
    """

    def __init__(self, repo: Path, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._repo = repo
        self._seen: set[str] = set()
        self._queued: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._payloads: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._rows: list[BlobRow] = []
        self._error: BaseException | None = None

    def request(self, oid: str) -> None:
        if oid != ZERO_OID and oid not in self._seen:
            self._seen.add(oid)
            self._queued.append(oid)

    def flush(self) -> None:
        """Send the queued ids to cat-file (starting it on first use); never blocks."""
        if not self._queued:
            return
        if self._proc is None:
            self._start()
        self._payloads.put(("\n".join(self._queued) + "\n").encode("ascii"))
        self._queued.clear()

    def abort(self) -> None:
        """Stop cat-file now and drop what was fetched (the chunk is not used)."""
        self._queued.clear()
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        self._payloads.put(None)
        for t in self._threads:
            t.join()
        self._proc.wait()
        self._rows = []

    def close(self) -> list[BlobRow]:
        """Fetch everything requested; return ``(oid, size, zlib content)`` rows."""
        self.flush()
        if self._proc is None:
            return self._rows
        self._payloads.put(None)
        for t in self._threads:
            t.join()
        self._proc.wait()
        if self._error is not None:
            raise self._error
        return self._rows

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            git_command(self._repo, "cat-file", "--batch"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=git_env(self._repo),
        )
        assert self._proc.stdout is not None
        widen_pipe(self._proc.stdout)
        for target in (self._write_all, self._read_all):
            self._threads.append(threading.Thread(target=target, daemon=True))
            self._threads[-1].start()

    def _write_all(self) -> None:
        """Writer thread: feed queued ids to cat-file until ``close()`` (None), then EOF."""
        assert self._proc is not None and self._proc.stdin is not None
        stdin = self._proc.stdin
        with contextlib.suppress(BrokenPipeError):  # cat-file died: the reader has what it got
            while (payload := self._payloads.get()) is not None:
                stdin.write(payload)
                stdin.flush()
        with contextlib.suppress(BrokenPipeError):
            stdin.close()

    def _read_all(self) -> None:
        """Reader thread: parse cat-file's output until EOF, compressing each wanted blob."""
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        try:
            while header := stdout.readline():
                parts = header.split()
                if len(parts) < 3 or not parts[2].isdigit():
                    continue  # "<oid> missing"
                size = int(parts[2])
                if parts[1] != b"blob" or size > self.max_bytes:
                    _skip(stdout, size + 1)
                    continue
                content = _read_exact(stdout, size)
                _skip(stdout, 1)  # the newline after the contents
                self._rows.append((parts[0].decode("ascii"), size, zcompress(content)))
        except BaseException as exc:  # reported by close()
            self._error = exc
            self._proc.kill()
        finally:
            stdout.close()


def mine_chunk(task: ChunkTask) -> ChunkResult:
    """Mine ``task.ids`` of one repository; errors come back in ``error``.

    Raises:
        ItemStopped: the run asked to stop (:func:`stop_requested`, polled between commits);
            the chunk is not done and is mined again by the next run.
    """
    t0 = time.perf_counter()
    res = ChunkResult(repo=task.repo, ids=task.ids)
    try:
        _mine_chunk(task, res)
    except ItemStopped:
        raise
    except Exception as exc:
        res.commits, res.files, res.blobs, res.skipped = [], [], [], []
        res.error = f"{type(exc).__name__}: {exc}"
    res.seconds = time.perf_counter() - t0
    return res


class _ChunkBuilder:
    """Turns parsed commits into rows as they arrive and asks for their blobs at once."""

    def __init__(self, task: ChunkTask, res: ChunkResult, fetcher: BlobFetcher) -> None:
        self.task, self.res, self.fetcher = task, res, fetcher
        self.ext_map = dict(task.options.ext_map)
        self.seen: set[str] = set()
        self.not_after = int(time.time()) + FUTURE_TOLERANCE_S

    def add(self, c: ParsedCommit) -> None:
        res = self.res
        self.seen.add(c.commit_id)
        if c.authored_at > self.not_after:
            # A wrong clock (2099): kept, it would anchor its author's work-inference window
            # decades ahead and leave the author with no minutes. Counted by the mine stage.
            res.skipped.append((c.commit_id, "future_dated"))
            return
        rows, truncated, wants, n_files, added, deleted = _commit_files(
            c, self.task.options, self.ext_map
        )
        if n_files == 0:
            res.skipped.append((c.commit_id, "no_language_files"))
            return
        repo = self.task.repo
        for r in rows:
            res.n_missing_objects += r[13]
            res.files.append((repo, *r[1:]))
        # Only the new side: an old blob is almost always the new blob of an earlier commit
        # (another chunk); the parent backfills the rest once the repo is complete.
        for _, _old, new in wants:
            self.fetcher.request(new)
        if len(self.seen) % 32 == 0:
            self.fetcher.flush()
        res.commits.append(_commit_row(repo, c, n_files, added, deleted, truncated))
        res.n_truncated += int(truncated)


def _stream_log(
    repo: Path, ids: Sequence[str], opts: ExtractOptions, builder: _ChunkBuilder
) -> tuple[list[str], bool, str]:
    """Run ``git log -p`` over ``ids`` feeding complete commits to ``builder``.

    A record is only used once the next one started (or git exited cleanly), so the commit git
    was printing when it died is never half-stored. Returns (ids of used commits, ok, stderr,
    plus the id of a record cut by a failure as the last element of the list when not ok).
    """
    rename_limit = max(1000, opts.max_files_per_commit)
    used: list[str] = []
    with tempfile.TemporaryFile() as err:
        proc = start_log(
            repo,
            ids,
            opts.pathspec,
            patch=True,
            renames=True,
            rename_limit=rename_limit,
            stderr=err,
        )
        assert proc.stdout is not None
        pending: ParsedCommit | None = None
        for record, clipped in iter_records(proc.stdout, opts.max_record_bytes):
            if stop_requested():  # Ctrl-C / SIGTERM: do not wait for the rest of the chunk
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
                raise ItemStopped(f"{repo}: chunk of {len(ids)} commits")
            c = parse_record(record, clipped)
            if pending is not None:
                builder.add(pending)
                used.append(pending.commit_id)
            pending = c
        rc = proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace").strip()
    if pending is not None:
        if rc == 0:
            builder.add(pending)
            used.append(pending.commit_id)
        else:
            used.append(pending.commit_id)  # cut short: reported, not used
    return used, rc == 0, stderr


def _mine_chunk(task: ChunkTask, res: ChunkResult) -> None:
    repo = Path(task.path)
    opts = task.options
    fetcher = BlobFetcher(repo, opts.max_blob_bytes if opts.store_contents else -1)
    builder = _ChunkBuilder(task, res, fetcher)
    stopped = False
    try:
        todo = list(task.ids)
        while todo:
            used, ok, stderr = _stream_log(repo, todo, opts, builder)
            if ok:
                break
            # git died (typically "unable to read <oid>"): mine the failing commit file by
            # file, then go on with the commits after it.
            pos = {cid: i for i, cid in enumerate(todo)}
            if used and used[-1] not in builder.seen and used[-1] in pos:
                fail_at = pos[used[-1]]
            elif used:
                fail_at = pos.get(used[-1], -1) + 1
            else:
                fail_at = 0
            if fail_at >= len(todo):
                raise GitError(f"git log failed in {repo}: {stderr}")
            cid = todo[fail_at]
            head = _fallback_commit(repo, cid, opts)
            if head is None:
                raise GitError(f"git log failed in {repo} at {cid}: {stderr}")
            builder.add(head)
            todo = todo[fail_at + 1 :]
    except ItemStopped:
        stopped = True
        raise
    finally:
        if stopped:
            fetcher.abort()
        else:
            res.blobs = fetcher.close()
    for cid in task.ids:
        if cid not in builder.seen:
            res.skipped.append((cid, "no_language_files"))
