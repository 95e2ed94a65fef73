"""``standard-coder pipeline``, ``status`` and ``validate-manifest``.

Parse, call the runner, print. Exit codes: 0 ok, 1 a stage failed, 2 bad input or usage,
3 output folder locked, 130/143 interrupted. User errors never print a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from standard_coder.cli import app
from standard_coder.runner.errors import RunnerError
from standard_coder.runner.stage import Pipeline

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="pipeline file (TOML)", show_default=False)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a config value: KEY.PATH=VALUE (repeatable)"),
]
StagesOpt = Annotated[
    str | None, typer.Option("--stages", help="comma-separated stages to run (canonical order)")
]
FromOpt = Annotated[str | None, typer.Option("--from", help="first stage to run (inclusive)")]
ToOpt = Annotated[str | None, typer.Option("--to", help="last stage to run (inclusive)")]


def _die(message: str, code: int) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise _die(f"{path}: config file not found", 2) from None
    except IsADirectoryError:
        raise _die(f"{path}: is a folder, expected a TOML file", 2) from None
    except tomllib.TOMLDecodeError as exc:
        raise _die(f"{path}: not valid TOML: {exc}", 2) from None


def load_pipeline(config: Path, overrides: list[str]) -> tuple[Pipeline, Path]:
    """The pipeline a config file describes, and the folder its paths are relative to.

    A file with ``[[stages]]`` is a command pipeline; ``[pipeline] entry`` loads a Python
    pipeline; otherwise ``[pipeline] name`` (default ``sch``) picks a built-in.

    Raises:
        RunnerError: bad pipeline file or entry.
        ValueError: (``ConfigError``) a builder rejected the config.
    """
    config = config.expanduser().resolve()
    data = _read_toml(config)
    root = config.parent
    from standard_coder.runner.commandfile import is_command_pipeline, load_command_pipeline

    if is_command_pipeline(data):
        return load_command_pipeline(data, config, overrides), root
    from standard_coder.runner.entry import build_from_object, load_object

    section = data.get("pipeline", {})
    section = section if isinstance(section, dict) else {}
    spec = section.get("entry")
    if isinstance(spec, str) and spec:
        obj = load_object(spec, root)
        return build_from_object(obj, spec, config, overrides), root
    from standard_coder.pipelines import BUILTINS
    from standard_coder.runner.errors import PipelineDefinitionError

    name = str(section.get("name", "sch"))
    target = BUILTINS.get(name)
    if target is None:
        raise PipelineDefinitionError(
            f"{config}: pipeline.name: unknown built-in {name!r} "
            f"(valid: {', '.join(sorted(BUILTINS))}); or give [pipeline] entry or [[stages]]"
        )
    module_name = target.split(":", 1)[0]
    try:
        obj = load_object(target, root)
    except PipelineDefinitionError:
        raise PipelineDefinitionError(
            f"{config}: built-in pipeline {name!r} is not available in this version "
            f"(module {module_name} not found)"
        ) from None
    return build_from_object(obj, target, config, overrides), root


def _setup_logging(level: str) -> None:
    numeric = getattr(logging, level.upper(), None)
    if not isinstance(numeric, int):
        raise _die(f"--log-level {level!r}: expected debug, info, warning or error", 2)
    top = logging.getLogger("standard_coder")
    top.setLevel(min(numeric, logging.INFO))
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    top.addHandler(handler)


def _load_or_die(config: Path, overrides: list[str] | None) -> tuple[Pipeline, Path]:
    try:
        return load_pipeline(config, overrides or [])
    except RunnerError as exc:
        raise _die(str(exc), exc.exit_code) from None
    except ValueError as exc:  # ConfigError from a builder
        raise _die(str(exc), 2) from None


def _split(stages: str | None) -> list[str] | None:
    if not stages:
        return None
    return [s.strip() for s in stages.split(",") if s.strip()]


def _print_plan(plans: list[Any], as_json: bool) -> None:
    if as_json:
        rows = [
            {"stage": p.stage, "run": p.run, "reason": p.reason, "selected": p.selected}
            for p in plans
        ]
        sys.stdout.write(json.dumps({"stages": rows}, indent=2) + "\n")
        return
    width = max((len(p.stage) for p in plans), default=5)
    for p in plans:
        what = "would run" if p.run and p.selected else ("stale" if p.run else "up to date")
        if not p.selected and not p.run:
            what = "up to date"
        mark = "" if p.selected else "  (not selected)"
        sys.stdout.write(f"{p.stage:<{width}}  {what:<10}  {p.reason}{mark}\n")


@app.command("pipeline")
def pipeline_cmd(
    config: ConfigOpt,
    stages: StagesOpt = None,
    from_stage: FromOpt = None,
    to_stage: ToOpt = None,
    force: Annotated[bool, typer.Option("--force", help="rerun the selected stages")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would run and why; write nothing")
    ] = False,
    set_: SetOpt = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug|info|warning|error")
    ] = "info",
    log_format: Annotated[
        str, typer.Option("--log-format", help="text, or json (events on stderr too)")
    ] = "text",
) -> None:
    """Run a pipeline, skipping stages whose inputs, params and code are unchanged."""
    if log_format not in ("text", "json"):
        raise _die(f"--log-format {log_format!r}: expected text or json", 2)
    _setup_logging(log_level)
    pipe, root = _load_or_die(config, set_)
    from standard_coder.runner.engine import plan_pipeline, run_pipeline
    from standard_coder.runner.events import ConsoleSink, StreamJsonSink

    selection = _split(stages)
    try:
        if dry_run:
            plans = plan_pipeline(
                pipe,
                stages=selection,
                from_stage=from_stage,
                to_stage=to_stage,
                force=force,
                root=root,
            )
            _print_plan([p for p in plans if p.selected], as_json=log_format == "json")
            return
        sink = StreamJsonSink() if log_format == "json" else ConsoleSink()
        result = run_pipeline(
            pipe,
            stages=selection,
            from_stage=from_stage,
            to_stage=to_stage,
            force=force,
            sinks=[sink],
            root=root,
        )
    except RunnerError as exc:
        raise _die(str(exc), exc.exit_code) from None
    if result.exit_code != 0:
        sys.stderr.write(f"{result.message}\n")
        raise typer.Exit(result.exit_code)
    ran = sum(1 for r in result.stages.values() if r["status"] == "completed")
    sys.stderr.write(f"ok: {ran} ran, {len(result.stages) - ran} skipped (run {result.run_id})\n")


@app.command("status")
def status_cmd(
    config: ConfigOpt,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Per stage: would it run, and why. Writes nothing and takes no lock."""
    pipe, root = _load_or_die(config, set_)
    from standard_coder.runner.engine import plan_pipeline

    try:
        plans = plan_pipeline(pipe, root=root)
    except RunnerError as exc:
        raise _die(str(exc), exc.exit_code) from None
    _print_plan(plans, as_json)


@app.command("validate-manifest")
def validate_manifest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="manifest.json files", show_default=False)],
) -> None:
    """Check stage manifests against the JSON Schema; name the field at fault."""
    from standard_coder.runner.manifest import validate_file

    bad = 0
    for path in paths:
        problems = validate_file(path)
        if problems:
            bad += 1
            for problem in problems:
                sys.stdout.write(f"{path}: {problem}\n")
        else:
            sys.stdout.write(f"{path}: ok\n")
    if bad:
        raise typer.Exit(2)
