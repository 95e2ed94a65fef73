"""The stat walk of a declared path: one ``scandir`` pass and a sha256 *token* over every
file's name, inode, size and mtime. Shared by the hash cache
(:mod:`~standard_coder.runner.hashcache`) and the no-op fast door
(:mod:`~standard_coder.runner.noop`); ``os``, ``stat`` and ``hashlib`` only.

Links that resolve are followed (the file or folder they lead to is walked); a link that leads
nowhere (its target is missing, or it loops) is an entry of its own, by its ``lstat``: its
content is its target path (:func:`link_digest`).
"""

from __future__ import annotations

import errno
import hashlib
import os
from operator import attrgetter
from stat import S_ISDIR, S_ISLNK, S_ISREG

_by_name = attrgetter("name")

LEADS_NOWHERE = frozenset({errno.ENOENT, errno.ELOOP, errno.ENOTDIR})
"""Why following a link fails when it leads nowhere: its target is missing (or a part of its
path is a file), or it leads to itself."""


def _dangling(entry: os.DirEntry[str], exc: OSError) -> os.stat_result:
    """The ``lstat`` of ``entry``, a link that leads nowhere; re-raises ``exc`` for any other
    entry that cannot be followed (a file removed since the folder was listed)."""
    if exc.errno in LEADS_NOWHERE and entry.is_symlink():
        try:
            return entry.stat(follow_symlinks=False)
        except OSError:
            pass
    raise exc


def _walk(root: str, rel: str, out: list[str]) -> None:
    """Append one stat line per regular file (or link that leads nowhere) under ``root``
    (sorted by name, depth first)."""
    with os.scandir(root) as it:
        entries = sorted(it, key=_by_name)
    append = out.append
    for entry in entries:
        try:
            st = entry.stat()
        except OSError as exc:
            st = _dangling(entry, exc)
        mode = st.st_mode
        if S_ISDIR(mode):
            _walk(entry.path, f"{rel}{entry.name}/", out)
        elif S_ISREG(mode) or S_ISLNK(mode):
            append(f"{rel}{entry.name}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\n")


def walk_lines(path: str | os.PathLike[str]) -> list[str]:
    """``relative_path NUL inode NUL size NUL mtime_ns LF`` of every regular file below
    ``path``, links followed, and of every link below it that leads nowhere, by its own
    ``lstat`` (a plain file gives one line named ``""``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    st = os.stat(path)
    if S_ISDIR(st.st_mode):
        out: list[str] = []
        _walk(os.fspath(path), "", out)
        return out
    return [f"\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\n"]


def link_digest(path: str, inode: int) -> str | None:
    """The digest of ``path`` as the walk saw it, a link that leads nowhere with inode
    ``inode``: the sha256 of ``symlink NUL`` and its target path, not followed (None: ``path``
    is no longer that link)."""
    try:
        st = os.lstat(path)
        if not S_ISLNK(st.st_mode) or st.st_ino != inode:
            return None
        target = os.readlink(path)
    except OSError:
        return None
    return hashlib.sha256(b"symlink\0" + os.fsencode(target)).hexdigest()


def lines_token(lines: list[str]) -> str:
    """The stat token of :func:`walk_lines`' lines (sha256 hex)."""
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


_handed: dict[str, list[str]] = {}
"""Walks the no-op fast door made under the output folder's lock, for the full path that
takes over that lock (:func:`hand_over`, :func:`taken`)."""


def hand_over(path: str, lines: list[str]) -> None:
    """Keep the walk of ``path`` for the full path (the caller holds the run lock and hands
    it over with the walks)."""
    _handed[path] = lines


def taken(path: str) -> list[str] | None:
    """The walk of ``path`` handed over, once; None when there is none."""
    return _handed.pop(path, None)


def drop_handed() -> None:
    """Forget every handed-over walk (a stage is about to run, or the lock was let go)."""
    _handed.clear()
