"""From configured globs to repository folders, and stable repository ids."""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from standard_coder.sch.mining.filters import RepoRule
from standard_coder.sch.mining.gitlog import run_git

_GLOB_CHARS = set("*?[")


def repo_id(path: Path) -> str:
    """``<sanitised folder name>-<8 hex of sha256(absolute path)>``: unique, safe as a file name."""
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


def path_problem(path: Path) -> str | None:
    """Why a configured path cannot be mined, as the mine says it (``no such directory``, ``is a
    file, not a directory``, ``not a git repository``), or None when it looks like a repository.
    Stats only: ``status`` asks it of every configured path."""
    if not path.is_dir():
        return "is a file, not a directory" if path.exists() else "no such directory"
    if not looks_like_repo(path):
        return "not a git repository"
    return None


@dataclass
class Discovery:
    """The repositories to mine, and what was done to the configured paths to get them."""

    repos: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """One line per configured path that was read as another: a folder inside a repository
    (its repository is mined), a second path to a repository already listed (a symlink)."""


def repository_root(path: Path) -> Path | None:
    """The repository ``path`` is in: itself or the nearest folder above that is one (the
    path as written, symlinks kept, so a repository keeps the id its configured path gives);
    None when no folder up to ``/`` is."""
    for folder in (path, *path.parents):
        if folder.is_dir() and looks_like_repo(folder):
            return folder
    return None


def repositories_in(folder: Path) -> list[Path]:
    """The repositories directly in ``folder`` (its subfolders that are one), sorted."""
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    return [c for c in children if c.is_dir() and looks_like_repo(c)]


def discover_repos(
    include: Sequence[str], exclude: Sequence[str] = (), rule: RepoRule | None = None
) -> list[Path]:
    """The repositories to mine (:func:`explain_repos` without its notes)."""
    return explain_repos(include, exclude, rule).repos


def explain_repos(
    include: Sequence[str], exclude: Sequence[str] = (), rule: RepoRule | None = None
) -> Discovery:
    """Expand include globs (absolute, ``~`` expanded), drop excluded and filtered-out ones.

    A literal folder that is no repository but holds repositories (``~/code``) stands for
    them. A literal path inside a repository's working tree stands for that repository. A literal
    path in no repository is returned as written (so the miner reports it, and keeps the rows
    it mined before: a drive that is not mounted loses nothing); a wildcard only yields
    folders that look like git repositories. One repository reached by two paths (a symlink
    and its target, a folder and its subfolder) is mined once: by its real path when that is
    configured, else by the first path in sorted order. Returns absolute paths, sorted and
    de-duplicated, with a note for each path read as another.
    """
    excluded: set[str] = set()
    for pat in exclude:
        pat = os.path.expanduser(pat)
        excluded.update(os.path.abspath(p) for p in glob.glob(pat, recursive=True))
        excluded.add(os.path.abspath(pat))
    found: dict[str, Path] = {}
    notes: list[str] = []
    for pat in include:
        pat = os.path.expanduser(pat)
        if _GLOB_CHARS & set(pat):
            for hit in sorted(glob.glob(pat, recursive=True)):
                p = Path(os.path.abspath(hit))
                if p.is_dir() and looks_like_repo(p):
                    found.setdefault(str(p), p)
        else:
            p = Path(os.path.abspath(pat))
            held = repositories_in(p) if p.is_dir() and not looks_like_repo(p) else []
            if held:  # a folder of repositories (checked first: a home folder may be one too)
                notes.append(f"{p} is not a repository; the {len(held)} it holds are mined")
                for repo in held:
                    found.setdefault(str(repo), repo)
                continue
            root = repository_root(p) if p.is_dir() else None
            if root is not None and root != p:
                notes.append(f"{p} is inside the repository {root}: its whole history is mined")
                p = root
            found.setdefault(str(p), p)
    by_real: dict[str, list[Path]] = {}  # one repository, every configured path to it
    for key, p in sorted(found.items()):
        if key not in excluded and (rule is None or rule.allows(p.name, key)):
            by_real.setdefault(os.path.realpath(key), []).append(p)
    kept: list[Path] = []
    for real, paths in by_real.items():
        keep = next((p for p in paths if str(p) == real), paths[0])
        kept.append(keep)
        notes.extend(f"{p} is the repository {keep} by another path: mined once, as {keep}"
                     for p in paths if p != keep)  # fmt: skip
    return Discovery(sorted(kept), notes)


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
