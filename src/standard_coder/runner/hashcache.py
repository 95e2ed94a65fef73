"""Content hashing with a persistent stat cache: unchanged files are never re-read.

The cache maps ``(path, inode, size, mtime_ns) -> sha256`` in one SQLite table. A file whose
stat matches its row gets the stored digest; any other file is re-hashed (1 MiB ``readinto``
chunks) and its row replaced. Folders are walked in sorted order; their checksum is the sha256
of ``relative_path NUL sha256 LF`` lines, so a rename changes it.

A stat-only *token* (sha256 of every file's relative path, inode, size and mtime) is computed
during the walk; when it equals the token recorded last time, no cache lookup is needed at all.

A big folder whose token changed (one file among 20,000) is looked up in its *snapshot*: the
stat lines and digests of its last content pass, one file under ``cache/folders/`` (read whole,
checksummed, a cache: a missing or damaged one falls back to the rows). A line found there is
the same stat the same row recorded, so it has that digest; any other file is hashed.

Example:
    >>> cache = SqliteHashCache(Path("hashcache.sqlite"))  # doctest: +SKIP
    >>> state = scan_path(Path("data"), cache)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import FileIO
from operator import attrgetter
from pathlib import Path
from typing import Any, Protocol, TypeVar

from standard_coder.runner.errors import InputMissing
from standard_coder.runner.fserrors import sqlite_error
from standard_coder.runner.sqliteread import connect_readonly
from standard_coder.runner.statwalk import lines_token, link_digest, taken, walk_lines

R = TypeVar("R")

_by_name = attrgetter("name")

CHUNK_SIZE = 1 << 20
"""Bytes read per ``readinto`` call while hashing."""

Row = tuple[str, int, int, int, str]
"""``(path, inode, size, mtime_ns, sha256)``."""


def _storable(path: str) -> bool:
    """Whether ``path`` fits SQLite's TEXT (a file name that is not UTF-8 arrives with
    surrogate escapes, which cannot be encoded)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sha256_file(path: Path | str) -> str:
    """sha256 hex digest of a file, read in 1 MiB ``readinto`` chunks into one buffer."""
    with open(path, "rb", buffering=0) as fh:
        return _sha256_of(fh)


def _sha256_of(fh: FileIO) -> str:
    digest = hashlib.sha256()
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    while n := fh.readinto(buf):
        digest.update(view[:n])
    return digest.hexdigest()


def entry_digest(path: str, inode: int) -> str:
    """sha256 of what the stat walk saw at ``path`` as inode ``inode``: a file's bytes (a link
    that resolves is followed), or the target path of a link that leads nowhere
    (:func:`~standard_coder.runner.statwalk.link_digest`), also when it has gained a target
    since the walk (its line is the link's).

    Raises:
        OSError: ``path`` cannot be read (removed since the walk, no permission).
    """
    try:
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 (closed below)
    except OSError:
        digest = link_digest(path, inode)
        if digest is None:
            raise
        return digest
    with fh:
        if os.fstat(fh.fileno()).st_ino != inode and (link := link_digest(path, inode)):
            return link
        return _sha256_of(fh)


class HashCache(Protocol):
    """The three calls the hasher needs; SQLite and dict implementations share it."""

    def get(self, path: str, inode: int, size: int, mtime_ns: int) -> str | None:
        """The stored digest when the stat matches, else None."""
        ...

    def put_many(self, rows: Iterable[Row]) -> None:
        """Record fresh digests (one transaction)."""
        ...

    def close(self) -> None: ...


