"""Commands about finished runs: ``diff-runs``, ``gc`` and ``report``.

They only parse, call ``runner.rundiff``, ``runner.retention`` and ``reporting.html``, and print.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from standard_coder.cli.app import app

log = logging.getLogger(__name__)

DEFAULT_BASE_DIR = "sc-output"
DEFAULT_RETENTION_DAYS = 30


@dataclass(frozen=True)
class OutputsSettings:
    """The ``[outputs]`` settings these commands need."""

    base_dir: Path
    retention_days: int
    config_path: Path


def _fail(message: str, code: int = 2) -> typer.Exit:
    from standard_coder.runner.console import make_console

    make_console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {message}"
    )
    return typer.Exit(code)


def load_outputs_settings(config: Path) -> OutputsSettings:
    """``[outputs] base_dir`` and ``retention_days`` of any pipeline file.

    Command pipelines (``[[stages]]``) and Python pipelines (``[pipeline] entry``) are read with
    ``tomllib`` and only their ``[outputs]`` table is used; other files go through the flagship
    schema (``load_config``), falling back to the raw ``[outputs]`` table when it rejects them.
    Relative paths are taken from the config file's folder.

    Raises:
        ValueError: the file is missing, not TOML, or ``[outputs]`` holds a bad value.
    """
    import tomllib

    path = Path(config).expanduser().resolve()
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    section = raw.get("pipeline")
    is_other = "stages" in raw or (isinstance(section, dict) and bool(section.get("entry")))
    if not is_other:
        from standard_coder.config import ConfigError, load_config

        try:
            cfg = load_config(path)
        except ConfigError as exc:
            log.debug("flagship schema rejected %s, reading [outputs] only: %s", path, exc)
        else:
            return OutputsSettings(
                Path(cfg.outputs.base_dir), int(cfg.outputs.retention_days), path
            )
    outputs = raw.get("outputs", {})
    if not isinstance(outputs, dict):
        raise ValueError(f"{path}: outputs: expected a table")
    base = outputs.get("base_dir", DEFAULT_BASE_DIR)
    days = outputs.get("retention_days", DEFAULT_RETENTION_DAYS)
    if not isinstance(base, str) or not base:
        raise ValueError(f"{path}: outputs.base_dir: expected a non-empty string (got {base!r})")
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"{path}: outputs.retention_days: expected an integer >= 0 (got {days!r})")
    base_path = Path(base).expanduser()
    if not base_path.is_absolute():
        base_path = path.parent / base_path
    return OutputsSettings(base_path, days, path)


def _settings_or_exit(config: Path) -> OutputsSettings:
    try:
        return load_outputs_settings(config)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("diff-runs")
def diff_runs_command(
    run_a: Annotated[str, typer.Argument(help="run A: a run folder, or a run id with --base-dir")],
    run_b: Annotated[str, typer.Argument(help="run B: a run folder, or a run id with --base-dir")],
    base_dir: Annotated[
        Path | None, typer.Option("--base-dir", help="output root holding runs/<run_id>/")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the diff as JSON")] = False,
) -> None:
    """Show which config keys, package versions and stage fingerprints differ between two runs."""
    from dataclasses import asdict

    from rich.table import Table

    from standard_coder.runner.console import make_console
    from standard_coder.runner.rundiff import RunNotFound, diff_runs, resolve_run_dir

    try:
        dir_a = resolve_run_dir(run_a, base_dir)
        dir_b = resolve_run_dir(run_b, base_dir)
        diff = diff_runs(dir_a, dir_b)
    except RunNotFound as exc:
        raise _fail(str(exc)) from None

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
            table.add_row(c.key, f"[{style[c.kind]}]{c.kind}[/]", a, b)
        console.print(table)
    src_a, src_b = diff.fingerprint_sources
    console.print(f"[dim]stage fingerprints from: A {src_a}, B {src_b}[/]")


@app.command("gc")
def gc_command(
    config: Annotated[Path, typer.Option("--config", help="the pipeline's config file")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only say what would be removed")
    ] = False,
) -> None:
    """Remove expired runs, stale partial work and quarantined files; never the latest results."""
    from standard_coder.runner.console import make_console

    settings = _settings_or_exit(config)
    console = make_console(highlight=False)
    if not settings.base_dir.is_dir():
        console.print(f"Nothing to collect: {settings.base_dir} does not exist.")
        return
    from standard_coder.runner.errors import RunLocked
    from standard_coder.runner.lock import RunLock

    lock = None if dry_run else RunLock(settings.base_dir)
    try:
        if lock is not None:
            lock.acquire()
    except RunLocked as exc:
        raise _fail(f"{exc}; gc waits until the run ends", 3) from None
    try:
        _gc(settings, dry_run, console)
    finally:
        if lock is not None:
            lock.release()


def _gc(settings: OutputsSettings, dry_run: bool, console: Any) -> None:
    from rich.table import Table

    from standard_coder.runner.retention import apply_gc, human_size, plan_gc

    plan = plan_gc(
        settings.base_dir, settings.retention_days, output_root=settings.config_path.parent
    )
    verb = "would remove" if dry_run else "removing"
    if plan.remove:
        table = Table(
            title=f"{verb} ({settings.retention_days}-day retention)", title_justify="left"
        )
        table.add_column("path", overflow="fold")
        table.add_column("kind")
        table.add_column("size", justify="right")
        table.add_column("why", overflow="fold")
        for item in plan.remove:
            rel = item.path.relative_to(plan.base_dir)
            table.add_row(str(rel), item.kind, human_size(item.size_bytes), item.reason)
        console.print(table)
    kept = [i for i in plan.keep if i.kind == "run" or i.reason.startswith("protected")]
    for item in kept:
        console.print(f"[dim]keeping {item.path.relative_to(plan.base_dir)}: {item.reason}[/]")
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
    console.print(f"Removed {len(plan.remove)} item(s), freed {human_size(freed)}.")


@app.command("report")
def report_command(
    config: Annotated[Path, typer.Option("--config", help="the pipeline's config file")],
) -> None:
    """Regenerate the self-contained HTML run report (<base_dir>/reports/index.html)."""
    from standard_coder.reporting.html import build_report

    settings = _settings_or_exit(config)
    if not settings.base_dir.is_dir():
        raise _fail(f"{settings.base_dir}: output folder not found (run the pipeline first)")
    typer.echo(str(build_report(settings.base_dir)))
