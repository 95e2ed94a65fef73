"""Cheap state of a git repository: HEAD plus every ref, read from files (no history walk).

The working tree's ``.mailmap`` (git joins authors by it without a commit) and the shallow
boundary (``git fetch --deepen`` changes the history without moving a ref) are part of it.

Example:
    >>> refs_checksum(Path("repos/linux"))  # doctest: +SKIP
    'sha256 hex...'
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from standard_coder.runner.errors import InputMissing


def git_dir(repo: Path) -> Path:
    """The repository's git folder (``.git``, a ``gitdir:`` file's target, or a bare repo).

    Raises:
        InputMissing: ``repo`` is not a git repository.
    """
    dot = repo / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        text = dot.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            target = Path(text.split(":", 1)[1].strip())
            return target if target.is_absolute() else (repo / target).resolve()
    if (repo / "HEAD").is_file() and (repo / "refs").is_dir():
        return repo
    raise InputMissing(f"{repo}: declared git input is not a git repository")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except (FileNotFoundError, IsADirectoryError):
        return ""


def refs_checksum(repo: Path) -> str:
    """sha256 over HEAD, packed-refs, every loose ref (name and value, sorted), the working
    tree's ``.mailmap`` and the shallow boundary."""
    gdir = git_dir(repo)
    common = gdir
    commondir = _read(gdir / "commondir")
    if commondir:
        common = (gdir / commondir).resolve()
    lines = [f"HEAD {_read(gdir / 'HEAD')}"]
    head = lines[0].split(" ", 1)[1]
    if head.startswith("ref: "):
        lines.append(f"HEAD-> {_read(common / head[5:])}")
    lines.append(f"packed {_read(common / 'packed-refs')}")
    refs_root = common / "refs"
    loose: list[str] = []
    for dirpath, _dirs, names in os.walk(refs_root):
        for name in names:
            full = Path(dirpath) / name
            loose.append(f"{full.relative_to(common).as_posix()} {_read(full)}")
    lines.extend(sorted(loose))
    # only when present, so a repo with neither keeps the digest it had before they counted
    extra = {"shallow": _read(common / "shallow")}
    if gdir != repo:  # not bare: git reads the working tree's .mailmap (a bare repo, HEAD's)
        extra["mailmap"] = _read(repo / ".mailmap")
    lines.extend(f"{key} {value}" for key, value in extra.items() if value)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
