"""Preloaded by the forkserver: a child whose parent vanished while starting it exits quietly.

When a run is SIGKILLed while the pool is starting a worker, the forkserver has already forked
the child, which then reads its start-up data from a pipe the dead parent never wrote:
``EOFError: Ran out of input``. The stdlib prints that child's traceback on the user's
terminal, after the kill they meant. The forkserver imports this module before it serves any
child (:func:`multiprocessing.set_forkserver_preload`), so every child inherits the hook below:
a lost parent (EOF or a broken pipe while starting) ends the child without a traceback; any
other uncaught exception is printed as before.
"""

from __future__ import annotations

import sys
from types import TracebackType

PARENT_LOST = (EOFError, BrokenPipeError, ConnectionResetError)

_default_hook = sys.excepthook


def quiet_when_parent_lost(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """``sys.excepthook`` that says nothing for :data:`PARENT_LOST`, like the default otherwise."""
    if issubclass(kind, PARENT_LOST):
        return
    _default_hook(kind, value, tb)


sys.excepthook = quiet_when_parent_lost
