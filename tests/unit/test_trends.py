"""LOWESS trends (clinical-reference §6.3): the smoother on known data, and the three patient series."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import Timeline, build_timeline
from myositis_cds.stats.trends import (
    DEFAULT_FRAC,
    MIN_DISTINCT_TIMES,
    LowessCurve,
    NoCurve,
    lowess_curve,
    lowess_fit,
    patient_trends,
)
from tests.conftest import TODAY, load_example

D = dt.date.fromisoformat


def timeline_of(data: dict[str, Any], as_of: dt.date = TODAY) -> Timeline:
    return build_timeline(parse_record(data, today=TODAY), as_of, default_params())


# -- the smoother ---------------------------------------------------------------------------------

def test_a_straight_line_stays_straight() -> None:
    days = [0.0, 30.0, 45.0, 90.0, 200.0, 365.0, 400.0, 730.0]
    values = [5.0 - 0.01 * d for d in days]
    curve = lowess_curve(days, values)
    assert curve is not None
    assert curve.days == tuple(days)
    assert curve.values == pytest.approx(values, abs=1e-9)
    assert curve.frac == DEFAULT_FRAC
    assert curve.n_points == len(days)


def test_curve_is_in_time_order_whatever_the_input_order() -> None:
    curve = lowess_curve([30.0, 0.0, 10.0, 20.0], [4.0, 1.0, 2.0, 3.0])
    assert curve is not None
    assert curve.days == (0.0, 10.0, 20.0, 30.0)
    assert curve.values == pytest.approx((1.0, 2.0, 3.0, 4.0))


def test_smooths_towards_the_trend_not_through_an_outlier() -> None:
    days = [float(d) for d in range(0, 200, 20)]
    values = [10.0] * len(days)
    values[5] = 40.0  # one aberrant value: the robust LOWESS line stays near 10
    curve = lowess_curve(days, values)
    assert curve is not None
    assert max(curve.values) < 15


@pytest.mark.parametrize(("days", "values"), [
    ([], []),
    ([0.0], [1.0]),
    ([0.0, 10.0], [1.0, 2.0]),
    ([0.0, 0.0, 10.0, 10.0], [1.0, 2.0, 3.0, 4.0]),  # 4 points but only 2 distinct dates
])
def test_fewer_than_three_distinct_dates_give_no_curve_and_a_reason(
        days: list[float], values: list[float]) -> None:
    assert lowess_curve(days, values) is None
    fit = lowess_fit(days, values)
    assert isinstance(fit, NoCurve)
    assert "no measurement" in fit.reason or f"fewer than {MIN_DISTINCT_TIMES} distinct" in fit.reason


def test_three_distinct_dates_are_enough() -> None:
    assert isinstance(lowess_fit([0.0, 5.0, 10.0], [3.0, 1.0, 2.0]), LowessCurve)


def test_same_day_measurements_do_not_break_the_fit() -> None:
    # Two results on day 0 with the default share of points would leave a local fit with no
    # spread in time: frac is raised so that every local fit spans two dates.
    fit = lowess_fit([0.0, 0.0, 20.0, 30.0], [1.0, 5.0, 3.0, 4.0])
    assert isinstance(fit, LowessCurve)
    assert fit.frac_used > fit.frac
    assert fit.days == (0.0, 20.0, 30.0)


@pytest.mark.parametrize(("days", "values", "frac", "message"), [
    ([0.0, 1.0], [1.0], None, "same number"),
    ([0.0, 1.0, 2.0], [1.0, float("nan"), 2.0], None, "finite"),
    ([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], 0.0, "(0, 1]"),
    ([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], 1.5, "(0, 1]"),
])
def test_bad_input_is_refused(days: list[float], values: list[float], frac: float | None,
                              message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lowess_fit(days, values, frac=frac)


# -- the patient's series -------------------------------------------------------------------------

def test_drug_free_remission_series_from_the_example() -> None:
    timeline = timeline_of(load_example("drug-free-remission"))
    trends = patient_trends(timeline, diagnosis_date=D("2021-10-04"))
    assert trends.x_axis == "days_since_diagnosis"
    assert trends.origin == D("2021-10-04")
    assert "2021-10-04" in trends.x_description
    ck, mmt8, titer = trends.series
    assert [p.value for p in ck.points] == pytest.approx([7200 / 190, 640 / 190, 210 / 190, 165 / 190,
                                                           150 / 190, 128 / 190, 120 / 190, 118 / 190])
    assert ck.points[0].day == 0
    assert ck.points[0].source == "$.labs[0]"
    assert ck.smoothed_on == "log10"
    assert ck.unit == "× ULN"
    assert ck.curve is not None
    assert len(ck.curve.values) == 8
    assert mmt8.maximum == 80
    assert mmt8.unit == "points of 80"
    assert [p.value for p in mmt8.points] == [54, 66, 74, 78, 79, 80, 80, 80]
    assert mmt8.points[0].source == "$.assessments[0].mmt8"
    assert titer.unit == "U/mL"
    assert titer.cutoff == 20
    assert [p.value for p in titer.points] == [92, 61, 34, 23, 14, 9]
    assert titer.points[0].day == -7  # measured a week before the diagnosis
    assert titer.curve is not None
    assert {e.kind: e.date for e in trends.events} == {
        "titer_normalised": D("2025-05-12"), "drug_free_since": D("2024-07-01")}
    document = trends.to_dict()
    json.dumps(document)
    assert document["titer"]["points"][0] == {"date": "2021-09-27", "day": -7, "value": 92.0,
                                               "source": "$.antibodies[0]"}


def test_without_a_diagnosis_date_day_zero_is_the_first_measurement() -> None:
    timeline = timeline_of(load_example("drug-free-remission"))
    trends = patient_trends(timeline)
    assert trends.x_axis == "days_since_first_point"
    assert trends.origin == D("2021-09-27")
    assert trends.titer.points[0].day == 0


def test_result_only_titers_are_counted_not_dropped() -> None:
    timeline = timeline_of(load_example("incomplete-data"))
    trends = patient_trends(timeline)
    assert trends.titer.points == ()
    assert len(trends.titer.omitted) == 1
    assert "no numeric titer" in trends.titer.omitted[0].reason
    assert trends.titer.curve is None
    assert trends.titer.curve_note is not None
    assert trends.ck.curve_note is not None
    assert "fewer than 3" in trends.ck.curve_note


def test_titers_in_another_unit_are_left_out_with_the_reason() -> None:
    data = copy.deepcopy(load_example("drug-free-remission"))
    data["antibodies"][0]["unit"] = "AU"
    trends = patient_trends(timeline_of(data))
    assert len(trends.titer.points) == 5
    assert [o.source for o in trends.titer.omitted] == ["$.antibodies[0]"]
    assert "not comparable" in trends.titer.omitted[0].reason


def test_mmt8_on_different_scales_is_shown_as_percent_of_maximum() -> None:
    data = copy.deepcopy(load_example("drug-free-remission"))
    data["assessments"][0]["mmt8"] = 108
    data["assessments"][0]["mmt8_max"] = 150
    mmt8 = patient_trends(timeline_of(data)).mmt8
    assert mmt8.unit == "% of maximum"
    assert mmt8.maximum == 100
    assert mmt8.points[0].value == pytest.approx(72.0)
    assert mmt8.points[1].value == pytest.approx(66 / 80 * 100)
    assert any("different maxima" in n for n in mmt8.notes)


def test_nothing_after_the_as_of_date_is_used() -> None:
    timeline = timeline_of(load_example("drug-free-remission"), as_of=D("2023-01-01"))
    trends = patient_trends(timeline, diagnosis_date=D("2021-10-04"))
    assert all(p.date <= D("2023-01-01") for s in trends.series for p in s.points)
    assert len(trends.titer.points) == 2
    assert trends.events == ()
