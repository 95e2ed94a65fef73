"""What a mine did: per-repository rows, the run's totals and the end-of-stage table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.table import Table


class MiningError(RuntimeError):
    """Some configured repositories could not be mined (the others were mined and committed).

    ``summary`` holds the full :class:`MineSummary`; ``failed`` maps path -> reason.
    """

    def __init__(self, summary: MineSummary) -> None:
        self.summary = summary
        failed = [r for r in summary.repos if r.status == "error"]
        self.failed = {r.path: r.error or "" for r in failed}
        # paths the configuration got wrong are bad input (exit 2), other failures are retried
        self.exit_code = 2 if failed and all(r.bad_path for r in failed) else 1
        lines = "\n".join(
            f"  {e}" if e.startswith(p) else f"  {p}: {e}" for p, e in self.failed.items()
        )
        after = "fix [repos] include_paths" if self.exit_code == 2 else "retried next run"
        if len(summary.repos) > len(failed):
            ok = len(summary.repos) - len(failed)
            after += f"; {ok} other{' was' if ok == 1 else 's were'} mined"
        super().__init__(
            f"{len(self.failed)} repositor{'y' if len(self.failed) == 1 else 'ies'}"
            f" could not be mined ({after}):\n{lines}"
        )


@dataclass
class RepoSummary:
    """One row of the end-of-stage table."""

    repo: str
    path: str
    status: str = "pending"
    """mined | unchanged | error | interrupted"""
    commits_listed: int = 0
    commits_stored: int = 0
    authors: int = 0
    skipped_by_filter: int = 0
    author_filtered: int = 0
    """... of which by the author filter (bots, agents, ``[filters.authors]``): never read, so
    not in ``mined_now``."""
    truncated: int = 0
    missing_objects: int = 0
    mined_now: int = 0
    chunks_mined: int = 0
    is_shallow: bool = False
    squash_merges: int = 0
    """GitHub squash merges among the stored commits (merge-stamped, subject ending in ``(#n)``:
    ``store.squash_counts``; web edits are stamped too and not counted)."""
    squash_timed: int = 0
    """... of which the pull request's commit times were found (``pulls``)."""
    merges: int = 0
    """Merge commits kept as their authors' presence (``merges``)."""
    others: int = 0
    """Commits touching no enabled language kept as their authors' work (``merges``)."""
    seconds: float = 0.0
    error: str | None = None
    bad_path: bool = False
    """The configured path is missing, a file or not a repository (``NotARepository``)."""


@dataclass
class MineSummary:
    """Result of :func:`mine_repositories`."""

    repos: list[RepoSummary] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def errors(self) -> dict[str, str]:
        """path -> error for repositories that could not be mined."""
        return {r.path: r.error or "" for r in self.repos if r.status == "error"}

    @property
    def chunks_mined(self) -> int:
        return sum(r.chunks_mined for r in self.repos)

    @property
    def commits_mined(self) -> int:
        """Commits extracted in this run (stored or skipped for no language files)."""
        return sum(r.mined_now for r in self.repos)

    def totals(self) -> dict[str, int]:
        """Key figures for ``ctx.set_summary``."""
        return {
            "repos": len(self.repos),
            "repos_failed": len(self.errors),
            "commits_stored": sum(r.commits_stored for r in self.repos),
            "commits_mined_now": self.commits_mined,
            "skipped_by_filter": sum(r.skipped_by_filter for r in self.repos),
            "author_filtered": sum(r.author_filtered for r in self.repos),
            "truncated": sum(r.truncated for r in self.repos),
            "missing_objects": sum(r.missing_objects for r in self.repos),
            "squash_merges": sum(r.squash_merges for r in self.repos),
            "squash_merges_timed": sum(r.squash_timed for r in self.repos),
            "merges": sum(r.merges for r in self.repos),
            "other_commits": sum(r.others for r in self.repos),
        }


class _MineTable:
    """The mine table, laid out for the console it is printed on: one row per repository where
    the other columns fit beside a name of :data:`MIN_NAME` characters (the names fold onto
    more lines, no status or number is cut). On a narrower console (80 columns) the
    :data:`MOVABLE` columns that are empty or zero in every row go first, then the others of
    them one by one, whose totals a line under the table gives instead; only where even
    ``repo status stored authors filtered new`` do not fit, one block per repository with a
    line per figure, so nothing is shortened on any width."""

    MIN_NAME = 12
    MIN_ERROR = 20
    """An error folds onto more lines down to this width, as a name does."""
    MOVABLE = ("commits\n/s", "squash\ntimed", "missing", "capped", "merge/\nother", "error")
    """Headers a narrow console moves under the table, first to last."""

    def __init__(
        self,
        headers: list[str],
        rows: list[list[str]],
        title: str,
        note: str = "",
        totals: dict[str, str] | None = None,
    ) -> None:
        self.headers, self.rows, self.title, self.note = headers, rows, title, note
        self.totals = totals or {}
        """header -> the run's total a narrow console gives for a column it moved (the total
        row's cell when not given)."""

    def wide(self, *, fold_names: bool = True, keep: list[int] | None = None) -> Table:
        """A column per figure (those in ``keep``, default all), a row per repository (and the
        total)."""
        from rich.table import Table
        from rich.text import Text

        keep = list(range(len(self.headers))) if keep is None else keep
        t = Table(title=self.title, title_justify="left", pad_edge=False)
        for i in keep:
            h = self.headers[i]
            if i == 0:
                t.add_column(h, overflow="fold", min_width=self.MIN_NAME, no_wrap=not fold_names)
            elif h == "error":
                t.add_column(h, overflow="fold", min_width=self.MIN_ERROR)
            else:
                t.add_column(h, justify="right" if i > 1 else "left", no_wrap=True)
        for r in self.rows:  # Text: a folder name or an error is never console markup
            t.add_row(*(Text(r[i]) for i in keep))
        return t

    def long(self) -> Table:
        """A block per repository (and the total): a line per figure that has one."""
        from rich.table import Table
        from rich.text import Text

        t = Table(title=self.title, title_justify="left", pad_edge=False, show_header=False)
        t.add_column("figure", no_wrap=True, style="bold")
        t.add_column("value", overflow="fold")
        for n, r in enumerate(self.rows):
            for h, cell in zip(self.headers, r, strict=True):
                if cell:
                    t.add_row(_one_line(h), Text(cell))
            if n < len(self.rows) - 1:
                t.add_section()
        return t

    def _fit(self, console: Console, options: ConsoleOptions, keep: list[int]) -> str | None:
        """``"whole"`` when the columns ``keep`` fit with whole names, ``"fold"`` when they fit
        with names folded to :data:`MIN_NAME` characters (and errors to :data:`MIN_ERROR`),
        else None."""
        from rich.measure import Measurement

        table = self.wide(fold_names=False, keep=keep)
        natural = Measurement.get(console, options.update_width(10_000), table).maximum
        if natural <= options.max_width:
            return "whole"
        folds = max(0, max((len(r[0]) for r in self.rows), default=0) - self.MIN_NAME)
        if "error" in self.headers and (e := self.headers.index("error")) in keep:
            folds += max(0, max(len(r[e]) for r in self.rows) - self.MIN_ERROR)
        return "fold" if natural - folds <= options.max_width else None

    def _moved_lines(self, moved: list[int]) -> list[str]:
        """The lines under a narrow table: the totals of the ``moved`` columns that say
        something, in the table's order; a moved error is a line per repository."""
        said = []
        errors = []
        for i in sorted(moved):
            h = self.headers[i]
            if h == "error":
                errors = [f"error: {r[0]}: {r[i]}" for r in self.rows[:-1] if r[i]]
                continue
            value = self.totals.get(h) or self.rows[-1][i]
            if _says_nothing(value):
                continue
            said.append(f"{value} commits/s" if h == "commits\n/s" else f"{_one_line(h)} {value}")
        if not said:
            return errors
        per_repo = " (totals; a wider terminal shows them per repository)"
        return ["also: " + ", ".join(said) + (per_repo if len(self.rows) > 2 else ""), *errors]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        from standard_coder.runner.console import wrap_outside_parentheses

        every = list(range(len(self.headers)))
        telling = [  # stored, new and the others not movable stay, "0" or not
            i for i in every if self.headers[i] not in self.MOVABLE
            or not all(_says_nothing(r[i]) for r in self.rows)
        ]  # fmt: skip
        choices = [every, telling]
        for h in self.MOVABLE:  # then the rarely telling columns, one by one
            if h in self.headers and self.headers.index(h) in choices[-1]:
                choices.append([i for i in choices[-1] if self.headers[i] != h])
        lines = [self.note] if self.note else []
        for keep in choices:
            fit = self._fit(console, options, keep)
            if fit is not None:
                for h in reversed(self.MOVABLE):  # one moved early may fit beside the others
                    i = self.headers.index(h) if h in self.headers else -1
                    if i not in telling or i in keep:
                        continue
                    more = sorted([*keep, i])
                    then = self._fit(console, options, more)
                    if then == "whole" or (then == "fold" and fit == "fold"):  # names kept whole
                        keep, fit = more, then
                yield self.wide(fold_names=fit == "fold", keep=keep)
                lines = [*self._moved_lines([i for i in telling if i not in keep]), *lines]
                break
        else:
            yield self.long()
        for text in lines:
            for line in wrap_outside_parentheses(text, options.max_width):
                yield Text(line)


def _says_nothing(cell: str) -> bool:
    """An empty cell, a zero or a ``0/0``."""
    return cell.replace("0", "").replace("/", "").strip() == ""


def _one_line(header: str) -> str:
    """A two-line header on one line: ``squash timed``, ``merge/other``, ``commits/s``."""
    return header.replace("/\n", "/").replace("\n/", "/").replace("\n", " ")


def summary_table(summary: MineSummary) -> _MineTable:
    """One row per repository plus a total row (an error column when any failed), laid out for
    the console it is printed on (:class:`_MineTable`)."""
    errors = any(r.error for r in summary.repos)
    # "capped": a file or line cap cut the commit (``truncated``); "missing": files whose
    # objects the clone lacks; "merge/other": merge commits kept as their authors' presence,
    # and commits touching no enabled language kept as their authors' work
    headers = ["repo", "status", "stored", "authors", "filtered", "capped", "missing",
               "squash\ntimed", "merge/\nother", "new", "commits\n/s",
               *(["error"] if errors else [])]  # fmt: skip
    rows: list[list[str]] = []

    def row(*cells: str, error: str = "") -> None:
        rows.append([*cells, *((error,) if errors else ())])

    for r in summary.repos:
        cps = f"{r.mined_now / r.seconds:,.0f}" if r.seconds > 0 and r.mined_now else ""
        status = r.status + (" (shallow)" if r.is_shallow else "")
        row(
            r.repo,
            status,
            f"{r.commits_stored:,}",
            f"{r.authors:,}",
            f"{r.skipped_by_filter:,}",
            f"{r.truncated:,}",
            f"{r.missing_objects:,}",
            f"{r.squash_timed:,}/{r.squash_merges:,}" if r.squash_merges else "",
            f"{r.merges:,}/{r.others:,}",
            f"{r.mined_now:,}",
            cps,
            error=r.error or "",
        )
    tot = summary.totals()
    row(
        "total",
        "interrupted" if summary.interrupted else "",
        f"{tot['commits_stored']:,}",
        "",
        f"{tot['skipped_by_filter']:,}",
        f"{tot['truncated']:,}",
        f"{tot['missing_objects']:,}",
        f"{tot['squash_merges_timed']:,}/{tot['squash_merges']:,}" if tot["squash_merges"] else "",
        f"{tot['merges']:,}/{tot['other_commits']:,}",
        f"{tot['commits_mined_now']:,}",
        "",
        error=f"{tot['repos_failed']} failed" if tot["repos_failed"] else "",
    )
    note = ""
    if tot["author_filtered"]:  # these were never read, so not in "new"
        note = (
            f"filtered: {tot['skipped_by_filter'] - tot['author_filtered']:,} touching no "
            f'enabled language (read, so counted in "new") and '
            f"{tot['author_filtered']:,} by excluded authors (bots, AI agents, "
            '[filters.authors]): never read, so not counted in "new"'
        )
    elif tot["skipped_by_filter"]:  # stored + filtered is what a first mine read ("new")
        note = f"filtered: {tot['skipped_by_filter']:,} touching no enabled language"
    rate = summary.commits_mined / summary.seconds if summary.seconds > 0 else 0.0
    totals = {"commits\n/s": f"{rate:,.0f}" if rate >= 0.5 else ""}  # the run's, all workers
    return _MineTable(headers, rows, "mine: repositories", note, totals)
