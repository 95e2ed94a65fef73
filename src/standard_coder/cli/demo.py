"""``standard-coder demo``: simulate a small team and run mine -> train_sch -> forecast."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from standard_coder.cli.app import app


def _fmt(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, int | float) else "-"


def _print_summary(s: dict[str, Any], config: Path) -> None:
    from rich.table import Table

    from standard_coder.runner.console import make_console

    con = make_console(stderr=True)
    ev = s.get("evaluation") or {}
    if ev:
        t = Table(title="What the effort model learned (held-out commits)", title_justify="left")
        t.add_column("metric")
        t.add_column("SCH model", justify="right")
        t.add_column("LOC baseline", justify="right")
        for name, key in [
            ("neg. log-likelihood / label (lower is better)", "heldout_nll"),
            ("CRPS, hours (lower is better)", "crps"),
            ("80% interval coverage (target 0.80)", "coverage_80"),
        ]:
            t.add_row(name, _fmt(ev.get(key)), _fmt(ev.get(f"baseline_loc_{key}")))
        t.add_row(
            "Spearman vs inferred coding time",
            _fmt(ev.get("spearman_sch")),
            f"lines added {_fmt(ev.get('spearman_lines_added'))}",
        )
        t.add_row("binned calibration R² (paper Fig. 6)", _fmt(ev.get("binned_calibration_r2")), "")
        con.print(t)
        truth = ev.get("work_inference_pearson_vs_truth") or {}
        if truth:
            con.print(
                "Work inference vs the simulator's true coding time (Pearson r): "
                f"neural HMM [bold]{_fmt(truth.get('hmm'))}[/], "
                f"git-hours gap heuristic {_fmt(truth.get('gap'))} (paper: HMM > 0.69)"
            )
    fc = s.get("forecast") or {}
    if fc:
        con.print(
            f"Sprint [bold]{fc.get('sprint_id')}[/] (ends {fc.get('end_date')}): "
            f"P(complete by end) = [bold]{_fmt(fc.get('p_complete_by_end'), 2)}[/], "
            f"done by {fc.get('completion_date_p50')} (P50) / "
            f"{fc.get('completion_date_p85')} (P85)"
        )
    con.print(f"Report: {s['report']}")
    if s.get("forecast_path"):
        con.print(f"Forecast: {s['forecast_path']}")
    con.print(f"Config (edit and rerun): standard-coder pipeline --config {config}")
    con.print(f"Finished in {s['elapsed_s']} s")


@app.command("demo")
def demo(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="folder for repos, config and results")
    ] = Path("standard-coder-demo"),
    size: Annotated[str, typer.Option("--size", help="tiny (for tests) or default")] = "default",
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    log_format: Annotated[str, typer.Option("--log-format", help="text or json")] = "text",
    pipeline: Annotated[
        str, typer.Option("--pipeline", help="sch (the flagship) or vision (digits)")
    ] = "sch",
) -> None:
    """Run a built-in pipeline on its embedded default (sch: a simulated team's repositories)."""
    from standard_coder.pipelines import BUILTINS
    from standard_coder.runner import front

    if pipeline == "vision":
        _vision_demo(output_dir, size, log_level, log_format)
        return
    if pipeline != "sch":
        typer.echo(f"error: --pipeline {pipeline!r}: expected sch or vision", err=True)
        raise typer.Exit(2)
    from standard_coder.pipelines.demo import SIZES, prepare, summary

    if size not in SIZES:
        typer.echo(f"error: --size {size!r}: expected one of {', '.join(SIZES)}", err=True)
        raise typer.Exit(2)
    t0 = time.perf_counter()
    if output_dir.exists() and not output_dir.is_dir():
        typer.echo(f"error: --output-dir {output_dir}: exists and is not a folder", err=True)
        raise typer.Exit(2)
    try:
        config = prepare(output_dir.resolve(), size)
    except OSError as exc:  # --output-dir is a file, unwritable, or below a file
        where = exc.filename or output_dir
        typer.echo(f"error: --output-dir: {where}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    code = front.run_command(
        config=config,
        builtins=BUILTINS,
        log_level=log_level,
        log_format=log_format,
    )
    if code != 0:
        raise typer.Exit(code)
    base = config.parent / "sc-output"
    _print_summary(summary(base, time.perf_counter() - t0), config)
    sys.stderr.flush()


def _vision_demo(output_dir: Path, size: str, log_level: str, log_format: str) -> None:
    from standard_coder.pipelines import BUILTINS
    from standard_coder.pipelines.vision_demo import SIZES, prepare, summary
    from standard_coder.runner import front

    if size not in SIZES:
        typer.echo(f"error: --size {size!r}: expected one of {', '.join(SIZES)}", err=True)
        raise typer.Exit(2)
    t0 = time.perf_counter()
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
    s = summary(config.parent / "sc-output", time.perf_counter() - t0)
    ev = s.get("evaluation") or {}
    typer.echo(
        f"digits test accuracy {_fmt(ev.get('accuracy'), 4)} on {ev.get('n_test', '-')} images "
        f"({ev.get('model_type', '-')} model)",
        err=True,
    )
    typer.echo(f"Predictions (FiftyOne): {s['predictions']}", err=True)
    typer.echo(f"Report: {s['report']}", err=True)
    typer.echo(f"Config (edit and rerun): standard-coder pipeline --config {config}", err=True)
    typer.echo(f"Finished in {s['elapsed_s']} s", err=True)
