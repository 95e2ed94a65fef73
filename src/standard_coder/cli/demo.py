"""``standard-coder demo``: simulate a small team and run the flagship pipeline on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from standard_coder.cli.app import app
from standard_coder.cli.demo_run import DEMO_MODULES, finish, run_demo


def _run_demo(
    demo_module: str, output_dir: Path, size: str, log_level: str, log_format: str
) -> tuple[Path, float]:
    """:func:`~standard_coder.cli.demo_run.run_demo`, exiting with its code unless it is 0."""
    code, config, t0 = run_demo(demo_module, output_dir, size, log_level, log_format)
    if code != 0 or config is None:
        raise typer.Exit(code)
    return config, t0


@app.command("demo")
def demo(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="folder for repos, config and results")
    ] = Path("standard-coder-demo"),
    size: Annotated[str, typer.Option("--size", help="tiny (for tests) or default")] = "default",
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    log_format: Annotated[str, typer.Option("--log-format", help="text or json")] = "text",
    pipeline: Annotated[
        str,
        typer.Option(
            "--pipeline", help="sch (flagship), vision (digits), audio (subtitles), codeedit"
        ),
    ] = "sch",
) -> None:
    """Run a built-in pipeline on its embedded default (sch: a simulated team's repositories)."""
    if pipeline not in DEMO_MODULES:
        typer.echo(
            f"error: --pipeline {pipeline!r}: expected sch, vision, audio or codeedit", err=True
        )
        raise typer.Exit(2)
    config, t0 = _run_demo(DEMO_MODULES[pipeline], output_dir, size, log_level, log_format)
    # the pipeline's on_finish hook printed the summary (sch: metric table, warnings, report
    # path, forecast dates; codeedit: records, evaluations, models), as `pipeline` does
    finish(config, t0)
