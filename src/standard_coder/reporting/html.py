"""The ``sch`` pipeline's run report: the runner's run page plus the flagship's sections
(training curves, evaluation against the LOC baseline, sprint forecasts).

The page itself (stages, reasons, timings, cache hits, warnings, env stamp, history) belongs to
the runner (:mod:`standard_coder.runner.report`); this package only adds sections through the
``report_sections`` hook. :data:`SECTIONS` is what ``pipelines.sch`` registers.

Example:
    >>> build_report(Path("sc-output"))  # doctest: +SKIP
    PosixPath('sc-output/reports/index.html')
"""

from __future__ import annotations

from pathlib import Path

from standard_coder.reporting import delivery, evaluation, forecasts, team_output, training
from standard_coder.runner.report import ReportSection
from standard_coder.runner.report import build_report as build_page
from standard_coder.runner.report import render_report as render_page

SECTIONS: tuple[ReportSection, ...] = (
    training.SECTION,
    evaluation.SECTION,
    delivery.SECTION,
    team_output.SECTION,
    forecasts.SECTION,
)
"""The flagship's report sections, in page order."""


def render_report(
    base_dir: Path, *, now: float | None = None, cache_dir: Path | None = None
) -> str:
    """The flagship's report page for ``base_dir`` as an HTML string (reads only, except the
    training-curve cache in ``cache_dir`` when given)."""
    return render_page(base_dir, SECTIONS, now=now, cache_dir=cache_dir)


def build_report(base_dir: Path) -> Path:
    """Write ``<base_dir>/reports/index.html`` (the flagship's page) and return its path."""
    return build_page(base_dir, SECTIONS)
