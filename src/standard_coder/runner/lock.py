"""The output folder's lock: ``fcntl.flock`` on ``<base_dir>/.lock``.

The kernel drops the lock when the holder dies (even by SIGKILL), so a stale lock never blocks.
The holder writes its pid and start time into the file so a refused run can name it.

Example:
    >>> with RunLock(Path("sc-output")):  # doctest: +SKIP
    ...     run()
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType

from standard_coder.runner.errors import RunLocked
from standard_coder.runner.fserrors import storage_error


class RunLock:
    """Exclusive, non-blocking lock on ``<base_dir>/.lock``.

    Raises:
        RunLocked: another live process holds it (message names its pid and start time).
    """

    def __init__(self, base_dir: Path) -> None:
        self.path = Path(base_dir) / ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            RunLocked: another live process holds it.
            StorageError: the output folder is a file, read-only or not ours, or ``.lock`` is
                a folder (exit 2), or the disk is full (exit 1); the message names the path.
        """
        from standard_coder.runner.noop import adopt_lock

        handed = adopt_lock(str(self.path))
        if handed is not None:  # the fast door took it a moment ago in this process
            self._fd = handed
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error(exc, exc.filename or self.path.parent) from None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            where = self.path if exc.errno == errno.EISDIR else self.path.parent
            raise storage_error(exc, where) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise RunLocked(f"{self.path.parent} is locked by another run ({holder})") from None
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        info = json.dumps({"pid": os.getpid(), "started": started}).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, info, 0)
        except OSError:  # a full disk: the flock holds all the same; the holder stays unnamed
            pass
        self._fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            return f"pid {info['pid']}, started {info['started']}"
        except (ValueError, KeyError, OSError):
            return "holder unknown"

    def release(self) -> None:
        from standard_coder.runner.statwalk import drop_handed

        drop_handed()  # walks handed over under this lock hold no longer
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_holder(base_dir: Path) -> str | None:
    """Who holds ``<base_dir>/.lock`` now (``"pid N, started T"``), or None; takes no lock.

    The holder's record is read, and counts only while its process lives and (where
    ``/proc/locks`` is readable) a ``flock`` on the file is held, so a record a killed run left
    behind is not taken for a run in progress. Testing by taking the lock, even for a moment,
    could refuse a run starting at that moment: this never does.
    """
    path = Path(base_dir) / ".lock"
    try:
        raw = path.read_bytes()
        st = path.stat()
        info = json.loads(raw or b"{}")
        pid, started = int(info["pid"]), str(info["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    if _flocked(st.st_dev, st.st_ino) is False:
        return None
    return f"pid {pid}, started {started}"


def _flocked(dev: int, ino: int) -> bool | None:
    """Whether ``/proc/locks`` lists a flock on that file; None where it cannot be read."""
    try:
        text = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    where = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    for line in text.splitlines():
        parts = line.split()
        if "FLOCK" in parts and where in parts and "->" not in parts:
            return True
    return False
