"""A Rich table whose figures are never cut, on any console width.

A plain ``rich.table.Table`` that does not fit shrinks every column and cuts what it must with
``…``: ``+12…`` for ``+12345/-6789``, ``0.12…`` for a Brier score of 0.1234. :class:`FigureTable`
keeps each figure column as wide as its widest cell and lets only the text columns (names,
subjects) give, folding them onto more lines down to ``min_text`` characters; where even that
does not fit it prints a block per row instead, a line per column (``label  value``)::

    from standard_coder.runner.figtable import FigureTable

    console.print(FigureTable(["change", "SCH h"], [["abc123 Fix it", "0.25"]], title="Estimate"))

The other tables laid out for the console's width (``gc``'s, ``forecast-check``'s) share its
pieces: :func:`boxed_width` (a boxed table's width), :func:`borderless` and
:func:`borderless_width` (a line a row without borders, the columns :data:`GAP` apart) and
:func:`blocks` (a block a row)::

    table = borderless("would remove", [Column("path", width=28, no_wrap=True)])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Column, Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

__all__ = ["GAP", "FigureTable", "blocks", "borderless", "borderless_width", "boxed_width"]

GAP = 2
"""Spaces between two columns of a :func:`borderless` table."""


def boxed_width(widths: Sequence[int]) -> int:
    """The width of a boxed Rich table whose columns' cells are ``widths`` wide (a border and a
    space either side of each cell)."""
    return 3 * len(widths) + 1 + sum(widths)


def borderless_width(widths: Sequence[int]) -> int:
    """The width of a :func:`borderless` table whose columns are ``widths`` wide."""
    return sum(widths) + GAP * (len(widths) - 1)


def borderless(title: str, columns: Sequence[Column]) -> Table:
    """A table without borders, a rule under its headers, the columns :data:`GAP` spaces
    apart, its ``title`` (plain text, never markup) above it on the left."""
    return Table(*columns, title=Text(title), title_justify="left", box=box.SIMPLE_HEAD,
                 show_edge=False, pad_edge=False, padding=(0, GAP - 1, 0, 0))  # fmt: skip


def blocks(title: str, items: Sequence[tuple[str, str]]) -> Group:
    """``title``, then a block an item: its head (``1. PAY-301``, a path; folded where longer
    than the line), then its detail indented two spaces (broken between words, a word longer
    than the line folded). Plain text, never markup."""
    lines: list[RenderableType] = [Text(title)]
    for head, detail in items:
        lines.append(Text(head, overflow="fold"))
        lines.append(Padding(Text(detail, overflow="fold"), (0, 0, 0, 2), expand=False))
    return Group(*lines)


class FigureTable:
    """A table of text columns (``text``: their indexes, left-aligned, folded where long) and
    figure columns (the others: right-aligned, never wrapped nor cut).

    Args:
        headers: one per column (a header wraps between words; ``\\n`` breaks it).
        rows: the cells, plain text (never console markup).
        text: indexes of the text columns.
        title: above the table; ``caption``: under it (plain text, as the cells).
        styles: a style per row (``"bold"`` for a total), or None.
        min_text: the narrowest a text column folds to before the table turns to blocks.
    """

    def __init__(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        text: Sequence[int] = (0,),
        title: str = "",
        caption: str = "",
        styles: Sequence[str | None] = (),
        min_text: int = 10,
    ) -> None:
        self.headers, self.rows, self.text = list(headers), [list(r) for r in rows], set(text)
        self.title, self.caption, self.min_text = title, caption, min_text
        self.styles = list(styles) or [None] * len(self.rows)

    def widths(self) -> list[int]:
        """Per column: a figure column's width (its widest cell or header word), a text
        column's narrowest (its widest cell, at most ``min_text``)."""
        out = []
        for i, head in enumerate(self.headers):
            cells = [cell_len(part) for r in self.rows for part in r[i].split("\n")]
            if i in self.text:
                out.append(min(self.min_text, max([*cells, 1])))
            else:
                out.append(max([*cells, *(cell_len(w) for w in head.split())]))
        return out

    def fits(self, width: int) -> bool:
        """Whether a column each fits ``width`` columns with every figure whole."""
        return boxed_width(self.widths()) <= width

    def natural(self) -> int:
        """The table's width with every cell and header on one line."""
        widest = [
            max(
                cell_len(line) for line in [head, *(p for r in self.rows for p in r[i].split("\n"))]
            )
            for i, head in enumerate(self.headers)
        ]
        return boxed_width(widest)

    def wide(self, width: int | None = None) -> Table:
        """A column each, a row each; on a console ``width`` columns wide that is narrower than
        :meth:`natural`, each figure column exactly as wide as :meth:`widths` says (its header
        wraps) and the text columns fold."""
        tight = width is not None and self.natural() > width
        t = Table(title=Text(self.title) if self.title else None, title_justify="left",
                  caption=Text(self.caption) if self.caption else None,
                  caption_justify="left")  # fmt: skip
        for i, (head, w) in enumerate(zip(self.headers, self.widths(), strict=True)):
            header = Text(head, no_wrap=False, overflow="fold")
            if i in self.text:
                t.add_column(header, overflow="fold", min_width=w)
            else:
                t.add_column(header, justify="right", no_wrap=True, min_width=w,
                             width=w if tight else None)  # fmt: skip
        for row, style in zip(self.rows, self.styles, strict=True):
            t.add_row(*(Text(c) for c in row), style=style)
        return t

    def long(self) -> Table:
        """A block each row, a line each column that says something (``label  value``)."""
        t = Table(title=Text(self.title) if self.title else None, title_justify="left",
                  caption=Text(self.caption) if self.caption else None,
                  caption_justify="left", show_header=False)  # fmt: skip
        t.add_column("column", no_wrap=True, style="bold")
        t.add_column("value", overflow="fold")
        for n, (row, style) in enumerate(zip(self.rows, self.styles, strict=True)):
            for head, cell in zip(self.headers, row, strict=True):
                if cell:
                    t.add_row(Text(" ".join(head.split())), Text(cell), style=style)
            if n < len(self.rows) - 1:
                t.add_section()
        return t

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield self.wide(width) if self.fits(width) else self.long()
