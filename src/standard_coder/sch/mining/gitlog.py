"""Streamed ``git log`` as bytes: safe git invocation and a small byte-level parser.

Every git call goes through :func:`git_command`: no system config, no prompts, hooks pointed at
``/dev/null``, external diff drivers and textconv disabled, no upward repository search, and
output settings pinned so a user's config cannot change the format we parse.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ZERO_OID = "0" * 40
GITLINK_MODE = "160000"
SYMLINK_MODE = "120000"

# Start of every commit record in our ``--format``: control bytes plus a random nonce drawn once
# per process. Any commit may carry fixed bytes in its subject, author name or email, or in a file
# path (git allows ``\x1e\x1fSCH:`` in all of them); nobody can put this process's nonce there,
# so a record boundary is never forged and such commits are mined like any other.
MARKER = b"\x1e\x1fSCH:" + secrets.token_hex(8).encode("ascii") + b":"
LOG_FORMAT = (
    "%x1e%x1fSCH:"
    + MARKER[6:].decode("ascii")
    + "%H%x00%P%x00%aN%x00%aE%x00%ad%x00%ct%x00%ce%x00%s"
)
N_HEADER_FIELDS = 8
READ_BLOCK = 256 << 10
PIPE_BYTES = 1 << 20

_CONFIG_PINS = (
    "core.quotepath=off",
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "color.ui=never",
    "log.showSignature=false",
    "log.decorate=false",
    "log.mailmap=true",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "diff.relative=false",
    "diff.external=",
    "diff.algorithm=myers",
    "diff.indentHeuristic=true",
    "diff.suppressBlankEmpty=false",
    "diff.context=3",
    "diff.interHunkContext=0",
)

_DROP_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIFF_OPTS",
    "GIT_PAGER",
    "PAGER",
)


class GitError(RuntimeError):
    """A git command failed; the message carries the command and git's stderr."""


class NotARepository(GitError):
    """A configured path is missing, a file, or not (the top of) a git repository: the
    configuration's fault, not git's."""


def git_env(repo: Path) -> dict[str, str]:
    """The environment for git in ``repo``: no system config, no prompts, no upward search."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="true",
        GIT_CEILING_DIRECTORIES=str(Path(repo).parent),
        LC_ALL="C",
        LANGUAGE="C",
    )
    return env


def git_command(repo: Path, *args: str, rename_limit: int = 1000) -> list[str]:
    """``git -C repo -c <pins> args...`` as an argv list."""
    argv = ["git", "-C", str(repo)]
    for pin in (*_CONFIG_PINS, f"diff.renameLimit={rename_limit}"):
        argv += ["-c", pin]
    argv += list(args)
    return argv


def run_git(repo: Path, *args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
    """Run a short git command and return its stdout (raises :class:`GitError` when ``check``)."""
    proc = subprocess.run(
        git_command(repo, *args),
        input=stdin,
        capture_output=True,
        env=git_env(repo),
        check=False,
    )
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {' '.join(args[:3])} failed in {repo}: {err}")
    return proc.stdout


def widen_pipe(stream: IO[bytes]) -> None:
    """Let git write up to :data:`PIPE_BYTES` ahead of the reader (Linux; best effort)."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # other systems, or over /proc/sys/fs/pipe-max-size: the default pipe works


def decode(raw: bytes) -> str:
    """Bytes from git to text: UTF-8 with replacement characters, never an error."""
    return raw.decode("utf-8", "replace")


def parse_tz_offset(text: str) -> int:
    """``+0530`` -> 330, ``-0500`` -> -300 (minutes east of UTC)."""
    m = re.fullmatch(r"\s*([+-])(\d\d)(\d\d)\s*", text)
    if not m:
        return 0
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return -minutes if m.group(1) == "-" else minutes


@dataclass(frozen=True)
class RawEntry:
    """One ``--raw`` record: a path changed by the commit."""

    old_mode: str
    new_mode: str
    old_oid: str
    new_oid: str
    status: str
    path: bytes
    old_path: bytes | None


@dataclass
class ParsedCommit:
    """One commit record from our ``git log`` output (paths and diffs still bytes)."""

    commit_id: str
    parents: str
    author_name: str
    author_email: str
    authored_at: int
    author_tz_offset_min: int
    committed_at: int
    subject: str
    committer_email: str = ""
    """Raw (not mailmapped) committer email: ``noreply@github.com`` for GitHub's web merges."""
    entries: list[RawEntry] = field(default_factory=list)
    sections: list[bytes] = field(default_factory=list)
    clipped: bool = False
    """The record exceeded the per-commit byte cap; the tail of its patch was not read."""


