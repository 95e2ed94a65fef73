"""Process helpers shared by the signal and orphan tests."""

from __future__ import annotations


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie, or a process exiting while we look, counts as dead."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
