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


def fsync_dir(directory: Path) -> None:
    """Flush a folder's entries (a rename inside it) to disk; a no-op where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_TEMP_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _create_temp(path: Path) -> tuple[int, str]:
    """A new temp file beside ``path`` (exclusive, random name, as ``tempfile.mkstemp``), with
    the mode ``open(path, "w")`` would give: 0o666 less the umask, applied by the kernel."""
    for _ in range(100):
        tmp = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def atomic_write(path: Path, write: Callable[[IO[bytes]], object], *, durable: bool = True) -> Path:
    """Write ``path`` through ``write(fh)`` atomically (parents are created); return the path.

    For writers that stream (``np.savez(fh, ...)``, ``torch.save(obj, fh)``). ``durable=False``
    skips the fsyncs (still atomic: old or new content, never a mix) for derived files that
    are rebuilt on demand, such as the HTML report.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
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
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            # a failed write() names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (parents are created)."""
    return atomic_write(path, lambda fh: fh.write(data), durable=durable)


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
