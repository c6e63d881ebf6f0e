"""Calendar arithmetic used by the rules (§10): completed years, calendar months."""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache

__all__ = ["add_months", "add_years", "completed_years"]


def completed_years(start: dt.date, end: dt.date) -> int:
    """Completed years from ``start`` to ``end`` (age on ``end`` of someone born on ``start``)."""
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


@lru_cache(maxsize=16_384)
def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later, clamped to the last day of a shorter month.

    Memoised (a pure function of two immutable values): the rules ask for the same windows and
    schedules many times per assessment (about 60 calls per patient, a few distinct ones)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def add_years(day: dt.date, years: int) -> dt.date:
    """The same date ``years`` later; 29 February becomes 28 February in a common year."""
    return add_months(day, 12 * years)
