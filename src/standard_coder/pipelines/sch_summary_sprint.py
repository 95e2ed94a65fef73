"""The run summary's line on a stored forecast's sprint under way: read from its JSON and
today's date, with no import of the forecasting package (the summary of a no-op rerun imports
nothing heavy)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any


def forecast_under_way(fc: Mapping[str, Any], today: date | None = None) -> str:
    """A line for the run summary when a stored forecast's sprint (its JSON: ``start_date``,
    ``end_date``) is under way ``today``: the forecast, a function of its inputs, counts every
    working day from the start, so it is said on the day it is read (the forecast stage says
    the same with ``forecasting.validate.under_way_note``); "" otherwise."""
    try:
        start = date.fromisoformat(str(fc.get("start_date")))
        end = date.fromisoformat(str(fc.get("end_date")))
    except ValueError:
        return ""
    now = today or date.today()
    if not start < now <= end:
        return ""
    return (
        f"(the sprint is under way: it started on {start.isoformat()} and the forecast counts "
        "every working day from then; for what is left, set start_date to today and each "
        "ticket's status to where it stands)"
    )
