"""The runner's HTML run page and the hook pipelines extend it through.

    >>> from standard_coder.runner.report import ReportSection, build_report  # doctest: +SKIP
    >>> Pipeline(..., report_sections=[ReportSection("Metrics", draw_metrics)])  # doctest: +SKIP

See :mod:`standard_coder.runner.report.page` (the page and the section API) and
:mod:`standard_coder.runner.report.kit` (formatting, figures and template helpers for sections).
"""

from standard_coder.runner.report.page import (
    REPORT_FILE,
    ReportSection,
    SectionInput,
    build_report,
    render_report,
)

__all__ = ["REPORT_FILE", "ReportSection", "SectionInput", "build_report", "render_report"]
