"""runner.figtable.FigureTable: figures are never cut, whatever the console's width (a plain
Rich table cut "+12345/-6789" to "+12…" and a Brier score of 0.1234 to "0.12…" under about 60
columns)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from standard_coder.runner.figtable import FigureTable

HEADERS = ["change", "+/-", "SCH h", "q10", "q50", "q90"]
ROWS = [
    ["0123456789 Refactor the settlement reconciliation job to use the ledger",
     "+12345/-6789", "123.45", "12.34", "100.25", "1234.56"],
    ["fedcba9876 fix", "+1/-0", "0.25", "0.01", "0.20", "1.50"],
    ["total", "", "123.70", "12.35", "100.45", "1236.06"],
]  # fmt: skip


def _render(table: FigureTable, width: int) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=False).print(table)
    return buf.getvalue().splitlines()


def _table() -> FigureTable:
    return FigureTable(HEADERS, ROWS, title="Estimate, model: auto", styles=[None, None, "bold"])


@pytest.mark.parametrize("width", range(30, 131, 3))
def test_every_figure_is_whole_and_every_line_fits(width: int) -> None:
    lines = _render(_table(), width)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    assert "…" not in "\n".join(lines)
    words = [w for line in lines for w in line.replace("│", " ").split()]
    for row in ROWS:
        for cell in row[1:]:
            assert not cell or cell in words, (width, cell, "\n".join(lines))


def test_a_column_each_where_the_figures_fit_beside_a_folded_name() -> None:
    table = _table()
    figures = zip(*[r[1:] for r in ROWS], strict=True)
    narrowest = 3 * len(HEADERS) + 1 + 10 + sum(len(max(c, key=len)) for c in figures)
    assert table.fits(narrowest) and not table.fits(narrowest - 1)
    lines = _render(table, narrowest)
    rows = [line for line in lines if line.startswith("│") and "+12345/-6789" in line]
    assert rows and rows[0].split("│")[1].strip() == "0123456789"  # the name folds, whole
    text = "\n".join(lines)
    assert "Refactor the settlement" in " ".join(text.replace("│", " ").split())
    # wider than the table's natural width: one line a row, the headers on one line
    wide = _render(table, table.natural())
    assert sum(line.startswith("│") for line in wide) == len(ROWS), "\n".join(wide)


def test_narrower_a_row_is_a_block_of_label_and_value_lines() -> None:
    lines = _render(_table(), 40)
    assert not any(line.startswith("┃") for line in lines)  # no header row
    cells = [[c.strip() for c in line.split("│")[1:3]] for line in lines if line.startswith("│")]
    assert ["+/-", "+12345/-6789"] in cells and ["q90", "1236.06"] in cells
    assert ["change", "total"] in cells
    assert ["+/-", ""] not in cells  # an empty cell (the total's +/-) says nothing: no line
    assert sum(line.startswith("├") for line in lines) == len(ROWS) - 1


def test_cells_and_title_are_never_console_markup() -> None:
    table = FigureTable(["change", "SCH h"], [["[pre-commit.ci] autoupdate", "0.25"]],
                        title="Estimate [bold]x[/]", caption="[red]*[/] marked")  # fmt: skip
    text = "\n".join(_render(table, 80))
    assert "[pre-commit.ci] autoupdate" in text and "0.25" in text
    assert "Estimate [bold]x[/]" in text and "[red]*[/] marked" in text
