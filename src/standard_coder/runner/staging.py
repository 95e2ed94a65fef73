"""Staged outputs: a stage writes its named outputs beside its partial work and they replace
the finished ones only when it completes (``Stage(staged_outputs=True)``).

Without staging, a rerun under other params writes over the outputs of the last completed run
as it goes; stopped half-way and switched back, those outputs no longer match their manifest
and the stage runs again from nothing. With staging, ``ctx.outputs[name]`` is
``checkpoints/<stage>/staged/<name>/<file name>``: what the stage writes beside an output (a
sibling such as ``evaluation.stats.json`` or plots in the output's folder) lands in that
folder too. On completion every entry of ``staged/<name>/`` replaces its namesake in the
output's real folder (a file atomically, a folder swapped by two renames), then the staging
folder goes. Staged work is partial work: resumed under the same fingerprint, set aside under
``checkpoints/stale/`` under another.

A stop between two replacements leaves ``staged/SWAPPING``: the partial work is then set aside
and the stage runs afresh (its outputs are a mix, which their manifest check sees).

Not for stages that read their own earlier outputs (the mine's database grows in place).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from standard_coder.runner.atomic import atomic_write_text

__all__ = ["STAGED", "staged_paths", "swap_cut_short", "swap_in"]

STAGED = "staged"
_SWAPPING = "SWAPPING"


def staged_paths(cdir: Path, outputs: Mapping[str, Path]) -> dict[str, Path]:
    """Where the stage writes each named output while it runs (folders made)."""
    staged = {}
    for name, real in outputs.items():
        folder = cdir / STAGED / name
        folder.mkdir(parents=True, exist_ok=True)
        staged[name] = folder / real.name
    return staged


def swap_cut_short(cdir: Path) -> bool:
    """Whether a run stopped while it put its staged outputs in place."""
    return (cdir / STAGED / _SWAPPING).exists()


def swap_in(cdir: Path, outputs: Mapping[str, Path]) -> None:
    """Put what the stage wrote under ``staged/`` in place of the finished outputs."""
    root = cdir / STAGED
    if not root.is_dir():
        return
    marker = root / _SWAPPING
    atomic_write_text(marker, "outputs are being put in place\n")
    for name, real in outputs.items():
        folder = root / name
        if not folder.is_dir():
            continue
        real.parent.mkdir(parents=True, exist_ok=True)
        for entry in sorted(folder.iterdir()):
            _replace(entry, real.parent / entry.name)
    marker.unlink()
    shutil.rmtree(root, ignore_errors=True)


def _replace(src: Path, dst: Path) -> None:
    """``src`` takes ``dst``'s place: a file by one rename, a folder by two (the old one moved
    aside, then removed); across file systems, a copy beside ``dst`` renamed into place."""
    old: Path | None = None
    if dst.is_dir() and not dst.is_symlink():
        old = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.old")
        os.replace(dst, old)
    elif src.is_dir() and (dst.exists() or dst.is_symlink()):
        dst.unlink()
    try:
        os.replace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # the outputs on another file system than the base folder
            raise
        _copy_across(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _copy_across(src: Path, dst: Path) -> None:
    """``src`` (on another file system) copied beside ``dst``, then renamed onto it, so that
    ``dst`` is never half-written; ``src`` removed after."""
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    try:
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, tmp, symlinks=True)
        else:
            shutil.copy2(src, tmp, follow_symlinks=False)
        os.replace(tmp, dst)
    except BaseException:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    if src.is_dir() and not src.is_symlink():
        shutil.rmtree(src)
    else:
        src.unlink()
