"""Command stages: run an argv (never through a shell) as a stage's ``run``.

The child gets ``SC_RUN_ID``, ``SC_STAGE``, ``SC_CHECKPOINT_DIR``, ``SC_PARAMS_JSON`` and
``SC_SETTINGS_JSON`` (``Stage.settings``: read, never fingerprinted), runs
in its own process group, and has ``PR_SET_PDEATHSIG=SIGKILL`` (Linux) so it dies with the
runner even when the runner is SIGKILLed. On a stop request the signal goes to the group;
SIGKILL follows after ``stop_grace_s``.

Example:
    >>> Stage(name="prep", run=CommandStage(["python", "prep.py"], cwd=Path(".")))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from standard_coder.runner.errors import RunInterrupted

PR_SET_PDEATHSIG = 1

_libc: Any = None


def _load_libc() -> Any:
    global _libc
    if _libc is None:
        import ctypes

        try:  # glibc's soname first: ctypes.util.find_library runs ldconfig (a subprocess)
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        except OSError:
            import ctypes.util

            try:
                _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            except OSError:
                _libc = False
    return _libc


def _child_setup(parent_pid: int, libc: Any) -> Callable[[], None]:
    def setup() -> None:
        if libc:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the runner died before prctl took effect
            os._exit(137)

    return setup


def split_command(cmd: str | Sequence[str]) -> list[str]:
    """An argv list from a list (kept) or a string (``shlex.split``, no shell)."""
    argv = shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]
    if not argv:
        raise ValueError("empty command")
    return argv


def resolve_python(argv: list[str]) -> list[str]:
    """``python``/``python3`` missing from PATH falls back to the runner's own interpreter."""
    import shutil
    import sys

    if argv and argv[0] in ("python", "python3") and shutil.which(argv[0]) is None:
        return [sys.executable, *argv[1:]]
    return argv


class CommandNotStarted(RuntimeError):
    """A stage's command could not be started (not found, not executable): the ``cmd`` the
    pipeline file gives, so bad input (exit 2)."""

    exit_code = 2


class CommandStage:
    """A stage ``run`` callable that executes a command.

    Args:
        cmd: argv list or a string split with ``shlex``.
        cwd: working folder (the pipeline file's folder).
        stop_grace_s: seconds between the stop signal and SIGKILL.
        env: extra environment variables.
    """

    def __init__(
        self,
        cmd: str | Sequence[str],
        *,
        cwd: Path,
        stop_grace_s: float = 10.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = split_command(cmd)
        self.cwd = Path(cwd)
        self.stop_grace_s = stop_grace_s
        self.env = dict(env or {})
        self.version_files: tuple[str, ...] = ()
        """The scripts whose bytes the stage's code version hashes (set by ``commandfile``)."""
        self.code_folders: tuple[str, ...] = ()
        """The folders its Python scripts import from (set by ``commandfile``): a module that
        appears in one can join the code version, so the no-op fast door watches them."""

    def __repr__(self) -> str:
        return f"CommandStage({shlex.join(self.argv)!r})"

    def __call__(self, ctx: Any) -> None:
        """Run the command; raise on a non-zero exit or when stopped."""
        env = dict(os.environ)
        env.update(self.env)
        env["SC_RUN_ID"] = str(ctx.run_id)
        env["SC_STAGE"] = str(ctx.stage)
        env["SC_CHECKPOINT_DIR"] = str(ctx.checkpoint_dir)
        env["SC_PARAMS_JSON"] = json.dumps(dict(ctx.params), sort_keys=True, default=str)
        env["SC_SETTINGS_JSON"] = json.dumps(dict(ctx.settings), sort_keys=True, default=str)
        import subprocess

        libc = _load_libc()
        argv = resolve_python(self.argv)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=env,
                start_new_session=True,
                preexec_fn=_child_setup(os.getpid(), libc),
            )
        except OSError as exc:  # a command not found or not runnable: the file's cmd (exit 2)
            raise CommandNotStarted(f"cannot start {self.argv[0]!r}: {exc.strerror}") from None
        register = getattr(ctx, "register_process_group", None)
        unregister = getattr(ctx, "unregister_process_group", None)
        if register is not None:
            register(proc.pid)
        stop_seen: float | None = None
        exited = _exit_waiter(proc.pid)
        try:
            while True:
                if exited is not None:  # woken the moment the child exits
                    if exited(0.05):
                        rc = proc.wait()
                        break
                else:
                    try:
                        rc = proc.wait(timeout=0.05)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                if ctx.should_stop():
                    now = time.monotonic()
                    if stop_seen is None:
                        stop_seen = now
                        if register is None:
                            _killpg(proc.pid, signal.SIGTERM)
                    elif now - stop_seen > self.stop_grace_s:
                        _killpg(proc.pid, signal.SIGKILL)
        finally:
            if exited is not None:
                exited.close()
            if proc.poll() is None:
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            _killpg(proc.pid, signal.SIGKILL)  # stray grandchildren of the group
            if unregister is not None:
                unregister(proc.pid)
        if ctx.should_stop():
            signum = getattr(ctx, "stop_signal", None) or signal.SIGINT
            raise RunInterrupted(int(signum), f"command stopped (exit status {rc})")
        if rc != 0:
            if rc < 0:
                raise RuntimeError(f"command killed by signal {-rc}: {shlex.join(self.argv)}")
            raise RuntimeError(f"command exited with status {rc}: {shlex.join(self.argv)}")


class _PidfdWait:
    """Waits for a child's exit on its pidfd (Linux 5.3+): ``Popen.wait(timeout)`` polls with
    sleeps of up to 50 ms, so a stage that ends between two polls is noticed late."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, timeout: float) -> bool:
        """True once the child has exited (it is not reaped here)."""
        import select

        ready, _, _ = select.select([self.fd], [], [], timeout)
        return bool(ready)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _exit_waiter(pid: int) -> _PidfdWait | None:
    """A :class:`_PidfdWait` for ``pid``, or None where the OS has no pidfd."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        return _PidfdWait(pidfd_open(pid))
    except OSError:  # an older kernel, or a sandbox that forbids it
        return None


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
