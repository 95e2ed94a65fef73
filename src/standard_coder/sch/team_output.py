"""A team's output over time: SCH hours per ISO week, author and repository, with uncertainty.

The paper's use of the standard coder: output measured in standard-coder hours. Every mined
commit is priced by the trained model; a (week, author, repository) cell sums its commits' SCH
(means) and its q10/q90 are quantiles of the sum of draws from each commit's predictive
distribution truncated to [0, 1] h (the distribution whose mean is the SCH), paired at the
model's error correlation as ``estimate`` pairs a range's (:mod:`standard_coder.sch.totals`;
the cell is the total). With ``join_names`` a person's cells of several addresses add up
their totals' draws as they are (two addresses' errors paired independently).
Authors are the mined canonical identities (``.mailmap`` resolved, lower-cased email; with
``merge_by_name`` the addresses of one name joined); with ``join_names`` the report joins them
by name itself (the same rule, :func:`~standard_coder.sch.mining.identities.same_name_aliases`),
so a person who commits from two addresses is one row whatever the mine did. Bots are left out.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from standard_coder.sch.draws import N_DRAWS, change_seed, sch_draws
from standard_coder.sch.mining.filters import AuthorRule
from standard_coder.sch.mining.identities import resolve, same_name_aliases
from standard_coder.sch.reapplied import find_reapplied
from standard_coder.sch.records import CommitRecord
from standard_coder.sch.totals import common_factor, paired_draws, total_key

COLUMNS = ("period", "author", "repo", "n_changes", "sch_hours", "sch_q10", "sch_q90")
BATCH = 256
# N_DRAWS is estimate's: a week of one change has the q10/q90 ``estimate`` gives that commit
_HUMANS = AuthorRule(exclude_bots=True, exclude_agents=False)


def is_bot(author_id: str, author_name: str = "") -> bool:
    """Bot accounts, by the mining's own patterns (``dependabot``, ``renovate``, ``[bot]``...).
    An AI coding agent is not one: its own commits are mined only when ``exclude_agents`` is
    off, and then they are priced like any change."""
    return not _HUMANS.allows(author_name, author_id)


def iso_week(ts: int, tz_offset_min: int = 0) -> str:
    """``2025-W07``: the ISO week of a unix time in the author's own time zone."""
    local = datetime.fromtimestamp(ts, UTC) + timedelta(minutes=tz_offset_min)
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def week_span(periods: Iterable[str]) -> list[str]:
    """Every ISO week from the earliest of ``periods`` to the latest, in order: a time axis on
    which a week without a change is a week (``["2025-W52", "2026-W01", "2026-W02"]`` for
    ``2025-W52`` and ``2026-W02``). Labels that are not ISO weeks are returned sorted, as given."""
    given = sorted(set(periods))
    try:
        first, last = _monday(given[0]), _monday(given[-1])
    except (IndexError, ValueError):  # none, or not ISO weeks
        return given
    out = []
    while first <= last:
        year, week, _ = first.isocalendar()
        out.append(f"{year}-W{week:02d}")
        first += timedelta(days=7)
    return out


def _monday(period: str) -> date:
    """The Monday of an ISO week label ``2025-W07`` (ValueError for another label)."""
    year, sep, week = period.partition("-W")
    if not sep:
        raise ValueError(f"not an ISO week: {period!r}")
    return date.fromisocalendar(int(year), int(week), 1)


@dataclass
class TeamOutput:
    """Rows (one per week x author x repository, sorted) and the per-commit predictions."""

    rows: list[dict[str, Any]]
    per_commit: dict[tuple[str, str], float]
    """(repo, commit id) -> SCH hours of that commit."""
    joined: dict[str, str]
    """Address -> the person's address it was listed under (``join_names``); empty without."""


