"""Run a fixed argv in a throw-away folder: no shell, a timeout, resource limits, no network.

Used for the ``cli`` mode of actions (``ast-grep run|scan``, allow-listed here) and by the edit
evaluator (the hidden tests). Isolation, in layers:

- never a shell: ``subprocess`` with an argv list; a ``cli`` string is split with ``shlex`` and
  refused if it holds shell syntax (``; & | < > ` $(`` or a newline), names another program or
  subcommand, an option outside the allow-list (``-U``, ``--rule FILE``, ``-c``) or a path;
- a fresh temp folder as working directory and ``HOME``, removed afterwards; a minimal
  environment (no proxies, no credentials);
- ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE`` set in the child;
- the whole process group is killed on timeout (``start_new_session``);
- no network: the command runs under ``unshare -rn`` (a new user + network namespace with only a
  down loopback) when the kernel allows it; where it does not, :func:`network_isolated` is
  False and the result says so (``SandboxResult.network_isolated``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from standard_coder.codeedit.errors import ActionApplyError, SandboxRefused, SandboxStopped

STOP_POLL_S = 0.2  # how often a running command checks for a stop request


@dataclass(frozen=True)
class Limits:
    """Per-command limits (seconds, bytes, open files)."""

    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 2 << 30
    file_bytes: int = 64 << 20
    open_files: int = 256


@dataclass
class SandboxResult:
    """What a sandboxed command did."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    files: dict[str, str] = field(default_factory=dict)
    network_isolated: bool = False


def _set_limits(limits: Limits) -> None:  # runs in the child, before exec
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))


