"""Trends over time (clinical-reference §6.3): CK ×ULN, MMT-8 and anti-Mi-2 titer, smoothed by LOWESS.

PF2019's figure shows each measurement as a dot and a locally weighted regression (LOWESS) line
through them. :func:`patient_trends` builds the same three series for one patient from an engine
:class:`~myositis_cds.engine.timeline.Timeline`: the raw points, each with the JSON path it came
from, and the LOWESS curve. Points that cannot be drawn (a titer without a number, a titer in
another unit) are counted and listed in ``omitted``, never dropped silently.

The smoothing settings are display choices, not clinical numbers: they change how the line looks,
never a recommendation. They are Cleveland's defaults, as in R's ``lowess()`` and statsmodels.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from myositis_cds.engine import Timeline, plain

__all__ = [
    "DEFAULT_FRAC",
    "MIN_DISTINCT_TIMES",
    "ROBUSTNESS_ITERATIONS",
    "LowessCurve",
    "NoCurve",
    "Omission",
    "PatientTrends",
    "TrendEvent",
    "TrendPoint",
    "TrendSeries",
    "lowess_curve",
    "lowess_fit",
    "patient_trends",
]

DEFAULT_FRAC: Final = 2 / 3
"""Share of the points used for each local regression. Display choice (Cleveland's default), not a
clinical number: a larger value draws a smoother line, a smaller one follows the dots more closely."""
ROBUSTNESS_ITERATIONS: Final = 3
"""Robustifying iterations (Cleveland's default): one aberrant value bends the line less."""
MIN_DISTINCT_TIMES: Final = 3
"""Fewer distinct dates than this give no curve: two points only define a straight segment."""

SeriesKey = Literal["ck", "mmt8", "titer"]
XAxis = Literal["days_since_diagnosis", "days_since_first_point"]


@dataclass(frozen=True, kw_only=True, slots=True)
class LowessCurve:
    """Fitted values at each distinct time point, in time order."""

    days: tuple[float, ...]
    values: tuple[float, ...]
    frac: float
    """The share of points requested for each local regression."""
    frac_used: float
    """``frac``, raised when needed so that every local regression spans two distinct dates."""
    iterations: int
    n_points: int
    n_distinct_days: int

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


@dataclass(frozen=True, kw_only=True, slots=True)
class NoCurve:
    """Why no LOWESS curve could be drawn."""

    reason: str


def _frac_for(days: Sequence[float], frac: float) -> float:
    """``frac`` raised so that each local fit holds a point at another date than its centre's."""
    largest_tie = max(Counter(days).values())
    return min(1.0, max(frac, (largest_tie + 1) / len(days)))


def lowess_fit(days: Sequence[float], values: Sequence[float], *,
               frac: float | None = None) -> LowessCurve | NoCurve:
    """LOWESS of ``values`` over ``days``; :class:`NoCurve` with the reason when it cannot be drawn.

    ``frac`` defaults to :data:`DEFAULT_FRAC` (a display choice). Raises ``ValueError`` for inputs
    of different lengths, non-finite numbers or a ``frac`` outside (0, 1].
    """
    if len(days) != len(values):
        msg = f"days and values: got {len(days)} and {len(values)} items; expected the same number"
        raise ValueError(msg)
    requested = DEFAULT_FRAC if frac is None else frac
    if not 0 < requested <= 1:
        msg = f"frac: got {requested!r}; expected a share of the points in (0, 1]"
        raise ValueError(msg)
    x = [float(d) for d in days]
    y = [float(v) for v in values]
    if not all(math.isfinite(v) for v in x + y):
        msg = "days and values: expected finite numbers (got NaN or infinity)"
        raise ValueError(msg)
    distinct = len(set(x))
    if not x:
        return NoCurve(reason="no measurement: no curve is drawn")
    if distinct < MIN_DISTINCT_TIMES:
        return NoCurve(reason=f"fewer than {MIN_DISTINCT_TIMES} distinct time points "
                              f"({distinct} date(s), {len(x)} measurement(s)): no curve is drawn")
    used = _frac_for(x, requested)
    # numpy and statsmodels (≈ 1.4 s and 80 MiB with pandas) load on the first curve drawn, not with
    # every module that reaches this one (the CLI, the web app's patient page use case).
    import numpy as np  # noqa: PLC0415
    from statsmodels.nonparametric.smoothers_lowess import lowess  # noqa: PLC0415

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = lowess(np.asarray(y), np.asarray(x), frac=used, it=ROBUSTNESS_ITERATIONS,
                        return_sorted=True)
    if caught or not np.all(np.isfinite(fitted)):
        detail = "; ".join(sorted({str(w.message) for w in caught})) or "non-finite fitted values"
        return NoCurve(reason=f"the LOWESS fit failed: {detail}")
    curve_days: list[float] = []
    curve_values: list[float] = []
    for day, value in fitted:
        if not curve_days or day != curve_days[-1]:
            curve_days.append(float(day))
            curve_values.append(float(value))
    return LowessCurve(days=tuple(curve_days), values=tuple(curve_values), frac=requested,
                       frac_used=used, iterations=ROBUSTNESS_ITERATIONS, n_points=len(x),
                       n_distinct_days=distinct)


def lowess_curve(days: Sequence[float], values: Sequence[float], *,
                 frac: float | None = None) -> LowessCurve | None:
    """The LOWESS curve, or ``None`` when there are fewer than 3 distinct time points.

    :func:`lowess_fit` gives the reason as well.
    """
    fit = lowess_fit(days, values, frac=frac)
    return fit if isinstance(fit, LowessCurve) else None


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendPoint:
    date: dt.date
    day: int
    """Days since the origin of the trends (see :attr:`PatientTrends.x_axis`)."""
    value: float
    source: str
    """JSON path of the measurement in the patient record."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Omission:
    """A measurement that is not in a series, and why."""

    date: dt.date
    source: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendSeries:
    key: SeriesKey
    label: str
    unit: str
    points: tuple[TrendPoint, ...]
    curve: LowessCurve | None
    curve_note: str | None
    """Why there is no curve; ``None`` when there is one."""
    smoothed_on: Literal["linear", "log10"]
    """Scale of the LOWESS fit; a log10 fit is transformed back to the series' unit."""
    cutoff: float | None
    """Titer: the assay's positivity cut-off (a result below it is normalised, §6.3)."""
    maximum: float | None
    """MMT-8: the maximum possible score of the scale the values are on."""
    omitted: tuple[Omission, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendEvent:
    kind: Literal["titer_normalised", "drug_free_since"]
    date: dt.date
    day: int
    label: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PatientTrends:
    patient_id: str
    as_of: dt.date
    origin: dt.date | None
    """Day 0 of every series; ``None`` when the patient has no measurement and no diagnosis date."""
    x_axis: XAxis
    x_description: str
    ck: TrendSeries
    mmt8: TrendSeries
    titer: TrendSeries
    events: tuple[TrendEvent, ...]
    method: str
    citations: tuple[str, ...]

    @property
    def series(self) -> tuple[TrendSeries, TrendSeries, TrendSeries]:
        return (self.ck, self.mmt8, self.titer)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


_Raw = tuple[dt.date, float, str]


def _ck_raw(timeline: Timeline) -> tuple[list[_Raw], list[Omission], list[str]]:
    return [(p.date, p.multiple_of_uln, p.source) for p in timeline.ck], [], []


def _mmt8_raw(timeline: Timeline) -> tuple[list[_Raw], float | None, str, list[str]]:
    visits = [v for v in timeline.visits if v.mmt8 is not None]
    maxima = sorted({v.mmt8_max for v in visits})
    if len(maxima) <= 1:
        maximum = maxima[0] if maxima else None
        raw = [(v.date, float(v.mmt8), f"{v.source}.mmt8") for v in visits if v.mmt8 is not None]
        unit = f"points of {maximum:g}" if maximum is not None else "points"
        return raw, maximum, unit, []
    raw = [(v.date, 100 * v.mmt8 / v.mmt8_max, f"{v.source}.mmt8") for v in visits
           if v.mmt8 is not None]
    note = (f"MMT-8 was recorded on scales with different maxima ({', '.join(f'{m:g}' for m in maxima)}): "
            "each value is shown as a percentage of its own maximum.")
    return raw, 100.0, "% of maximum", [note]


def _titer_raw(timeline: Timeline) -> tuple[list[_Raw], list[Omission], str, float | None, list[str]]:
    omitted: list[Omission] = []
    numeric = []
    for point in timeline.titers:
        if point.titer is None:
            omitted.append(Omission(date=point.date, source=point.source,
                                    reason=f"no numeric titer (result: {point.result})"))
        else:
            numeric.append(point)
    unit = numeric[-1].unit if numeric else None
    kept = []
    for point in numeric:
        if point.unit == unit:
            kept.append(point)
        else:
            omitted.append(Omission(
                date=point.date, source=point.source,
                reason=f"unit {point.unit or 'not recorded'} differs from the series unit "
                       f"{unit or 'not recorded'} (titers of different assays are not comparable)"))
    notes: list[str] = []
    cutoffs = [p.cutoff for p in kept if p.cutoff is not None]
    cutoff = cutoffs[-1] if cutoffs else None
    if len(set(cutoffs)) > 1:
        notes.append(f"The assay cut-off changed ({', '.join(sorted({f'{c:g}' for c in cutoffs}))}); "
                     f"the latest ({cutoff:g}) is drawn.")
    if kept and cutoff is None:
        notes.append("No cut-off was recorded with the titers: normalisation cannot be drawn.")
    raw = [(p.date, float(p.titer), p.source) for p in kept if p.titer is not None]
    omitted.sort(key=lambda o: (o.date, o.source))
    return raw, omitted, unit or "unit not recorded", cutoff, notes


def _series(key: SeriesKey, label: str, unit: str, raw: list[_Raw], origin: dt.date | None, *,
            log: bool, frac: float | None, cutoff: float | None = None,
            maximum: float | None = None, omitted: Sequence[Omission] = (),
            notes: Sequence[str] = ()) -> TrendSeries:
    points = tuple(TrendPoint(date=d, day=(d - origin).days, value=v, source=s)
                   for d, v, s in sorted(raw, key=lambda r: (r[0], r[2]))
                   if origin is not None)
    smoothed_on: Literal["linear", "log10"] = "log10" if log else "linear"
    notes = list(notes)
    if log and any(p.value <= 0 for p in points):
        smoothed_on = "linear"
        notes.append("A value ≤ 0 cannot be log-transformed: the curve is fitted on the linear scale.")
    values = [math.log10(p.value) if smoothed_on == "log10" else p.value for p in points]
    fit = lowess_fit([float(p.day) for p in points], values, frac=frac)
    curve: LowessCurve | None = None
    curve_note: str | None = None
    if isinstance(fit, NoCurve):
        curve_note = fit.reason
    elif smoothed_on == "log10":
        curve = LowessCurve(days=fit.days, values=tuple(10 ** v for v in fit.values), frac=fit.frac,
                            frac_used=fit.frac_used, iterations=fit.iterations,
                            n_points=fit.n_points, n_distinct_days=fit.n_distinct_days)
    else:
        curve = fit
    return TrendSeries(key=key, label=label, unit=unit, points=points, curve=curve,
                       curve_note=curve_note, smoothed_on=smoothed_on, cutoff=cutoff,
                       maximum=maximum, omitted=tuple(omitted), notes=tuple(notes))


def patient_trends(timeline: Timeline, *, diagnosis_date: dt.date | None = None,
                   frac: float | None = None) -> PatientTrends:
    """The three trend series of one patient, on a shared time axis.

    Day 0 is ``diagnosis_date`` when given (the engine timeline does not carry it: pass
    ``record.diagnosis.date``), otherwise the first measurement of any of the three series.
    CK ×ULN is smoothed on a log10 scale (it spans orders of magnitude) and drawn back in ×ULN.
    """
    ck_raw, ck_omitted, ck_notes = _ck_raw(timeline)
    mmt_raw, mmt_max, mmt_unit, mmt_notes = _mmt8_raw(timeline)
    titer_raw, titer_omitted, titer_unit, cutoff, titer_notes = _titer_raw(timeline)
    dates = [d for d, _, _ in ck_raw + mmt_raw + titer_raw]
    if diagnosis_date is not None and diagnosis_date <= timeline.as_of:
        origin: dt.date | None = diagnosis_date
        x_axis: XAxis = "days_since_diagnosis"
        x_description = f"days since diagnosis ({diagnosis_date.isoformat()})"
    else:
        origin = min(dates) if dates else None
        x_axis = "days_since_first_point"
        x_description = (f"days since the first measurement ({origin.isoformat()})" if origin
                         else "no measurement to place on a time axis")
    ck = _series("ck", "CK", "× ULN", ck_raw, origin, log=True, frac=frac, omitted=ck_omitted,
                 notes=ck_notes)
    mmt8 = _series("mmt8", "MMT-8", mmt_unit, mmt_raw, origin, log=False, frac=frac,
                   maximum=mmt_max, notes=mmt_notes)
    titer = _series("titer", "anti-Mi-2 titer", titer_unit, titer_raw, origin, log=False, frac=frac,
                    cutoff=cutoff, omitted=titer_omitted, notes=titer_notes)
    events: list[TrendEvent] = []
    if origin is not None and timeline.titer_normalised_on is not None:
        day = timeline.titer_normalised_on
        events.append(TrendEvent(kind="titer_normalised", date=day, day=(day - origin).days,
                                 label=f"titer normalised {day.isoformat()}"))
    if origin is not None and timeline.drug_free_since is not None:
        day = timeline.drug_free_since
        events.append(TrendEvent(kind="drug_free_since", date=day, day=(day - origin).days,
                                 label=f"drug-free since {day.isoformat()}"))
    used = DEFAULT_FRAC if frac is None else frac
    method = (f"LOWESS (statsmodels), {used:.2f} of the points per local regression, "
              f"{ROBUSTNESS_ITERATIONS} robustifying iterations: display choices, not clinical "
              f"numbers; no curve below {MIN_DISTINCT_TIMES} distinct dates")
    return PatientTrends(patient_id=timeline.patient_id, as_of=timeline.as_of, origin=origin,
                         x_axis=x_axis, x_description=x_description, ck=ck, mmt8=mmt8, titer=titer,
                         events=tuple(events), method=method, citations=("PF2019",))
