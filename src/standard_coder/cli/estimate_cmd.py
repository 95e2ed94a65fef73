"""``standard-coder estimate``: price a commit, a range, a patch or a working tree in SCH hours."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from standard_coder.cli.app import app
from standard_coder.cli.options import ConfigOpt, SetOpt
from standard_coder.sch.words import SCH_EXPLAINED

if TYPE_CHECKING:
    from rich.console import Console

SCH_LINE = SCH_EXPLAINED.removesuffix(".") + ", with its 10/50/90 % quantiles"
"""The forecast's definition of SCH (one text), and what estimate adds to it."""


def _name(change: dict[str, Any]) -> str:
    return str(change.get("commit_id", ""))[:10] or str(change.get("source", ""))


def _hours(h: float) -> str:
    """A feature's SCH in hours: two decimals, or one significant digit under 0.005 h (a row of
    ``+0.00 h`` said nothing of which feature weighs most)."""
    h += 0.0  # -0.0 (a tiny negative effect rounded in the JSON) reads "+0.00", not "-0.00"
    return f"{h:+.2f}" if abs(h) >= 0.005 or h == 0 else f"{h:+.1g}"


def _weighs_most(name: str, feats: list[dict[str, Any]]) -> str:
    feats = [f for f in feats if f["sch_hours"] != 0]  # no effect: not among what weighs
    if not feats:
        return f"{name}: no feature alone moves its SCH (each at its training mean, the same)"
    parts = ", ".join(
        f"{f.get('what', f['feature'])} ×{f['count']:g} ({_hours(f['sch_hours'])} h)" for f in feats
    )
    small = feats and all(abs(f["sch_hours"]) < 0.005 for f in feats)
    return f"{name} weighs most: {parts}" + (
        "; no feature alone moves its SCH by 0.005 h or more" if small else ""
    )


def _typical(hours: float) -> str:
    """What the effects are read against (a 0.47 h change whose effects add to 0.02 h is
    mostly the model's typical change, not its features)."""
    return (
        f"for scale: a change with every feature at its training mean prices at {hours:.2f} h; "
        "each effect above is what that one feature adds to the change's SCH (negative: takes "
        "off) against the same change with that feature at its mean"
    )


def _not_counted(name: str, out: dict[str, Any]) -> str:
    return (
        f"{name} not counted: {out['generated_files']} generated file(s) "
        f"(+{out['generated_lines_added']} lines), {out['formatting_files']} "
        f"formatting-only file(s) (+{out['formatting_lines_added']} lines)"
    )


def _only_left_out(name: str, hours: float) -> str:
    return (
        f"{name}: no counted code is left, so its {hours:.2f} h is the model's level for a change "
        "without counted code (what this history's tool-made commits took between commits), "
        "not a measure of those lines"
    )


def _reapplies(name: str, again: dict[str, Any]) -> str:
    return (
        f"{name} re-applies {again['commit_id'][:10]} ({again['share']:.0%} of its "
        f"{again['lines']} distinctive added lines were added there: a backport, a cherry-pick "
        "or a revert undone); priced as written"
    )


def _first_three(paths: list[str]) -> str:
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _no_contents(name: str, paths: list[str]) -> str:
    return (
        f"{name}: priced without the contents of {_first_three(paths)} (a patch holds only "
        "the changed lines; these files at HEAD of the repository are not what the patch "
        "changes, or no repository was found: --repo PATH): their syntax features are not "
        "counted, so the change committed or in a working tree (--worktree) can price otherwise"
    )


def _untracked(name: str, paths: list[str]) -> str:
    return (
        f"{name} counts {len(paths)} untracked file(s) of the mined languages "
        f"({_first_three(paths)}), as git status lists them; .gitignore leaves a file out"
    )


def _excluded(name: str, paths: list[str]) -> str:
    return (
        f"{name}: its files of the mined languages ({_first_three(paths)}) are all under "
        "[filters.languages] exclude_paths (vendored code), so 0 h"
    )


