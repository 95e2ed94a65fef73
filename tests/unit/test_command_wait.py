"""A command stage's child is noticed the moment it exits (pidfd where the OS has one), and
libc is found without ``ctypes.util.find_library``'s ldconfig subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from standard_coder.runner import command


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfd on this OS")
def test_exit_waiter_wakes_on_exit_not_on_a_poll() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    exited = command._exit_waiter(proc.pid)
    assert exited is not None
    try:
        assert exited(0.01) is False  # still running: the timeout passes
        t0 = time.monotonic()
        while not exited(0.05):
            assert time.monotonic() - t0 < 30
        assert proc.wait(timeout=1) == 0  # exited, reaped by Popen as before
    finally:
        exited.close()
        proc.wait()


def test_libc_loads_with_prctl() -> None:
    libc = command._load_libc()
    if sys.platform.startswith("linux"):
        assert libc and hasattr(libc, "prctl")
