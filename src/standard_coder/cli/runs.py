"""Commands about finished runs: ``diff-runs``, ``gc`` and ``report``.

They only parse, call ``runner.rundiff``, ``runner.retention`` and ``runner.report`` (with the
pipeline's own report sections), and print.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from standard_coder.cli.app import app
from standard_coder.cli.options import ConfigOpt, SetOpt
from standard_coder.runner.console import say_warning

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputsSettings:
    """The ``[outputs]`` settings these commands need, and the file they came from."""

    base_dir: Path
    retention_days: int
    config_path: Path


def _fail(message: str, code: int = 2) -> typer.Exit:
    from rich.markup import escape

    from standard_coder.runner.console import make_console

    make_console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}"  # the message names the user's paths and keys
    )
    return typer.Exit(code)


OUTPUTS_KEYS = ("base_dir", "retention_days")
"""What ``gc``, ``report`` and ``diff-runs`` read of a config, and so what their ``--set`` sets."""


def load_outputs_settings(config: Path, overrides: Sequence[str] = ()) -> OutputsSettings:
    """``[outputs] base_dir`` and ``retention_days`` of any pipeline file (command, Python or
    built-in), read by the runner's one ``[outputs]`` reader; relative paths are taken from the
    config file's folder. ``overrides``: ``--set outputs.KEY=VALUE`` texts (the only keys
    read here).

    Raises:
        ValueError: the file is missing, not TOML, ``[outputs]`` holds a bad value, or an
            override names another key.
    """
    from standard_coder.runner.layout import read_outputs
    from standard_coder.runner.overrides import apply_overrides, parse_override
    from standard_coder.runner.suggest import did_you_mean
    from standard_coder.runner.tomlfile import read_toml

    path = Path(config).expanduser().resolve()
    data = read_toml(path, ValueError)
    for text in overrides:
        parts, _ = parse_override(text)  # OverrideError is a ValueError
        valid = [f"outputs.{k}" for k in OUTPUTS_KEYS]
        key = ".".join(parts)
        if key not in valid:
            raise ValueError(
                f"--set {key}: this command reads only {' and '.join(valid)}"
                f"{did_you_mean(key, valid)}"
            )
    outputs = read_outputs(apply_overrides(dict(data), list(overrides)), path)
    return OutputsSettings(outputs.base_dir, outputs.retention_days, path)


def _settings_or_exit(config: Path, overrides: Sequence[str] | None = None) -> OutputsSettings:
    try:
        return load_outputs_settings(config, overrides or ())
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("diff-runs")
def diff_runs_command(
    run_a: Annotated[
        str,
        typer.Argument(
            help="run A: a run folder, or a run id with --config or --base-dir", metavar="RUN_A"
        ),
    ],
    run_b: Annotated[
        str,
        typer.Argument(
            help="run B: a run folder, or a run id with --config or --base-dir", metavar="RUN_B"
        ),
    ],
    base_dir: Annotated[
        Path | None,
        typer.Option("--base-dir", help="output root holding runs/<run_id>/", metavar="DIR"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="pipeline config file (TOML) whose [outputs] base_dir holds the runs",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the diff as JSON")] = False,
) -> None:
    """Show which config keys, package versions and stage fingerprints differ between two runs."""
    from dataclasses import asdict

    from rich.markup import escape
    from rich.table import Table

    from standard_coder.runner.console import make_console
    from standard_coder.runner.rundiff import RunNotFound, diff_runs, resolve_run_dir

    if config is not None and base_dir is not None:
        raise _fail("give --config or --base-dir, not both")
    if config is not None:
        base_dir = _settings_or_exit(config).base_dir
    try:
        dir_a = resolve_run_dir(run_a, base_dir)
        dir_b = resolve_run_dir(run_b, base_dir)
        diff = diff_runs(dir_a, dir_b)
    except RunNotFound as exc:
        hint = "" if base_dir is not None else " (give --config FILE to look runs up by id)"
        raise _fail(f"{exc}{hint}" if "not found" in str(exc) else str(exc)) from None

    if as_json:
        typer.echo(json.dumps(asdict(diff), indent=2, sort_keys=True, default=str))
        return
    console = make_console(highlight=False)
    console.print(f"[bold]A[/] {diff.run_a}   [bold]B[/] {diff.run_b}")
    if diff.identical:
        console.print("[green]No differences[/] in config, packages, environment, code or stages.")
        return
    sections = (
        ("Config keys", diff.config),
        ("Package versions", diff.packages),
        ("Environment", diff.environment),
        ("Code version", diff.code),
        ("Stage fingerprints", diff.stages),
    )
    style = {"added": "green", "removed": "red", "changed": "yellow"}
    # a stage in one run only was not run (selected) in the other: not added to or removed
    # from the pipeline
    said = {"Stage fingerprints": {"added": "in B only", "removed": "in A only"}}
    for title, changes in sections:
        if not changes:
            console.print(f"[dim]{title}: same[/]")
            continue
        table = Table(title=title, title_justify="left", title_style="bold")
        table.add_column("key")
        table.add_column("change")
        table.add_column("A", overflow="fold")
        table.add_column("B", overflow="fold")
        for c in changes:
            a = "—" if c.kind == "added" else _short(c.a)
            b = "—" if c.kind == "removed" else _short(c.b)
            kind = said.get(title, {}).get(c.kind, c.kind)
            table.add_row(escape(c.key), f"[{style[c.kind]}]{kind}[/]", escape(a), escape(b))
        console.print(table)
    src_a, src_b = diff.fingerprint_sources
    console.print(f"[dim]stage fingerprints from: A {src_a}, B {src_b}[/]")
    if any(c.kind != "changed" for c in diff.stages):
        console.print("[dim]a stage in one run only was not run in the other (--stages, or a "
                      "run stopped before it)[/]")  # fmt: skip


@app.command("gc")
def gc_command(
    config: ConfigOpt,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only say what would be removed")
    ] = False,
    set_: SetOpt = None,
) -> None:
    """Remove expired runs and run records (vision_runs/, eval/, with what they list as their
    companions), stale partial work, quarantined files, and the hash cache's folder snapshots
    and rows of files that are gone; never the latest results."""
    from standard_coder.runner.console import make_console

    settings = _settings_or_exit(config, set_)
    console = make_console(highlight=False)
    if not settings.base_dir.is_dir():
        console.print(f"Nothing to collect: {settings.base_dir} does not exist.", markup=False)
        return
    from standard_coder.runner.errors import RunLocked
    from standard_coder.runner.fserrors import StorageError, describe
    from standard_coder.runner.lock import RunLock

    lock = None if dry_run else RunLock(settings.base_dir)
    try:
        if lock is not None:
            lock.acquire()
    except RunLocked as exc:
        raise _fail(f"{exc}; run gc again when it has ended", 3) from None
    except StorageError as exc:  # a read-only folder, a full disk: nothing can be removed
        raise _fail(str(exc), exc.exit_code) from None
    try:
        _gc(settings, dry_run, console)
    except StorageError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    except OSError as exc:
        raise _fail(describe(exc), 1) from None
    finally:
        if lock is not None:
            lock.release()


def _gc(settings: OutputsSettings, dry_run: bool, console: Any) -> None:
    from rich.markup import escape

    from standard_coder.runner.gctable import gc_table
    from standard_coder.runner.retention import apply_gc, human_size, plan_gc

    plan = plan_gc(
        settings.base_dir, settings.retention_days, output_root=settings.config_path.parent
    )
    verb = "would remove" if dry_run else "removing"
    if plan.remove:
        # a line an item where the terminal is narrower than the boxed table (at 40 columns
        # its folded cells took ten lines a run folder); off a terminal, the boxed table
        title = f"{verb} ({settings.retention_days}-day retention)"
        width = console.width if console.is_terminal else None
        console.print(gc_table(plan.remove, plan.base_dir, title, width))
    kept = [i for i in plan.keep if i.kind in ("run", "record") or i.protected]
    for item in kept:
        where = escape(str(item.path.relative_to(plan.base_dir)))
        console.print(f"[dim]keeping {where}: {escape(item.reason)}[/]")
    if not plan.remove:
        console.print("Nothing to remove.")
        return
    if dry_run:
        console.print(
            f"{len(plan.remove)} item(s), {human_size(plan.bytes_to_free)} would be freed "
            "(dry run: nothing removed)."
        )
        return
    freed = apply_gc(plan)
    done = len(plan.remove) - len(plan.errors)
    console.print(f"Removed {done} item(s), freed {human_size(freed)}.")
    if plan.errors:  # the hash cache could not be pruned (disk full, read-only, locked)
        raise _fail(f"{plan.errors[0]}; its rows are kept", plan.errors[0].exit_code)


@app.command("report")
def report_command(
    config: ConfigOpt,
    set_: SetOpt = None,
) -> None:
    """Regenerate the self-contained HTML run report (<base_dir>/reports/index.html)."""
    from standard_coder.runner.report import build_report

    settings = _settings_or_exit(config, set_)
    if not settings.base_dir.is_dir():
        raise _fail(f"{settings.base_dir}: output folder not found (run the pipeline first)")
    typer.echo(str(build_report(settings.base_dir, _report_sections(settings.config_path))))


def _report_sections(config: Path) -> Sequence[Any]:
    """The pipeline's own report sections (none when the pipeline cannot be built here: the
    runner's page is drawn all the same, and the reason is logged)."""
    from standard_coder.pipelines import BUILTINS
    from standard_coder.runner.errors import RunnerError
    from standard_coder.runner.front import load_pipeline

    try:
        pipe, _root = load_pipeline(config, (), BUILTINS)
    except (RunnerError, ValueError) as exc:
        say_warning(f"report: pipeline sections left out ({exc})", log)
        return ()
    return pipe.report_sections
