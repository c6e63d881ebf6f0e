"""2016 ACR/EULAR Total Improvement Score (clinical-reference §6.1) at every band edge.

Bands are open below and closed above: exactly 5 % scores 0 and exactly 15 % is in ">5–15". The
expected points below are copied from the §6.1 table, not from the knowledge pack, so that a wrong
pack value fails here. Several cases are chosen so that binary floating point would land on the
wrong side of an edge (e.g. 100 × (1.1 − 0.6) / 10 = 5.000000000000002 in floats): they prove the
percent change is computed in Decimal.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from myositis_cds.bootstrap import default_params
from myositis_cds.scores.tis import (
    MEASURES,
    MeasureInput,
    MeasureScore,
    Population,
    TisResult,
    TisTables,
    band_points,
    categorise,
    percent_change,
    total_improvement_score,
)

# §6.1, points per band: ≤5 % or worse, >5–15, >15–25, >25–40, >40 (MMT: ≤2, >2–10, >10–20, >20–30, >30).
REFERENCE_POINTS: dict[str, tuple[float, ...]] = {
    "physician_global": (0, 7.5, 15, 17.5, 20),
    "patient_global": (0, 2.5, 5, 7.5, 10),
    "haq": (0, 5, 7.5, 7.5, 10),
    "enzyme": (0, 2.5, 5, 7.5, 7.5),
    "extramuscular": (0, 7.5, 12.5, 15, 20),
    "mmt": (0, 10, 20, 27.5, 32.5),
}
VAS_MEASURES = ("physician_global", "patient_global", "extramuscular")
ADULT = (20.0, 40.0, 60.0)
JUVENILE = (30.0, 45.0, 70.0)
MMT_MAX = 80.0
CK_ULN = 200.0


def tables() -> TisTables:
    return default_params().tis_tables


def edges_for(measure: str) -> tuple[Decimal, ...]:
    t = tables()
    return t.mmt_band_edges if measure == "mmt" else t.band_edges


def points_via_band(measure: str, baseline: float, followup: float, *,
                    scale: float | None = None) -> tuple[Decimal, float]:
    change = percent_change(measure, baseline, followup, tables=tables(), scale=scale)
    assert change is not None
    return change, band_points(change, edges_for(measure), tables().points[measure])


def score_one(measure: str, baseline: float | None, followup: float | None, *,
              scale: float | None = None, population: Population | None = "adult",
              method: str = "absolute") -> tuple[TisResult, MeasureScore]:
    result = total_improvement_score(
        [MeasureInput(measure=measure, baseline=baseline, followup=followup, scale=scale)],
        tables=tables(), population=population, method=method,
    )
    (row,) = (m for m in result.measures if m.measure == measure)
    return result, row


def test_pack_tables_are_the_reference_table() -> None:
    t = tables()
    assert t.band_edges == (Decimal(5), Decimal(15), Decimal(25), Decimal(40))
    assert t.mmt_band_edges == (Decimal(2), Decimal(10), Decimal(20), Decimal(30))
    assert dict(t.points) == {k: tuple(float(p) for p in v) for k, v in REFERENCE_POINTS.items()}
    assert t.adult_thresholds == ADULT
    assert t.juvenile_thresholds == JUVENILE
    assert (t.vas_range, t.haq_range, t.maximum) == (Decimal(10), Decimal(3), 100.0)
    assert sum(t.max_points(m) for m in MEASURES) == t.maximum


# (baseline, follow-up, exact percent, band index). VAS range 10: 0.1 cm = 1 %.
VAS_CASES = [
    pytest.param(10.0, 10.0, "0", 0, id="no-change"),
    pytest.param(10.0, 9.5, "5", 0, id="exactly-5"),
    pytest.param(10.0, 9.4999, "5.001", 1, id="just-above-5"),
    pytest.param(10.0, 9.4, "6", 1, id="6"),
    pytest.param(10.0, 8.5, "15", 1, id="exactly-15"),
    pytest.param(10.0, 8.4999, "15.001", 2, id="just-above-15"),
    pytest.param(10.0, 7.5, "25", 2, id="exactly-25"),
    pytest.param(10.0, 7.4999, "25.001", 3, id="just-above-25"),
    pytest.param(10.0, 6.0, "40", 3, id="exactly-40"),
    pytest.param(10.0, 5.9999, "40.001", 4, id="just-above-40"),
    pytest.param(10.0, 0.0, "100", 4, id="to-zero"),
    # Floating point would put these on the wrong side (or on the edge only by luck).
    pytest.param(0.7, 0.2, "5", 0, id="float-0.7-0.2"),
    pytest.param(6.3, 5.8, "5", 0, id="float-6.3-5.8"),
    pytest.param(1.1, 0.6, "5", 0, id="float-1.1-0.6-crosses"),
    pytest.param(8.3, 7.8, "5", 0, id="float-8.3-7.8-crosses"),
    pytest.param(2.2, 0.7, "15", 1, id="float-2.2-0.7-crosses"),
    pytest.param(4.4, 1.9, "25", 2, id="float-4.4-1.9-crosses"),
    pytest.param(8.3, 4.3, "40", 3, id="float-8.3-4.3-crosses"),
]


@pytest.mark.parametrize("measure", VAS_MEASURES)
@pytest.mark.parametrize(("baseline", "followup", "percent", "band"), VAS_CASES)
def test_vas_band_edges(measure: str, baseline: float, followup: float, percent: str, band: int) -> None:
    change, points = points_via_band(measure, baseline, followup)
    assert change == Decimal(percent)
    assert points == REFERENCE_POINTS[measure][band]
    result, row = score_one(measure, baseline, followup)
    assert (row.status, row.points, row.worsened) == ("scored", points, False)
    assert row.percent_change == float(Decimal(percent))
    assert result.score == points


def test_floating_point_really_crosses_the_edges_used_above() -> None:
    # Guard that the "crosses" cases are meaningful: naive float arithmetic lands above the edge.
    assert 100 * (1.1 - 0.6) / 10 > 5
    assert 100 * (2.2 - 0.7) / 10 > 15
    assert 100 * (4.4 - 1.9) / 10 > 25
    assert 100 * (8.3 - 4.3) / 10 > 40
    assert 100 * (3.0 - 2.55) / 3 > 15
    assert 100 * (101.4 - 96.33) / 101.4 > 5


@pytest.mark.parametrize(
    ("edge", "band"), [("5", 0), ("15", 1), ("25", 2), ("40", 3)]
)
def test_band_points_just_above_each_edge(edge: str, band: int) -> None:
    t = tables()
    at = Decimal(edge)
    above = at + Decimal("1e-20")
    for measure in (*VAS_MEASURES, "haq", "enzyme"):
        assert band_points(at, t.band_edges, t.points[measure]) == REFERENCE_POINTS[measure][band]
        assert band_points(above, t.band_edges, t.points[measure]) == REFERENCE_POINTS[measure][band + 1]


@pytest.mark.parametrize(
    ("edge", "band"), [("2", 0), ("10", 1), ("20", 2), ("30", 3)]
)
def test_mmt_band_points_just_above_each_edge(edge: str, band: int) -> None:
    t = tables()
    at = Decimal(edge)
    assert band_points(at, t.mmt_band_edges, t.points["mmt"]) == REFERENCE_POINTS["mmt"][band]
    assert band_points(at + Decimal("1e-20"), t.mmt_band_edges, t.points["mmt"]) == (
        REFERENCE_POINTS["mmt"][band + 1]
    )


def test_band_points_below_the_first_edge_and_negative() -> None:
    t = tables()
    for percent in ("-100", "-0.1", "0", "4.999999999"):
        assert band_points(Decimal(percent), t.band_edges, t.points["physician_global"]) == 0


# MMT-8 out of 80: 2 % = 1.6 points, 10 % = 8, 20 % = 16, 30 % = 24.
MMT_CASES = [
    pytest.param(40.0, 40.0, "0", 0, id="no-change"),
    pytest.param(40.0, 41.0, "1.25", 0, id="1-point"),
    pytest.param(40.0, 41.6, "2", 0, id="exactly-2"),
    pytest.param(40.0, 41.6001, "2.000125", 1, id="just-above-2"),
    pytest.param(40.0, 42.0, "2.5", 1, id="2-points"),
    pytest.param(40.0, 48.0, "10", 1, id="exactly-10"),
    pytest.param(40.0, 49.0, "11.25", 2, id="just-above-10"),
    pytest.param(40.0, 56.0, "20", 2, id="exactly-20"),
    pytest.param(40.0, 57.0, "21.25", 3, id="just-above-20"),
    pytest.param(40.0, 64.0, "30", 3, id="exactly-30"),
    pytest.param(40.0, 65.0, "31.25", 4, id="just-above-30"),
    pytest.param(0.0, 80.0, "100", 4, id="0-to-80"),
    pytest.param(2.8, 4.4, "2", 0, id="float-2.8-4.4-crosses"),
    pytest.param(8.1, 16.1, "10", 1, id="float-8.1-16.1-crosses"),
    pytest.param(16.2, 32.2, "20", 2, id="float-16.2-32.2-crosses"),
    pytest.param(8.2, 32.2, "30", 3, id="float-8.2-32.2-crosses"),
]


@pytest.mark.parametrize(("baseline", "followup", "percent", "band"), MMT_CASES)
def test_mmt_band_edges(baseline: float, followup: float, percent: str, band: int) -> None:
    change, points = points_via_band("mmt", baseline, followup, scale=MMT_MAX)
    assert change == Decimal(percent)
    assert points == REFERENCE_POINTS["mmt"][band]
    _, row = score_one("mmt", baseline, followup, scale=MMT_MAX)
    assert (row.status, row.points, row.worsened) == ("scored", points, False)


def test_mmt_uses_the_recorded_maximum_and_needs_one() -> None:
    # 150-point MMT: 3 points of change = exactly 2 %.
    assert percent_change("mmt", 100, 103, tables=tables(), scale=150) == Decimal(2)
    assert percent_change("mmt", 100, 103, tables=tables(), scale=None) is None
    assert percent_change("mmt", 100, 103, tables=tables(), scale=0) is None
    _, row = score_one("mmt", 40, 50, scale=None)
    assert (row.status, row.points) == ("missing", None)
    assert row.reason is not None
    assert "no scale" in row.reason


# HAQ-DI on its 0–3 range: 0.15 = 5 %, 0.45 = 15 %, 0.75 = 25 %, 1.2 = 40 %.
HAQ_CASES = [
    pytest.param(3.0, 2.85, "5", 0, id="exactly-5"),
    pytest.param(2.0, 1.8, None, 1, id="0.2-is-6.67"),
    pytest.param(3.0, 2.55, "15", 1, id="exactly-15-float-crosses"),
    pytest.param(1.375, 0.925, "15", 1, id="1.375-0.925-exactly-15"),
    pytest.param(1.375, 0.875, None, 2, id="0.5-is-16.67"),
    pytest.param(3.0, 2.25, "25", 2, id="exactly-25"),
    pytest.param(1.125, 0.375, "25", 2, id="1.125-0.375-exactly-25"),
    pytest.param(3.0, 2.125, None, 3, id="0.875-is-29.17"),
    pytest.param(3.0, 1.8, "40", 3, id="exactly-40"),
    pytest.param(3.0, 1.75, None, 4, id="1.25-is-41.67"),
    pytest.param(0.17, 0.02, "5", 0, id="float-0.17-0.02-crosses"),
    pytest.param(0.54, 0.09, "15", 1, id="float-0.54-0.09-crosses"),
    pytest.param(1.1, 0.35, "25", 2, id="float-1.1-0.35-crosses"),
    pytest.param(1.32, 0.12, "40", 3, id="float-1.32-0.12-crosses"),
]


@pytest.mark.parametrize(("baseline", "followup", "percent", "band"), HAQ_CASES)
def test_haq_band_edges(baseline: float, followup: float, percent: str | None, band: int) -> None:
    change, points = points_via_band("haq", baseline, followup)
    if percent is not None:
        assert change == Decimal(percent)
    assert points == REFERENCE_POINTS["haq"][band]
    _, row = score_one("haq", baseline, followup)
    assert (row.status, row.points, row.worsened) == ("scored", points, False)


def test_haq_1375_to_0925_is_exactly_15_in_decimal_not_in_float() -> None:
    assert 100 * (1.375 - 0.925) / 3 < 15  # float: 14.999999999999998
    assert percent_change("haq", 1.375, 0.925, tables=tables()) == Decimal(15)


# Enzyme: relative to its own baseline. CK with ULN 200, baseline 2000 (10 × ULN).
ENZYME_CASES = [
    pytest.param(2000.0, 1900.0, "5", 0, id="exactly-5"),
    pytest.param(2000.0, 1899.0, "5.05", 1, id="just-above-5"),
    pytest.param(2000.0, 1700.0, "15", 1, id="exactly-15"),
    pytest.param(2000.0, 1699.0, "15.05", 2, id="just-above-15"),
    pytest.param(2000.0, 1500.0, "25", 2, id="exactly-25"),
    pytest.param(2000.0, 1499.0, "25.05", 3, id="just-above-25"),
    pytest.param(2000.0, 1200.0, "40", 3, id="exactly-40"),
    pytest.param(2000.0, 1199.0, "40.05", 4, id="just-above-40"),
    pytest.param(2000.0, 100.0, "95", 4, id="normalised"),
    pytest.param(101.4, 96.33, "5", 0, id="float-101.4-96.33-crosses"),
    pytest.param(100.7, 85.595, "15", 1, id="float-100.7-85.595-crosses"),
    pytest.param(101.4, 76.05, "25", 2, id="float-101.4-76.05-crosses"),
    pytest.param(104.9, 62.94, "40", 3, id="float-104.9-62.94-crosses"),
]


@pytest.mark.parametrize(("baseline", "followup", "percent", "band"), ENZYME_CASES)
def test_enzyme_band_edges(baseline: float, followup: float, percent: str, band: int) -> None:
    uln = 50.0 if baseline < 200 else CK_ULN
    change, points = points_via_band("enzyme", baseline, followup)
    assert change == Decimal(percent)
    assert points == REFERENCE_POINTS["enzyme"][band]
    _, row = score_one("enzyme", baseline, followup, scale=uln)
    assert (row.status, row.points, row.worsened) == ("scored", points, False)


@pytest.mark.parametrize(
    ("baseline", "followup"), [(150.0, 100.0), (200.0, 100.0), (200.0, 250.0), (80.0, 20.0)]
)
def test_enzyme_with_normal_baseline_scores_zero(baseline: float, followup: float) -> None:
    result, row = score_one("enzyme", baseline, followup, scale=CK_ULN)
    assert row.status == "baseline_normal"
    assert row.points == 0
    assert row.reason is not None
    assert "baseline normal" in row.reason
    assert row.worsened == (followup > baseline)
    # A normal baseline is a result, not a gap: it does not widen the range.
    assert result.range is not None
    assert result.range[1] - result.range[0] == sum(
        tables().max_points(m) for m in MEASURES if m != "enzyme"
    )


def test_enzyme_just_above_uln_is_scored() -> None:
    _, row = score_one("enzyme", 200.5, 100.0, scale=CK_ULN)
    assert row.status == "scored"
    assert row.points == REFERENCE_POINTS["enzyme"][4]


def test_enzyme_baseline_zero_is_baseline_normal() -> None:
    _, row = score_one("enzyme", 0.0, 10.0, scale=CK_ULN)
    assert (row.status, row.points) == ("baseline_normal", 0.0)


# ---------------------------------------------------------------------------------------------
# Categories: adult 20/40/60, juvenile 30/45/70, each threshold inclusive.

@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        (ADULT, ["none", "minimal", "minimal", "moderate", "moderate", "major"]),
        (JUVENILE, ["none", "minimal", "minimal", "moderate", "moderate", "major"]),
    ],
    ids=["adult", "juvenile"],
)
def test_categorise_at_and_just_below_each_threshold(
    thresholds: tuple[float, float, float], expected: list[str]
) -> None:
    minimal, moderate, major = thresholds
    scores = [
        math.nextafter(minimal, 0), minimal,
        math.nextafter(moderate, 0), moderate,
        math.nextafter(major, 0), major,
    ]
    assert [categorise(s, thresholds) for s in scores] == expected
    # The points only come in steps of 2.5: one step below each edge.
    assert [categorise(s - 2.5, thresholds) for s in (minimal, moderate, major)] == [
        "none", "minimal", "moderate"
    ]
    assert categorise(0, thresholds) == "none"
    assert categorise(100, thresholds) == "major"


def test_pack_thresholds_give_the_same_categories() -> None:
    t = tables()
    for score, adult, juvenile in [
        (17.5, "none", "none"), (20, "minimal", "none"), (27.5, "minimal", "none"),
        (30, "minimal", "minimal"), (40, "moderate", "minimal"), (42.5, "moderate", "minimal"),
        (45, "moderate", "moderate"), (57.5, "moderate", "moderate"), (60, "major", "moderate"),
        (67.5, "major", "moderate"), (70, "major", "major"), (100, "major", "major"),
    ]:
        assert categorise(score, t.thresholds("adult")) == adult, score
        assert categorise(score, t.thresholds("juvenile")) == juvenile, score


# ---------------------------------------------------------------------------------------------
# Whole scores. Value pairs that fall in each band (index 0–4), away from the edges.

BAND_VALUES: dict[str, tuple[tuple[float, float], ...]] = {
    "physician_global": ((10, 10), (10, 9), (10, 8), (10, 7), (10, 5)),
    "patient_global": ((10, 10), (10, 9), (10, 8), (10, 7), (10, 5)),
    "extramuscular": ((10, 10), (10, 9), (10, 8), (10, 7), (10, 5)),
    "haq": ((3, 3), (3, 2.7), (3, 2.4), (3, 2.1), (3, 1.5)),
    "mmt": ((40, 40), (40, 44), (40, 52), (40, 60), (40, 70)),
    "enzyme": ((2000, 2000), (2000, 1800), (2000, 1600), (2000, 1400), (2000, 1000)),
}
SCALES: dict[str, float | None] = {"mmt": MMT_MAX, "enzyme": CK_ULN}


def inputs(**bands: int) -> list[MeasureInput]:
    """MeasureInputs with each named measure in the given band; measures not named are omitted."""
    out = []
    for measure, band in bands.items():
        baseline, followup = BAND_VALUES[measure][band]
        out.append(MeasureInput(measure=measure, baseline=baseline, followup=followup,
                                scale=SCALES.get(measure)))
    return out


def tis(measures: list[MeasureInput], population: Population | None = "adult",
        method: str = "absolute") -> TisResult:
    return total_improvement_score(measures, tables=tables(), population=population, method=method)


def test_complete_maximum_is_100_and_major() -> None:
    result = tis(inputs(physician_global=4, patient_global=4, mmt=4, haq=4, enzyme=4, extramuscular=4))
    assert (result.status, result.score, result.range, result.category) == (
        "complete", 100.0, (100.0, 100.0), "major"
    )
    assert [m.measure for m in result.measures] == list(MEASURES)


def test_complete_score_adds_the_band_points() -> None:
    result = tis(inputs(physician_global=2, patient_global=1, mmt=3, haq=2, enzyme=1, extramuscular=0))
    assert result.score == 15 + 2.5 + 27.5 + 7.5 + 2.5 + 0
    assert result.status == "complete"
    assert result.category == "moderate"
    assert result.range == (55.0, 55.0)


def test_worsening_scores_zero_and_is_flagged() -> None:
    measures = [
        MeasureInput(measure="physician_global", baseline=5, followup=7),
        MeasureInput(measure="patient_global", baseline=2, followup=9),
        MeasureInput(measure="haq", baseline=0.5, followup=2.5),
        MeasureInput(measure="mmt", baseline=70, followup=30, scale=MMT_MAX),
        MeasureInput(measure="enzyme", baseline=1000, followup=9000, scale=CK_ULN),
        MeasureInput(measure="extramuscular", baseline=1, followup=10),
    ]
    result = tis(measures)
    assert result.status == "complete"
    assert result.score == 0
    assert result.category == "none"
    for row in result.measures:
        assert row.worsened is True, row.measure
        assert row.points == 0, row.measure
        assert row.percent_change is not None
        assert row.percent_change < 0


def test_worsening_never_subtracts_from_other_measures() -> None:
    result = tis([
        *inputs(physician_global=4),
        MeasureInput(measure="patient_global", baseline=1, followup=10),
    ])
    rows = {m.measure: m for m in result.measures}
    assert rows["patient_global"].worsened is True
    assert rows["patient_global"].points == 0
    assert rows["physician_global"].worsened is False
    assert result.score == 20


def test_no_change_is_not_worsened() -> None:
    _, row = score_one("physician_global", 4, 4)
    assert (row.points, row.worsened, row.percent_change) == (0, False, 0.0)


def test_incomplete_range_adds_the_maximum_of_each_missing_measure() -> None:
    result = tis(inputs(physician_global=4, patient_global=4, haq=4))
    assert result.status == "incomplete"
    assert result.score == 40
    # Missing: MMT 32.5, enzyme 7.5, extramuscular 20.
    assert result.range == (40.0, 100.0)
    assert result.category is None  # moderate at 40, major at 100
    missing = {m.measure for m in result.measures if m.status == "missing"}
    assert missing == {"mmt", "enzyme", "extramuscular"}
    for row in result.measures:
        if row.status == "missing":
            assert (row.points, row.worsened, row.percent_change) == (None, None, None)
            assert row.reason == "baseline value not recorded"


def test_incomplete_category_when_the_whole_range_is_in_one_category() -> None:
    # Achieved 72.5; missing enzyme (7.5) and extramuscular (20): range [72.5, 100], major throughout.
    result = tis(inputs(physician_global=4, patient_global=4, mmt=4, haq=4))
    assert (result.status, result.score, result.range) == ("incomplete", 72.5, (72.5, 100.0))
    assert result.category == "major"
    # Low end: achieved 10, only the enzyme missing (7.5): [10, 17.5] is "none" for both populations.
    low = tis(inputs(physician_global=1, patient_global=1, mmt=0, haq=0, extramuscular=0))
    assert (low.score, low.range, low.category) == (10.0, (10.0, 17.5), "none")
    low_unknown = tis(inputs(physician_global=1, patient_global=1, mmt=0, haq=0, extramuscular=0),
                      population=None)
    assert low_unknown.category == "none"


def test_incomplete_range_reaching_a_threshold_has_no_category() -> None:
    # Achieved 12.5; enzyme missing: [12.5, 20] reaches adult minimal (20) → no category.
    result = tis(inputs(physician_global=1, patient_global=2, mmt=0, haq=0, extramuscular=0))
    assert (result.score, result.range, result.category) == (12.5, (12.5, 20.0), None)
    # The same range is wholly "none" for juvenile DM (minimal ≥ 30).
    juvenile = tis(inputs(physician_global=1, patient_global=2, mmt=0, haq=0, extramuscular=0),
                   population="juvenile")
    assert juvenile.category == "none"


def test_incomplete_mmt_missing_splits_populations() -> None:
    # Achieved 67.5 (all but MMT at maximum), range [67.5, 100].
    measures = inputs(physician_global=4, patient_global=4, haq=4, enzyme=4, extramuscular=4)
    assert tis(measures, "adult").category == "major"
    juvenile = tis(measures, "juvenile")
    assert (juvenile.score, juvenile.range, juvenile.category) == (67.5, (67.5, 100.0), None)
    assert tis(measures, None).category is None


def test_missing_reason_is_kept() -> None:
    result = tis([MeasureInput(measure="enzyme", baseline=500, followup=None, scale=CK_ULN,
                               missing_reason="no CK within 14 days of the follow-up visit"),
                  *inputs(physician_global=4)])
    rows = {m.measure: m for m in result.measures}
    assert rows["enzyme"].status == "missing"
    assert rows["enzyme"].reason == "no CK within 14 days of the follow-up visit"
    follow_missing = tis([MeasureInput(measure="haq", baseline=1, followup=None), *inputs(mmt=1)])
    assert {m.measure: m.reason for m in follow_missing.measures}["haq"] == "follow-up value not recorded"


def test_nothing_recorded_is_not_evaluable() -> None:
    for result in (tis([]), tis([MeasureInput(measure="haq", baseline=None, followup=1.0)])):
        assert result.status == "not_evaluable"
        assert (result.score, result.range, result.category) == (None, None, None)
        assert result.reason is not None


def test_unknown_measure_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown TIS measure"):
        tis([MeasureInput(measure="cmas", baseline=10, followup=20)])


@pytest.mark.parametrize(
    ("bands", "adult", "juvenile", "unknown"),
    [
        ({"physician_global": 4, "patient_global": 4, "extramuscular": 4},
         "moderate", "moderate", "moderate"),
        ({"physician_global": 4}, "minimal", "none", None),
        ({"physician_global": 4, "mmt": 4, "haq": 4}, "major", "moderate", None),
        ({"physician_global": 4, "mmt": 4, "haq": 4, "extramuscular": 1}, "major", "major", "major"),
        ({"physician_global": 1}, "none", "none", "none"),
        ({"physician_global": 4, "extramuscular": 1, "patient_global": 1}, "minimal", "minimal", "minimal"),
    ],
)
def test_population_unknown_needs_adult_and_juvenile_to_agree(
    bands: dict[str, int], adult: str, juvenile: str, unknown: str | None
) -> None:
    complete = dict.fromkeys(MEASURES, 0) | bands
    assert tis(inputs(**complete), "adult").category == adult
    assert tis(inputs(**complete), "juvenile").category == juvenile
    result = tis(inputs(**complete), None)
    assert result.category == unknown
    assert result.population is None


# ---------------------------------------------------------------------------------------------
# The `relative` method ([INTERP] setting tis_percent_change): every measure over its own baseline.

def test_relative_method_divides_by_baseline() -> None:
    t = tables()
    assert percent_change("physician_global", 4, 3, tables=t, method="relative") == Decimal(25)
    assert percent_change("physician_global", 4, 3, tables=t) == Decimal(10)
    assert percent_change("haq", 1.5, 1.2, tables=t, method="relative") == Decimal(20)
    assert percent_change("haq", 1.5, 1.2, tables=t) == Decimal(10)
    assert percent_change("mmt", 40, 48, tables=t, scale=MMT_MAX, method="relative") == Decimal(20)
    assert percent_change("mmt", 40, 48, tables=t, scale=MMT_MAX) == Decimal(10)
    # MMT needs no scale in the relative method.
    assert percent_change("mmt", 40, 48, tables=t, method="relative") == Decimal(20)
    # The enzyme is relative in both methods.
    assert percent_change("enzyme", 2000, 1500, tables=t, method="relative") == Decimal(25)
    assert percent_change("enzyme", 2000, 1500, tables=t) == Decimal(25)


def test_relative_method_scores() -> None:
    measures = [
        MeasureInput(measure="physician_global", baseline=4, followup=3),   # 25 % → 15
        MeasureInput(measure="patient_global", baseline=4, followup=3),     # 25 % → 5
        MeasureInput(measure="haq", baseline=1.5, followup=1.2),            # 20 % → 7.5
        MeasureInput(measure="mmt", baseline=40, followup=48, scale=MMT_MAX),  # 20 % → 20
        MeasureInput(measure="enzyme", baseline=2000, followup=1500, scale=CK_ULN),  # 25 % → 5
        MeasureInput(measure="extramuscular", baseline=2, followup=1.6),    # 20 % → 12.5
    ]
    relative = tis(measures, method="relative")
    assert relative.score == 15 + 5 + 7.5 + 20 + 5 + 12.5
    absolute = tis(measures)
    # Absolute: 10 % → 7.5, 10 % → 2.5, 10 % → 5, 10 % → 10, 25 % → 5, 4 % → 0.
    assert absolute.score == 7.5 + 2.5 + 5 + 10 + 5 + 0


@pytest.mark.parametrize("measure", [m for m in MEASURES if m != "enzyme"])
def test_relative_method_baseline_zero_is_missing(measure: str) -> None:
    """(An enzyme baseline of 0 is ≤ ULN: "baseline normal", tested above.)"""
    scale = SCALES.get(measure)
    other = "haq" if measure != "haq" else "mmt"
    result = tis([MeasureInput(measure=measure, baseline=0.0, followup=2.0, scale=scale),
                  *inputs(**{other: 4})], method="relative")
    row = next(m for m in result.measures if m.measure == measure)
    assert row.status == "missing"
    assert row.points is None
    assert row.reason == "percent change undefined (baseline 0 or no scale)"
    assert result.status == "incomplete"
    assert percent_change(measure, 0.0, 2.0, tables=tables(), scale=scale, method="relative") is None


def test_absolute_method_baseline_zero_is_scored_for_vas_haq_mmt() -> None:
    for measure in ("physician_global", "haq"):
        _, row = score_one(measure, 0.0, 0.0)
        assert (row.status, row.points, row.worsened) == ("scored", 0.0, False)
    _, row = score_one("mmt", 0.0, 8.0, scale=MMT_MAX)
    assert (row.status, row.points) == ("scored", 10.0)
