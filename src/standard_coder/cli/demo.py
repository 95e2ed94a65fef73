"""``standard-coder demo``: simulate a small team and run the flagship pipeline on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from standard_coder.cli.app import app
from standard_coder.cli.demo_run import DEMO_MODULES, finish, run_demo


def _fmt(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, int | float) else "-"


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
    # sch, vision and audio: the pipeline's on_finish hook printed the summary (sch: metric
    # table, warnings, report path, forecast dates, exactly as `standard-coder pipeline` does)
    if pipeline == "codeedit":
        _codeedit_summary(config)
    finish(config, t0)


def _codeedit_summary(config: Path) -> None:
    from standard_coder.pipelines.codeedit_demo import summary

    s = summary(config.parent / "sc-output", 0.0)
    st, ev = s.get("stats") or {}, s.get("evaluation") or {}
    typer.echo(f"records per split {st.get('totals')}; rejected "
               f"{(st.get('rejected') or {}).get('counts')}", err=True)  # fmt: skip
    typer.echo(
        f"edit eval: pass@1 {_fmt(ev.get('pass@1'))}, ExcessCode {_fmt(ev.get('excess_code'))} "
        f"on {ev.get('tasks', '-')} tasks {ev.get('statuses')}",
        err=True,
    )
    if s.get("validation"):
        va = s["validation"]
        typer.echo(f"Stage-1 actions on dev tasks: success {_fmt(va.get('success_rate'))} "
                   f"{va.get('statuses')} (tiny random model: ~0 expected)", err=True)  # fmt: skip
    for r in ((s.get("models") or {}).get("models") or {}).values():
        typer.echo(f"{r['label']}: CanItEdit success {_fmt(r['canitedit']['pass@1'])}, "
                   f"held-out similarity {_fmt(r['heldout']['similarity'])}", err=True)  # fmt: skip
    if s.get("stage2_report"):
        typer.echo(f"Training report: {s['stage2_report']}", err=True)
    typer.echo(f"Report: {s['report']}", err=True)
