"""``standard-coder pipeline``, ``status`` and ``validate-manifest`` (Typer wrappers).

The behaviour lives in :mod:`standard_coder.runner.front` (no Typer there), so a fast path can
call :func:`standard_coder.runner.front.main` without importing Typer at all.
Exit codes: 0 ok, 1 a stage failed, 2 bad input or usage, 3 output folder locked,
130/143 interrupted. User errors never print a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from standard_coder.cli.app import app
from standard_coder.cli.options import ConfigOpt, SetOpt
from standard_coder.pipelines import BUILTINS
from standard_coder.runner import front


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


@app.command("pipeline")
def pipeline_cmd(
    config: ConfigOpt,
    stages: Annotated[
        str | None,
        typer.Option(
            "--stages", help="comma-separated stages (run in canonical order)", metavar="A,B,..."
        ),
    ] = None,
    from_stage: Annotated[
        str | None, typer.Option("--from", help="first stage to run (inclusive)", metavar="STAGE")
    ] = None,
    to_stage: Annotated[
        str | None, typer.Option("--to", help="last stage (inclusive)", metavar="STAGE")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="rerun the selected stages")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would run and why; write nothing")
    ] = False,
    set_: SetOpt = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error", metavar="LEVEL")
    ] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format", help="text, or json (events on stderr too)", metavar="text|json"
        ),
    ] = "text",
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="where per-item work runs for this run: local, or dask://HOST:PORT",
            metavar="SPEC",
        ),
    ] = None,
) -> None:
    """Run a pipeline, skipping stages whose inputs, params and code are unchanged."""
    _exit(
        front.run_command(
            config=config,
            builtins=BUILTINS,
            stages=stages,
            from_stage=from_stage,
            to_stage=to_stage,
            force=force,
            dry_run=dry_run,
            overrides=set_ or [],
            log_level=log_level,
            log_format=log_format,
            executor=executor,
        )
    )


@app.command("status")
def status_cmd(
    config: ConfigOpt,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    stages: Annotated[
        str | None,
        typer.Option("--stages", help="only these stages (comma-separated)", metavar="A,B,..."),
    ] = None,
    from_stage: Annotated[
        str | None, typer.Option("--from", help="first stage shown (inclusive)", metavar="STAGE")
    ] = None,
    to_stage: Annotated[
        str | None, typer.Option("--to", help="last stage shown (inclusive)", metavar="STAGE")
    ] = None,
) -> None:
    """Per stage: would it run, and why. Writes nothing and takes no lock."""
    _exit(
        front.status_command(
            config=config,
            builtins=BUILTINS,
            overrides=set_ or [],
            as_json=as_json,
            stages=stages,
            from_stage=from_stage,
            to_stage=to_stage,
        )
    )


@app.command("validate-manifest")
def validate_manifest_cmd(
    paths: Annotated[
        list[Path],
        typer.Argument(help="manifest.json files", show_default=False, metavar="MANIFEST..."),
    ],
) -> None:
    """Check stage manifests against the JSON Schema; name the field at fault."""
    _exit(front.validate_command(paths))
