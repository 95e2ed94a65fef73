"""Cheap state of a git repository: HEAD plus every ref, read from files (no history walk).

The working tree's ``.mailmap`` (git joins authors by it without a commit), the git settings
``mailmap.file`` (its value and the file's content) and ``mailmap.blob`` (its value and the
blob's id), and the shallow boundary (``git fetch --deepen`` changes the history without moving a
ref) are part of it. The settings cost a ``git config`` call only when a config file git reads
(the repository's, the global and system ones) or the environment mentions ``mailmap`` or an
``include``; otherwise no process is started. A system config outside ``/etc/gitconfig`` (a git
built with another prefix) is seen only through such a mention elsewhere.

Example:
    >>> refs_checksum(Path("repos/linux"))  # doctest: +SKIP
    'sha256 hex...'
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Mapping
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


def _common_dir(gdir: Path) -> Path:
    """The folder holding refs and config: a linked worktree's ``commondir``, else ``gdir``."""
    commondir = _read(gdir / "commondir")
    return (gdir / commondir).resolve() if commondir else gdir


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except (FileNotFoundError, IsADirectoryError):
        return ""


# environment variables that point git at another repository (a hook's GIT_DIR, ...)
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


def _config_files(gdir: Path, common: Path, env: Mapping[str, str]) -> list[Path]:
    """The config files git reads for this repository (includes aside)."""
    files = [common / "config", gdir / "config.worktree"]
    home = env.get("HOME", "")
    if env.get("GIT_CONFIG_GLOBAL"):
        files.append(Path(env["GIT_CONFIG_GLOBAL"]))
    elif home:
        xdg = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        files += [Path(xdg) / "git" / "config", Path(home) / ".gitconfig"]
    if not env.get("GIT_CONFIG_NOSYSTEM"):
        files.append(Path(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"))
    return files


def _may_set_mailmap(gdir: Path, common: Path, env: Mapping[str, str]) -> bool:
    """Whether a config git reads could set ``mailmap.*``: a file or ``git -c`` variable that
    mentions ``mailmap`` or an include (a cheap test that spares a ``git config`` call)."""
    if env.get("GIT_CONFIG_PARAMETERS") or env.get("GIT_CONFIG_COUNT"):
        return True
    for path in _config_files(gdir, common, env):
        try:
            text = path.read_text(encoding="utf-8", errors="replace").lower()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue
        except OSError:  # unreadable: git decides what it makes of it
            return True
        if "mailmap" in text or "include" in text:
            return True
    return False


def mailmap_settings(repo: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """``mailmap.file <value>`` with that file's content and ``mailmap.blob <value> <id>``, for
    the settings git has for ``repo`` (the last value of each wins, as in git); [] when neither
    is set. No process when no config git reads mentions ``mailmap`` or an include; else one
    ``git config`` call, and a ``git rev-parse`` when ``mailmap.blob`` is set. A relative
    ``mailmap.file`` is read from ``repo``, as git does; a missing file or blob reads as empty.

    Raises:
        InputMissing: ``repo`` is not a git repository.
    """
    base = dict(os.environ if env is None else env)
    gdir = git_dir(repo)
    if not _may_set_mailmap(gdir, _common_dir(gdir), base):
        return []
    run_env = {k: v for k, v in base.items() if k not in _REPO_ENV}

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(
                ["git", "-C", str(repo), *args], capture_output=True, env=run_env, check=False
            )
        except OSError:  # no git: nothing git would read either
            return ""
        return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else ""

    found: dict[str, str] = {}
    for item in git("config", "--null", "--get-regexp", r"^mailmap\.(file|blob)$").split("\0"):
        key, _, value = item.partition("\n")
        if key in ("mailmap.file", "mailmap.blob"):
            found[key] = value
    lines = []
    if found.get("mailmap.file"):
        value = found["mailmap.file"]
        path = Path(os.path.expanduser(value))
        try:
            text = _read(path if path.is_absolute() else repo / path)
        except OSError as exc:  # unreadable (git skips it too): which error, not its content
            text = f"<{type(exc).__name__}>"
        lines.append(f"mailmap.file {value}\n{text}")
    if found.get("mailmap.blob"):
        value = found["mailmap.blob"]
        oid = git("rev-parse", "--verify", "-q", "--end-of-options", value).strip()
        lines.append(f"mailmap.blob {value} {oid}")
    return lines


def refs_checksum(repo: Path) -> str:
    """sha256 over HEAD, packed-refs, every loose ref (name and value, sorted), the working
    tree's ``.mailmap``, the ``mailmap.file`` and ``mailmap.blob`` settings and the shallow
    boundary."""
    gdir = git_dir(repo)
    common = _common_dir(gdir)
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
    lines.extend(mailmap_settings(repo))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
