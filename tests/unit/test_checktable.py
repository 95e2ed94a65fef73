"""The ``forecast-check`` table on any width: no status, work order or effort source is ever cut
(a plain Rich table cut ``in_progress`` to ``in_pro…`` at 40 columns), a column each where the
table fits, borderless with ``1. PAY-301`` narrower, a block a ticket narrower still; off a
terminal (120 columns) the boxed table as before."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from forecastexamples import HISTORY, SPRINT
from proctools import in_terminal
from standard_coder.forecasting.checktable import HEADERS, CheckRow, CheckTable
from standard_coder.forecasting.inputs import load_sprint_inputs

ROWS = [
    CheckRow(1, "PAY-301", "in_progress", "model"),
    CheckRow(2, "[fe]PAY-302", "in_review", "story points"),
    CheckRow(3, "PAY-297", "done", "done"),
    CheckRow(4, "PAYMENTS-BACKEND-12345", "todo", "story points"),
]


def _render(table: CheckTable, width: int) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=False).print(table)
    return buf.getvalue().splitlines()


def _words(lines: list[str]) -> list[str]:
    return [w.rstrip(",") for line in lines for w in line.replace("│", " ").split()]


@pytest.mark.parametrize("width", [20, 25, 30, 34, 40, 46, 54, 60, 80, 120])
def test_no_status_number_or_source_is_cut_and_every_line_fits(width: int) -> None:
    table = CheckTable("Sprint S-1: 10 working days", ROWS)
    lines = _render(table, width)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    assert "…" not in text
    words = _words(lines)
    for r in ROWS:
        assert r.status in words, (width, r.status, text)
        assert all(w in words for w in r.source.split()), (width, r.source, text)
        assert str(r.order) in words or f"{r.order}." in words, (width, r.order, text)
    # an id no wider than the narrowest id column is whole; a longer one folds, never cut
    assert "[fe]PAY-302" in text and "PAY-301" in words
    if table.natural() > width and table.compact_fits(width):  # the id column folds it
        ids = (table.compact_widths(width) or [0])[0]
        text = "".join(line[:ids].strip() for line in lines)
    assert "PAYMENTS-BACKEND-12345" in "".join(text.split()), "\n".join(lines)


def test_the_boxed_table_where_it_fits_and_off_a_terminal() -> None:
    table = CheckTable.of(load_sprint_inputs(SPRINT))
    lines = _render(table, table.natural())
    assert lines[1].startswith("┏") and len(lines[1]) == table.natural()
    header = [c.strip() for c in lines[2].split("┃")[1:-1]]
    assert header == list(HEADERS)
    assert "│ 1          │ PAY-301 │ in_progress │ model        │" in lines
    assert "│ 6          │ PAY-305 │ todo        │ story points │" in lines
    assert _render(table, 120)[1:] == lines[1:]  # off a terminal (120 columns): the same


def test_narrower_a_borderless_line_a_ticket_then_a_block_a_ticket() -> None:
    sprint = load_sprint_inputs(SPRINT)
    table = CheckTable.of(sprint)
    lines = _render(table, 40)
    assert not any(c in "\n".join(lines) for c in "┏│")  # borderless
    assert lines[0].rstrip() == "Sprint PAY-55: 9 working days"
    rows = [line.split() for line in lines if line[:1].isdigit()]
    assert len(rows) == len(sprint.tickets)  # one line a ticket
    assert rows[0] == ["1.", "PAY-301", "in_progress", "model"]
    assert rows[5] == ["6.", "PAY-305", "todo", "story", "points"]
    # too narrow for the status beside the id: a block a ticket, its status line indented
    assert not table.compact_fits(30) and table.compact_fits(32)
    block = _render(table, 30)
    at = block.index("1. PAY-301")
    assert block[at + 1].startswith("  in_progress, effort from")
    assert "  done, effort from done" in [line.rstrip() for line in block]


def test_ids_and_title_are_never_console_markup() -> None:
    table = CheckTable("Sprint [bold]x[/]", [CheckRow(1, "[red]T-1[/]", "todo", "model")])
    for width in (20, 40, 120):
        text = "\n".join(_render(table, width))
        assert "[red]T-1[/]" in "".join(text.split()) and "[bold]x[/]" in text


@pytest.mark.parametrize("columns", [40, 54, 80, 120])
def test_forecast_check_on_a_terminal_cuts_no_status(tmp_path: Path, columns: int) -> None:
    cfg = tmp_path / "pipeline_config.toml"
    cfg.write_text(
        f'[outputs]\nbase_dir = "out"\n[forecasting]\n'
        f"sprint_inputs_path = {json.dumps(str(SPRINT))}\n"
        f"historical_outcomes_path = {json.dumps(str(HISTORY))}\n"
    )
    code, text = in_terminal("forecast-check", "-c", str(cfg), columns=columns)
    assert code == 0, text
    lines = text.splitlines()
    assert all(len(line) <= columns for line in lines) and "…" not in text, text
    words = _words(lines)
    for ticket in load_sprint_inputs(SPRINT).tickets:
        assert ticket.id in words and ticket.status in words, (ticket.id, text)
    assert "story" in words and "points" in words and "model" in words
