"""The dates accepted at the edge: ``--as-of`` options and the web application's date parameters.

An assessment date is an ISO 8601 calendar date ``YYYY-MM-DD`` (nothing else: ``0`` is not read
as 1970-01-01) from :data:`EARLIEST_DATE` to today. The clinical rules add months and years to
dates (screening schedules, windows, ages); the earliest bound keeps that arithmetic far inside the
calendar (an as-of date in year 1 overflowed it), and no patient record worth assessing predates
it. Filters of stored events (the audit log's "since" and "until") may be any date from
:data:`EARLIEST_DATE` to :data:`LATEST_FILTER_DATE` ("until 2099-12-31" means "no end").
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

__all__ = ["EARLIEST_DATE", "LATEST_FILTER_DATE", "as_of_problem", "filter_date_problem",
           "iso_date"]

EARLIEST_DATE: Final = dt.date(1900, 1, 1)
LATEST_FILTER_DATE: Final = dt.date(2999, 12, 31)
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(text: str) -> dt.date | None:
    """The date written ``YYYY-MM-DD`` in ``text``; None for anything else."""
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def as_of_problem(day: dt.date, today: dt.date) -> str | None:
    """What is wrong with ``day`` as an assessment date (None: nothing)."""
    if not EARLIEST_DATE <= day <= today:
        return f"a date from {EARLIEST_DATE.isoformat()} to today ({today.isoformat()})"
    return None


def filter_date_problem(day: dt.date) -> str | None:
    """What is wrong with ``day`` as a filter of stored events (None: nothing)."""
    if not EARLIEST_DATE <= day <= LATEST_FILTER_DATE:
        return f"a date from {EARLIEST_DATE.isoformat()} to {LATEST_FILTER_DATE.isoformat()}"
    return None