def team_output(
    model: Any,
    rep: Any,
    commits: Iterable[CommitRecord],
    *,
    seed: int = 0,
    n_draws: int = N_DRAWS,
    features: Callable[[Sequence[CommitRecord]], np.ndarray] | None = None,
    join_names: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> TeamOutput | None:
    """Price every commit and sum per (ISO week, author, repository); None when
    ``should_stop()`` turned true between two batches of :data:`BATCH` commits (a stop asked
    for: nothing is kept, and pricing again takes what it took).

    ``join_names``: the addresses that share a name are one author, listed under the address
    with the most commits (``same_name_aliases``' rule; names are the commits' own).

    ``features`` maps a batch of records to the model's input rows; by default
    ``rep.transform`` (which extracts each commit's counts from its files). ``train_sch``'s
    stored counts give the same rows without the extraction
    (:mod:`~standard_coder.sch.features.commit_counts`): then the records need no files.
    """
    to_x = rep.transform if features is None else features
    rho = float(getattr(model, "total_correlation_", 0.0))
    cells: dict[tuple[str, str, str], list[Any]] = {}
    per_commit: dict[tuple[str, str], float] = {}
    names: Counter[tuple[str, str]] = Counter()

    def flush(batch: Sequence[CommitRecord]) -> None:
        if not batch:
            return
        X = to_x(batch)
        sch = model.distribution(X).sch()  # predict()'s sch, without its quantile bisection
        seeds = [change_seed(seed, r.commit_id) for r in batch]
        draws = sch_draws(model, X, n_draws, seeds)
        for rec, s, d, words in zip(batch, sch, draws, seeds, strict=True):
            key = (iso_week(rec.authored_at, rec.author_tz_offset_min), rec.author_id, rec.repo)
            cell = cells.setdefault(key, [0, 0.0, np.zeros(n_draws)])
            cell[0] += 1
            cell[1] += float(s)
            if rho > 0.0:  # the cell's changes pair through the factor they share (drawn
                # again from its key for each change: a copy per cell would double the memory)
                shared = common_factor(total_key(seed, list(key)), n_draws)
                d = paired_draws(d[None, :], rho, shared, [words])[0]
            cell[2] += d
            per_commit[(rec.repo, rec.commit_id)] = float(s)

    batch: list[CommitRecord] = []
    for rec in commits:
        if is_bot(rec.author_id, rec.author_name):
            continue
        batch.append(rec)
        names[(rec.author_name, rec.author_id)] += 1
        if len(batch) >= BATCH:
            flush(batch)
            batch = []
            if should_stop():
                return None
    flush(batch)
    joined = same_name_aliases(names.elements()) if join_names else {}
    if joined:
        cells = _joined_cells(cells, joined)
    rows = []
    for (period, author, repo), (n, sch, draws) in sorted(cells.items()):
        q10, q90 = np.quantile(draws, [0.1, 0.9])
        rows.append(
            {"period": period, "author": author, "repo": repo, "n_changes": n,
             "sch_hours": round(sch, 6), "sch_q10": round(float(q10), 6),
             "sch_q90": round(float(q90), 6)}
        )  # fmt: skip
    return TeamOutput(rows=rows, per_commit=per_commit, joined=joined)


def _joined_cells(
    cells: dict[tuple[str, str, str], list[Any]], joined: dict[str, str]
) -> dict[tuple[str, str, str], list[Any]]:
    """The cells with each joined address's counts, SCH and draws added to its person's."""
    out: dict[tuple[str, str, str], list[Any]] = {}
    for (period, author, repo), (n, sch, draws) in cells.items():
        key = (period, resolve(joined, author), repo)
        if key in out:
            cell = out[key]
            cell[0], cell[1], cell[2] = cell[0] + n, cell[1] + sch, cell[2] + draws
        else:
            out[key] = [n, sch, draws]
    return out


def reapplied_rows(commits: Iterable[CommitRecord], result: TeamOutput) -> list[dict[str, Any]]:
    """The priced changes of ``commits`` (records with their files' diffs) that re-apply an
    earlier priced one (:mod:`~standard_coder.sch.reapplied`: backports, cherry-picks, a revert
    undone), in commit-time order, with the row team output counted each in (``period``,
    ``author``, as joined) and its SCH hours. Priced as written; listed so a lead can tell them
    from new work."""
    where: dict[tuple[str, str], tuple[str, str]] = {}

    def priced() -> Iterable[CommitRecord]:
        for r in commits:
            key = (r.repo, r.commit_id)
            if key in result.per_commit:
                week = iso_week(r.authored_at, r.author_tz_offset_min)
                where[key] = (week, resolve(result.joined, r.author_id))
                yield r

    return [
        {"repo": f.repo, "commit_id": f.commit_id, "source_commit_id": f.source_id,
         "share": f.share, "lines": f.lines, "period": where[(f.repo, f.commit_id)][0],
         "author": where[(f.repo, f.commit_id)][1],
         "sch_hours": round(result.per_commit[(f.repo, f.commit_id)], 6)}
        for f in find_reapplied(priced())
    ]  # fmt: skip


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV with the :data:`COLUMNS` header."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def parquet_bytes(rows: Sequence[dict[str, Any]]) -> bytes | None:
    """The rows as Parquet, or None when pyarrow is not installed (``pip install pyarrow``)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    table = pa.table({c: [r[c] for r in rows] for c in COLUMNS})
    if not rows:
        table = pa.table(
            {c: pa.array([], pa.int64() if c == "n_changes" else
                         pa.float64() if c.startswith("sch") else pa.string())
             for c in COLUMNS}
        )  # fmt: skip
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()
