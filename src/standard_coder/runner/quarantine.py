"""Set a corrupt state file aside (never delete it) so a run can start clean.

Example:
    >>> moved = quarantine(base / "checkpoints/mine/items.sqlite", base / "checkpoints/quarantine")
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

__all__ = ["SIDECAR_SUFFIXES", "quarantine"]

#: Files that belong to a state file and move with it (SQLite's WAL and shared-memory index).
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


def quarantine(path: Path, quarantine_dir: Path) -> Path:
    """Move ``path`` (plus its SQLite ``-wal``/``-shm``/``-journal`` files) into ``quarantine_dir``.

    The moved file is named ``<name>.<UTC timestamp>[.<n>]`` so repeated quarantines never
    overwrite each other.

    Args:
        path: the corrupt file (it may be missing; its sidecars are moved anyway).
        quarantine_dir: destination folder (created if needed).

    Returns:
        The new path of the main file.
    """
    path = Path(path)
    quarantine_dir = Path(quarantine_dir)
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = f"{path.name}.{stamp}"
    target = quarantine_dir / base
    n = 1
    while any((quarantine_dir / f"{target.name}{s}").exists() for s in ("", *SIDECAR_SUFFIXES)):
        target = quarantine_dir / f"{base}.{n}"
        n += 1
    for suffix in ("", *SIDECAR_SUFFIXES):
        src = path.with_name(path.name + suffix)
        if src.exists():
            shutil.move(src, target.with_name(target.name + suffix))
    return target