def _author_left_out(name: str, author: str) -> str:
    return (
        f"{name}: by {author}, whom [filters.authors] leaves out (bots and AI coding agents by "
        "default): priced as asked, but team output does not count it"
    )


_NOTES: tuple[tuple[str, Callable[[str, Any], str]], ...] = (
    ("top_features", _weighs_most),
    ("author_left_out", _author_left_out),
    ("left_out", _not_counted),
    ("only_left_out", _only_left_out),
    ("reapplies", _reapplies),
    ("no_contents", _no_contents),
    ("untracked", _untracked),
    ("excluded_files", _excluded),
)
"""The lines printed under the table: a change's JSON key, and what it says."""


def _model_and_file(model: str, predictor: str) -> tuple[str, str | None]:
    """``("auto", "/x/model.pt")`` from the JSON's ``"auto (/x/model.pt)"``: the table's title
    names the model, its file gets a line of its own (a long path wrapped the title)."""
    name, sep, path = model.partition(" (")  # "auto: shift_w0 (/x/model.pt)": auto's choice
    if sep and name.split(":")[0] == predictor and path.endswith(")"):
        return name, path[:-1]
    return model, None


def _print_human(doc: dict[str, Any], languages: list[str], predictor: str = "") -> None:
    from standard_coder.runner.console import make_console
    from standard_coder.runner.figtable import FigureTable

    con = make_console()
    if not doc["changes"]:  # an empty range: no table of nothing
        con.print(f"{doc.get('note') or 'nothing to price'} (0 SCH h)", markup=False,
                  highlight=False)  # fmt: skip
        return
    model, model_file = _model_and_file(str(doc["model"]), predictor)
    rows = []
    for c in doc["changes"]:
        name = _name(c)
        if c.get("subject"):  # git's 72 columns for a subject; a longer one says it was cut
            subject = str(c["subject"])
            name += f" {subject if len(subject) <= 72 else subject[:71] + '…'}"
        # plain text: a subject "[pre-commit.ci] ..." is not console markup
        rows.append([name, f"+{c['lines_added']}/-{c['lines_deleted']}", f"{c['sch_hours']:.2f}",
                     f"{c['q10']:.2f}", f"{c['q50']:.2f}", f"{c['q90']:.2f}"])  # fmt: skip
    styles: list[str | None] = [None] * len(rows)
    tot = doc["total"]
    if len(doc["changes"]) > 1:
        rows.append(["total", "", f"{tot['sch_hours']:.2f}", f"{tot['q10']:.2f}",
                     f"{tot['q50']:.2f}", f"{tot['q90']:.2f}"])  # fmt: skip
        styles.append("bold")
    # the figures are never cut (Rich cut "+12345/-6789" to "+12…" under about 60 columns):
    # the change's name folds, and on a narrower console a change is a block of lines
    # lines of the mined languages only: a docs-only commit reads +0/-0 code, not "empty"
    t = FigureTable(["change", "+/- code", "SCH h", "q10", "q50", "q90"], rows,
                    title=f"Estimate, model: {model}", styles=styles)  # fmt: skip
    con.print(t)
    if model_file is not None:  # whole, for copying: the terminal wraps it, not Rich
        con.print(f"model file: {model_file}", markup=False, highlight=False, soft_wrap=True)
    for key, say in _NOTES:  # one kind of note at a time, change after change
        for c in doc["changes"]:
            if c.get(key):
                _say(con, say(_name(c), c[key]))
        typical = [c["typical_sch_hours"] for c in doc["changes"] if "typical_sch_hours" in c]
        if key == "top_features" and typical:  # the same for every change: said once
            _say(con, _typical(float(typical[0])))
    bare = [_name(c) for c in doc["changes"] if c.get("no_language_files")]
    if bare:
        langs = ", ".join(sorted(languages)) or "none enabled"
        shown = ", ".join(bare[:5]) + (f" and {len(bare) - 5} more" if len(bare) > 5 else "")
        _say(con, f"{shown}: no file in the mined languages ({langs}) outside the excluded "
                  "paths, so 0 h; [filters.languages] enabled and exclude_paths say what is "
                  "priced")  # fmt: skip
    for c in doc["changes"]:
        if c.get("no_change"):
            _say(con, f"{_name(c)}: no file changed, so 0 h")
    if doc.get("note"):
        _say(con, f"note: {doc['note']}")
    if len(doc["changes"]) > 1:
        priced = sum(1 for c in doc["changes"] if float(c.get("sch_hours") or 0.0) > 0)
        _say(con, _total_line(float(doc["total"].get("correlation") or 0.0), priced))
    _say(con, SCH_LINE)


