"""``standard-coder stages``: a pipeline's stages grouped by role (what each Make target runs).

The Makefile's data and training targets call this to learn which stage names to pass to
``standard-coder pipeline --stages``. The roles are derived from the stage graph by
:func:`standard_coder.runner.roles.stage_roles`, so a new pipeline needs no Makefile edit.
Exit codes: 0 ok, 2 unknown pipeline, bad config or a config of another pipeline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from standard_coder.cli.app import app


class _Mismatch(ValueError):
    """The config describes another pipeline than ``--pipeline``."""


def pipeline_roles(pipeline: str | None, config: Path | None) -> tuple[str, dict[str, list[str]]]:
    """``(pipeline name, role -> stage names)`` of ``config``, or of ``pipeline``'s default config.

    Raises:
        RunnerError, ValueError: unknown pipeline, unreadable or invalid config, or a config
            whose pipeline is not ``pipeline``.
    """
    from standard_coder.config.template import render_template
    from standard_coder.pipelines import BUILTINS
    from standard_coder.runner.front import UsageError, load_pipeline
    from standard_coder.runner.roles import stage_roles

    if config is None and pipeline not in BUILTINS:
        raise UsageError(f"--pipeline {pipeline!r}: expected one of {', '.join(BUILTINS)}")
    with tempfile.TemporaryDirectory(prefix="sc-stages-") as tmp:
        if config is None:
            assert pipeline is not None
            config = Path(tmp) / "pipeline_config.toml"
            config.write_text(render_template(config.name, pipeline), encoding="utf-8")
        elif not config.is_file():
            raise UsageError(f"--config {config}: no such file")
        pipe, _ = load_pipeline(config, [], BUILTINS)
    if pipeline is not None and pipe.name != pipeline:
        raise _Mismatch(
            f"--config {config}: a {pipe.name!r} pipeline, not {pipeline!r} "
            f"(pass PIPELINE={pipe.name}, or the config of a {pipeline} pipeline)"
        )
    return pipe.name, stage_roles(pipe.stages)


def _line(name: str, roles: dict[str, list[str]]) -> str:
    return f"{name}: " + " ".join(f"{r}={','.join(v)}" for r, v in roles.items())


@app.command("stages")
def stages_cmd(
    pipeline: Annotated[
        str | None,
        typer.Option("--pipeline", help="a built-in pipeline (default: the config's, else sch)"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="pipeline config file (default: the pipeline's init-config defaults)",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="print only this role's stages, comma-separated "
            "(download, preprocess, data, train or other)",
            metavar="ROLE",
        ),
    ] = None,
    every: Annotated[
        bool,
        typer.Option("--all", help="one line per built-in pipeline: name: role=stages ..."),
    ] = False,
) -> None:
    """A pipeline's stages by role: what each data and training Make target runs."""
    from standard_coder.pipelines import BUILTINS
    from standard_coder.runner.errors import RunnerError
    from standard_coder.runner.roles import ROLES

    if role is not None and role not in ROLES:
        typer.echo(f"error: --role {role!r}: expected one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(2)
    if every:
        for name in BUILTINS:
            try:
                typer.echo(_line(*pipeline_roles(name, None)))
            except (RunnerError, ValueError, OSError) as exc:
                typer.echo(f"{name}: (cannot list its stages: {exc})")
        return
    try:
        name, roles = pipeline_roles(pipeline or (None if config else "sch"), config)
    except (RunnerError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(getattr(exc, "exit_code", 2)) from None
    if role is not None:
        typer.echo(",".join(roles[role]))
        return
    typer.echo(f"pipeline {name}")
    for r, names in roles.items():
        typer.echo(f"  {r:<11} {', '.join(names) or '-'}")