@functools.lru_cache(maxsize=1)
def network_isolated() -> bool:
    """True when ``unshare -rn`` works here (then every sandboxed command runs without network)."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return False
    try:
        done = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def run_sandboxed(
    argv: Sequence[str],
    files: Mapping[str, str],
    *,
    limits: Limits | None = None,
    read_back: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SandboxResult:
    """Write ``files`` into a fresh temp folder, run ``argv`` there, read ``read_back`` files.

    ``should_stop`` is asked every ``STOP_POLL_S`` while the command runs: when it turns true
    the command's process group is killed and :class:`SandboxStopped` raised (Ctrl-C does not
    reach the command itself: it runs in its own session).

    ``argv[0]`` must be an absolute path (nothing is looked up on ``PATH``).
    """
    limits = limits or Limits()
    if not argv or not Path(argv[0]).is_absolute():
        raise SandboxRefused(f"sandbox: {argv[:1]}: the program must be an absolute path")
    isolated = network_isolated()
    prefix = [shutil.which("unshare") or "unshare", "-rn"] if isolated else []
    with tempfile.TemporaryDirectory(prefix="sc-sandbox-") as tmp:
        work = Path(tmp)
        for name, text in files.items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        child_env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8", "TMPDIR": tmp}
        child_env.update(env or {})
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*prefix, *argv],
            cwd=tmp,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=functools.partial(_set_limits, limits),
        )
        timed_out = stopped = False
        while True:
            left = limits.timeout_s - (time.perf_counter() - t0)
            try:
                out, err = proc.communicate(timeout=max(0.0, min(left, STOP_POLL_S)))
                break
            except subprocess.TimeoutExpired:
                stopped = bool(should_stop and should_stop())
                timed_out = not stopped and time.perf_counter() - t0 >= limits.timeout_s
                if stopped or timed_out:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    out, err = proc.communicate()
                    break
        if stopped:
            raise SandboxStopped(f"stopped while {Path(argv[0]).name} ran (killed)")
        seconds = time.perf_counter() - t0
        back = {}
        for name in read_back:
            path = work / name
            if path.is_file():
                back[name] = path.read_text(encoding="utf-8", errors="replace")
    return SandboxResult(
        returncode=None if timed_out else proc.returncode,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
        timed_out=timed_out,
        seconds=seconds,
        files=back,
        network_isolated=isolated,
    )


# --- the ``cli`` mode of actions -------------------------------------------------------------

PROGRAMS = frozenset({"ast-grep", "sg"})
SUBCOMMANDS = frozenset({"run", "scan"})
_VALUED = {
    "run": {
        "-p": "--pattern", "--pattern": "--pattern", "-r": "--rewrite", "--rewrite": "--rewrite",
        "-l": "--lang", "--lang": "--lang", "--selector": "--selector",
        "--strictness": "--strictness",
    },
    "scan": {"--inline-rules": "--inline-rules", "--filter": "--filter"},
}  # fmt: skip
"""Allow-listed options (each takes one value) -> their long name."""

_SHELL = re.compile(r"[;&|<>`\n]|\$\(")


def _shell_syntax(command: str) -> str | None:
    """The first shell metacharacter outside single quotes (double quotes expand ``$(``/`` ` ``)."""
    quote = ""
    i = 0
    while i < len(command):
        ch = command[i]
        if quote == "'":
            quote = "" if ch == "'" else quote
        elif ch == "\\" and quote == "":
            i += 2
            continue
        elif ch in "'\"" and (quote == "" or quote == ch):
            quote = "" if quote else ch
        else:
            hit = _SHELL.match(command, i)
            if hit and (quote == "" or hit.group() in ("`", "$(")):
                return hit.group()
        i += 1
    return None


@dataclass(frozen=True)
class CliCommand:
    """An allow-listed ``ast-grep`` command: its subcommand and options (long name -> value)."""

    subcommand: str
    options: dict[str, str]


def parse_cli(command: str) -> CliCommand:
    """Split and allow-list a ``cli`` action string.

    Raises:
        SandboxRefused: shell syntax, another program or subcommand, an option not on the list,
            ``-U``/``--update-all``, or a file path (``apply_action`` supplies the file).
    """
    bad = _shell_syntax(command)
    if bad is not None:
        raise SandboxRefused(f"cli: shell syntax {bad!r} is not allowed (no shell runs it)")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SandboxRefused(f"cli: cannot split {command!r}: {exc}") from None
    if not argv or argv[0] not in PROGRAMS:
        raise SandboxRefused(f"cli: program {argv[:1]}: only ast-grep (or sg) may run")
    if len(argv) < 2 or argv[1] not in SUBCOMMANDS:
        raise SandboxRefused(f"cli: subcommand {argv[1:2]}: only run and scan are allowed")
    sub = argv[1]
    allowed = _VALUED[sub]
    options: dict[str, str] = {}
    rest = argv[2:]
    i = 0
    while i < len(rest):
        token = rest[i]
        name, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name not in allowed:
            what = "a file path" if not token.startswith("-") else "not allow-listed"
            raise SandboxRefused(f"cli: {token!r}: {what} (ast-grep {sub} takes {sorted(allowed)})")
        if not eq:
            if i + 1 >= len(rest):
                raise SandboxRefused(f"cli: {token!r} needs a value")
            value = rest[i + 1]
            i += 1
        options[allowed[name]] = value
        i += 1
    if sub == "run" and "--pattern" not in options:
        raise SandboxRefused("cli: ast-grep run needs -p/--pattern")
    if sub == "scan" and "--inline-rules" not in options:
        raise SandboxRefused("cli: ast-grep scan needs --inline-rules (rule files are refused)")
    return CliCommand(sub, options)


def ast_grep_binary() -> Path:
    """The ``ast-grep`` executable of this environment (the ``ast-grep-cli`` wheel's)."""
    candidates = [Path(sysconfig.get_path("scripts")) / "ast-grep", Path(sys.executable).parent]
    for found in (candidates[0], candidates[1] / "ast-grep", shutil.which("ast-grep")):
        if found and Path(found).is_file() and os.access(found, os.X_OK):
            return Path(found).resolve()
    raise ActionApplyError(
        "ast-grep CLI not found (pip install 'standard-coder[codeedit]' installs ast-grep-cli)"
    )
