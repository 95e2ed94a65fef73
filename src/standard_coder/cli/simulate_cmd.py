"""``standard-coder simulate OUT_DIR``: write simulated git repositories plus ``truth.json`` and
``prs.json`` (simulated pull requests with known delivery factors, docs/delivery-effort.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from standard_coder.cli.app import app


@app.command("simulate")
def simulate(
    out_dir: Path = typer.Argument(..., help="folder for the repositories and truth.json"),
    authors: int = typer.Option(3, "--authors", min=1, help="number of developers"),
    weeks: int = typer.Option(8, "--weeks", min=1, help="weeks of history"),
    repos: int = typer.Option(1, "--repos", min=1, help="number of repositories"),
    seed: int = typer.Option(0, "--seed", min=0, help="random seed (same seed, same commit ids)"),
    start: str = typer.Option("2024-01-01", "--start", help="first local date (YYYY-MM-DD)"),
    switch_after_weeks: int | None = typer.Option(
        None, "--switch-after-weeks", min=1, help="switch to the mirrored schedule after N weeks"
    ),
    commit_prob: float | None = typer.Option(
        None,
        "--commit-prob",
        min=0.0,
        max=1.0,
        help="probability per coding minute that the paper schedule's authors commit (0.04)",
    ),
    commit_rate: str | None = typer.Option(
        None,
        "--commit-rate",
        help="LOW,HIGH: each author's commit probability per coding minute drawn "
        "log-uniformly in this range, families included (real histories: 0.005,0.02)",
    ),
    schedule_family: list[str] = typer.Option(
        [],
        "--schedule-family",
        help="schedule family of the generated authors, repeatable (author i gets the i-th "
        "mod the count): paper, night_owl, weekend, split_shift, multi_tz, dst, part_time, "
        "bursty_oss, holidays",
    ),
) -> None:
    """Simulate developers (paper footnote 2 schedule) writing real git repositories."""
    from standard_coder.sch.teamsim.prs import write_pull_requests
    from standard_coder.sch.teamsim.team import (
        FAMILIES,
        ScheduleSpec,
        TeamSpec,
        load_truth,
        simulate_team,
    )

    try:
        start_date = dt.date.fromisoformat(start)
    except ValueError as exc:
        typer.echo(f"error: --start {start!r}: expected a date YYYY-MM-DD ({exc})", err=True)
        raise typer.Exit(2) from None
    unknown = [f for f in schedule_family if f not in FAMILIES]
    if unknown:
        typer.echo(
            f"error: --schedule-family {unknown[0]!r}: expected one of {', '.join(FAMILIES)}",
            err=True,
        )
        raise typer.Exit(2)
    rate = _commit_rate(commit_rate)
    if rate is not None and commit_prob is not None:
        typer.echo(
            "error: --commit-prob and --commit-rate: give one (a rate for everyone, or a range "
            "each author's rate is drawn from)",
            err=True,
        )
        raise typer.Exit(2)
    if out_dir.exists() and not out_dir.is_dir():
        typer.echo(f"error: {out_dir}: exists and is not a folder", err=True)
        raise typer.Exit(2)
    spec = TeamSpec(
        n_authors=authors,
        weeks=weeks,
        n_repos=repos,
        start=start_date,
        switch_after_weeks=switch_after_weeks,
        schedule=ScheduleSpec() if commit_prob is None else ScheduleSpec(commit_prob=commit_prob),
        schedule_families=tuple(schedule_family),
        commit_rate=rate,
    )
    try:
        res = simulate_team(out_dir, spec, seed=seed)
        prs = write_pull_requests(load_truth(res.truth_path), res.out_dir / "prs.json", seed=seed)
    except OSError as exc:  # unwritable or impossible output folder, git missing
        typer.echo(f"error: {out_dir}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        json.dumps(
            {
                "out_dir": str(res.out_dir),
                "repos": [str(p) for p in res.repos],
                "truth": str(res.truth_path),
                "pull_requests": str(prs),
                "commits": res.n_commits,
                "authors": list(res.authors),
                "seconds": round(res.seconds, 3),
            }
        )
    )


def _commit_rate(text: str | None) -> tuple[float, float] | None:
    """``--commit-rate LOW,HIGH`` as a range; a bad one ends the command (exit 2)."""
    if text is None:
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        low = high = -1.0
    if not 0.0 < low <= high < 1.0:
        typer.echo(
            f"error: --commit-rate {text!r}: expected LOW,HIGH with 0 < LOW <= HIGH < 1 "
            "(probabilities per coding minute, e.g. 0.005,0.02)",
            err=True,
        )
        raise typer.Exit(2)
    return low, high
