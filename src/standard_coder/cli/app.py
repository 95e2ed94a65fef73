"""The Typer application every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    name="standard-coder",
    help="Resumable, cache-aware ML pipelines and the Standard Coder effort model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def version_line() -> str:
    """``standard-coder X.Y.Z`` (what ``--version`` prints)."""
    from standard_coder import __version__

    return f"standard-coder {__version__}"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="print the version and exit", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Resumable, cache-aware ML pipelines and the Standard Coder effort model."""
