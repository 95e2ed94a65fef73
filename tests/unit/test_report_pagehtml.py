"""The run page written without Jinja2 (report/pagehtml.py) is byte for byte what
``page.html.j2`` renders from the same data: every branch of the templates, HTML in every
value, and a real run's page."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup

from standard_coder.runner.report.data import StageRow
from standard_coder.runner.report.kit import KIT_PACKAGE, render
from standard_coder.runner.report.page import ReportSection, page_data
from standard_coder.runner.report.pagehtml import esc, render_page

NASTY = '<b>&"it\'s"</b>'


def _jinja(data: dict[str, Any]) -> str:
    return render(KIT_PACKAGE, "page.html.j2", **data)


def _rows(odd: str) -> list[StageRow]:
    rows = []
    caches = ["hit", "miss", "forced", "", odd]
    times = [(1.5, None), (None, 0.004), (None, None), (0.0, 2.0)]
    for i, (cache, (dur, check)) in enumerate(itertools.product(caches, times)):
        rows.append(
            StageRow(
                name=f"stage{i}{odd if i % 3 == 0 else ''}",
                status=["completed", "skipped", "failed", odd, ""][i % 5],
                cache=cache,
                reason=["", "up to date", odd][i % 3],
                duration_s=dur,
                check_s=check,
                checkpoints=i % 2 * 3,
                summary={"items": i, odd: 1.5} if i % 4 == 0 else {},
            )
        )
    return rows


def _data(variant: int) -> dict[str, Any]:
    odd = NASTY if variant % 2 else "plain"
    stamp = {} if variant == 3 else {"run_id": "r1", "seed": 7}
    data: dict[str, Any] = {
        "title": f"run {odd}",
        "css": Markup("body{color:red}/* <kept> */"),
        "latest": None if variant == 2 else f"r1{odd}",
        "status": [None, "", "completed", odd, "failed"][variant % 5],
        "notice": ["", f"did not complete {odd}"][variant % 2],
        "meta": [("started", odd), ("seed", 7), ("none", None)],
        "nav": [("stages", "Stages"), (odd, odd)],
        "tiles": [("status", odd, "ok"), ("stages", "3", ""), ("ran", 0, odd)],
        "rows": [] if variant == 4 else _rows(odd),
        "warnings": []
        if variant % 3 == 0
        else [
            {"event": "state corrupt", "stage": "run", "reason": odd, "extra": ""},
            {"event": odd, "stage": "a", "reason": "", "extra": f"/q/{odd}"},
        ],
        "sections": []
        if variant == 1
        else [
            {"title": f"Metrics {odd}", "anchor": "metrics", "body": Markup(f"<p>{odd}</p>")},
            {"title": "Other", "anchor": "", "body": Markup("")},
        ],
        "runs": []
        if variant == 5
        else [
            {
                "run_id": f"r1{odd}",
                "status": "completed",
                "started": 1796104812.5,
                "duration": 2.25,
                "ran": 1,
                "skipped": 2,
                "failed": 0,
                "config": odd,
                "code": "abc (dirty)",
            },
            {
                "run_id": "r0",
                "status": odd,
                "started": None,
                "duration": None,
                "ran": 0,
                "skipped": 0,
                "failed": 1,
                "config": "—",
                "code": "v0.1.0",
            },
        ],
        "generated": "2026-12-01 00:00:00 UTC",
        "base_dir": f"/tmp/{odd}",
        "stamp": stamp,
    }
    if stamp:
        data.update(
            env_rows=[("run_id", "r1"), (odd, 1.5e-7), ("flag", True), ("list", [1, odd])],
            packages=[] if variant == 6 else [("numpy", "2.1"), (odd, None)],
            config_rows=[] if variant % 2 else [("a.b", 3), (f"c.{odd}", {"x": odd})],
            fingerprints=[] if variant == 7 else [("prepare", "0123abcd"), (odd, odd)],
        )
    return data


@pytest.mark.parametrize("variant", range(8))
def test_every_branch_is_the_templates_bytes(variant: int) -> None:
    data = _data(variant)
    assert render_page(data) == _jinja(data)


@pytest.mark.parametrize("value", [NASTY, None, 3, 2.5, True, "", "&amp;", Markup("<i>x</i>")])
def test_escaping_is_markupsafes(value: object) -> None:
    from markupsafe import escape

    assert esc(value) == str(escape(value))


def test_a_real_runs_page_is_the_templates_bytes(tmp_path: Path) -> None:
    from standard_coder.runner.commandfile import load_command_pipeline
    from standard_coder.runner.engine import run_pipeline

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a\n")
    stage = "import os, shutil, sys; os.makedirs('out', exist_ok=True); shutil.copy(*sys.argv[1:])"
    doc = {
        "outputs": {"base_dir": "state"},
        "stages": [
            {"name": "copy", "cmd": [sys.executable, "-c", stage, "data/a.txt", "out/a.txt"],
             "deps": ["data"], "outs": ["out/a.txt"]},
        ],
    }  # fmt: skip
    (tmp_path / "pipe.toml").write_text("")  # only its folder matters here
    pipe = load_command_pipeline(doc, tmp_path / "pipe.toml")
    for _ in range(2):  # a run that ran, then a no-op: two runs in the history
        assert run_pipeline(pipe, root=tmp_path, install_signals=False).exit_code == 0
    section = ReportSection("Extra <section>", lambda given: f"<p>{given.run_id}</p>")
    data = page_data(tmp_path / "state", [section], now=1796104812.0)
    assert data["rows"] and data["runs"] and data["stamp"]
    page = render_page(data)
    assert page == _jinja(data)
    assert json.dumps(page)  # plain text, no stray objects