class DictHashCache:
    """In-memory :class:`HashCache` (tests, ``status`` runs that must not write)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, int, int, str]] = {}

    def get(self, path: str, inode: int, size: int, mtime_ns: int) -> str | None:
        row = self.rows.get(path)
        if row is not None and row[:3] == (inode, size, mtime_ns):
            return row[3]
        return None

    def put_many(self, rows: Iterable[Row]) -> None:
        for path, inode, size, mtime_ns, sha in rows:
            self.rows[path] = (inode, size, mtime_ns, sha)

    def close(self) -> None:
        pass


class SqliteHashCache:
    """Persistent :class:`HashCache` in one SQLite file (WAL).

    Args:
        path: the database file (created with its folder).
        readonly: ``put_many`` keeps rows in memory only (``status`` and ``--dry-run``).

    Raises:
        CorruptStateError: the file is not a hash cache (garbage, truncated, wrong schema).
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._pending = DictHashCache()
        self._preloaded: dict[str, tuple[int, int, int, str]] = {}
        self._conn: sqlite3.Connection | None = None
        self.snapshots = self.path.parent / SNAPSHOT_DIR
        if readonly and not self.path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if readonly:
                conn = connect_readonly(self.path)
            else:
                conn = sqlite3.connect(self.path, isolation_level=None)
            if not readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, inode INTEGER,"
                    " size INTEGER, mtime_ns INTEGER, sha256 TEXT NOT NULL)"
                )
            conn.execute("SELECT path, inode, size, mtime_ns, sha256 FROM hashes LIMIT 1")
        except sqlite3.DatabaseError as exc:
            raise sqlite_error(self.path, exc, "hash cache unreadable") from None
        self._conn = conn

    def preload(self, folder: str) -> None:
        """Read every row under ``folder`` in one query (a big folder's stats changed)."""
        if self._conn is None:
            return
        rows = self._under(
            folder, "SELECT path, inode, size, mtime_ns, sha256 FROM hashes", list, offset=False
        )
        for path, inode, size, mtime_ns, sha in rows:
            self._preloaded[path] = (inode, size, mtime_ns, sha)

    def digests_by_line(self, folder: str) -> dict[str, str] | None:
        """``stat line -> sha256`` of every row under ``folder``, the line as :func:`stat_lines`
        writes it (name relative to ``folder``), built by SQLite in one query: a changed folder
        then costs one dict lookup per file. None while rows are pending (read-only) or closed.
        """
        if self._conn is None or self._pending.rows:
            return None
        return self._under(
            folder,
            "SELECT substr(path, ?) || char(0) || inode || char(0) || size || char(0)"
            " || mtime_ns || char(10), sha256 FROM hashes",
            dict,
            offset=True,
        )

    def _under(self, folder: str, select: str, read: Callable[[Any], R], *, offset: bool) -> R:
        """``read`` of the cursor of ``select`` over the rows whose path lies under ``folder``
        (one range scan of the primary key); ``offset``: its first parameter is where the name
        relative to ``folder`` starts in ``path``."""
        lo = folder.rstrip("/") + "/"
        hi = folder.rstrip("/") + "0"  # "0" sorts right after "/"
        params = (len(lo) + 1, lo, hi) if offset else (lo, hi)
        assert self._conn is not None
        try:
            return read(self._conn.execute(f"{select} WHERE path >= ? AND path < ?", params))
        except sqlite3.DatabaseError as exc:
            raise sqlite_error(self.path, exc, "hash cache unreadable") from None

    def folder_snapshot(self, folder: str) -> dict[str, str] | None:
        """``stat line -> sha256`` of ``folder``'s last content pass (:func:`save_snapshot`),
        or None when there is none or it does not check out."""
        if self._conn is None:
            return None
        return read_snapshot(self.snapshots, folder)

    def save_folder_snapshot(self, folder: str, lines: list[str], shas: list[str]) -> None:
        """Keep ``folder``'s stat lines and digests for its next content pass (not when
        read-only; a write that fails only costs the next pass the row query)."""
        if self.readonly or self._conn is None:
            return
        with contextlib.suppress(OSError):
            save_snapshot(self.snapshots, folder, lines, shas)

    def get(self, path: str, inode: int, size: int, mtime_ns: int) -> str | None:
        hit = self._pending.get(path, inode, size, mtime_ns)
        if hit is not None or self._conn is None:
            return hit
        row_pre = self._preloaded.get(path)
        if row_pre is not None:
            return row_pre[3] if row_pre[:3] == (inode, size, mtime_ns) else None
        try:
            row = self._conn.execute(
                "SELECT inode, size, mtime_ns, sha256 FROM hashes WHERE path = ?", (path,)
            ).fetchone()
        except UnicodeEncodeError:  # a name that is not UTF-8 never has a row (put_many)
            return None
        except sqlite3.DatabaseError as exc:
            raise sqlite_error(self.path, exc, "hash cache unreadable") from None
        if row is not None and tuple(row[:3]) == (inode, size, mtime_ns):
            return str(row[3])
        return None

    def put_many(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        if self.readonly or self._conn is None:
            self._pending.put_many(rows)
            return
        try:
            self._insert(rows)
        except UnicodeEncodeError:
            # a name that is not UTF-8 (surrogate escapes): SQLite's TEXT cannot hold it, this
            # run's memory can (the file is hashed again next run)
            self._conn.execute("ROLLBACK")
            self._pending.put_many([r for r in rows if not _storable(r[0])])
            self._insert([r for r in rows if _storable(r[0])])

    def _insert(self, rows: list[Row]) -> None:
        assert self._conn is not None
        try:
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)", rows)
            self._conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise sqlite_error(self.path, exc, "hash cache unwritable") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def rows_of_gone_files(db_path: Path) -> tuple[list[str], int]:
    """The hash cache's rows whose file is gone and how many rows there are; ``([], 0)``
    without a database. Read-only. A row is gone when its path is absolute, does not exist, and
    the nearest folder above it that does exist holds something and is not ``/``: a drive that
    is not mounted here (an empty mount point) or a path that only exists inside a container
    keeps its rows, and so does a relative name (it depends on the folder a run started in).

    Raises:
        CorruptStateError: the file is not a hash cache.
    """
    if not db_path.is_file():
        return [], 0
    try:
        with contextlib.closing(connect_readonly(db_path)) as conn:
            paths = [str(r[0]) for r in conn.execute("SELECT path FROM hashes")]
    except sqlite3.DatabaseError as exc:
        raise sqlite_error(db_path, exc, "hash cache unreadable") from None
    memo: dict[str, bool] = {}
    gone = [p for p in paths if os.path.isabs(p) and not os.path.lexists(p)
            and seen_here(os.path.dirname(p), memo)]  # fmt: skip
    return gone, len(paths)


