"""What ``gc`` removes, on a terminal of any width: the boxed table where each row fits on one
line (and off a terminal, as before), else a line an item without borders, else a block an item
(at 40 columns the boxed table folded a run folder over ten lines and cut its kind to
``expire…``)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from reportfix import make_base_dir
from rich.console import Console

from proctools import in_terminal
from standard_coder.runner.gctable import gc_table
from standard_coder.runner.retention import GcItem, human_size, plan_gc

BASE = Path("/srv/out")
ITEMS = [
    GcItem(BASE / "runs/20260101-000000-old1", "expired_run", 3379,
           "expired: 60.0 days old by ended_at (> 30 days)"),
    GcItem(BASE / "checkpoints/stale/fp-old", "stale", 8192,
           "stale partial work set aside"),
    GcItem(BASE / "quarantine/[x]m.json.corrupt", "quarantine", 9, "quarantined corrupt file"),
]  # fmt: skip
TITLE = "would remove (30-day retention)"


def _render(width: int | None) -> list[str]:
    buf = io.StringIO()
    con = Console(file=buf, width=width or 120, force_terminal=False)
    con.print(gc_table(ITEMS, BASE, TITLE, width))
    return buf.getvalue().splitlines()


def _joined(lines: list[str]) -> str:
    """The text without blanks, a boxed table's column by column (a path folded over two
    lines of a cell joined again)."""
    rows = [line.split("│")[1:-1] for line in lines if line.startswith("│")]
    if not rows:
        return "".join("".join(lines).split())
    return "".join("".join(r[c] for r in rows).replace(" ", "") for c in range(len(rows[0])))


def _whole(lines: list[str], items: list[GcItem], base: Path) -> None:
    """Every kind, size and reason word whole, every path whole once its folds are joined."""
    text = "\n".join(lines)
    assert "…" not in text, text
    words = [w.rstrip(",:") for line in lines for w in line.replace("│", " ").split()]
    joined = _joined(lines)
    for item in items:
        assert item.kind in words and human_size(item.size_bytes) in " ".join(words), text
        assert all(w in words or w in joined for w in item.reason.split()), text
        assert str(item.path.relative_to(base)) in joined, text


@pytest.mark.parametrize("width", [30, 40, 60, 100, 120])
def test_every_line_fits_and_nothing_is_cut(width: int) -> None:
    lines = _render(width)
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    _whole(lines, ITEMS, BASE)


def test_off_a_terminal_and_where_it_fits_the_boxed_table() -> None:
    lines = _render(None)
    assert lines[1].startswith("┏") and [c.strip() for c in lines[2].split("┃")[1:-1]] == [
        "path", "kind", "size", "why"]  # fmt: skip
    assert sum(line.startswith("│") for line in lines) == len(ITEMS)  # a line an item
    assert _render(len(lines[1])) == lines


def test_at_100_columns_a_line_an_item_without_borders() -> None:
    lines = _render(100)
    assert not any(c in "\n".join(lines) for c in "┏│")
    assert lines[0].rstrip() == TITLE and lines[1].split() == ["path", "kind", "size", "why"]
    rows = lines[3:]
    assert len(rows) == len(ITEMS), "\n".join(lines)
    assert rows[0].split()[:4] == ["runs/20260101-000000-old1", "expired_run", "3.3", "KiB"]
    assert rows[2].split()[:2] == ["quarantine/[x]m.json.corrupt", "quarantine"]  # not markup


def test_at_40_columns_a_short_block_an_item() -> None:
    lines = _render(40)
    assert lines[0].rstrip() == TITLE and len(lines) <= 1 + 3 * len(ITEMS), "\n".join(lines)
    at = lines.index("runs/20260101-000000-old1")
    assert lines[at + 1].startswith("  3.3 KiB, expired_run: expired: 60.0")
    assert "checkpoints/stale/fp-old" in lines
    assert "  9 B, quarantine: quarantined corrupt" in [line.rstrip() for line in lines]


STALE = [  # as the runner names what it sets aside, beside an expired run (~131 columns boxed)
    GcItem(BASE / "checkpoints/stale/train_sch-3f9a0c1b7d2e-20261205-101112", "stale",
           52_428_800, "stale partial work set aside"),
    GcItem(BASE / "runs/20261001-101112-3f9a0c1b", "expired_run", 3379,
           "expired: 65.2 days old by ended_at (> 30 days)"),
]  # fmt: skip


def test_at_120_columns_a_real_stale_folder_keeps_the_boxed_table() -> None:
    """Before session 42 the boxed table needed every path and reason whole on one line, so a
    set-aside folder's name made a 120-column terminal print a block an item: the path and
    reason fold now, the kind and size whole on the item's first line."""
    buf = io.StringIO()
    Console(file=buf, width=120, force_terminal=False).print(gc_table(STALE, BASE, TITLE, 120))
    lines = buf.getvalue().splitlines()
    assert lines[1].startswith("┏") and all(len(line) <= 120 for line in lines), "\n".join(lines)
    first = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    for item in STALE:
        row = next(r for r in first if str(item.path.relative_to(BASE)).startswith(r[0]) and r[1])
        assert row[1:3] == [item.kind, human_size(item.size_bytes)], "\n".join(lines)
    _whole(lines, STALE, BASE)


def test_at_40_columns_a_real_stale_folder_is_a_block() -> None:
    buf = io.StringIO()
    Console(file=buf, width=40, force_terminal=False).print(gc_table(STALE, BASE, TITLE, 40))
    lines = buf.getvalue().splitlines()
    assert not any(c in "\n".join(lines) for c in "┏│") and all(len(x) <= 40 for x in lines)
    assert len(lines) <= 1 + 4 * len(STALE), "\n".join(lines)
    assert lines[lines.index("runs/20261001-101112-3f9a0c1b") + 1].startswith("  3.3 KiB, exp")
    assert "  50.0 MiB, stale: stale partial work" in [x.rstrip() for x in lines]
    _whole(lines, STALE, BASE)


@pytest.mark.parametrize("columns", [40, 100])
def test_gc_dry_run_on_a_terminal(tmp_path: Path, columns: int) -> None:
    base = tmp_path / "out"
    make_base_dir(base)
    cfg = tmp_path / "pipeline.toml"
    cfg.write_text('[outputs]\nbase_dir = "out"\nretention_days = 30\n')
    plan = plan_gc(base, retention_days=30)
    code, text = in_terminal("gc", "--config", str(cfg), "--dry-run", columns=columns)
    assert code == 0, text
    lines = text.splitlines()
    assert all(len(line) <= columns for line in lines), text
    end = next(i for i, line in enumerate(lines) if line.startswith("keeping"))
    table = lines[:end]
    assert table[0].rstrip() == "would remove (30-day retention)"
    if columns == 100:  # the boxed table, paths and reasons folded (a block an item before
        # session 42: they did not fit whole), two lines an item at most
        assert table[1].startswith("┏") and len(table) <= 5 + 2 * len(plan.remove), text
    else:
        assert not any(c in text for c in "┏│")
        assert len(table) <= 1 + 4 * len(plan.remove), text  # it took ten lines a run at 40
    _whole(table, plan.remove, plan.base_dir)
