"""Cohort course by group: LOWESS of CK and strength over time, and the long titer courses (§8, PF2019).

:func:`group_curves` pools every patient's measurements of a group (days since diagnosis) and
draws one LOWESS curve per group, as PF2019's figure does; CK × ULN is smoothed on a log10 scale
and drawn back in × ULN, as in the per-patient trend plots. :func:`titer_course_summary` counts,
among anti-Mi-2-positive DM patients whose numeric titers span at least
:data:`LONG_FOLLOW_UP_YEARS` years, how many titers declined, how many normalised, and of those
how many stopped treatment and how many restarted it (PF2019: 10 patients, declined in all,
normalised in 3, 2 of whom stopped treatment and never relapsed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from myositis_cds.engine import plain
from myositis_cds.stats.cohort_features import COHORT_GROUPS, GROUP_MI2_POSITIVE, CohortPatient
from myositis_cds.stats.trends import DEFAULT_FRAC, LowessCurve, lowess_fit

__all__ = [
    "LONG_FOLLOW_UP_YEARS",
    "CourseCurves",
    "GroupCurve",
    "TiterCourseSummary",
    "group_curves",
    "titer_course_summary",
]

LONG_FOLLOW_UP_YEARS: Final = 4
"""PF2019: "multiple serum samples collected over 4 or more years"."""
Measure = Literal["ck", "mmt8", "titer"]
_UNITS: Final = {"ck": "× ULN", "mmt8": "% of MMT-8 maximum", "titer": "× assay cut-off"}
_LOG: Final = frozenset({"ck", "titer"})
"""Measures that span orders of magnitude: smoothed on log10, drawn back in their unit."""


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupCurve:
    group: str
    measure: Measure
    unit: str
    patients: int
    points: tuple[tuple[int, float], ...]
    """(days since diagnosis, value) of every measurement of the group."""
    curve: LowessCurve | None
    note: str | None
    """Why there is no curve."""

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def group_curves(patients: Sequence[CohortPatient], measure: Measure, *,
                 frac: float | None = None) -> tuple[GroupCurve, ...]:
    """One pooled LOWESS curve per group (in :data:`COHORT_GROUPS` order, then others sorted)."""
    present = {p.group for p in patients if p.group is not None}
    order = [g for g in COHORT_GROUPS if g in present] + sorted(present - set(COHORT_GROUPS))
    curves = []
    def series(patient: CohortPatient) -> tuple[tuple[int, float], ...]:
        return {"ck": patient.ck, "mmt8": patient.mmt8, "titer": patient.titer}[measure]

    for group in order:
        members = [p for p in patients if p.group == group]
        points = tuple(sorted(pt for p in members for pt in series(p)))
        log = measure in _LOG and all(v > 0 for _, v in points)
        values = [math.log10(v) if log else v for _, v in points]
        fit = lowess_fit([float(d) for d, _ in points], values, frac=frac or DEFAULT_FRAC)
        curve: LowessCurve | None = None
        note: str | None = None
        if isinstance(fit, LowessCurve):
            curve = fit if not log else LowessCurve(
                days=fit.days, values=tuple(10 ** v for v in fit.values), frac=fit.frac,
                frac_used=fit.frac_used, iterations=fit.iterations, n_points=fit.n_points,
                n_distinct_days=fit.n_distinct_days)
        else:
            note = fit.reason
        curves.append(GroupCurve(group=group, measure=measure, unit=_UNITS[measure],
                                 patients=sum(1 for p in members if series(p)),
                                 points=points, curve=curve, note=note))
    return tuple(curves)


@dataclass(frozen=True, slots=True, kw_only=True)
class CourseCurves:
    """The figure's data: pooled LOWESS by group of CK (× ULN), strength (MMT-8 % of maximum)
    and anti-Mi-2 titer (× its assay cut-off)."""

    ck: tuple[GroupCurve, ...]
    mmt8: tuple[GroupCurve, ...]
    titer: tuple[GroupCurve, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class TiterCourseSummary:
    group: str
    min_years: int
    with_serial_titers: int
    """Patients of the group with two or more numeric titers."""
    followed: int
    """... whose titers span at least ``min_years`` completed years."""
    declined: int
    normalised: int
    normalised_and_stopped_treatment: int
    normalised_stopped_and_restarted: int
    """Restarted an immunosuppressant after stopping (the record has no relapse field: a proxy)."""
    definitions: tuple[str, ...]
    citations: tuple[str, ...] = ("PF2019",)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def titer_course_summary(patients: Sequence[CohortPatient], *,
                         min_years: int = LONG_FOLLOW_UP_YEARS,
                         group: str = GROUP_MI2_POSITIVE) -> TiterCourseSummary:
    """PF2019's long-course titer counts for ``group`` (module docstring)."""
    serial = [p.titer_course for p in patients if p.group == group and p.titer_course is not None]
    long = [c for c in serial if c is not None and c.years_followed >= min_years]
    normalised = [c for c in long if c.normalised]
    stopped = [c for c in normalised if c.stopped_treatment]
    return TiterCourseSummary(
        group=group, min_years=min_years, with_serial_titers=len(serial), followed=len(long),
        declined=sum(c.declined for c in long), normalised=len(normalised),
        normalised_and_stopped_treatment=len(stopped),
        normalised_stopped_and_restarted=sum(c.restarted_after_stopping for c in stopped),
        definitions=(
            f"followed: two or more numeric anti-Mi-2 titers (one unit) spanning ≥ {min_years} "
            "completed years",
            "declined: the last titer is lower than the first",
            "normalised: a titer below the assay cut-off or a negative result after a positive one",
            "stopped treatment: a day after the first immunosuppressant start with none active",
            "restarted: an immunosuppressant started after such a day (proxy for relapse: "
            "patient-record@1 has no relapse field)",
        ))
