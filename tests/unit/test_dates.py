"""Calendar arithmetic (§10): completed years, calendar months with clamping, years from 29 February."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from myositis_cds.domain.dates import add_months, add_years, completed_years

D = dt.date


@pytest.mark.parametrize(
    ("birth", "on", "years"),
    [
        (D(2008, 6, 15), D(2026, 6, 14), 17),  # the day before the 18th birthday
        (D(2008, 6, 15), D(2026, 6, 15), 18),  # on the birthday
        (D(2008, 6, 15), D(2026, 6, 16), 18),
        (D(2008, 6, 15), D(2027, 6, 14), 18),
        (D(1986, 11, 21), D(2026, 11, 20), 39),
        (D(1986, 11, 21), D(2026, 11, 21), 40),  # age 40 exactly on the day
        (D(2000, 1, 1), D(2000, 1, 1), 0),
        (D(2000, 1, 1), D(2000, 12, 31), 0),
        (D(1999, 12, 31), D(2000, 1, 1), 0),
        (D(1999, 12, 31), D(2000, 12, 31), 1),
        # Born on 29 February: in a common year the birthday has not passed on 28 February.
        (D(2000, 2, 29), D(2001, 2, 28), 0),
        (D(2000, 2, 29), D(2001, 3, 1), 1),
        (D(2000, 2, 29), D(2018, 2, 28), 17),
        (D(2000, 2, 29), D(2018, 3, 1), 18),
        (D(2000, 2, 29), D(2004, 2, 28), 3),
        (D(2000, 2, 29), D(2004, 2, 29), 4),  # leap year: the birthday itself
        # Someone born on 28 February or 1 March is not affected by the leap day.
        (D(2004, 2, 28), D(2005, 2, 28), 1),
        (D(2004, 3, 1), D(2005, 2, 28), 0),
        (D(2004, 3, 1), D(2005, 3, 1), 1),
    ],
)
def test_completed_years(birth: dt.date, on: dt.date, years: int) -> None:
    assert completed_years(birth, on) == years


def test_completed_years_before_birth_is_negative() -> None:
    assert completed_years(D(2000, 6, 15), D(2000, 6, 14)) == -1


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),   # common year: clamped to 28 February
        (D(2024, 1, 31), 1, D(2024, 2, 29)),   # leap year: clamped to 29 February
        (D(2100, 1, 31), 1, D(2100, 2, 28)),   # 2100 is not a leap year
        (D(2000, 1, 31), 1, D(2000, 2, 29)),   # 2000 is
        (D(2026, 1, 30), 1, D(2026, 2, 28)),
        (D(2026, 1, 28), 1, D(2026, 2, 28)),
        (D(2026, 3, 31), 1, D(2026, 4, 30)),
        (D(2026, 8, 31), 1, D(2026, 9, 30)),
        (D(2026, 1, 31), 3, D(2026, 4, 30)),
        (D(2026, 1, 31), 2, D(2026, 3, 31)),   # clamping is not carried forward
        (D(2026, 11, 30), 3, D(2027, 2, 28)),  # across the year end
        (D(2026, 12, 15), 1, D(2027, 1, 15)),
        (D(2026, 12, 31), 12, D(2027, 12, 31)),
        (D(2026, 3, 31), -1, D(2026, 2, 28)),  # backwards, clamped
        (D(2026, 1, 15), -1, D(2025, 12, 15)),
        (D(2026, 1, 15), -13, D(2024, 12, 15)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2026, 5, 20), 0, D(2026, 5, 20)),
    ],
)
def test_add_months(start: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        (D(2024, 2, 29), 1, D(2025, 2, 28)),
        (D(2024, 2, 29), 3, D(2027, 2, 28)),
        (D(2024, 2, 29), 4, D(2028, 2, 29)),  # the next leap year keeps 29 February
        (D(2024, 2, 29), -1, D(2023, 2, 28)),
        (D(2024, 2, 29), -4, D(2020, 2, 29)),
        (D(2000, 2, 29), 100, D(2100, 2, 28)),  # 2100 is not a leap year
        (D(2000, 2, 29), 400, D(2400, 2, 29)),
        (D(2026, 11, 21), 1, D(2027, 11, 21)),
        (D(2026, 11, 21), 0, D(2026, 11, 21)),
        (D(2025, 2, 28), 1, D(2026, 2, 28)),
    ],
)
def test_add_years(start: dt.date, years: int, expected: dt.date) -> None:
    assert add_years(start, years) == expected


dates = st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31))


@given(day=dates, months=st.integers(-600, 600))
def test_add_months_lands_in_the_right_month_on_the_same_or_last_day(day: dt.date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day == day.day or (result.day < day.day and (result + dt.timedelta(days=1)).day == 1)


@given(day=dates, years=st.integers(-100, 100))
def test_add_years_then_completed_years(day: dt.date, years: int) -> None:
    later = add_years(day, years)
    assert (later.year - day.year) == years
    if years >= 0 and not (day.month == 2 and day.day == 29 and later.day == 28):
        assert completed_years(day, later) == years
        assert completed_years(day, later - dt.timedelta(days=1)) == years - 1


@given(birth=dates, on=dates)
def test_completed_years_agrees_with_add_years(birth: dt.date, on: dt.date) -> None:
    age = completed_years(birth, on)
    # The age is the number of whole years such that the next anniversary is still ahead.
    # (For 29 February births add_years gives 28 February, the anniversary counts from 1 March.)
    if not (birth.month == 2 and birth.day == 29):
        assert add_years(birth, age) <= on < add_years(birth, age + 1)
