"""The ``forecast-check`` table: the sprint's tickets in work order, each with its status and
where its effort comes from, laid out for the console's width with no status, number or
source ever cut (a plain Rich table cut ``in_progress`` to ``in_pro…`` at 40 columns)::

    from standard_coder.forecasting.checktable import CheckTable

    console.print(CheckTable.of(sprint))

:class:`CheckTable` picks the first layout that fits: the boxed table, a column each and a line
a ticket (on a console as wide as the table, and off a terminal, whose console is 120 columns
wide: as before); then a borderless table whose first column is ``work order. id`` (``1.
PAY-301``), where only an id longer than :data:`MIN_ID` folds and ``story points`` may wrap
between its words; then a block a ticket, ``1. PAY-301`` over ``in_progress, effort from
model``, broken between words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Group
from rich.table import Column, Table
from rich.text import Text

from standard_coder.runner.figtable import blocks, borderless, borderless_width, boxed_width

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from standard_coder.forecasting.inputs import SprintInputs, Ticket

__all__ = ["HEADERS", "MIN_ID", "CheckRow", "CheckTable", "effort_source"]

HEADERS = ("work order", "ticket", "status", "effort from")
"""The boxed table's headers."""

MIN_ID = 12
"""The borderless table's first column (``work order. id``) is never narrower than this, nor
than its widest cell where that is narrower: a longer id folds there."""


def effort_source(ticket: Ticket) -> str:
    """Where the forecast takes ``ticket``'s effort from: ``done`` (none left), ``model`` (a diff
    or commit ids) or ``story points``."""
    if ticket.status == "done":
        return "done"
    return "model" if ticket.needs_model else "story points"


@dataclass(frozen=True)
class CheckRow:
    """One ticket's line: its place in the work order (from 1), id, status and effort source."""

    order: int
    id: str
    status: str
    source: str


class CheckTable:
    """The tickets of a sprint as ``forecast-check`` prints them, for any console width.

    Args:
        title: above the table (plain text, never console markup).
        rows: the tickets, in work order.
    """

    def __init__(self, title: str, rows: Sequence[CheckRow]) -> None:
        self.title, self.rows = title, list(rows)

    @classmethod
    def of(cls, sprint: SprintInputs) -> CheckTable:
        """The table of ``sprint``: its id and working days as the title, its tickets in work
        order."""
        rows = [CheckRow(i, t.id, t.status, effort_source(t))
                for i, t in enumerate(sprint.ordered_tickets(), 1)]  # fmt: skip
        return cls(f"Sprint {sprint.sprint_id}: {len(sprint.working_days())} working days", rows)

    def _cells(self) -> list[list[str]]:
        return [[str(r.order), r.id, r.status, r.source] for r in self.rows]

    def natural(self) -> int:
        """The boxed table's width with every header and cell on one line."""
        widest = [max([cell_len(h), *(cell_len(r[i]) for r in self._cells())])
                  for i, h in enumerate(HEADERS)]  # fmt: skip
        return boxed_width(widest)

    def compact_widths(self, width: int) -> list[int] | None:
        """The borderless table's columns for ``width`` console columns, or None where they do
        not fit: ``work order. id`` (folds to :data:`MIN_ID`), the status (never wraps), the
        source (wraps between words); the room left widens the source, then the ids."""
        ids = [cell_len(f"{r.order}. {r.id}") for r in self.rows]
        sources = [r.source for r in self.rows]
        status = max([cell_len("status"), *(cell_len(r.status) for r in self.rows)])
        source = max([cell_len("effort"), *(cell_len(w) for s in sources for w in s.split())])
        natural = [max([cell_len("ticket"), *ids]), status,
                   max([cell_len("effort"), *(cell_len(s) for s in sources)])]  # fmt: skip
        widths = [min(natural[0], max(MIN_ID, cell_len("order."))), status, source]
        room = width - borderless_width(widths)
        if room < 0:
            return None
        for col in (2, 0):
            more = min(room, natural[col] - widths[col])
            widths[col] += more
            room -= more
        return widths

    def compact_fits(self, width: int) -> bool:
        """Whether the borderless table fits ``width`` columns with every status whole."""
        return self.compact_widths(width) is not None

    def boxed(self) -> Table:
        """A column each, a line a ticket (as ``forecast-check`` always printed it)."""
        t = Table(title=Text(self.title))
        for head in HEADERS:
            t.add_column(head)
        for cells in self._cells():
            t.add_row(*(Text(c) for c in cells))  # ids are the user's text, not markup
        return t

    def compact(self, width: int) -> Table:
        """No borders, the work order before the id (``1. PAY-301``), for a console ``width``
        columns wide (at least one that :meth:`compact_fits`): headers and ``story points`` wrap
        between words, a status never wraps."""
        widths = self.compact_widths(width) or self.compact_widths(10**6)
        assert widths is not None
        heads = ("work order. ticket", "status", "effort from")
        t = borderless(self.title, [Column(Text(head), width=w, overflow="fold",
                                           no_wrap=head == "status")
                                    for head, w in zip(heads, widths, strict=True)])  # fmt: skip
        for r in self.rows:
            t.add_row(Text(f"{r.order}. {r.id}"), Text(r.status), Text(r.source))
        return t

    def stacked(self) -> Group:
        """A block a ticket: ``1. PAY-301``, then ``in_progress, effort from model`` indented
        (broken between words, or a word longer than the console folded)."""
        return blocks(self.title, [(f"{r.order}. {r.id}", f"{r.status}, effort from {r.source}")
                                   for r in self.rows])  # fmt: skip

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if self.natural() <= width:
            yield self.boxed()
        elif self.compact_fits(width):
            yield self.compact(width)
        else:
            yield self.stacked()
