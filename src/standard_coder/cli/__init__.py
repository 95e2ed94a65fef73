"""Thin command-line front end (Typer). Each command lives in its own module and only parses,
calls into pipelines/runner/domain code, and prints. Heavy imports stay inside the commands.

``pipeline``, ``status`` and ``validate-manifest`` take a Typer-free fast door
(:mod:`standard_coder.runner.front`), and so does the flagship's ``demo``
(:mod:`standard_coder.cli.demo_run`), so a no-op rerun pays for neither Typer nor pydantic;
this module therefore imports nothing heavy itself (the app lives in ``cli/app.py``).
"""

from __future__ import annotations

import sys

FAST_COMMANDS = ("pipeline", "status", "validate-manifest")


def main() -> None:
    """Console-script entry point.

    SIGINT/SIGTERM before a run takes over (while imports and the config load) exit with
    130/143 and one line; a filesystem error that escapes a command (a full disk, a read-only
    folder) prints one line naming the path and the cause, never a traceback.
    """
    if sys.argv[1:2] == ["pipeline"]:  # a plain no-op rerun: decided without the engine
        from standard_coder.runner.noop import try_noop

        code = try_noop(sys.argv[1:])
        if code is not None:
            raise SystemExit(code)
    from standard_coder.runner.stoptoken import install_early_exit

    install_early_exit(resumable=sys.argv[1:2] in (["pipeline"], ["demo"], ["eval"]))
    try:
        _dispatch(sys.argv[1:])
    except OSError as exc:
        from standard_coder.runner.fserrors import describe, exit_code_for

        sys.stderr.write(f"error: {describe(exc)}\n")
        raise SystemExit(exit_code_for(exc.errno)) from None


def _dispatch(argv: list[str]) -> None:
    if argv == ["--version"]:  # answered without Typer
        from standard_coder import __version__

        sys.stdout.write(f"standard-coder {__version__}\n")
        raise SystemExit(0)
    if argv and argv[0] in FAST_COMMANDS and not {"-h", "--help"} & set(argv):
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
