"""What ``gc`` removes, laid out for the terminal's width.

The boxed table (``path``, ``kind``, ``size``, ``why``) is kept off a terminal and wherever its
rows fit on one line each. A narrower terminal folded every cell into a column a few
characters wide (at 40 columns a run folder took ten lines, its kind cut to ``expire…``);
there each item is now one line of a borderless table where that fits, else the boxed table
with its paths and reasons folded (never narrower than :data:`MIN_FOLD`, the kind and size
whole: a set-aside folder ``checkpoints/stale/train_sch-<12 hex>-<stamp>`` beside an expired
run's reason fits 80 columns so), else a compact block, its path over ``size, kind: why``::

    from standard_coder.runner.gctable import gc_table

    console.print(gc_table(plan.remove, plan.base_dir, "would remove (30-day retention)",
                           console.width if console.is_terminal else None))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Column, Table
from rich.text import Text

from standard_coder.runner import figtable
from standard_coder.runner.figtable import borderless_width, boxed_width
from standard_coder.runner.retention import GcItem, human_size

__all__ = ["HEADERS", "MIN_FOLD", "gc_rows", "gc_table"]

HEADERS = ("path", "kind", "size", "why")

MIN_FOLD = 20
"""The narrowest the boxed table folds its ``path`` and ``why`` columns to (or their widest
cell, where that is narrower); a terminal with less room for them gets a block an item."""

_FOLDED = ("path", "why")


def gc_rows(items: Sequence[GcItem], base_dir: Path) -> list[tuple[str, str, str, str]]:
    """An item each: its path under ``base_dir``, kind, size in words and reason."""
    return [(str(i.path.relative_to(base_dir)), i.kind, human_size(i.size_bytes), i.reason)
            for i in items]  # fmt: skip


def _widest(rows: Sequence[Sequence[str]]) -> list[int]:
    return [max([cell_len(h), *(cell_len(r[c]) for r in rows)]) for c, h in enumerate(HEADERS)]


def _narrowest(widest: Sequence[int]) -> list[int]:
    """The boxed table's narrowest columns: the path and reason folded to :data:`MIN_FOLD`,
    the kind and size whole."""
    return [min(w, MIN_FOLD) if h in _FOLDED else w for h, w in zip(HEADERS, widest, strict=True)]


def boxed(rows: Sequence[Sequence[str]], title: str) -> Table:
    """The table ``gc`` always printed: a column each, long paths and reasons folded (down to
    :data:`MIN_FOLD` columns), the kind and size never wrapped."""
    table = Table(title=Text(title), title_justify="left")
    for head in HEADERS:  # Rich narrows the widest folding column first, down to MIN_FOLD
        if head in _FOLDED:  # where gc_table picked this table for the width
            table.add_column(head, overflow="fold")
        else:
            table.add_column(head, no_wrap=True, justify="right" if head == "size" else "left")
    for row in rows:
        table.add_row(*(Text(c) for c in row))  # paths and reasons are never console markup
    return table


def borderless(rows: Sequence[Sequence[str]], title: str) -> Table:
    """A line an item, no borders, the columns two spaces apart."""
    columns = [Column(head, width=w, no_wrap=True, justify="right" if head == "size" else "left")
               for head, w in zip(HEADERS, _widest(rows), strict=True)]  # fmt: skip
    table = figtable.borderless(title, columns)
    for row in rows:
        table.add_row(*(Text(c) for c in row))
    return table


def blocks(rows: Sequence[Sequence[str]], title: str) -> Group:
    """A block an item: its path (folded where longer than the line), then ``size, kind:
    why`` indented, broken between words."""
    return figtable.blocks(title, [(path, f"{size}, {kind}: {why}")
                                   for path, kind, size, why in rows])  # fmt: skip


def gc_table(
    items: Sequence[GcItem], base_dir: Path, title: str, width: int | None
) -> RenderableType:
    """The items ``gc`` removes (or would) for a terminal ``width`` columns wide (None: off a
    terminal, where the boxed table is printed, its kind and size whole): the boxed table where
    each row fits on one line, else a line an item without borders, else the boxed table with
    its paths and reasons folded where they fold no narrower than :data:`MIN_FOLD`, else a
    block an item.

    Args:
        items: what the plan removes.
        base_dir: the output root the paths are shown under.
        title: the line above (``would remove (30-day retention)``).
        width: the terminal's columns, or None.
    """
    rows = gc_rows(items, base_dir)
    widest = _widest(rows)
    if width is None or boxed_width(widest) <= width:
        return boxed(rows, title)
    if borderless_width(widest) <= width:
        return borderless(rows, title)
    if boxed_width(_narrowest(widest)) <= width:
        return boxed(rows, title)
    return blocks(rows, title)
