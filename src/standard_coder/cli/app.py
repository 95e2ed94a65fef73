"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="standard-coder",
    help="Resumable, cache-aware ML pipelines and the Standard Coder effort model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