def seen_here(folder: str, memo: dict[str, bool] | None = None) -> bool:
    """Whether the nearest existing folder at or above the absolute ``folder`` holds something
    and is not ``/``: what is missing below it was removed, not merely out of sight (an empty
    mount point of a drive that is not mounted, a path that only exists in a container).
    ``memo`` caches answers across calls."""
    memo = {} if memo is None else memo
    if folder not in memo:
        if os.path.isdir(folder):
            try:
                with os.scandir(folder) as entries:
                    memo[folder] = folder != "/" and any(True for _ in entries)
            except OSError:
                memo[folder] = False
        else:
            parent = os.path.dirname(folder)
            memo[folder] = parent != folder and seen_here(parent, memo)
    return memo[folder]


def delete_rows(db_path: Path, paths: list[str]) -> None:
    """Delete the rows of ``paths`` and give their space back (``VACUUM``); the caller holds
    the output folder's run lock.

    Raises:
        CorruptStateError: the file is not a hash cache, or cannot be written.
    """
    try:
        with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
            conn.execute("BEGIN")
            conn.executemany("DELETE FROM hashes WHERE path = ?", [(p,) for p in paths])
            conn.execute("COMMIT")
            conn.execute("VACUUM")
    except sqlite3.DatabaseError as exc:
        raise sqlite_error(db_path, exc, "hash cache unwritable") from None


SNAPSHOT_DIR = "folders"
"""Beside the hash cache's file: one snapshot per big folder (a cache; deleting it is safe)."""
_SNAP_MAGIC = b"sc-folder-snapshot-1\0"


