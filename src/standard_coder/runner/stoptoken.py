"""The stop token: SIGINT/SIGTERM ask stages to stop at the next safe point.

The first signal sets the flag, says so on stderr at once (stopping at a safe point can take as
long as the work in flight), and forwards the same signal to every registered process group
(running command stages). A second signal kills those groups and exits at once with
``128 + signum`` (after :attr:`StopToken.on_second`: the engine's ``[STOP]`` line and event);
atomic writes keep state consistent even then.

Every ``os._exit`` of the runner (here and :func:`standard_coder.runner.ddp.leave`) first
removes the process's multiprocessing temporary folder (:func:`remove_mp_tempdir`): the exit
skips the interpreter's teardown, whose finalizer would have removed it, and a run with a
worker pool would leave a ``pymp-*`` folder in the user's temporary folder on every second
Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

#: Said at the first signal. True of every stage: work in flight finishes and no more starts;
#: what is kept is the stage's (a stage that checkpoints keeps its work, one that saves nothing
#: redoes it), and the run's closing line says what was done.
NOTICE = (
    "\n[stop] {name}: finishing the work in flight and starting no more, then exiting"
    " (send it again to exit at once)\n"
)


def remove_mp_tempdir() -> None:
    """Remove this process's multiprocessing temporary folder (``pymp-*``), if it made one.

    For the paths that end with ``os._exit``, which skips the finalizer that removes it at a
    normal exit. Creates nothing and imports nothing: a process that never loaded
    ``multiprocessing``, or never needed the folder (no worker pool), has none. A process
    started by ``multiprocessing`` leaves the folder alone: a forked child inherits its
    parent's folder name, and the folder is the parent's to remove.
    """
    process = sys.modules.get("multiprocessing.process")
    if process is None or process.parent_process() is not None:
        return
    tempdir = process.current_process()._config.get("tempdir")
    if tempdir:
        import shutil  # loaded already: multiprocessing.util imports it to make the folder

        shutil.rmtree(tempdir, ignore_errors=True)


class StopToken:
    """A flag set by a signal (or by :meth:`request`), plus the process groups to forward to.

    Args:
        notice_fd: where the first signal's one-line notice goes (stderr; None for silence).
            Written with ``os.write`` from the handler: no buffered stream is re-entered.
    """

    def __init__(self, *, notice_fd: int | None = 2) -> None:
        self.notice_fd = notice_fd
        self.signum: int | None = None
        self._groups: set[int] = set()
        self._previous: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.on_second: Callable[[int], None] | None = None
        """Called with the signal number by a second signal, before the exit at once (the
        engine says ``[STOP]`` and ends the events log with ``run_interrupted``); what it
        raises is ignored."""
        self.said = False
        """True once the run has said (and recorded) how the first stop ended it: a second
        signal then exits without saying it again."""

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self.signum is not None

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask for a stop as if ``signum`` had arrived (first request wins)."""
        if self.signum is None:
            self.signum = signum
            self._forward(signum)

    def add_group(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
        if self.signum is not None:
            self._send(pgid, self.signum)

    def remove_group(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)

    @staticmethod
    def _send(pgid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)

    def _forward(self, signum: int) -> None:
        for pgid in list(self._groups):
            self._send(pgid, signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.request(signum)
            if self.notice_fd is not None:
                notice = NOTICE.format(name=signal.Signals(signum).name).encode()
                with contextlib.suppress(OSError):
                    os.write(self.notice_fd, notice)
            return
        for pgid in list(self._groups):
            self._send(pgid, signal.SIGKILL)
        if self.on_second is not None:
            with contextlib.suppress(Exception):  # a re-entered write: the exit still comes
                self.on_second(signum)
        remove_mp_tempdir()
        os._exit(128 + signum)

    def install(self) -> bool:
        """Install SIGINT/SIGTERM handlers (main thread only); False when not possible."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return True

    def restore(self) -> None:
        """Put back the handlers that were there before :meth:`install`."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


_EARLY_NOTE = ": rerun to resume"


def _exit_at_once(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    with contextlib.suppress(OSError):
        os.write(2, f"\ninterrupted ({name}){_EARLY_NOTE}\n".encode())
    remove_mp_tempdir()
    os._exit(128 + signum)


def install_early_exit(resumable: bool = True) -> bool:
    """Before a run installs its :class:`StopToken` (while the command line and the config
    load) and after it restores the handlers: SIGINT/SIGTERM print ``interrupted (SIGINT):
    rerun to resume`` (``resumable``: a command that runs stages; else ``interrupted
    (SIGINT)``) and exit with ``128 + signum`` at once, never a ``KeyboardInterrupt``
    traceback nor a silent death. Nothing is held open then that a rerun would not redo:
    state files are written atomically, and the kernel drops the lock.

    Returns False off the main thread (nothing installed).
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    global _EARLY_NOTE
    _EARLY_NOTE = ": rerun to resume" if resumable else ""  # a query has nothing to resume
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_at_once)
    return True
