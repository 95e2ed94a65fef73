"""The "Delivery effort" report section (``[training] predictor = "multitask"``): held-out PR
metrics from ``reports/sch_evaluation.json`` (key ``delivery``) and the predicted-vs-observed
plot. Absent (one line) for the other predictors."""

from __future__ import annotations

from standard_coder.pipelines.sch_layout import SchLayout
from standard_coder.runner.jsonfile import read_json_object_or_none
from standard_coder.runner.report import ReportSection, SectionInput
from standard_coder.runner.report.kit import figures
from standard_coder.runner.report.kit import render as render_template

PACKAGE = "standard_coder.reporting"
ROWS: tuple[tuple[str, str, str], ...] = (
    ("neg. log-likelihood per PR on log(1 + h) (lower is better)", "heldout_nll",
     "baseline_marginal_nll"),
    ("80% interval coverage (target 0.80)", "coverage_80", ""),
    ("Spearman vs observed open->merge hours", "spearman", "spearman_size_only"),
    ("Spearman vs the simulator's noise-free delivery time", "spearman_expected",
     "spearman_expected_size_only"),
)  # fmt: skip


def render_delivery(given: SectionInput) -> str:
    """The section body, or a line saying how to get one."""
    layout = SchLayout(given.base_dir)
    dl = (read_json_object_or_none(layout.evaluation) or {}).get("delivery")
    if not isinstance(dl, dict):
        return render_template(PACKAGE, "delivery.html.j2", metrics=None)
    rows = [(name, dl.get(key), dl.get(base) if base else None)
            for name, key, base in ROWS if dl.get(key) is not None]  # fmt: skip
    plot = layout.reports / str(dl.get("plot") or "delivery_effort.png")
    return render_template(PACKAGE, "delivery.html.j2", metrics=dl, rows=rows,
                           figures=figures([plot] if plot.is_file() else []))  # fmt: skip


SECTION = ReportSection(title="Delivery effort", render=render_delivery, nav="Delivery")