def _snapshot_file(where: Path, folder: str) -> Path:
    key = hashlib.sha256(folder.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return where / f"{key}.snap"


def save_snapshot(where: Path, folder: str, lines: list[str], shas: list[str]) -> None:
    """Write ``folder``'s snapshot atomically, without fsync (a cache: a torn one is refused).

    Layout: magic, folder NUL count NUL sha256-of-body LF, then the body: the stat lines
    joined by NUL NUL (a line never holds two NULs in a row: it starts with a non-empty name
    and its fields are digits), NUL NUL NUL, the digests joined by LF.
    """
    body = (
        "\0\0".join(lines).encode("utf-8", "surrogateescape")
        + b"\0\0\0"
        + "\n".join(shas).encode("ascii")
    )
    head = folder.encode("utf-8", "surrogateescape") + f"\0{len(lines)}\0".encode()
    data = _SNAP_MAGIC + head + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    where.mkdir(parents=True, exist_ok=True)
    path = _snapshot_file(where, folder)
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def snapshot_folder(path: Path) -> str | None:
    """The folder a snapshot file was written for (its header), or None when the file is not a
    snapshot this module wrote under that name (``gc`` removes those, and those of folders that
    are gone)."""
    try:
        with open(path, "rb") as fh:
            head = fh.readline(1 << 16)
    except OSError:
        return None
    if not head.startswith(_SNAP_MAGIC) or not head.endswith(b"\n"):
        return None
    try:
        name = head[len(_SNAP_MAGIC) : -1].rsplit(b"\0", 2)[0]
        folder = name.decode("utf-8", "surrogateescape")
    except (ValueError, IndexError):
        return None
    return folder if _snapshot_file(path.parent, folder).name == path.name else None


def read_snapshot(where: Path, folder: str) -> dict[str, str] | None:
    """``stat line -> sha256`` from ``folder``'s snapshot; None when absent, of another
    folder, torn or damaged (its checksum fails)."""
    try:
        with open(_snapshot_file(where, folder), "rb") as fh:
            data = fh.read()
        if not data.startswith(_SNAP_MAGIC):
            return None
        head, _, body = data[len(_SNAP_MAGIC) :].partition(b"\n")
        name, count, digest = head.rsplit(b"\0", 2)
        if name != folder.encode("utf-8", "surrogateescape"):
            return None
        if hashlib.sha256(body).hexdigest().encode() != digest:
            return None
        text, _, digests = body.rpartition(b"\0\0\0")
        lines = text.decode("utf-8", "surrogateescape").split("\0\0")
        shas = digests.decode("ascii").split("\n")
        if len(lines) != int(count) or len(shas) != len(lines):
            return None
    except (OSError, ValueError):
        return None
    return dict(zip(lines, shas, strict=True))


@dataclass
class PathState:
    """What a scan found at one declared path.

    Attributes:
        token: stat-only token (sha256 of names, inodes, sizes, mtimes).
        checksum: content checksum (``""`` when the scan stopped at a matching token).
        files: relative path -> sha256 of each file (``{"": sha}`` for a plain file), when hashed.
        rehashed: how many files were read because their stat was new.
    """

    token: str
    checksum: str = ""
    files: dict[str, str] = field(default_factory=dict)
    rehashed: int = 0


def stat_lines(path: Path | str) -> list[str]:
    """``relative_path NUL inode NUL size NUL mtime_ns LF`` of every regular file, in the
    order of :func:`list_files` (a plain file gives one line named ``""``): one ``scandir``
    pass, each file's stat from its ``DirEntry``, nothing else kept (what a no-op needs).

    Raises:
        InputMissing: ``path`` does not exist.
    """
    handed = taken(str(path))
    if handed is not None:  # walked a moment ago by the fast door, under the same lock
        return handed
    try:
        return walk_lines(path)
    except FileNotFoundError:
        if os.path.exists(path):  # a file vanished below it: the walk's own error, as before
            raise
        raise InputMissing(f"{path}: declared path does not exist") from None


def _entry(line: str) -> tuple[str, int, int, int]:
    name, ino, size, mtime_ns = line[:-1].rsplit("\0", 3)  # a name holds no NUL
    return name, int(ino), int(size), int(mtime_ns)


def list_files(path: Path | str) -> list[tuple[str, int, int, int]]:
    """``(relative_path, inode, size, mtime_ns)`` of every regular file, sorted; a plain file
    gives one entry named ``""``.

    Raises:
        InputMissing: ``path`` does not exist.
    """
    return [_entry(line) for line in stat_lines(path)]


_token = lines_token


def stat_token(entries: list[tuple[str, int, int, int]]) -> str:
    """sha256 over the stat entries of :func:`list_files` (the same as over their
    :func:`stat_lines`)."""
    return _token([f"{n}\0{i}\0{s}\0{m}\n" for n, i, s, m in entries])


def folder_checksum(files: dict[str, str]) -> str:
    """Checksum of a folder from its ``relative path -> sha256`` map (order-independent)."""
    if list(files) == [""]:
        return files[""]
    text = "".join(f"{name}\0{files[name]}\n" for name in sorted(files))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def scan_path(path: Path, cache: HashCache, *, known_token: str | None = None) -> PathState:
    """Token and (unless the token equals ``known_token``) checksum of a file or folder.

    Args:
        path: a file or a folder.
        cache: the stat -> digest cache (read and updated).
        known_token: the token recorded last time; a match stops after the stat walk.

    Raises:
        InputMissing: ``path`` does not exist.
    """
    lines = stat_lines(path)
    token = _token(lines)
    if known_token is not None and token == known_token:
        return PathState(token=token)
    base = str(path)
    prefix = base if base.endswith("/") else f"{base}/"  # os.path.join for relative names
    big = len(lines) > 64
    snapshot = getattr(cache, "folder_snapshot", None)
    known = snapshot(base) if snapshot is not None and big else None
    fresh_snapshot = known is None
    by_line = getattr(cache, "digests_by_line", None)
    if known is None and by_line is not None and big:
        known = by_line(base)
    if known is not None:  # a big folder: look its lines up as they are, parse only misses
        state, shas = _scan_known(lines, token, prefix, known, cache)
        save = getattr(cache, "save_folder_snapshot", None)
        # the snapshot is kept when it was not the source, or no longer holds exactly these lines
        if save is not None and (fresh_snapshot or state.rehashed or len(known) != len(lines)):
            save(base, lines, shas)
        return state
    entries = [_entry(line) for line in lines]
    preload = getattr(cache, "preload", None)
    if preload is not None and len(entries) > 64:
        preload(base)
    files: dict[str, str] = {}
    fresh: list[Row] = []
    for name, ino, size, mtime_ns in entries:
        full = prefix + name if name else base
        sha = cache.get(full, ino, size, mtime_ns)
        if sha is None:
            sha = entry_digest(full, ino)
            fresh.append((full, ino, size, mtime_ns, sha))
        files[name] = sha
    if fresh:
        cache.put_many(fresh)
    return PathState(token=token, checksum=folder_checksum(files), files=files, rehashed=len(fresh))


def _scan_known(
    lines: list[str], token: str, prefix: str, known: dict[str, str], cache: HashCache
) -> tuple[PathState, list[str]]:
    """:func:`scan_path`'s content pass over a folder whose rows ``known`` maps by stat line:
    a line found there has that digest (the same stat matched the same row), any other file
    is hashed and its row stored. Also returns the digests in the order of ``lines``."""
    files: dict[str, str] = {}
    fresh: list[Row] = []
    for line in lines:
        name = line[: line.index("\0")]
        sha = known.get(line)
        if sha is None:
            _, ino, size, mtime_ns = _entry(line)
            sha = entry_digest(prefix + name, ino)
            fresh.append((prefix + name, ino, size, mtime_ns, sha))
        files[name] = sha
    if fresh:
        cache.put_many(fresh)
    state = PathState(token, folder_checksum(files), files, rehashed=len(fresh))
    return state, list(files.values())  # a name is on one line only: in the order of lines
