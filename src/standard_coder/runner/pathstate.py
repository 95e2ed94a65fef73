"""``sys.path`` folders with their mtimes: installing or removing a package changes them.

One light home (``os`` and ``sys`` only) for the environment stamp
(:mod:`~standard_coder.runner.envstamp`) and the no-op fast door
(:mod:`~standard_coder.runner.noop`), which compare it with what they recorded.
"""

from __future__ import annotations

import os
import sys

__all__ = ["path_state"]


def path_state() -> list[list[object]]:
    """``[folder, mtime_ns]`` for each ``sys.path`` entry that exists, in ``sys.path`` order."""
    state: list[list[object]] = []
    for entry in sys.path:
        try:
            where = os.path.abspath(entry or ".")  # "" (python -c) and the cwd (-m) alike
            state.append([where, os.stat(where).st_mtime_ns])
        except OSError:
            continue
    return state
