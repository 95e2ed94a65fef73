"""``standard-coder fit-prior OUTPUT... --out PRIOR.npz``: a cross-repository prior fitted on
the histories of pipelines you have run, checked leave one history out."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from standard_coder.cli.app import app


def _f(x: float | None) -> str:
    return "    -" if x is None or not math.isfinite(x) else f"{x:+.3f}"


@app.command("fit-prior")
def fit_prior_cmd(
    outputs: Annotated[
        list[Path],
        typer.Argument(
            help="[outputs] base_dir of pipelines that ran train_sch, or folders holding them "
            "(each output is one history; at least two)",
            metavar="OUTPUT",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="where to write the prior (.npz)", metavar="FILE"),
    ],
    seed: Annotated[int, typer.Option("--seed", help="random seed of the tree ensemble")] = 0,
    bag: Annotated[
        int | None,
        typer.Option(
            "--bag",
            min=1,
            help="average this many tree ensembles (seeds --seed onwards) into one prior "
            "(default: the shipped prior's recipe, 5)",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="score each history by a prior fitted on the others first (one fit per history)",
        ),
    ] = True,
    include_held_out: Annotated[
        bool,
        typer.Option(
            "--include-held-out",
            help="fit on each history's held-out changes too (for a prior meant for other "
            "histories: these histories' held-out figures would then come from changes it saw)",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout")] = False,
) -> None:
    """Fit a cross-repository prior on your own histories and write it to --out.

    The prior scores each change from its token, syntax and size counts; it is fitted on the
    normal-interval changes of every history given, each history's coding time standardised
    on its own. With --check (the default) each history is first scored by a prior fitted on
    the others: Spearman with inferred coding time on its held-out changes, as a new
    repository would meet it, beside lines added's and the shipped prior's ("shipped"; it was
    fitted on public histories, so it may have seen a public one). Keep the shipped prior
    unless yours ranks better. Use the file with [training.features] cross_repo_prior_path.

    The prior is fitted on each history's changes before its held-out period, so histories
    run again with it are still judged on changes it never saw (--include-held-out: all).

    Exit codes: 0 ok, 2 bad input (no trained output, an unreadable one, fewer than two
    histories or too few changes in one, an --out that is a folder, inside an input or not
    writable); nothing is written then.
    """
    from standard_coder.pipelines.sch_prior import PriorInputError, fit_own_prior

    try:
        fit = fit_own_prior(
            outputs, out, seed=seed, bag=bag, check=check, held_out=include_held_out
        )
    except PriorInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for skipped in fit.skipped:
        typer.echo(f"skipped {skipped}: train_sch has not finished there", err=True)
    doc = fit.to_json()
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    if fit.leave_one_out:
        typer.echo("each history scored by a prior fitted on the others (held-out changes):")
        head = ("history", "n", "lines added", "prior", "gain", "shipped")
        typer.echo("  {:24s} {:>5s} {:>12s} {:>7s} {:>7s} {:>8s}".format(*head))
        for r in fit.leave_one_out:
            typer.echo(
                f"  {r.history[:24]:24s} {r.n_test_normal:5d} {_f(r.spearman_lines_added):>12s} "
                f"{_f(r.spearman_prior):>7s} {_f(r.gain):>7s} "
                f"{_f(fit.shipped[r.history]):>8s}"
            )
        s = doc["summary"]
        typer.echo(
            f"  this prior ranks better than lines added on {s['held_out_above_lines_added']} "
            f"of {s['held_out_scored']} (mean gain {_f(s['held_out_mean_diff'])}); "
            f"mean Spearman: this prior {_f(s['held_out_mean_spearman_prior'])}, lines added "
            f"{_f(s['held_out_mean_spearman_lines_added'])}"
        )
        typer.echo(
            f"  on the {s['held_out_compared_with_shipped']} histories both priors score: "
            f"this prior {_f(s['held_out_mean_spearman_prior_vs_shipped'])}, the shipped prior "
            f"{_f(s['held_out_mean_spearman_shipped_prior'])}"
        )
        verdict = _verdict(s)
        if verdict:
            typer.echo(f"  {verdict}")
    typer.echo(
        f"wrote {fit.path} ({fit.changes} changes of {len(fit.histories)} histories, "
        f"checksum {fit.checksum[:12]}); use it with [training.features] "
        f"cross_repo_prior_path = {json.dumps(str(fit.path))}"
    )


def _verdict(summary: dict[str, Any]) -> str:
    """Which prior to use, by the two priors' mean held-out Spearman over the same histories
    (those both score; empty when there are none)."""
    own = summary.get("held_out_mean_spearman_prior_vs_shipped")
    shipped = summary.get("held_out_mean_spearman_shipped_prior")
    if own is None or shipped is None:
        return ""
    if own > shipped:
        return "this prior ranks your histories better than the shipped one: use it (below)"
    return ("the shipped prior ranks your histories as well or better: keep it (the default); "
            "the file is written if you want it anyway")  # fmt: skip