def _weak_model(caveats: list[str], as_json: bool) -> str:
    """The run summary's first warning about the model, and where the others are (as the
    forecast says it of the tickets the model prices)."""
    from standard_coder.sch.words import more_caveats

    more = more_caveats(caveats, f"model_warnings in {'the JSON' if as_json else '--json'}")
    return f"warning: the effort model behind these figures is weak here: {caveats[0]}{more}"


def _total_line(rho: float, n_changes: int) -> str:
    """How the total's q10-q90 was drawn."""
    from standard_coder.sch.words import paired_range_words

    if rho <= 0:
        return ("total: q10-q90 of the sum of the changes' draws, their errors taken as "
                "independent (the training measured no correlation between them)")  # fmt: skip
    return "total: q10-q90 of the sum of the changes' draws, " + paired_range_words(
        rho, n_changes, "their errors"
    )


def _say(con: Console, text: str) -> None:
    """A note under the table, broken at spaces outside parentheses (``(+0.01 h)`` whole)."""
    from standard_coder.runner.console import wrap_outside_parentheses

    for line in wrap_outside_parentheses(text, con.width):
        con.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("estimate")
def estimate_cmd(
    config: ConfigOpt,
    rev: Annotated[
        str | None,
        typer.Argument(
            help="a commit (REV) or a range (A..B); default HEAD", metavar="REV", show_default=False
        ),
    ] = None,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            metavar="PATH",
            help="repository (default: the configured one holding the current directory, "
            "else the only one)",
        ),
    ] = None,
    diff: Annotated[
        Path | None,
        typer.Option(
            "--diff",
            help="price a patch file (git diff output; - reads it from stdin)",
            metavar="PATCH",
        ),
    ] = None,
    worktree: Annotated[
        bool, typer.Option("--worktree", help="price the uncommitted changes of the repository")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout")] = False,
    set_: SetOpt = None,
) -> None:
    """Price changes with the trained effort model: SCH hours with q10/q50/q90 per change and
    in total (the total's quantiles are those of the summed distributions).

    A merge commit is priced as the commits it merged (REV^1..REV); a range's merges are not
    priced themselves (their commits are in it). The JSON then has "merges" and a "note".

    Exit codes: 0 ok, 2 bad input (unknown revision, ambiguous repository, no trained model).
    """
    from standard_coder.config import ConfigError
    from standard_coder.pipelines.sch_estimate import EstimateInputError, Target, estimate
    from standard_coder.pipelines.sch_languages import load_sch_config
    from standard_coder.runner.errors import RunnerError

    chosen = sum([rev is not None, diff is not None, worktree])
    if chosen > 1:
        typer.echo("error: give one of REV, A..B, --diff PATCH or --worktree", err=True)
        raise typer.Exit(2)
    try:
        cfg = load_sch_config(config, set_ or [])
        doc = estimate(cfg, Target(rev=rev, diff=diff, worktree=worktree), repo=repo)
    except (ConfigError, EstimateInputError, RunnerError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        _print_human(doc, list(cfg.filters.languages.enabled), cfg.training.predictor)
    if caveats := doc.get("model_warnings"):  # on stderr: --json's stdout stays one document
        from standard_coder.pipelines.sch_summary import wrap_lines
        from standard_coder.runner.console import terminal_columns

        for line in wrap_lines([_weak_model(caveats, as_json)], terminal_columns(sys.stderr)):
            typer.echo(line, err=True)
