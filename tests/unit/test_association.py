"""Titer against CK and strength (clinical-reference §6.3, §8): Spearman per patient, mixed model."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params, make_params
from myositis_cds.engine import EngineParams, Timeline, build_timeline
from myositis_cds.stats.association import (
    MIN_PAIRS_FOR_INFERENCE,
    cohort_titer_model,
    fit_random_intercept,
    pair_titers,
    spearman,
    titer_association,
)
from myositis_cds.stats.trends import TrendPoint
from tests.conftest import TODAY, load_example

D = dt.date.fromisoformat
START = D("2020-01-06")


def point(day: int, value: float, source: str = "") -> TrendPoint:
    return TrendPoint(date=START + dt.timedelta(days=day), day=day, value=value,
                      source=source or f"$.x[{day}]")


def timeline_of(data: dict[str, Any], params: EngineParams | None = None) -> Timeline:
    return build_timeline(parse_record(data, today=TODAY), TODAY, params or default_params())


def record(patient: str, visits: list[tuple[int, float | None, float | None, float | None]], *,
           ck_offset: int = 0) -> dict[str, Any]:
    """A record with, per visit (day, titer, CK × ULN, MMT-8), the titer, CK and MMT-8 on that day."""
    antibodies, labs, assessments = [], [], []
    for day, titer, ck, mmt8 in visits:
        date = (START + dt.timedelta(days=day)).isoformat()
        if titer is not None:
            antibodies.append({"target": "Mi-2", "result": "positive" if titer >= 20 else "negative",
                               "date": date, "titer": titer, "unit": "U/mL", "cutoff": 20.0})
        if ck is not None:
            ck_date = (START + dt.timedelta(days=day + ck_offset)).isoformat()
            labs.append({"test": "CK", "value": ck * 200, "unit": "U/L", "uln": 200, "date": ck_date})
        if mmt8 is not None:
            assessments.append({"date": date, "mmt8": mmt8, "mmt8_max": 80})
    return {"format": "myositis-cds/patient-record@1", "id": patient,
            "diagnosis": {"name": "dermatomyositis", "date": START.isoformat()},
            "antibodies": antibodies, "labs": labs, "assessments": assessments}


# -- Spearman -------------------------------------------------------------------------------------

def test_perfectly_monotone_series_has_rho_one() -> None:
    result = spearman([1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 25.0, 80.0, 81.0])
    assert result.rho == pytest.approx(1.0)
    assert result.n == 5
    assert result.p_value is not None
    assert result.descriptive_only is True
    assert any("descriptive only" in c for c in result.caveats)


def test_perfectly_inverse_series_has_rho_minus_one() -> None:
    result = spearman([1.0, 2.0, 3.0, 4.0], [9.0, 7.0, 3.0, 1.0])
    assert result.rho == pytest.approx(-1.0)


def test_known_rho_from_ranks() -> None:
    # ranks x 1..5, y 2,1,4,3,5: sum d² = 4, rho = 1 - 6*4 / (5*24) = 0.8
    result = spearman([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 5.0])
    assert result.rho == pytest.approx(0.8)


def test_ten_pairs_are_not_flagged_descriptive_only() -> None:
    n = MIN_PAIRS_FOR_INFERENCE
    result = spearman([float(i) for i in range(n)], [float(i * i) for i in range(n)])
    assert result.descriptive_only is False
    assert result.p_value is not None
    assert result.p_value < 0.001
    assert any("not independent" in c for c in result.caveats)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_fewer_than_three_pairs_give_no_rho_and_no_p_value(n: int) -> None:
    result = spearman([float(i) for i in range(n)], [float(i) for i in range(n)])
    assert result.rho is None
    assert result.p_value is None
    assert result.descriptive_only is True
    assert any("fewer than 3" in c for c in result.caveats)


def test_constant_variable_gives_no_rho_and_no_warning() -> None:
    result = spearman([1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0])
    assert result.rho is None
    assert result.p_value is None
    assert any("constant" in c for c in result.caveats)


# -- pairing --------------------------------------------------------------------------------------

def test_each_titer_pairs_with_the_closest_measurement_within_the_window() -> None:
    titers = [point(0, 50.0), point(100, 30.0), point(200, 10.0)]
    measurements = [point(-20, 1.0), point(10, 2.0), point(12, 3.0), point(114, 4.0), point(215, 5.0)]
    pairs, unpaired = pair_titers(titers, measurements, window_days=14)
    assert [(p.titer, p.value, p.days_apart) for p in pairs] == [(50.0, 2.0, 10), (30.0, 4.0, 14)]
    assert [u.date for u in unpaired] == [START + dt.timedelta(days=200)]
    assert "±14 days" in unpaired[0].reason


def test_pairing_window_is_respected() -> None:
    titers = [point(0, 50.0)]
    measurements = [point(15, 2.0)]
    assert pair_titers(titers, measurements, window_days=14)[0] == ()
    assert len(pair_titers(titers, measurements, window_days=15)[0]) == 1


def test_equally_far_measurements_pair_with_the_earlier_one() -> None:
    pairs, _ = pair_titers([point(50, 50.0)], [point(55, 2.0), point(45, 1.0)], window_days=14)
    assert pairs[0].value == 1.0
    assert pairs[0].days_apart == -5


def test_patient_association_uses_the_settings_window() -> None:
    visits: list[tuple[int, float | None, float | None, float | None]] = [
        (0, 90.0, 30.0, 50.0), (90, 60.0, 10.0, 60.0), (180, 40.0, 4.0, 70.0),
        (270, 25.0, 2.0, 75.0), (360, 15.0, 1.0, 78.0)]
    data = record("window", visits, ck_offset=10)  # every CK 10 days after its titer
    result = titer_association(timeline_of(data), default_params())
    assert result.window_days == 14
    assert result.window_setting == "lab_visit_window_days"
    assert any("±14 days" in n and "lab_visit_window_days" in n for n in result.notes)
    assert result.ck.n == 5
    assert result.ck.rho == pytest.approx(1.0)
    assert result.mmt8.rho == pytest.approx(-1.0)
    assert result.ck.descriptive_only is True
    narrow = make_params(overrides={"lab_visit_window_days": 7})
    result = titer_association(timeline_of(data, narrow), narrow)
    assert result.window_days == 7
    assert result.ck.n == 0
    assert len(result.ck.unpaired) == 5
    assert result.ck.rho is None
    assert result.ck.p_value is None
    assert result.mmt8.n == 5  # MMT-8 is on the titer's day


def test_drug_free_remission_example_association() -> None:
    result = titer_association(timeline_of(load_example("drug-free-remission")), default_params())
    # The 2021-09-27 titer pairs with the 2021-10-04 CK and visit (7 days); the others are same-day.
    assert result.ck.n == 6
    assert result.ck.rho == pytest.approx(1.0)
    assert result.mmt8.n == 6
    assert result.mmt8.rho is not None
    assert result.mmt8.rho < -0.9
    assert result.ck.descriptive_only is True
    assert result.titer_unit == "U/mL"
    document = result.to_dict()
    json.dumps(document)
    assert document["ck"]["pairs"][0]["days_apart"] == 7


# -- mixed model ----------------------------------------------------------------------------------

def synthetic_cohort(seed: int = 2019, patients: int = 30, visits: int = 6) -> list[dict[str, Any]]:
    """log(CK × ULN) = 0.5 + 0.02 × titer + u_i + e; MMT-8 = 76 − 0.1 × titer + v_i + e."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(patients):
        u, v = rng.normal(0, 0.5), rng.normal(0, 2.0)
        rows: list[tuple[int, float | None, float | None, float | None]] = []
        for j in range(visits):
            titer = float(rng.uniform(5, 150))
            ck = float(np.exp(0.5 + 0.02 * titer + u + rng.normal(0, 0.3)))
            mmt8 = float(np.clip(76 - 0.1 * titer + v + rng.normal(0, 1.5), 0, 80))
            rows.append((j * 60, round(titer, 3), ck, round(mmt8, 3)))
        records.append(record(f"synthetic-{i:02d}", rows))
    return records


