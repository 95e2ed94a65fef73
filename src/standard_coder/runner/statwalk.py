"""The stat walk of a declared path: one ``scandir`` pass and a ``relative_path NUL inode NUL
size NUL mtime_ns LF`` line per entry, and the sha256 *token* over those lines. The one walker
of folders in the runner (``os``, ``stat`` and ``hashlib`` only), in two modes:

- ``follow_links=True``, what the files hold (:func:`walk_lines`: the hash cache's checksums,
  :mod:`~standard_coder.runner.hashcache`, and the no-op fast door,
  :mod:`~standard_coder.runner.noop`): links that resolve are followed (the file or folder
  they lead to is walked); a link that leads nowhere (its target is missing, or it loops) is
  an entry of its own, by its ``lstat``, its content its target path (:func:`link_digest`);
  so is a *cycle*, a link to a folder the walk is inside (``current -> .``, ``up -> ..``),
  which is not walked into again; FIFOs, sockets and devices are left out (they hold no bytes
  to hash).
- ``follow_links=False``, whether anything was written (:mod:`~standard_coder.runner.partial`:
  did a stopped stage keep work): every entry but a folder (files, links looked at and not
  followed, any other kind) by its ``lstat``; a link to a folder is not walked into.

Either way a folder's own entry is not a line (it changes when a temp file is made and
removed in it), and the order is by name, depth first.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterator
from operator import attrgetter
from stat import S_ISDIR, S_ISLNK, S_ISREG

_by_name = attrgetter("name")

LEADS_NOWHERE = frozenset({errno.ENOENT, errno.ELOOP, errno.ENOTDIR})
"""Why following a link fails when it leads nowhere: its target is missing (or a part of its
path is a file), or it leads to itself (``ELOOP`` counts only then: :func:`_is_loop`)."""

Note = Callable[[str, str, OSError], None]
"""Told of what a walk could not read: its relative name (a folder's ends in ``/``), its path
and the error; the walk goes on."""


def stat_line(rel: str, st: os.stat_result) -> str:
    """The walk's line of one entry: ``rel NUL inode NUL size NUL mtime_ns LF``."""
    return f"{rel}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\n"


def _is_loop(path: str) -> bool:
    """Whether resolving ``path`` (which the system refused with ``ELOOP``) meets a link it
    already followed, a loop; else the path only held more links than the system follows in
    one lookup (40 on Linux), which is no loop but a path too deep to read."""
    try:
        os.path.realpath(path, strict=True)  # resolves one part at a time, no limit but loops
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _leads_nowhere(entry: os.DirEntry[str], exc: OSError) -> os.stat_result | None:
    """The ``lstat`` of ``entry`` when it is a link that leads nowhere (``exc``: following it
    failed), else None (a file removed since its folder was listed, no permission, a path
    too deep to follow)."""
    if exc.errno == errno.ELOOP and not _is_loop(entry.path):
        return None
    if exc.errno in LEADS_NOWHERE and entry.is_symlink():
        try:
            return entry.stat(follow_symlinks=False)
        except OSError:
            return None
    return None


def _listing(folder: str, rel: str, note: Note | None) -> Iterator[os.DirEntry[str]] | None:
    """The entries of ``folder``, sorted by name (None: it could not be read, told to
    ``note``; without one its error is raised)."""
    try:
        with os.scandir(folder) as it:
            return iter(sorted(it, key=_by_name))
    except OSError as exc:
        if note is None:
            raise
        note(rel, folder, exc)
        return None


def walk_folder(top: str, out: list[str], *, follow_links: bool, note: Note | None = None) -> int:
    """Append the stat line (:func:`stat_line`) of every entry under folder ``top`` to ``out``,
    as the mode ``follow_links`` says (the module's docstring), sorted by name, depth first (a
    folder's entries where its name sorts); the newest mtime among them, in ns (-1: none).

    Args:
        top: the folder.
        out: the lines, appended to.
        follow_links: follow links that resolve (what the files hold), or look at every entry
            and follow none (whether anything was written).
        note: None: what cannot be read raises. Else it is told what cannot be read and the
            walk goes on; an entry removed since its folder was listed is then skipped.

    Following links, the ``(st_dev, st_ino)`` of the folders the walk is inside are kept: a
    link to one of them (a cycle, ``current -> .``) is listed by its ``lstat``, as a link that
    leads nowhere, and not walked into (else each such link nests the tree again, until the
    system refuses a path of 40 links: two of them make 2**40 paths).

    Raises:
        OSError: ``top`` or an entry under it cannot be read (only without ``note``).
    """
    newest = -1
    append = out.append
    first = _listing(top, "", note)
    inside: set[tuple[int, int]] = set()  # the folders on the walk's path (following links)
    here = (-1, -1)
    if first is not None and follow_links:
        try:
            top_st = os.stat(top)
        except OSError:
            if note is None:
                raise
            top_st = None  # listed a moment ago: removed since; the listing is walked
        if top_st is not None:
            here = (top_st.st_dev, top_st.st_ino)
            inside.add(here)
    stack = [] if first is None else [(first, "", here)]
    while stack:
        entries, rel, _ = stack[-1]
        for entry in entries:  # the same iterator resumes when the folder below is done
            try:
                st = entry.stat(follow_symlinks=follow_links)
            except OSError as exc:
                nowhere = _leads_nowhere(entry, exc) if follow_links else None
                if nowhere is None:
                    if note is None:
                        raise
                    if not isinstance(exc, FileNotFoundError):  # else removed since listed
                        note(rel + entry.name, entry.path, exc)
                    continue
                st = nowhere
            mode = st.st_mode
            if S_ISDIR(mode) and follow_links and (st.st_dev, st.st_ino) in inside:
                cycle = _cycle(entry, note, rel)  # a link back to a folder the walk is in
                if cycle is None:
                    continue
                st, mode = cycle, cycle.st_mode
            if S_ISDIR(mode):
                below = f"{rel}{entry.name}/"
                sub = _listing(entry.path, below, note)
                if sub is not None:
                    key = (st.st_dev, st.st_ino)
                    if follow_links:
                        inside.add(key)
                    stack.append((sub, below, key))
                    break
            elif not follow_links or S_ISREG(mode) or S_ISLNK(mode):
                append(f"{rel}{entry.name}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\n")
                if st.st_mtime_ns > newest:
                    newest = st.st_mtime_ns
        else:
            inside.discard(stack.pop()[2])
    return newest


def _cycle(entry: os.DirEntry[str], note: Note | None, rel: str) -> os.stat_result | None:
    """The ``lstat`` of ``entry``, a link that leads to a folder the walk is inside (None: it
    is no link, a folder mounted inside itself, told to ``note``; or it is gone)."""
    try:
        st = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        if note is None:
            raise
        return None  # removed since listed
    if S_ISLNK(st.st_mode):
        return st
    exc = OSError(errno.ELOOP, "a folder inside itself (a mount?)", entry.path)
    if note is None:
        raise exc
    note(rel + entry.name + "/", entry.path, exc)
    return None


def walk_lines(path: str | os.PathLike[str]) -> list[str]:
    """The stat lines of every regular file below ``path``, links followed, and of every link
    below it that leads nowhere or back to a folder above it, by its own ``lstat``
    (:func:`walk_folder`, ``follow_links``; a plain file gives one line named ``""``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OSError: an entry under it cannot be read.
    """
    st = os.stat(path)
    if S_ISDIR(st.st_mode):
        out: list[str] = []
        walk_folder(os.fspath(path), out, follow_links=True)
        return out
    return [stat_line("", st)]


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
