"""Process helpers shared by the tests: the environment of a child Python (``child_env``), and
whether a process is alive (the signal and orphan tests)."""

from __future__ import annotations

import os
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
"""This checkout's ``src``, absolute: what a child ``python -m standard_coder`` must import."""


def child_env(
    base: dict[str, str] | None = None, *, paths: tuple[Path, ...] = (), **extra: str
) -> dict[str, str]:
    """``base`` (default ``os.environ``) plus ``extra``, with ``PYTHONPATH`` this checkout's
    ``src`` first, then ``paths``, then the entries it had, made absolute against the current
    folder. A relative entry (``PYTHONPATH=src``) would otherwise be read against the child's
    own ``cwd``, and the child would import whatever ``standard_coder`` is installed (another
    checkout's) instead of this one."""
    env = {**(os.environ if base is None else base), **extra}
    inherited = [str(Path(p).resolve()) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    entries = [str(SRC), *(str(Path(p).resolve()) for p in paths), *inherited]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    return env


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie, or a process exiting while we look, counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
