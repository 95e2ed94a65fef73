"""``standard-coder demo``: simulate a small team and run the flagship pipeline on it."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from standard_coder.cli.app import app


def _fmt(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, int | float) else "-"


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
    from standard_coder.pipelines import BUILTINS
    from standard_coder.runner import front

    if pipeline == "vision":
        _vision_demo(output_dir, size, log_level, log_format)
        return
    if pipeline == "audio":
        from standard_coder.cli.demo_audio import audio_demo

        audio_demo(output_dir, size, log_level, log_format)
        return
    if pipeline == "codeedit":
        _codeedit_demo(output_dir, size, log_level, log_format)
        return
    if pipeline != "sch":
        typer.echo(
            f"error: --pipeline {pipeline!r}: expected sch, vision, audio or codeedit", err=True
        )
        raise typer.Exit(2)
    from standard_coder.pipelines.demo import SIZES, prepare

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
    # the summary (metric table, warnings, report path, forecast dates) was printed by the
    # pipeline's on_finish hook, exactly as `standard-coder pipeline` prints it
    typer.echo(f"Config (edit and rerun): standard-coder pipeline --config {config}", err=True)
    typer.echo(f"Finished in {time.perf_counter() - t0:.1f} s", err=True)
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


def _codeedit_demo(output_dir: Path, size: str, log_level: str, log_format: str) -> None:
    from standard_coder.pipelines import BUILTINS
    from standard_coder.pipelines.codeedit_demo import SIZES, prepare, summary
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
    typer.echo(f"Report: {s['report']}", err=True)
    typer.echo(f"Config (edit and rerun): standard-coder pipeline --config {config}", err=True)
    typer.echo(f"Finished in {s['elapsed_s']} s", err=True)
