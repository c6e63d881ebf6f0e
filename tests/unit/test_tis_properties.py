"""Properties of the Total Improvement Score over every input in range (clinical-reference §6.1).

Value grids: VAS 0–10 in 0.1 steps, HAQ-DI 0–3 in 0.125 steps, MMT-8 0–80 in whole points, enzymes
0–20000 U/L with a ULN of 1–500 U/L. Any measure may be missing at baseline or follow-up.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from myositis_cds.bootstrap import default_params
from myositis_cds.scores.tis import (
    MEASURES,
    MeasureInput,
    Population,
    TisResult,
    band_points,
    categorise,
    total_improvement_score,
)

TABLES = default_params().tis_tables  # loaded once, outside any example's deadline
MMT_MAX = 80.0
VAS_MEASURES = ("physician_global", "patient_global", "extramuscular")

vas_values = st.integers(0, 100).map(lambda i: i / 10)
haq_values = st.integers(0, 24).map(lambda i: i * 0.125)
mmt_values = st.integers(0, 80).map(float)
enzyme_values = st.floats(0, 20000, allow_nan=False, allow_infinity=False)
uln_values = st.floats(1, 500, allow_nan=False, allow_infinity=False)
populations: st.SearchStrategy[Population | None] = st.sampled_from(["adult", "juvenile", None])
methods = st.sampled_from(["absolute", "relative"])


def values_of(measure: str) -> st.SearchStrategy[float]:
    if measure == "haq":
        return haq_values
    if measure == "mmt":
        return mmt_values
    if measure == "enzyme":
        return enzyme_values
    return vas_values


@st.composite
def measure_input(draw: st.DrawFn, measure: str, *, complete: bool = False) -> MeasureInput:
    values = values_of(measure)
    baseline = draw(values if complete else st.none() | values)
    followup = draw(values if complete else st.none() | values)
    scale = MMT_MAX if measure == "mmt" else draw(uln_values) if measure == "enzyme" else None
    return MeasureInput(measure=measure, baseline=baseline, followup=followup, scale=scale)


@st.composite
def records(draw: st.DrawFn) -> list[MeasureInput]:
    return [draw(measure_input(m)) for m in MEASURES]


def score(measures: list[MeasureInput], population: Population | None, method: str) -> TisResult:
    return total_improvement_score(measures, tables=TABLES, population=population, method=method)


@given(records(), populations, methods)
def test_score_and_range_lie_in_0_to_100(
    measures: list[MeasureInput], population: Population | None, method: str
) -> None:
    result = score(measures, population, method)
    if result.status == "not_evaluable":
        assert (result.score, result.range, result.category) == (None, None, None)
        assert all(m.status == "missing" for m in result.measures)
        return
    assert result.score is not None
    assert result.range is not None
    low, high = result.range
    assert 0 <= low == result.score <= high <= 100
    assert (result.status == "complete") == (low == high)
    assert (result.status == "complete") == all(m.status != "missing" for m in result.measures)
    for row in result.measures:
        if row.status != "missing":
            assert row.points is not None
            assert 0 <= row.points <= TABLES.max_points(row.measure)
            # Worsening is known whenever there is a follow-up value (a normal enzyme baseline
            # scores 0 even without one, and then whether it worsened is unknown).
            assert (row.worsened is not None) == (row.followup is not None)
            if row.worsened:
                assert row.points == 0
    assert result.score == sum(m.points or 0 for m in result.measures)


@st.composite
def improvement(draw: st.DrawFn) -> tuple[list[MeasureInput], int, MeasureInput]:
    """A record, the index of one complete measure in it, and that measure with a better follow-up."""
    index = draw(st.integers(0, len(MEASURES) - 1))
    measure = MEASURES[index]
    measures = [draw(measure_input(m, complete=(i == index))) for i, m in enumerate(MEASURES)]
    target = measures[index]
    assert target.followup is not None
    f = target.followup
    if measure == "mmt":
        better = float(draw(st.integers(int(f), 80)))
    elif measure == "haq":
        better = draw(st.integers(0, round(f / 0.125))) * 0.125
    elif measure == "enzyme":
        better = draw(st.floats(0, f, allow_nan=False))
    else:
        better = draw(st.integers(0, round(f * 10))) / 10
    improved = MeasureInput(measure=measure, baseline=target.baseline, followup=better, scale=target.scale)
    return measures, index, improved


@given(improvement(), populations, methods)
def test_improving_one_follow_up_never_lowers_the_score(
    case: tuple[list[MeasureInput], int, MeasureInput], population: Population | None, method: str
) -> None:
    measures, index, improved = case
    before = score(measures, population, method)
    after = score([*measures[:index], improved, *measures[index + 1:]], population, method)
    assert before.status == after.status
    if before.score is None:
        assert after.score is None
        return
    assert after.score is not None
    assert after.score >= before.score
    before_points = before.measures[index].points
    after_points = after.measures[index].points
    if before_points is not None:
        assert after_points is not None
        assert after_points >= before_points


@st.composite
def completion(draw: st.DrawFn) -> tuple[list[MeasureInput], list[MeasureInput]]:
    """A record and the same record with its missing measures filled in."""
    measures = draw(records())
    filled = []
    for m in measures:
        if m.baseline is not None and m.followup is not None:
            filled.append(m)
            continue
        drawn = draw(measure_input(m.measure, complete=True))
        known_baseline = m.baseline is not None  # a recorded value is kept, not redrawn
        filled.append(MeasureInput(
            measure=m.measure,
            baseline=m.baseline if known_baseline else drawn.baseline,
            followup=m.followup if m.followup is not None else drawn.followup,
            scale=m.scale if known_baseline else drawn.scale,
        ))
    return measures, filled


@given(completion(), populations, methods)
def test_filling_in_missing_measures_stays_within_the_range(
    case: tuple[list[MeasureInput], list[MeasureInput]], population: Population | None, method: str
) -> None:
    measures, filled = case
    partial = score(measures, population, method)
    full = score(filled, population, method)
    if partial.range is None or full.range is None:
        return
    assert partial.score is not None
    assert full.score is not None
    low, high = partial.range
    assert high >= partial.score
    assert low <= full.score <= high
    assert low <= full.range[0] <= full.range[1] <= high
    if partial.category is not None and full.status == "complete":
        if population is None:
            for p in ("adult", "juvenile"):
                assert categorise(full.score, TABLES.thresholds(p)) == partial.category
        else:
            assert full.category == partial.category


percents = st.one_of(
    st.decimals(min_value=-200, max_value=200, places=6, allow_nan=False, allow_infinity=False),
    st.sampled_from([*TABLES.band_edges, *TABLES.mmt_band_edges]).flatmap(
        lambda e: st.sampled_from([e - Decimal("1e-12"), e, e + Decimal("1e-12")])
    ),
)


@given(st.sampled_from(MEASURES), percents, percents)
def test_band_points_are_non_decreasing_in_percent(measure: str, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    edges = TABLES.mmt_band_edges if measure == "mmt" else TABLES.band_edges
    points = TABLES.points[measure]
    assert band_points(low, edges, points) <= band_points(high, edges, points)
    assert min(points) <= band_points(low, edges, points) <= max(points)
