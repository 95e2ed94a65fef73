"""Process helpers shared by the tests: the environment of a child Python (``child_env``),
whether a process is alive (the signal and orphan tests), and a command's output on a terminal
of a given width (``in_terminal``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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


def in_terminal(
    *args: str, columns: int = 80, cwd: Path | None = None, timeout: float = 300
) -> tuple[int, str]:
    """``python -m standard_coder ARGS`` with stdout and stderr on a pseudo-terminal
    ``columns`` wide (Rich lays out for the terminal, not for a pipe's 120 columns): its exit
    code and what it printed, colours and cursor codes removed."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = child_env(TERM="xterm", NO_COLOR="1")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    proc = subprocess.Popen([sys.executable, "-m", "standard_coder", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                            env=env)  # fmt: skip
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    code = proc.wait(timeout=timeout)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