def test_mixed_model_recovers_the_known_slope() -> None:
    params = default_params()
    timelines = [timeline_of(r) for r in synthetic_cohort()]
    result = cohort_titer_model(timelines, params)
    assert result.patients == 30
    assert result.titer_unit == "U/mL"
    ck = result.ck
    assert ck.status == "fitted"
    assert ck.n_observations == 180
    assert ck.n_patients == 30
    slope = ck.coefficient("titer")
    assert slope.ci_low is not None
    assert slope.ci_high is not None
    assert slope.ci_low <= 0.02 <= slope.ci_high
    assert slope.estimate == pytest.approx(0.02, abs=0.003)
    assert slope.p_value is not None
    assert slope.p_value < 0.001
    assert ck.group_variance is not None
    assert ck.group_variance > 0
    mmt8 = result.mmt8
    assert mmt8.status == "fitted"
    strength = mmt8.coefficient("titer")
    assert strength.ci_low is not None
    assert strength.ci_high is not None
    assert strength.ci_low <= -0.1 <= strength.ci_high
    json.dumps(result.to_dict())


def test_convergence_warnings_are_captured_not_raised() -> None:
    # No patient effect at all: the random-intercept variance is estimated on the boundary (0),
    # for which statsmodels warns. The suite turns warnings into errors; the fit must not.
    rng = np.random.default_rng(7)
    groups = [f"p{i}" for i in range(20) for _ in range(5)]
    titer = [float(t) for t in rng.uniform(5, 150, size=100)]
    outcome = [0.01 * t + float(rng.normal(0, 0.2)) for t in titer]
    fit = fit_random_intercept(outcome, titer, groups, outcome_name="y", formula="y ~ titer")
    assert fit.status == "fitted"
    assert fit.warnings
    assert any("ConvergenceWarning" in w for w in fit.warnings)
    assert fit.coefficient("titer").estimate == pytest.approx(0.01, abs=0.002)


def test_too_few_patients_is_not_fitted_with_a_reason() -> None:
    fit = fit_random_intercept([1.0, 2.0, 3.0], [10.0, 20.0, 30.0], ["a", "a", "a"],
                               outcome_name="y", formula="y ~ titer")
    assert fit.status == "not_fitted"
    assert fit.reason is not None
    assert "2 patients" in fit.reason
    assert fit.coefficients == ()


def test_cohort_lists_patients_without_titers_and_other_units() -> None:
    cohort = synthetic_cohort(patients=4, visits=4)
    cohort[0]["antibodies"] = []
    for antibody in cohort[1]["antibodies"]:
        antibody["unit"] = "AU"
    result = cohort_titer_model([timeline_of(r) for r in cohort], default_params())
    assert result.patients == 2
    assert any(e.startswith("synthetic-00") and "no numeric" in e for e in result.excluded)
    assert any(e.startswith("synthetic-01") and "AU" in e for e in result.excluded)
    assert result.ck.n_observations == 8
