"""Filesystem and storage errors as one line that names the path and the cause.

A full disk, a read-only mount, a file where a folder must be or a folder where a file must be
are facts about the machine, not about the content of a state file: they are never taken for
corruption (nothing is quarantined) and never print a traceback. Exit codes: 1 when the run
could not finish for lack of space or an I/O error (retry after freeing space), 2 when the
output folder cannot be used as given (a file, read-only, no permission).

Example:
    >>> import errno
    >>> describe(OSError(errno.ENOSPC, "No space left on device", "/data/out/run_state.json"))
    'no space left on the device holding /data/out/run_state.json'
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from standard_coder.runner.errors import CorruptStateError, RunnerError

__all__ = [
    "StorageError",
    "describe",
    "exit_code_for",
    "is_storage_errno",
    "sqlite_error",
    "storage_error",
]

#: errno values that mean "the machine ran out of something", not "the content is bad".
RESOURCE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})
#: errno values that mean "the folder cannot be used as given".
USAGE_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EEXIST}
)

#: errno values of a folder that cannot be written: a stage failing on one exits 2, as the
#: state folder's does.
UNWRITABLE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})

#: SQLite result codes that say nothing about the file's content.
_SQLITE_ENVIRONMENT = {
    "SQLITE_FULL": errno.ENOSPC,
    "SQLITE_IOERR": errno.EIO,
    "SQLITE_READONLY": errno.EROFS,
    "SQLITE_CANTOPEN": errno.EACCES,
    "SQLITE_PERM": errno.EPERM,
}


class StorageError(RunnerError):
    """The disk, not the data: no space, read-only, a file where a folder must be, I/O error.

    ``exit_code`` is 1 for lack of space or an I/O error and 2 for an unusable folder.
    """

    def __init__(self, message: str, code: int, err: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = code
        self.errno = err


def is_storage_errno(err: int | None) -> bool:
    """True for errno values that describe the machine rather than a file's content."""
    return err in RESOURCE_ERRNOS or err in USAGE_ERRNOS


def exit_code_for(err: int | None) -> int:
    """1 for no space / I/O error (the run could not finish), 2 for anything else."""
    return 1 if err in RESOURCE_ERRNOS else 2


READ_ONLY_HINT = "choose a writable [outputs] base_dir"
STAGE_READ_ONLY_HINT = "a stage writes there: make the folder writable or move the output"
"""What a read-only file system asks of the user: the runner's state folder, a stage's output."""


def unwritable_folder(outputs: Iterable[Path], *, staged: bool = False) -> OSError | None:
    """The first folder a stage writes ``outputs`` into (an output's folder, or the nearest
    one above it that exists, and an output that is a folder the stage writes in: not a staged
    one, which is renamed into place, nor a link, which is replaced) that cannot be written, as
    the error a write there raises; None when every one can. A stage then fails before it runs,
    not after its work (a training of minutes that cannot put its report in place)."""
    seen: set[Path] = set()
    try:
        for output in outputs:
            path = Path(output).absolute()
            folder = path.parent
            while not folder.exists() and folder != folder.parent:
                folder = folder.parent
            inside = not staged and path.is_dir() and not path.is_symlink()
            for target in (folder, path) if inside else (folder,):
                if target in seen:
                    continue
                seen.add(target)
                if not os.access(target, os.W_OK):  # False on a read-only mount, for root too
                    read_only = os.statvfs(target).f_flag & os.ST_RDONLY
                    return OSError(errno.EROFS if read_only else errno.EACCES, "not writable",
                                   str(target))  # fmt: skip
    except OSError as exc:  # a folder one may not even look into (no x permission)
        return exc
    return None


def _blocking_file(path: Path) -> Path | None:
    """The first component of ``path`` that exists and is not a folder (``ENOTDIR``)."""
    for candidate in [*reversed(path.parents), path]:
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return None


def describe(
    exc: OSError, path: Path | str | None = None, *, read_only_hint: str = READ_ONLY_HINT
) -> str:
    """One line for ``exc``: the path at fault and the cause in plain words (a read-only file
    system ends with ``read_only_hint``: where the runner's own state goes, by default)."""
    where = path if path is not None else exc.filename
    shown = str(where) if where is not None else "the output folder"
    err = exc.errno
    if err in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device holding {shown}"
    if err == errno.EIO:
        return f"{shown}: input/output error (the disk may be failing or gone)"
    if err == errno.EROFS:
        return f"{shown}: read-only file system ({read_only_hint})"
    if err in (errno.EACCES, errno.EPERM):
        return f"{shown}: permission denied"
    if err == errno.EISDIR:
        return f"{shown}: is a folder where a file is expected (move it away)"
    if err in (errno.ENOTDIR, errno.EEXIST) and where is not None:
        blocker = _blocking_file(Path(where))
        if blocker is not None:
            return f"{blocker}: is a file where a folder is expected (move it away)"
    reason = exc.strerror or type(exc).__name__
    return f"{shown}: {reason}"


def storage_error(exc: OSError, path: Path | str | None = None) -> StorageError:
    """A :class:`StorageError` for ``exc`` (message from :func:`describe`)."""
    return StorageError(describe(exc, path), exit_code_for(exc.errno), exc.errno)


def sqlite_error(path: Path, exc: sqlite3.Error, what: str) -> RunnerError:
    """The right error for an SQLite failure on ``path``: a :class:`StorageError` when the
    disk is full, read-only or failing (the file is fine), else :class:`CorruptStateError`."""
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc).lower()
    err = next((e for prefix, e in _SQLITE_ENVIRONMENT.items() if name.startswith(prefix)), None)
    if err is None and ("disk is full" in text or "disk i/o error" in text):
        err = errno.ENOSPC if "full" in text else errno.EIO
    if err is None and "readonly database" in text:
        err = errno.EROFS
    if err is not None:
        return storage_error(OSError(err, str(exc), str(path)))
    return CorruptStateError(path, f"{what}: {exc}")


def failure_message(exc: BaseException) -> str:
    """One line for a stage that raised: the storage cause and path for a full or read-only
    disk (also inside SQLite), the runner's own message for its errors and for a stage's bad-input
    errors (an exception with ``exit_code = 2``: its message is written for the user), else
    ``Type: text`` (an unexpected error: its type says what broke)."""
    if isinstance(exc, RunnerError):
        return str(exc)
    if getattr(exc, "exit_code", None) == 2 and not isinstance(exc, OSError) and str(exc):
        return str(exc)
    if isinstance(exc, OSError) and is_storage_errno(exc.errno):
        return describe(exc, read_only_hint=STAGE_READ_ONLY_HINT)
    if isinstance(exc, sqlite3.OperationalError):
        name = str(getattr(exc, "sqlite_errorname", "") or "")
        if name.startswith("SQLITE_FULL") or "disk is full" in str(exc).lower():
            return f"no space left on the device (SQLite: {exc})"
    return f"{type(exc).__name__}: {exc}"