def iter_records(stream: IO[bytes], max_record_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Split a ``git log`` byte stream into commit records, reading 256 KiB blocks.

    Blocks are small enough that parsing one overlaps git writing the next (see
    :func:`widen_pipe`) and of fixed size: reading whatever the pipe holds (``read1``) made
    allocations of every size and raised peak memory by a quarter on long histories.

    Yields ``(record, clipped)``; a record larger than ``max_record_bytes`` is cut there (its
    tail is skipped without being kept in memory) and flagged, so a giant commit never exhausts
    memory.
    """
    buf = bytearray()
    start = -1  # start of the current record in buf, -1 before the first marker
    clipped = False
    scan = 0
    mlen = len(MARKER)
    while True:
        block = stream.read(READ_BLOCK)
        if not block:
            break
        buf += block
        while True:
            if start < 0:
                pos = buf.find(MARKER, scan)
                if pos < 0:
                    scan = max(0, len(buf) - mlen)
                    break
                start, scan = pos, pos + mlen
                continue
            pos = buf.find(MARKER, scan)
            if pos < 0:
                if len(buf) - start > max_record_bytes:
                    # keep the head (header, raw records, first sections), drop the rest
                    keep = start + max_record_bytes
                    tail = bytes(buf[-mlen:])
                    del buf[keep:]
                    buf += tail
                    clipped = True
                scan = max(start + mlen, len(buf) - mlen)
                break
            end = pos
            if end - start > max_record_bytes:
                end, clipped = start + max_record_bytes, True
            yield bytes(buf[start:end]), clipped
            clipped = False
            del buf[:pos]
            start, scan = 0, mlen
    if start >= 0:
        end = len(buf)
        if end - start > max_record_bytes:
            end, clipped = start + max_record_bytes, True
        yield bytes(buf[start:end]), clipped


def parse_record(record: bytes, clipped: bool = False) -> ParsedCommit:
    """Parse one record (starting at :data:`MARKER`) into header, raw entries and patch sections."""
    body = record[len(MARKER) :]
    parts = body.split(b"\x00", N_HEADER_FIELDS)
    if len(parts) < N_HEADER_FIELDS:
        raise GitError(f"malformed git log record: {record[:200]!r}")
    sha, parents, name, email, adate, ctime, cemail, subject = parts[:N_HEADER_FIELDS]
    rest = parts[N_HEADER_FIELDS] if len(parts) > N_HEADER_FIELDS else b""
    atime, _, tz = adate.decode("ascii", "replace").partition(" ")
    commit = ParsedCommit(
        commit_id=sha.decode("ascii"),
        parents=parents.decode("ascii", "replace"),
        author_name=decode(name),
        author_email=decode(email),
        authored_at=int(atime or 0),
        author_tz_offset_min=parse_tz_offset(tz),
        committed_at=int(ctime or b"0"),
        subject=decode(subject),
        committer_email=decode(cemail),
        clipped=clipped,
    )
    pos, n = 0, len(rest)
    while pos < n and rest[pos] in (0, 10):
        pos += 1
    while pos < n and rest[pos] == 58:  # ':' -> one raw record
        end = rest.find(b"\x00", pos)
        if end < 0:
            break
        meta = rest[pos + 1 : end].decode("ascii", "replace").split()
        pos = end + 1
        if len(meta) < 5:
            break
        p_end = rest.find(b"\x00", pos)
        if p_end < 0:
            break
        first = rest[pos:p_end]
        pos = p_end + 1
        status = meta[4]
        if status[:1] in ("R", "C"):
            p_end = rest.find(b"\x00", pos)
            if p_end < 0:
                break
            entry = RawEntry(meta[0], meta[1], meta[2], meta[3], status, rest[pos:p_end], first)
            pos = p_end + 1
        else:
            entry = RawEntry(meta[0], meta[1], meta[2], meta[3], status, first, None)
        commit.entries.append(entry)
        while pos < n and rest[pos] in (0, 10):
            pos += 1
    patch = rest[pos:].rstrip(b"\x00")
    if patch:
        commit.sections = split_sections(patch)
    return commit


def split_sections(patch: bytes) -> list[bytes]:
    """Split a patch into per-file sections, each starting with ``diff --git``."""
    out: list[bytes] = []
    key = b"\ndiff --git "
    start = 0 if patch.startswith(b"diff --git ") else patch.find(key) + 1
    if start <= 0 and not patch.startswith(b"diff --git "):
        return out
    while True:
        nxt = patch.find(key, start)
        if nxt < 0:
            out.append(patch[start:])
            return out
        out.append(patch[start : nxt + 1])
        start = nxt + 1


def section_stats(section: bytes) -> tuple[int, int, bool, bytes]:
    """``(added, deleted, is_binary, hunks)`` of one file section; ``hunks`` has no headers."""
    at = section.find(b"\n@@")
    if at < 0:
        is_binary = b"\nBinary files " in section or b"\nGIT binary patch" in section
        return 0, 0, is_binary, b""
    hunks = section[at + 1 :]
    return hunks.count(b"\n+"), hunks.count(b"\n-"), False, hunks


def section_matches(section: bytes, entry: RawEntry) -> bool:
    """Cheap check that a patch section belongs to ``entry`` (by its ``diff --git`` line)."""
    eol = section.find(b"\n")
    head = section[: eol if eol >= 0 else len(section)]
    if head.endswith(b'"'):
        return True  # C-quoted path (tab, newline, quote): cannot check cheaply, trust order
    return head.endswith(b" b/" + entry.path)


def start_log(
    repo: Path,
    ids: Sequence[str],
    pathspec: Sequence[str],
    *,
    patch: bool,
    renames: bool,
    rename_limit: int,
    stderr: IO[bytes],
) -> subprocess.Popen[bytes]:
    """Start ``git log --no-walk=unsorted --stdin`` over ``ids`` (ids written on stdin).

    ``stderr`` should be a file (not a pipe) so warnings can never block git.
    """
    args = [
        "log",
        "--no-walk=unsorted",
        "--stdin",
        "--no-merges",
        "-z",
        "--raw",
        "--no-abbrev",
        "--full-index",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        "--date=raw",
        f"--format={LOG_FORMAT}",
        "-M" if renames else "--no-renames",
    ]
    if patch:
        args.append("-p")
    argv = git_command(repo, *args, "--", *pathspec, rename_limit=rename_limit)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=git_env(repo),
    )
    assert proc.stdin is not None and proc.stdout is not None
    widen_pipe(proc.stdout)
    try:
        proc.stdin.write(("\n".join(ids) + "\n").encode("ascii"))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    return proc
