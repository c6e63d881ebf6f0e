"""When may a cached worklist result be reused? Content hashes and ``recheck_on`` dates.

An assessment depends on the record, the knowledge pack and settings, *and* the as-of date (a
screen becomes overdue, a 28-day or 3-month window closes, a patient turns 40). A cached result is
reused only when the inputs hash equal **and** the new as-of date lies in ``[old as-of,
recheck_on)``. ``recheck_on`` is computed generically, without any clinical rule:

* base dates: every date in the validated record and in the assessment's result (due dates,
  windows, judged-on dates...);
* durations: every threshold and setting of the pack whose unit is a number of days, weeks,
  months or years (values in force, so site overrides count);
* candidates: each base date shifted by each duration, forwards and backwards (and unshifted),
  each of those also one day before and after (strict and non-strict comparisons), plus the
  patient's next birthday (ages change only on birthdays);
* ``recheck_on`` = the earliest candidate after the as-of date (``None``: no candidate).

This is conservative (many candidates are irrelevant, so results are recomputed more often than
needed) and is checked by a property test: for generated records, assessments on two as-of dates
with no candidate between them give identical worklist rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from functools import cache, partial
from importlib.metadata import PackageNotFoundError, version

import orjson

from myositis_cds.domain.dates import add_months, add_years, completed_years
from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import Assessment, EngineParams

__all__ = ["content_hash", "durations_of", "params_fingerprint", "recheck_on"]

_UNIT = re.compile(r"(?<![/\w])(day|week|month|year)s?\b")
Shift = Callable[[dt.date], dt.date]


def _code_version() -> str:
    try:
        return version("myositis-cds")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"


def params_fingerprint(params: EngineParams) -> str:
    """Pack ID and version, the settings in force and the code version, as one string."""
    settings = sorted((k, str(v)) for k, v in params.settings.values.items())
    return orjson.dumps([params.pack.id, params.version, settings, _code_version()]).decode()


def content_hash(document: Mapping[str, object], fingerprint: str) -> str:
    """SHA-256 of the canonical JSON of the record document plus the parameters' fingerprint."""
    canonical = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(fingerprint.encode() + b"\x00" + canonical).hexdigest()


def durations_of(params: EngineParams) -> tuple[tuple[int, str], ...]:
    """Every (amount, unit) duration of the pack's thresholds and settings in force; unit is one of
    ``day``, ``week``, ``month``, ``year``."""
    found: set[tuple[int, str]] = set()
    for threshold in params.pack.thresholds.values():
        match = _UNIT.search(threshold.unit)
        if match:
            found.update((int(v), match.group(1)) for v in threshold.numbers() if v == int(v))
    for name, spec in params.pack.settings.items():
        match = _UNIT.search(spec.unit or "")
        if match:
            found.update((int(v), match.group(1)) for v in _numbers(params.settings.values.get(name))
                         if v == int(v))
    return tuple(sorted(found))


def _numbers(value: object) -> list[float]:
    """The numbers of a setting value: a number, a range ``(low, high)`` or a table of either."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, tuple):
        return [float(v) for v in value]
    if isinstance(value, Mapping):
        return [n for v in value.values() for n in _numbers(v)]
    return []


def _calendar_shift(amount: int, unit: str) -> Shift:
    if unit == "month":
        return lambda day: add_months(day, amount)
    return lambda day: add_years(day, amount)


@cache
def _shifts(durations: tuple[tuple[int, str], ...]) -> tuple[tuple[int, ...], tuple[Shift, ...]]:
    """(day shifts, calendar shifts): every duration forwards and backwards, and 0 days."""
    days = {0}
    calendar: list[Shift] = []
    for amount, unit in durations:
        if not amount:
            continue
        if unit in ("day", "week"):
            step = amount * (7 if unit == "week" else 1)
            days.update((step, -step))
        else:
            calendar += [_calendar_shift(amount, unit), _calendar_shift(-amount, unit)]
    return tuple(sorted(days)), tuple(calendar)


_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _collect(value: object, found: set[dt.date]) -> None:
    """Every date inside ``value`` (dataclasses, tuples, lists, mappings) into ``found``."""
    cls = type(value)
    if cls in _SCALARS:
        return
    if cls is dt.date:
        found.add(value)  # type: ignore[arg-type]
        return
    if cls is tuple or cls is list:
        for item in value:  # type: ignore[attr-defined]
            _collect(item, found)
        return
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if isinstance(value, Mapping):
            for item in value.values():
                _collect(item, found)
            return
        if not is_dataclass(value) or isinstance(value, type):
            return
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(value))
    for name in names:
        _collect(getattr(value, name), found)


def _safe(shift: Shift, day: dt.date) -> dt.date:
    try:
        return shift(day)
    except (OverflowError, ValueError):
        return dt.date.max if day.year > 1 else dt.date.min


def _neighbourhood(shifted: dt.date, as_of: dt.date) -> dt.date:
    """The earliest of ``shifted`` - 1 day, ``shifted``, ``shifted`` + 1 day after ``as_of``, for the
    smallest shifted date on or after ``as_of``."""
    return max(shifted - dt.timedelta(days=1), as_of + dt.timedelta(days=1))


def recheck_on(record: PatientRecord, assessment: Assessment, as_of: dt.date,
               durations: tuple[tuple[int, str], ...]) -> dt.date | None:
    """The earliest date after ``as_of`` on which the result could differ (module docstring);
    ``durations`` is :func:`durations_of` of the parameters used."""
    # The assessment's own as-of date is not a date of the patient's data: left out.
    found: set[dt.date] = set()
    _collect(record, found)
    for f in fields(assessment):
        if f.name != "as_of":
            _collect(getattr(assessment, f.name), found)
    bases = sorted(found)
    ordinals = [day.toordinal() for day in bases]
    day_shifts, calendar_shifts = _shifts(durations)
    # A candidate c counts with its neighbours c - 1 and c + 1 (strict and non-strict comparisons):
    # the earliest of them after as_of comes from the smallest c >= as_of.
    earliest: int | None = None
    target = as_of.toordinal()
    for step in day_shifts:
        index = bisect_left(ordinals, target - step)
        if index < len(ordinals) and (earliest is None or ordinals[index] + step < earliest):
            earliest = ordinals[index] + step
    best = None if earliest is None else _neighbourhood(dt.date.fromordinal(earliest), as_of)
    for shift in calendar_shifts:
        # shift is non-decreasing in the day, so the first base on or after the bound is the minimum.
        index = bisect_left(bases, as_of, key=partial(_safe, shift))
        if index < len(bases):
            candidate = _neighbourhood(_safe(shift, bases[index]), as_of)
            if best is None or candidate < best:
                best = candidate
    birth = record.birth_date
    if birth is not None and birth <= as_of:
        birthday = _neighbourhood(add_years(birth, completed_years(birth, as_of) + 1), as_of)
        if best is None or birthday < best:
            best = birthday
    return best
