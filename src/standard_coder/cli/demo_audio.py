"""``standard-coder demo --pipeline audio``: synthetic media, a shipped transcript, subtitles."""

from __future__ import annotations

import time
from pathlib import Path

import typer


def audio_demo(output_dir: Path, size: str, log_level: str, log_format: str) -> None:
    from standard_coder.pipelines import BUILTINS
    from standard_coder.pipelines.audio_demo import SIZES, prepare
    from standard_coder.runner import front

    if size not in SIZES:
        typer.echo(f"error: --size {size!r}: expected one of {', '.join(SIZES)}", err=True)
        raise typer.Exit(2)
    t0 = time.perf_counter()
    if output_dir.exists() and not output_dir.is_dir():
        typer.echo(f"error: --output-dir {output_dir}: exists and is not a folder", err=True)
        raise typer.Exit(2)
    try:
        config = prepare(output_dir.resolve(), size)
    except OSError as exc:
        where = exc.filename or output_dir
        typer.echo(f"error: --output-dir: {where}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    code = front.run_command(
        config=config, builtins=BUILTINS, log_level=log_level, log_format=log_format
    )
    if code != 0:
        raise typer.Exit(code)
    # the pipeline's on_finish hook printed what was separated and where the subtitles are
    typer.echo(f"Config (edit and rerun): standard-coder pipeline --config {config}", err=True)
    typer.echo(f"Finished in {time.perf_counter() - t0:.1f} s", err=True)
