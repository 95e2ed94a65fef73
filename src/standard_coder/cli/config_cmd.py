"""``init-config``: write the fully commented flagship config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from standard_coder.cli.app import app


@app.command("init-config")
def init_config(
    path: Annotated[Path, typer.Argument(help="where to write the config")] = Path(
        "pipeline_config.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
    pipeline: Annotated[
        str, typer.Option("--pipeline", help="built-in pipeline: sch, vision, audio or codeedit")
    ] = "sch",
) -> None:
    """Write a fully commented pipeline_config.toml (every key, its default and meaning)."""
    from standard_coder.config.template import PIPELINES, render_template
    from standard_coder.runner.atomic import atomic_write_text

    if pipeline not in PIPELINES:
        typer.echo(
            f"error: --pipeline {pipeline!r}: expected one of {', '.join(PIPELINES)}", err=True
        )
        raise typer.Exit(2)
    if path.is_dir():  # --force would not help: a config is a file
        inside = path / "pipeline_config.toml"
        typer.echo(
            f"error: {path} is a folder; give a file path for the config, e.g. {inside}", err=True
        )
        raise typer.Exit(2)
    if path.exists() and not force:
        typer.echo(f"error: {path} exists (use --force to overwrite)", err=True)
        raise typer.Exit(2)
    created = next((p for p in reversed(path.parents) if not p.exists()), None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, render_template(path.name, pipeline))
    except OSError as exc:
        typer.echo(f"error: {path}: cannot write the config: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    what = {
        "vision": "[vision]",
        "audio": "[demux] input and [transcribe] transcript",
        "codeedit": "[codeedit]",
    }.get(pipeline, "[repos] include_paths")
    if created is not None:  # a mistyped folder is seen at once, not found later
        typer.echo(f"created the folder {created}")
    typer.echo(f"wrote {path}: edit {what}, then run")
    typer.echo(f"  standard-coder pipeline --config {path}")
