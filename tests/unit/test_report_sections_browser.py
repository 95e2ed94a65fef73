"""Headless Chromium renders the flagship's newer report sections: Team output (tables and
plots), Delivery effort (multitask metrics and plot), and a forecast stated in story points
with its ticket table; no console errors. Skips, with the reason, where chromium is absent.

(``estimate`` and the closing summary print to the terminal only; they have no report part.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from reportfix import make_base_dir, make_png
from test_report import _chromium, _console_problems, _dump_dom

from standard_coder.reporting import build_report

TEAM_CSV = """period,author,repo,n_changes,sch_hours,sch_q10,sch_q90
2025-W06,ada@example.com,payments,12,6.5,5.1,7.9
2025-W07,ada@example.com,payments,9,4.25,3.2,5.4
2025-W07,brian@example.com,ledger,5,2.0,1.4,2.7
"""


def _fill(base: Path) -> None:
    make_base_dir(base)
    reports = base / "reports"
    (reports / "team_output.csv").write_text(TEAM_CSV)
    for by in ("repo", "author"):
        make_png(reports / "team_output" / f"by_{by}.png", f"SCH by {by}")
    ev_path = reports / "sch_evaluation.json"
    ev = json.loads(ev_path.read_text())
    ev["delivery"] = {
        "n_test_prs": 69, "n_train_prs": 235, "bound_hours": 720.0, "heldout_nll": 0.4317,
        "baseline_marginal_nll": 0.7603, "coverage_80": 0.7826, "spearman": 0.7837,
        "spearman_size_only": 0.3418, "spearman_expected": 0.8453,
        "spearman_expected_size_only": 0.3017, "plot": "delivery_effort.png",
    }  # fmt: skip
    ev_path.write_text(json.dumps(ev))
    make_png(reports / "delivery_effort.png", "delivery")
    (base / "forecasts" / "S1_forecast.json").write_text(json.dumps({
        "sprint_id": "S1", "p_complete_by_end": 0.83, "completion_date_p50": "2025-02-24",
        "completion_date_p85": "2025-02-26", "expected_completed_sch": 41.5, "n_sims": 5000,
        "effort_unit": {"unit": "story_points", "story_points_to_sch": 2.5,
                        "story_points_ratio_source": "learned", "story_points_ratio_sprints": 4},
        "tickets": [{"id": "PAY-1", "title": "Retry declined card payments once, with a very "
                     "long title that must wrap rather than be cut", "status": "todo",
                     "work_order": 1, "effort_source": "model", "p_complete": 0.9,
                     "mean_remaining_sch": 5.0, "mean_remaining_story_points": 2.0,
                     "completion_date_p50": "2025-02-20", "completion_date_p85": "2025-02-21"}],
    }))  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (CI: apt-get install)")
def test_new_sections_render_in_headless_chromium(tmp_path: Path) -> None:
    base = tmp_path / "out"
    _fill(base)
    out = build_report(base)
    dom = _dump_dom(out, tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert _console_problems(dom.stderr) == []
    # Team output: both tables with their rows, both plots as inline images
    assert "Team output" in html and "Per repository" in html and "Per author" in html
    assert "ada@example.com" in html and "ledger" in html
    # Delivery effort: the metric rows next to their baselines, and the plot
    assert "Delivery effort" in html and "69 held-out PRs" in html
    for figure in ("0.432", "0.760", "0.784", "0.342", "0.845"):
        assert figure in html, figure
    # the forecast in story points: unit stated, ticket title whole, dates not day numbers
    assert "story points left" in html and "Effort is stated in story points" in html
    assert "must wrap rather than be cut" in html and "2025-02-21" in html
    assert html.count("data:image/png;base64") >= 4


def test_sections_say_what_is_missing_without_chromium(tmp_path: Path) -> None:
    """The same page without the multitask model or team output says so in one line each."""
    base = tmp_path / "out"
    make_base_dir(base)
    shutil.rmtree(base / "reports" / "team_output", ignore_errors=True)
    html = build_report(base).read_text()
    assert 'predictor = "multitask"' in html  # how to get a delivery section
    assert "No team output yet" in html
