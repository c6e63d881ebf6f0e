"""2016 ACR/EULAR Total Improvement Score (TIS) for adult and juvenile myositis.

Citation keys: ACR-EULAR-2016 (adult), ACR-EULAR-2016-JDM (juvenile); clinical-reference §6.1.

The TIS adds points for the improvement of six core set measures between a baseline and a
follow-up visit. Points come from improvement bands that are open below and closed above (exactly
5 % scores 0; exactly 15 % lies in the ">5–15" band). Worsening scores 0 and is flagged per measure;
the total is never below 0. Missing measures are never imputed: the score is then ``incomplete``,
reported as the points achieved and the range ``[achieved, achieved + maximum of the missing]``,
and a category is given only when the whole range lies in one category.

Percent changes are computed in :class:`decimal.Decimal` from the decimal text of each value, so a
change of exactly 15 % is exactly 15 and never 14.999999999999998 (floating point cannot move a
value across a band edge). Converting a float to its decimal text is the costliest step, and
clinical values repeat (VAS in tenths, HAQ in eighths, MMT in units), so conversions are memoised;
a band is found by binary search over the Decimal edges (the same exact comparisons, fewer of them).
The formulas ([INTERP] in the reference, setting ``tis_percent_change``):

- ``absolute`` (default): VAS (0–10) and HAQ (0–3), lower is better: 100·(baseline − follow-up)/range;
  MMT, higher is better: 100·(follow-up − baseline)/maximum; enzyme: 100·(baseline − follow-up)/baseline.
- ``relative``: every measure relative to its own baseline (a baseline of 0 makes it missing).

All band tables and thresholds are parameters (:class:`TisTables`), read from the knowledge pack.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Final, Literal

from myositis_cds.domain.values import value_object

__all__ = [
    "CATEGORIES",
    "MEASURES",
    "MeasureInput",
    "MeasureScore",
    "Population",
    "TisResult",
    "TisTables",
    "band_points",
    "categorise",
    "percent_change",
    "total_improvement_score",
]

Population = Literal["adult", "juvenile"]
MEASURES: Final = (
    "physician_global", "patient_global", "mmt", "haq", "enzyme", "extramuscular",
)
CATEGORIES: Final = ("none", "minimal", "moderate", "major")
_HUNDRED: Final = Decimal(100)
_MEASURE_SET: Final = frozenset(MEASURES)
_DECIMALS: dict[float, Decimal] = {}
_DECIMALS_MAX: Final = 65_536


@value_object
class TisTables:
    """Band edges, points and thresholds of the TIS (knowledge pack values)."""

    band_edges: tuple[Decimal, ...]
    mmt_band_edges: tuple[Decimal, ...]
    points: Mapping[str, tuple[float, ...]]
    adult_thresholds: tuple[float, float, float]
    juvenile_thresholds: tuple[float, float, float]
    vas_range: Decimal
    haq_range: Decimal
    maximum: float

    def thresholds(self, population: Population) -> tuple[float, float, float]:
        return self.adult_thresholds if population == "adult" else self.juvenile_thresholds

    def max_points(self, measure: str) -> float:
        return _max_points(self.points[measure])


@value_object
class MeasureInput:
    """Baseline and follow-up values of one core set measure (``None`` = not recorded).

    ``scale`` is the MMT maximum for ``mmt`` and the ULN of the followed enzyme for ``enzyme``.
    """

    measure: str
    baseline: float | None
    followup: float | None
    scale: float | None = None
    missing_reason: str | None = None


@value_object
class MeasureScore:
    measure: str
    status: Literal["scored", "missing", "baseline_normal"]
    baseline: float | None
    followup: float | None
    percent_change: float | None
    points: float | None
    worsened: bool | None
    reason: str | None = None


@value_object
class TisResult:
    status: Literal["complete", "incomplete", "not_evaluable"]
    score: float | None
    range: tuple[float, float] | None
    category: str | None
    population: Population | None
    measures: tuple[MeasureScore, ...]
    reason: str | None = None


@cache
def _max_points(points: tuple[float, ...]) -> float:
    return max(points)


def _dec(value: float) -> Decimal:
    """``value`` as the Decimal of its shortest decimal text (``repr``), memoised for floats.

    Only non-zero floats are memoised: ``0.0 == -0.0`` and ``1 == 1.0`` would otherwise share an
    entry between different texts. The memo is cleared when full, so memory stays bounded.
    """
    decimal = _DECIMALS.get(value)
    if decimal is None:
        decimal = Decimal(repr(value))
        if value and type(value) is float:
            if len(_DECIMALS) >= _DECIMALS_MAX:
                _DECIMALS.clear()
            _DECIMALS[value] = decimal
    return decimal


def percent_change(
    measure: str,
    baseline: float,
    followup: float,
    *,
    tables: TisTables,
    scale: float | None = None,
    method: str = "absolute",
) -> Decimal | None:
    """Percent improvement of one measure (positive = better), or ``None`` if undefined."""
    return _change(measure, _dec(baseline), _dec(followup), scale, tables=tables, method=method)


def _change(measure: str, b: Decimal, f: Decimal, scale: float | None, *, tables: TisTables,
            method: str) -> Decimal | None:
    higher_is_better = measure == "mmt"
    delta = (f - b) if higher_is_better else (b - f)
    if method == "relative" or measure == "enzyme":
        return None if b == 0 else _HUNDRED * delta / b
    if measure == "mmt":
        denominator = _dec(scale) if scale is not None else None
    elif measure == "haq":
        denominator = tables.haq_range
    else:
        denominator = tables.vas_range
    if denominator is None or denominator == 0:
        return None
    return _HUNDRED * delta / denominator


def band_points(percent: Decimal, edges: Sequence[Decimal], points: Sequence[float]) -> float:
    """Points for a percent improvement: bands open below, closed above (``≤ edges[0]`` → ``points[0]``).

    ``edges`` ascend; the band is the first edge ``≥ percent`` (exact Decimal comparisons), or the
    last band above every edge.
    """
    return points[bisect_left(edges, percent)]


def categorise(score: float, thresholds: tuple[float, float, float]) -> str:
    """``none``, ``minimal``, ``moderate`` or ``major`` for a total score."""
    minimal, moderate, major = thresholds
    if score >= major:
        return "major"
    if score >= moderate:
        return "moderate"
    if score >= minimal:
        return "minimal"
    return "none"


def _range_category(low: float, high: float, populations: Sequence[Population],
                    tables: TisTables) -> str | None:
    if len(populations) == 1:
        thresholds = tables.thresholds(populations[0])
        category = categorise(low, thresholds)
        return category if low == high or categorise(high, thresholds) == category else None
    categories = {
        categorise(value, tables.thresholds(population))
        for population in populations
        for value in (low, high)
    }
    return categories.pop() if len(categories) == 1 else None


def _missing(item: MeasureInput, reason: str) -> MeasureScore:
    return MeasureScore(measure=item.measure, status="missing", baseline=item.baseline,
                        followup=item.followup, percent_change=None, points=None, worsened=None,
                        reason=reason)


def _score_measure(item: MeasureInput, tables: TisTables, method: str) -> MeasureScore:
    measure, baseline, followup = item.measure, item.baseline, item.followup
    if baseline is None:
        return _missing(item, item.missing_reason or "baseline value not recorded")
    b = _dec(baseline)
    if measure == "enzyme" and item.scale is not None and b <= _dec(item.scale):
        # §6.1: a baseline ≤ ULN scores 0 whatever the follow-up (known from the baseline alone).
        change = (None if followup is None
                  else _change("enzyme", b, _dec(followup), None, tables=tables, method="absolute"))
        return MeasureScore(
            measure=measure, status="baseline_normal", baseline=baseline,
            followup=followup, percent_change=None if change is None else float(change),
            points=0.0, worsened=None if followup is None else followup > baseline,
            reason="baseline normal (≤ ULN): the enzyme measure scores 0",
        )
    if followup is None:
        return _missing(item, item.missing_reason or "follow-up value not recorded")
    change = _change(measure, b, _dec(followup), item.scale, tables=tables, method=method)
    if change is None:
        return _missing(item, "percent change undefined (baseline 0 or no scale)")
    worsened = change < 0
    if worsened:
        points = 0.0
    else:
        edges = tables.mmt_band_edges if measure == "mmt" else tables.band_edges
        points = tables.points[measure][bisect_left(edges, change)]  # = band_points(...)
    return MeasureScore(
        measure=measure, status="scored", baseline=baseline, followup=followup,
        percent_change=float(change), points=points, worsened=worsened,
    )


def total_improvement_score(
    measures: Sequence[MeasureInput],
    *,
    tables: TisTables,
    population: Population | None,
    method: str = "absolute",
) -> TisResult:
    """Score the six core set measures; ``population`` ``None`` means adult/juvenile is unknown.

    With an unknown population a category is given only if both populations' thresholds agree.
    """
    by_name = {m.measure: m for m in measures}
    if not by_name.keys() <= _MEASURE_SET:
        unknown = set(by_name) - _MEASURE_SET
        msg = f"unknown TIS measure(s) {sorted(unknown)}; expected {list(MEASURES)}"
        raise ValueError(msg)
    scored = tuple([
        _score_measure(by_name.get(name) or MeasureInput(measure=name, baseline=None, followup=None),
                       tables, method)
        for name in MEASURES
    ])
    # Summed in MEASURES order, as before: the same floating-point total.
    achieved = 0.0
    missing_max = 0.0
    for s in scored:
        if s.points is not None:
            achieved += s.points
        if s.status == "missing":
            missing_max += tables.max_points(s.measure)
    low, high = achieved, min(achieved + missing_max, tables.maximum)
    populations: tuple[Population, ...] = (population,) if population else ("adult", "juvenile")
    category = _range_category(low, high, populations, tables)
    if all(s.status == "missing" for s in scored):
        return TisResult(
            status="not_evaluable", score=None, range=None, category=None, population=population,
            measures=scored, reason="no core set measure recorded at both baseline and follow-up",
        )
    return TisResult(
        status="complete" if missing_max == 0 else "incomplete",
        score=achieved,
        range=(low, high),
        category=category,
        population=population,
        measures=scored,
    )
