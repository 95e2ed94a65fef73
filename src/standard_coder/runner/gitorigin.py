"""The env stamp's ``code_version`` from ``git status``: the parts the full run record
(:mod:`~standard_coder.runner.envstamp`) and the no-op fast door
(:mod:`~standard_coder.runner.noop`) share. ``os`` only: the fast door pays for no other import.
"""

from __future__ import annotations

import os

GIT_STATUS = ("status", "--porcelain=v2", "--branch", "--untracked-files=no")
"""``git`` arguments after ``-C DIR`` (tracked files only: outputs in a checkout do not count)."""


def git_env() -> dict[str, str]:
    """The environment for ``git``: without ``GIT_*`` variables (a hook's ``GIT_DIR`` would
    point git at another repository)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def package_git_dir() -> str | None:
    """The folder holding this package (``standard_coder``), to ask git about; None for an
    installed copy (in ``site-packages``/``dist-packages``: no git call)."""
    root_dir = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    parts = set(root_dir.split(os.sep))
    if {"site-packages", "dist-packages"} & parts:
        return None
    return root_dir


def origin_from_status(status: str | None, pkg_version: str) -> dict[str, object]:
    """``code_version`` from ``git status --porcelain=v2 --branch`` output (None: no git)."""
    commit: str | None = None
    dirty = False
    for line in (status or "").splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split()[2]
            commit = oid if oid != "(initial)" else None
        elif line and not line.startswith("#"):
            dirty = True
    if commit is None:
        return {
            "source": "package",
            "git_commit": None,
            "git_dirty": None,
            "package_version": pkg_version,
        }
    return {
        "source": "git",
        "git_commit": commit,
        "git_dirty": dirty,
        "package_version": pkg_version,
    }
