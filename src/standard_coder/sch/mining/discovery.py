"""From configured globs to repository folders, and stable repository ids."""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from standard_coder.sch.mining.filters import RepoRule
from standard_coder.sch.mining.gitlog import run_git

_GLOB_CHARS = set("*?[")


def repo_id(path: Path) -> str:
    """``<sanitised folder name>-<8 hex of sha256(absolute path)>``: unique and safe as a file name."""
    p = Path(os.path.abspath(os.path.expanduser(str(path))))
    name = p.name[:-4] if p.name.endswith(".git") and len(p.name) > 4 else p.name
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:40] or "repo"
    digest = hashlib.sha256(str(p).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{clean}-{digest}"


def looks_like_repo(path: Path) -> bool:
    """A working tree with ``.git``, or a bare repository (``HEAD`` + ``objects/`` + ``refs/``)."""
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def discover_repos(
    include: Sequence[str], exclude: Sequence[str] = (), rule: RepoRule | None = None
) -> list[Path]:
    """Expand include globs (absolute, ``~`` already expanded), drop excluded ones and filtered ones.

    A literal path is always returned (so a path that is not a git repository is reported as an
    error by the miner); a wildcard only yields folders that look like git repositories.
    Returns absolute paths, sorted and de-duplicated.
    """
    excluded: set[str] = set()
    for pat in exclude:
        pat = os.path.expanduser(pat)
        excluded.update(os.path.abspath(p) for p in glob.glob(pat, recursive=True))
        excluded.add(os.path.abspath(pat))
    found: dict[str, Path] = {}
    for pat in include:
        pat = os.path.expanduser(pat)
        if _GLOB_CHARS & set(pat):
            for hit in sorted(glob.glob(pat, recursive=True)):
                p = Path(os.path.abspath(hit))
                if p.is_dir() and looks_like_repo(p):
                    found.setdefault(str(p), p)
        else:
            p = Path(os.path.abspath(pat))
            found.setdefault(str(p), p)
    out = []
    for key, p in sorted(found.items()):
        if key in excluded:
            continue
        if rule is not None and not rule.allows(p.name, key):
            continue
        out.append(p)
    return out


def sync_github_mirrors(names: Sequence[str], dest: Path) -> list[Path]:
    """Mirror-clone (or fetch) ``owner/name`` GitHub repositories into ``dest`` (network!).

    Only called when ``include_github_repos`` is configured; never in tests.
    """
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for full in names:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", full):
            raise ValueError(f"not an owner/name GitHub repository: {full!r}")
        target = dest / (full.replace("/", "__") + ".git")
        if target.exists():
            run_git(target, "remote", "update", "--prune")
        else:
            run_git(dest, "clone", "--mirror", f"https://github.com/{full}.git", str(target))
        out.append(target)
    return out
