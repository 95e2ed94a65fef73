"""Run reports: one self-contained HTML page per output folder (``reports/index.html``)."""

from standard_coder.reporting.html import build_report

__all__ = ["build_report"]
