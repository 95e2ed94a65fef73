"""A real git checkout with one commit, for the code-origin (env stamp) tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run ``git -C repo ARGS``; its stdout, stripped."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def committed_repo(root: Path) -> Path:
    """``root/repo``: ``m.py`` (``x = 1``) committed once."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "m.py").write_text("x = 1\n")
    git(repo, "add", "m.py")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c1")
    return repo
