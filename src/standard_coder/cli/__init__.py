"""Thin command-line front end (Typer). Each command lives in its own module and only parses,
calls into pipelines/runner/domain code, and prints. Heavy imports stay inside the commands.

``pipeline``, ``status`` and ``validate-manifest`` take a Typer-free fast door
(:mod:`standard_coder.runner.front`), and so does the flagship's ``demo``
(:mod:`standard_coder.cli.demo_run`), so a no-op rerun pays for neither Typer nor pydantic;
this module therefore imports nothing heavy itself (the app lives in ``cli/app.py``).
"""

from __future__ import annotations

import contextlib
import sys

FAST_COMMANDS = ("pipeline", "status", "validate-manifest")


def main() -> None:
    """Console-script entry point.

    SIGINT/SIGTERM before a run takes over (while imports and the config load) exit with
    130/143 and one line; a filesystem error that escapes a command (a full disk, a read-only
    folder) prints one line naming the path and the cause, never a traceback; a reader that
    closes stdout early (``| head``) ends the command quietly with 141.
    """
    try:
        if sys.argv[1:2] == ["pipeline"]:  # a plain no-op rerun: decided without the engine
            from standard_coder.runner.noop import try_noop

            code = try_noop(sys.argv[1:])
            if code is not None:
                raise SystemExit(code)
        from standard_coder.runner.stoptoken import install_early_exit

        install_early_exit(resumable=sys.argv[1:2] in (["pipeline"], ["demo"], ["eval"]))
        _dispatch(sys.argv[1:])
    except BrokenPipeError:
        _reader_gone()
    except OSError as exc:
        from standard_coder.runner.fserrors import describe, exit_code_for

        sys.stderr.write(f"error: {describe(exc)}\n")
        raise SystemExit(exit_code_for(exc.errno)) from None
    except SystemExit as exc:
        if exc.code == 1 and _stdout_silenced():
            _reader_gone()
        raise


#: Exit status when the reader of stdout went away (``| head``): 128 + SIGPIPE, as git's.
EXIT_READER_GONE = 141


def _stdout_silenced() -> bool:
    """Whether Click or Rich met a closed stdout and answered with their exit 1: Click wraps
    stdout (``PacifyFlushWrapper``), Rich points its descriptor at /dev/null."""
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":
        return True
    return _stdout_is_devnull() and not _STDOUT_WAS_DEVNULL


def _stdout_is_devnull() -> bool:
    import os

    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (OSError, ValueError, AttributeError):
        return False


_STDOUT_WAS_DEVNULL = _stdout_is_devnull()


def _reader_gone() -> None:
    """The reader of stdout closed it (``standard-coder estimate ... | head``): nothing failed,
    so no message and no traceback; exit 141 as git and coreutils do. Later writes (Python's
    own flush at exit) go to /dev/null instead of raising again."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(EXIT_READER_GONE) from None


def _dispatch(argv: list[str]) -> None:
    if argv == ["--version"]:  # answered without Typer
        from standard_coder import __version__

        sys.stdout.write(f"standard-coder {__version__}\n")
        raise SystemExit(0)
    if argv and argv[0] in FAST_COMMANDS and not {"-h", "--help"} & set(argv):
        from standard_coder.runner.front import parses

        if parses(argv):  # else Typer says what is wrong, naming the command's options
            from standard_coder.pipelines import BUILTINS
            from standard_coder.runner.front import main as fast

            raise SystemExit(fast(argv, BUILTINS))
    if argv and argv[0] == "demo" and not {"-h", "--help"} & set(argv):
        from standard_coder.cli.demo_run import fast_main, parse_fast

        opts = parse_fast(argv[1:])  # None: options for Typer to parse (or to refuse)
        if opts is not None:
            raise SystemExit(fast_main(opts))
    from standard_coder.cli import commands  # noqa: F401  (registers the commands)
    from standard_coder.cli.app import app

    app()
