"""The treatment record as the rules need it (clinical-reference §12.1–§12.2): doses, courses, exposure.

Built once per assessment (:meth:`TherapyIndex.of`) from the date-bounded record and the pack:

- **doses** in mg per frequency period (``dose`` is the total per period: mycophenolate 1 g twice a
  day is ``dose`` 2, ``unit`` g, ``frequency`` daily); only ``mg`` and ``g`` are converted;
- **glucocorticoids** as prednisone-equivalents per day (GC-EQUIVALENCE); a pulse
  (``methylprednisolone_iv``, or ≥ 250 mg/day prednisone-equivalent, BUTTGEREIT-2002) counts in the
  cumulative dose and in "days at ≥ 20 mg" but not in the current daily dose;
- **activity of an agent** on a date: given that day (``once`` only on its start), or within the
  effect window after the last day given (rituximab, cyclophosphamide, IVIG; setting
  ``effect_window_days``);
- **courses** (§12.2): a course begins at the earliest start on or after diagnosis − 30 days
  (``pre_diagnosis_start_days``); an agent started earlier and still active on the diagnosis date
  counts from the diagnosis date; a new course begins when an agent starts after at least
  ``new_course_gap_months`` with none active.

Exact arithmetic (:class:`fractions.Fraction`): 4 mg methylprednisolone is exactly 5 mg prednisone.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache

from myositis_cds.domain.dates import add_months
from myositis_cds.domain.record import Treatment
from myositis_cds.domain.vocabulary import (
    EFFECT_WINDOW_DRUGS,
    GLUCOCORTICOIDS,
    IMMUNOSUPPRESSIVE_AGENTS,
)
from myositis_cds.engine.context import PatientContext
from myositis_cds.engine.params import EngineParams

__all__ = ["GcEntry", "TherapyIndex", "dose_mg", "exact", "inactive_for_months"]

ONE_DAY = dt.timedelta(days=1)
_MG_PER_UNIT = {"mg": Fraction(1), "g": Fraction(1000)}


@lru_cache(maxsize=16_384)
def exact(value: float) -> Fraction:
    """The fraction a float was written as (``0.1`` → 1/10).

    Memoised (pure; a ``Fraction`` is immutable): most calls convert the same pack constants."""
    return Fraction(repr(value))


def dose_mg(t: Treatment) -> Fraction | None:
    """The recorded dose in mg per frequency period, or ``None`` (no dose, or not a mass unit)."""
    if t.dose is None or t.unit is None:
        return None
    factor = _MG_PER_UNIT.get(t.unit.strip().lower())
    return None if factor is None else exact(t.dose) * factor


def inactive_for_months(last_active: dt.date, day: dt.date, months: int) -> bool:
    """Nothing active from the day after ``last_active`` for at least ``months`` calendar months
    before ``day`` (§12.2 new course, §13 drug-free remission)."""
    return add_months(last_active + ONE_DAY, months) <= day


@dataclass(frozen=True, slots=True)
class GcEntry:
    """A glucocorticoid entry as prednisone-equivalent mg per day of use."""

    treatment: Treatment
    per_day: Fraction | None
    """``None``: the dose cannot be computed (missing, unit or frequency not convertible)."""
    pulse: bool

    def given_on(self, day: dt.date) -> bool:
        return self.treatment.active_on(day)


@dataclass(frozen=True, slots=True)
class _Segment:
    first: dt.date
    last: dt.date
    entries: tuple[GcEntry, ...]


class TherapyIndex:
    """Treatments of one patient on the assessment date, indexed for §12–§15."""

    def __init__(self, ctx: PatientContext, params: EngineParams) -> None:
        self.ctx = ctx
        self.as_of = ctx.as_of
        self.params = params
        settings = params.settings
        self._windows = {drug: int(settings.table_number("effect_window_days", drug))
                         for drug in EFFECT_WINDOW_DRUGS}
        prednisone = exact(params.number("gc_equivalent_prednisone_mg"))
        methylprednisolone = exact(params.number("gc_equivalent_methylprednisolone_mg"))
        self._gc_factor = {"prednisone": Fraction(1), "prednisolone": Fraction(1),
                           "methylprednisolone": prednisone / methylprednisolone,
                           "methylprednisolone_iv": prednisone / methylprednisolone}
        self._pulse_mg = exact(params.number("gc_pulse_mg"))
        self.immunosuppressants: tuple[Treatment, ...] = tuple(
            t for t in ctx.treatments if t.drug in IMMUNOSUPPRESSIVE_AGENTS)
        self.gc: tuple[GcEntry, ...] = tuple(
            self._gc_entry(t) for t in ctx.treatments if t.drug in GLUCOCORTICOIDS)

    @staticmethod
    def of(ctx: PatientContext, params: EngineParams) -> TherapyIndex:
        return TherapyIndex(ctx, params)

    # -- agents ------------------------------------------------------------------------------------
    def effect_window(self, drug: str) -> int:
        return self._windows.get(drug, 0)

    def active_until(self, t: Treatment) -> dt.date | None:
        """The last day ``t`` is active (given, or in its effect window); ``None``: ongoing."""
        last = t.last_given
        if last is None:
            return None
        return last + dt.timedelta(days=self.effect_window(t.drug))

    def active_on(self, t: Treatment, day: dt.date) -> bool:
        until = self.active_until(t)
        return t.start <= day and (until is None or day <= until)

    def in_effect_window_only(self, t: Treatment, day: dt.date) -> bool:
        return self.active_on(t, day) and not t.active_on(day)

    @cached_property
    def active_agents(self) -> tuple[Treatment, ...]:
        """Immunosuppressive entries active on the assessment date (effect windows included)."""
        return tuple(t for t in self.immunosuppressants if self.active_on(t, self.as_of))

    def active_of(self, drugs: Iterable[str]) -> tuple[Treatment, ...]:
        wanted = frozenset(drugs)
        return tuple(t for t in self.active_agents if t.drug in wanted)

    # -- courses (§12.2) ----------------------------------------------------------------------------
    def _counted(self) -> list[tuple[dt.date, dt.date | None, Treatment]]:
        """(effective start, last active day or ``None``, entry) of the entries that count."""
        diagnosed = self.ctx.diagnosis_date
        lead = self.params.setting_int("pre_diagnosis_start_days")
        counted = []
        for t in self.immunosuppressants:
            start = t.start
            if diagnosed is not None and start < diagnosed - dt.timedelta(days=lead):
                if not self.active_on(t, diagnosed):
                    continue
                start = diagnosed
            counted.append((start, self.active_until(t), t))
        counted.sort(key=lambda c: (c[0], c[2].index))
        return counted

    @cached_property
    def courses(self) -> tuple[dt.date, ...]:
        """The start of every course on or before the assessment date, in order."""
        gap = self.params.setting_int("new_course_gap_months")
        starts: list[dt.date] = []
        last_active: dt.date | None = None  # latest last-active day of the entries seen so far
        ongoing = False
        for start, until, _ in self._counted():
            if start > self.as_of:
                continue
            if not starts or (not ongoing and last_active is not None and start > last_active
                              and inactive_for_months(last_active, start, gap)):
                starts.append(start)
            if until is None:
                ongoing = True
            else:
                last_active = until if last_active is None else max(last_active, until)
        return tuple(starts)

    @property
    def course_start(self) -> dt.date | None:
        return self.courses[-1] if self.courses else None

    @cached_property
    def last_active_day(self) -> dt.date | None:
        """The last day before the assessment date on which any agent was active (off therapy)."""
        days = [self.active_until(t) for t in self.immunosuppressants]
        known = [min(d, self.as_of) for d in days if d is not None]
        if len(known) < len(days):
            return self.as_of
        return max(known, default=None)

    def entries_in_course(self) -> tuple[Treatment, ...]:
        start = self.course_start
        if start is None:
            return ()
        return tuple(t for t in self.immunosuppressants
                     if (self.active_until(t) or self.as_of) >= start)

    # -- glucocorticoids (§12.1, §13) ---------------------------------------------------------------
    def _gc_entry(self, t: Treatment) -> GcEntry:
        mg = dose_mg(t)
        factor = self._gc_factor[t.drug]
        per_day: Fraction | None = None
        if mg is not None:
            if t.frequency in ("daily", "once"):
                per_day = mg * factor
            elif t.frequency == "course" and t.stop is not None:
                per_day = mg * factor / ((t.stop - t.start).days + 1)
        pulse = t.drug == "methylprednisolone_iv" or (per_day is not None and per_day >= self._pulse_mg)
        return GcEntry(treatment=t, per_day=per_day, pulse=pulse)

    def gc_on(self, day: dt.date, *, pulses: bool = True) -> tuple[Fraction, bool]:
        """(prednisone-equivalent mg given on ``day``, whether an entry's dose was unknown)."""
        total, unknown = Fraction(0), False
        for entry in self.gc:
            if entry.given_on(day) and (pulses or not entry.pulse):
                if entry.per_day is None:
                    unknown = True
                else:
                    total += entry.per_day
        return total, unknown

    def _segments(self, entries: Sequence[GcEntry], until: dt.date) -> list[_Segment]:
        """Date ranges (up to ``until``) on which the same entries are given, newest first."""
        bounds = {until + ONE_DAY}
        for e in entries:
            t = e.treatment
            if t.start <= until:
                bounds.add(t.start)
                last = t.last_given
                if last is not None and last < until:
                    bounds.add(last + ONE_DAY)
        ordered = sorted(bounds)
        segments = []
        for first, after in itertools.pairwise(ordered):
            last = after - ONE_DAY
            given = tuple(e for e in entries if e.given_on(first))
            if given:
                segments.append(_Segment(first=first, last=last, entries=given))
        segments.reverse()
        return segments

    def run_start(self, holds: Callable[[Fraction, bool, tuple[GcEntry, ...]], bool],
                  end: dt.date | None = None) -> dt.date | None:
        """First day of the run of consecutive days ending on ``end`` (default: the assessment
        date) on which ``holds(mg, unknown, entries)`` is true for the glucocorticoids given."""
        end = end or self.as_of
        start: dt.date | None = None
        expected = end
        for seg in self._segments(self.gc, end):
            if seg.last != expected:
                break
            mg = sum((e.per_day for e in seg.entries if e.per_day is not None), Fraction(0))
            unknown = any(e.per_day is None for e in seg.entries)
            if not holds(mg, unknown, seg.entries):
                break
            start, expected = seg.first, seg.first - ONE_DAY
        return start

    def cumulative_mg(self, first: dt.date | None) -> Fraction:
        """Prednisone-equivalent mg given from ``first`` (``None``: the whole record) to the
        assessment date, counting days inclusively; entries with unknown doses are left out."""
        total = Fraction(0)
        for entry in self.gc:
            if entry.per_day is None:
                continue
            t = entry.treatment
            begin = t.start if first is None else max(t.start, first)
            end = min(t.last_given or self.as_of, self.as_of)
            if end >= begin:
                total += entry.per_day * ((end - begin).days + 1)
        return total

    @cached_property
    def last_gc_day(self) -> dt.date | None:
        days = [min(e.treatment.last_given or self.as_of, self.as_of) for e in self.gc]
        return max(days, default=None)

    def pulse_days(self, first: dt.date | None) -> int:
        days = set()
        for entry in self.gc:
            if not entry.pulse:
                continue
            t = entry.treatment
            begin = t.start if first is None else max(t.start, first)
            end = min(t.last_given or self.as_of, self.as_of)
            day = begin
            while day <= end:
                days.add(day)
                day += ONE_DAY
        return len(days)
