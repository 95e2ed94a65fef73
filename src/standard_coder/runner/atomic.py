"""Atomic file writes: temp file in the same folder, fsync, ``os.replace``, fsync the folder.

A reader (or a run killed with SIGKILL) sees either the old file or the new one, never a mix.

Example:
    >>> atomic_write_json(Path("out/manifest.json"), {"stage": "train"})  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from standard_coder.runner.records import create_temp, fsync_dir, write_atomic

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_dir",
    "new_file_mode",
]


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: read it the racy way, restoring at once
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give (0o666 less the umask); mkstemp alone gives 0o600."""
    return 0o666 & ~_umask()


def atomic_write(path: Path, write: Callable[[IO[bytes]], object], *, durable: bool = True) -> Path:
    """Write ``path`` through ``write(fh)`` atomically (parents are created); return the path.

    For writers that stream (``np.savez(fh, ...)``, ``torch.save(obj, fh)``). ``durable=False``
    skips the fsyncs (still atomic: old or new content, never a mix) for derived files that
    are rebuilt on demand, such as the HTML report.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp) and exc.errno is not None:
            # a failed write() names no file, os.replace the temp one: name the one written
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (parents are created):
    :func:`~standard_coder.runner.records.write_atomic`, the fast door's writer too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data, durable=durable)
    return path


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(
    path: Path,
    obj: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = True,
    durable: bool = True,
) -> Path:
    """Write ``obj`` as JSON (trailing newline; NaN refused) to ``path`` atomically."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n"
    return atomic_write_text(path, text, durable=durable)
