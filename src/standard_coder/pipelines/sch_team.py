"""The ``team_output`` stage: a team's output over time in SCH hours (after ``train_sch``).

Writes ``reports/team_output.csv`` (and ``.parquet`` when pyarrow is installed: the ``sch`` extra)
with columns ``period, author, repo, n_changes, sch_hours, sch_q10, sch_q90``, two plots
(per repository and per author over time) that the report's "Team output" section shows, and
``reports/team_output_people.json``: which addresses are listed under one person
(:func:`people_json`), and ``reports/team_output_reapplied.json``: the changes that re-apply an
earlier one (:func:`reapplied_json`).
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.runner.context import StageContext, warn


def parquet_available() -> bool:
    """pyarrow is importable (checked without importing it: the pipeline's build stays cheap)."""
    return importlib.util.find_spec("pyarrow") is not None


def outputs(layout: SchLayout) -> dict[str, Path]:
    """The stage's declared outputs (the Parquet file only when it can be written)."""
    out = {
        "csv": layout.team_output_csv,
        "people": layout.team_output_people,
        "reapplied": layout.team_output_reapplied,
        "plots": layout.team_output_plots,
    }
    if parquet_available():
        out["parquet"] = layout.team_output_parquet
    return out


#: Lines a team-output plot draws; the other ``by`` values are summed into one "other" line.
PLOT_SERIES = 10


def plot_series(
    rows: Sequence[dict[str, Any]], by: str
) -> tuple[list[str], dict[str, list[list[float]]]]:
    """The weeks, and per ``by`` value its SCH hours, q10 and q90 per week: the
    :data:`PLOT_SERIES` largest by total SCH, largest first, the rest summed into one
    "other (n)" series (a real team has hundreds of authors). The weeks are every ISO week
    from the first change's to the last one's (:func:`week_span`), a week without a change
    0 h: the axis is time, and a line does not join two active weeks years apart."""
    from standard_coder.sch.team_output import week_span

    periods = week_span(r["period"] for r in rows)
    index = {p: i for i, p in enumerate(periods)}
    series: dict[str, list[list[float]]] = defaultdict(
        lambda: [[0.0] * len(periods) for _ in range(3)]
    )
    for r in rows:
        s = series[r[by]]
        i = index[r["period"]]
        s[0][i] += r["sch_hours"]
        s[1][i] += r["sch_q10"]  # a band per series: the sum of the cells' bands (conservative)
        s[2][i] += r["sch_q90"]
    ranked = sorted(series, key=lambda name: (-sum(series[name][0]), name))
    shown = {n: series[n] for n in ranked[:PLOT_SERIES]}
    rest = ranked[PLOT_SERIES:]
    if len(rest) == 1:
        shown[rest[0]] = series[rest[0]]
    elif rest:
        shown[f"other ({len(rest)})"] = [
            [sum(series[n][j][i] for n in rest) for i in range(len(periods))] for j in range(3)
        ]
    return periods, shown


def plot(rows: Sequence[dict[str, Any]], by: str, path: Path) -> None:
    """SCH hours per ISO week, one line per ``by`` value (``repo`` or ``author``; the largest,
    :func:`plot_series`), with the q10-q90 band; written atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from standard_coder.runner.atomic import atomic_write_bytes

    periods, series = plot_series(rows, by)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    marker = "o" if len(periods) <= 60 else None  # years of weeks: a marker per week is a bar
    for i, (name, (mean, lo, hi)) in enumerate(series.items()):
        other = i >= PLOT_SERIES  # light grey and dashed, behind: not C0 again, not C7's grey
        (line,) = ax.plot(range(len(periods)), mean, marker=marker, ms=3, label=name,
                          color="0.75" if other else f"C{i}", linestyle="--" if other else "-",
                          zorder=1 if other else 2)  # fmt: skip
        ax.fill_between(range(len(periods)), lo, hi, color=line.get_color(), alpha=0.15)
    step = max(1, len(periods) // 12)
    ax.set_xticks(range(0, len(periods), step), periods[::step], rotation=30, ha="right")
    ax.set_ylabel("SCH hours per week")
    ax.set_title(f"Output per {by} (standard-coder hours; band: q10-q90)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")  # the legend included
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def stored_counts(ctx: StageContext, rep: Any) -> Any:
    """``train_sch``'s counts of every mined commit (input ``commit_counts``) when they cover
    every commit the stage prices, in ``rep``'s vocabulary; otherwise None (logged), and the
    stage extracts the counts itself."""
    from standard_coder.sch.features.commit_counts import CommitCountsError, load_commit_counts
    from standard_coder.sch.mining.store import iter_commits
    from standard_coder.sch.team_output import is_bot

    path = ctx.inputs.get("commit_counts")
    if path is None or not Path(path).exists():
        return None
    try:
        counts = load_commit_counts(Path(path), rep)
    except CommitCountsError as exc:
        warn(ctx, f"extracting every commit's features again: {exc}")
        return None
    missing = sum(
        1
        for r in iter_commits(ctx.inputs["db"], with_files=False)
        if (r.repo, r.commit_id) not in counts and not is_bot(r.author_id, r.author_name)
    )
    if missing:
        warn(ctx, f"extracting every commit's features again: {path} lacks {missing} mined commits")
        return None
    return counts


def people_json(
    joined: dict[str, str],
    by_name: bool,
    joined_by_mine: dict[str, str] | None = None,
    names: dict[str, str] | None = None,
) -> str:
    """``{"by_name": bool, "joined": {address: the address it is listed under},
    "joined_by_mine": {...}, "names": {address: name}}``: what a lead checks before trusting
    one row per person (two people of one name would be one row). ``joined`` is team output's
    own join; ``joined_by_mine`` the mine's (``[filters.authors] merge_by_name``), made before
    it; ``names`` the name each listed address's commits carry most often (the report shows it
    beside the address)."""
    doc = {
        "by_name": by_name,
        "joined": dict(sorted(joined.items())),
        "joined_by_mine": dict(sorted((joined_by_mine or {}).items())),
        "names": dict(sorted((names or {}).items())),
    }
    return json.dumps(doc, indent=1) + "\n"


def reapplied_json(rows: list[dict[str, Any]]) -> str:
    """``{"rule": ..., "sch_hours": total, "changes": rows}``: the priced changes that re-apply
    an earlier one (``team_output.reapplied_rows``), and the rule that found them."""
    from standard_coder.sch import reapplied as rule

    doc = {
        "rule": {"min_share": rule.MIN_SHARE, "min_lines": rule.MIN_LINES,
                 "min_chars": rule.MIN_CHARS,
                 "max_changes_per_line": rule.MAX_CHANGES_PER_LINE},
        "sch_hours": round(sum(r["sch_hours"] for r in rows), 6),
        "changes": rows,
    }  # fmt: skip
    return json.dumps(doc, indent=1) + "\n"


def run(ctx: StageContext) -> None:
    """Price every mined commit with the trained model and sum per week, author and repository.

    Reads the named inputs ``db``, ``model``, ``change_rep``, ``ctx.params["seed"]`` and
    ``ctx.params["join_names"]`` (one row per person: ``[filters.authors] team_output_by_name``).
    """
    from standard_coder.pipelines.sch_effort import load_effort_model
    from standard_coder.runner.atomic import atomic_write_bytes, atomic_write_text
    from standard_coder.sch.mining.people import author_names, name_joined_addresses
    from standard_coder.sch.mining.store import iter_commits
    from standard_coder.sch.team_output import (
        csv_text,
        parquet_bytes,
        reapplied_rows,
        team_output,
    )

    model, rep = load_effort_model(ctx.inputs["model"], ctx.inputs["change_rep"], ctx.device)
    db, seed = ctx.inputs["db"], int(ctx.params["seed"])
    join_names = bool(ctx.params.get("join_names", False))
    counts = stored_counts(ctx, rep)
    if counts is not None:
        ctx.log.info("features of %d commits from train_sch's counts (no extraction)", len(counts))
        result = team_output(
            model,
            rep,
            iter_commits(db, with_files=False),
            seed=seed,
            join_names=join_names,
            should_stop=ctx.should_stop,
            features=lambda batch: rep.scale_counts(
                counts.rows([(r.repo, r.commit_id) for r in batch])
            ),
        )
    else:  # every commit's counts extracted again from its files
        commits = iter_commits(db, with_files=True, with_contents=rep.kind == "hybrid")
        result = team_output(model, rep, commits, seed=seed, join_names=join_names,
                             should_stop=ctx.should_stop)  # fmt: skip
    if result is None:  # stopped between two batches: nothing written, a rerun prices again
        return
    out = ctx.outputs
    out["csv"].parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out["csv"], csv_text(result.rows))
    if "parquet" in out:
        data = parquet_bytes(result.rows)
        if data is not None:
            atomic_write_bytes(out["parquet"], data)
    else:
        ctx.log.info("team_output.parquet not written: pyarrow is not installed (the sch extra)")
    for by in ("repo", "author"):
        plot(result.rows, by, out["plots"] / f"by_{by}.png")
    joined_by_mine = name_joined_addresses(db)
    listed = {str(r["author"]) for r in result.rows}
    names = {a: n for a, n in author_names(db).items() if a in listed}
    atomic_write_text(out["people"],
                      people_json(result.joined, join_names, joined_by_mine, names))  # fmt: skip
    reapplied = reapplied_rows(iter_commits(db, with_files=True), result)
    atomic_write_text(out["reapplied"], reapplied_json(reapplied))
    if reapplied:
        ctx.log.info(
            "team output: %d changes re-apply an earlier one (backports, cherry-picks): %s",
            len(reapplied), out["reapplied"],
        )  # fmt: skip
    if result.joined or joined_by_mine:
        ctx.log.info(
            "team output: %d addresses listed under their name's busiest address "
            "(%d by [filters.authors] team_output_by_name, %d by the mine's merge_by_name)",
            len(result.joined) + len(joined_by_mine), len(result.joined), len(joined_by_mine),
        )  # fmt: skip
    ctx.set_summary(
        rows=len(result.rows),
        commits=len(result.per_commit),
        people=len({r["author"] for r in result.rows}),
        addresses_joined=len(result.joined) + len(joined_by_mine),
        reapplied=len(reapplied),
        sch_hours=round(sum(r["sch_hours"] for r in result.rows), 2),
    )
