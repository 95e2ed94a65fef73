"""Thin command-line front end (Typer). Each command lives in its own module and only parses,
calls into pipelines/runner/domain code, and prints. Heavy imports stay inside the commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="standard-coder",
    help="Resumable, cache-aware ML pipelines and the Standard Coder effort model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """Console-script entry point."""
    from standard_coder.cli import commands  # noqa: F401  (registers the commands)

    app()
