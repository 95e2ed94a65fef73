"""The output folder's lock: ``fcntl.flock`` on ``<base_dir>/.lock``.

The kernel drops the lock when the holder dies (even by SIGKILL), so a stale lock never blocks.
The holder writes its pid and start time into the file so a refused run can name it.

Example:
    >>> with RunLock(Path("sc-output")):  # doctest: +SKIP
    ...     run()
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType

from standard_coder.runner.errors import RunLocked


class RunLock:
    """Exclusive, non-blocking lock on ``<base_dir>/.lock``.

    Raises:
        RunLocked: another live process holds it (message names its pid and start time).
    """

    def __init__(self, base_dir: Path) -> None:
        self.path = Path(base_dir) / ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise RunLocked(f"{self.path.parent} is locked by another run ({holder})") from None
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        info = json.dumps({"pid": os.getpid(), "started": started}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        self._fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            return f"pid {info['pid']}, started {info['started']}"
        except (ValueError, KeyError, OSError):
            return "holder unknown"

    def release(self) -> None:
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
