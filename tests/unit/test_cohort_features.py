"""Record → cohort features (groups, onset/ever, CK, MMT-8, titer course) and the synthetic cohort."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from myositis_cds import bootstrap
from myositis_cds.engine import PatientContext, build_timeline
from myositis_cds.stats.cohort_features import (
    GROUP_AS,
    GROUP_MI2_NEGATIVE,
    GROUP_MI2_POSITIVE,
    CohortPatient,
    derive_patient,
    features_columns,
)
from myositis_cds.stats.cohort_longitudinal import group_curves, titer_course_summary
from myositis_cds.stats.synthetic_cohort import PF2019_GROUP_SIZES, scaled_sizes, synthesize

TODAY = dt.date(2026, 11, 21)


def _derive(document: dict[str, Any]) -> CohortPatient:
    record = bootstrap.make_parser(TODAY)({"format": "myositis-cds/patient-record@1", **document},
                                          prefix="$", source="test")
    params = bootstrap.default_params()
    return derive_patient(PatientContext(record, TODAY), build_timeline(record, TODAY, params), params)


def _mi2(result: str, date: str = "2020-01-05", **extra: Any) -> dict[str, Any]:
    return {"target": "Mi-2", "result": result, "date": date, **extra}


@pytest.mark.parametrize(("diagnosis", "antibodies", "group"), [
    ("dermatomyositis", [_mi2("negative"), _mi2("positive", "2021-01-01")], GROUP_MI2_POSITIVE),
    ("juvenile_dermatomyositis", [_mi2("negative")], GROUP_MI2_NEGATIVE),
    ("dermatomyositis", [], None),
    ("dermatomyositis", [_mi2("borderline")], None),
    ("antisynthetase_syndrome", [], GROUP_AS),
    ("polymyositis", [_mi2("positive")], None),
])
def test_groups(diagnosis: str, antibodies: list[dict[str, Any]], group: str | None) -> None:
    patient = _derive({"id": "x", "diagnosis": {"name": diagnosis, "date": "2020-01-10"},
                       "antibodies": antibodies})
    assert patient.group == group
    assert patient.group_reason


def test_onset_ever_ck_mmt8_and_course() -> None:
    patient = _derive({
        "id": "p", "birth_date": "1970-06-01",
        "diagnosis": {"name": "dermatomyositis", "date": "2020-01-10"},
        "antibodies": [_mi2("positive", "2020-01-10", titer=100, unit="U/mL", cutoff=20),
                       _mi2("positive", "2022-01-10", titer=50, unit="U/mL", cutoff=20),
                       _mi2("negative", "2024-03-01", titer=10, unit="U/mL", cutoff=20)],
        "findings": [{"code": "proximal_weakness", "present": False, "date": "2020-01-12"},
                     {"code": "proximal_weakness", "present": True, "date": "2020-06-01"},
                     {"code": "calcinosis", "present": True, "date": "2020-01-20"},
                     {"code": "calcinosis", "present": False, "date": "2023-01-01"},
                     {"code": "fever", "present": False, "date": "2021-01-01"}],
        "labs": [{"test": "CK", "value": 4000, "unit": "U/L", "uln": 200, "date": "2020-01-15"},
                 {"test": "CK", "value": 6000, "unit": "U/L", "uln": 200, "date": "2020-03-01"},
                 {"test": "CK", "value": 150, "unit": "U/L", "date": "2020-04-01"}],
        "assessments": [{"date": "2020-01-10", "mmt8": 60}, {"date": "2020-06-01", "mmt8": 50},
                        {"date": "2024-03-01", "mmt8": 78}],
        "treatments": [{"drug": "prednisone", "start": "2020-01-11", "stop": "2022-12-31"},
                       {"drug": "methotrexate", "start": "2023-06-01", "stop": "2024-01-31"}],
    })
    f = patient.features
    assert f["age_at_diagnosis"] == 49
    assert f["follow_up_years"] == round((dt.date(2024, 3, 1) - dt.date(2020, 1, 10)).days / 365.25, 2)
    assert (f["weakness_onset"], f["weakness_ever"]) == (False, True)
    assert (f["calcinosis_onset"], f["calcinosis_ever"]) == (True, True)  # 20 Jan: within 14 days
    assert (f["fever_onset"], f["fever_ever"]) == (None, False)
    assert (f["ild_onset"], f["ild_ever"]) == (None, None)
    assert f["ck_onset_x_uln"] == 20.0
    assert f["ck_peak_x_uln"] == 30.0
    assert (f["mmt8_onset_pct"], f["mmt8_lowest_pct"]) == (75.0, 62.5)
    assert patient.ck == ((5, 20.0), (51, 30.0))
    course = patient.titer_course
    assert course is not None
    assert (course.n_titers, course.years_followed, course.first, course.last) == (3, 4, 100.0, 10.0)
    assert (course.declined, course.normalised) == (True, True)
    assert (course.stopped_treatment, course.restarted_after_stopping) == (True, True)
    s = titer_course_summary([patient])
    assert (s.followed, s.declined, s.normalised, s.normalised_and_stopped_treatment,
            s.normalised_stopped_and_restarted) == (1, 1, 1, 1, 1)
    columns = features_columns([patient])
    assert columns["patient"] == ["p"]
    assert columns["group"] == [GROUP_MI2_POSITIVE]


def test_scaled_sizes() -> None:
    assert scaled_sizes(533) == PF2019_GROUP_SIZES
    assert scaled_sizes(100) == {GROUP_MI2_POSITIVE: 11, GROUP_MI2_NEGATIVE: 27, GROUP_AS: 30, "IMNM": 32}
    with pytest.raises(ValueError, match="--n: got 3"):
        scaled_sizes(3)


def test_synthetic_cohort_reproduces_pf2019_counts() -> None:
    documents = synthesize(533, seed=7, today=TODAY)
    assert len(documents) == 533
    assert all(d["id"].startswith("synthetic-") for d in documents)
    assert synthesize(533, seed=7, today=TODAY) == documents
    patients = [_derive(d) for d in documents]
    by_group = {g: [p for p in patients if p.group == g] for g in PF2019_GROUP_SIZES}
    assert {g: len(v) for g, v in by_group.items()} == PF2019_GROUP_SIZES

    def count(group: str, feature: str) -> tuple[int, int]:
        values = [p.features[feature] for p in by_group[group] if p.features[feature] is not None]
        return sum(bool(v) for v in values), len(values)

    assert count(GROUP_MI2_POSITIVE, "calcinosis_ever") == (5, 58)
    assert count(GROUP_MI2_NEGATIVE, "calcinosis_ever") == (40, 143)
    assert count(GROUP_MI2_POSITIVE, "ild_ever") == (3, 58)
    assert count(GROUP_MI2_NEGATIVE, "ild_ever") == (23, 143)
    assert count(GROUP_MI2_POSITIVE, "fever_ever") == (4, 58)
    assert count(GROUP_MI2_NEGATIVE, "fever_ever") == (30, 143)
    assert count(GROUP_MI2_POSITIVE, "weakness_onset") == (35, 58)
    assert count(GROUP_MI2_POSITIVE, "weakness_ever") == (57, 58)
    assert count(GROUP_MI2_NEGATIVE, "weakness_ever") == (122, 143)
    assert count(GROUP_MI2_NEGATIVE, "weakness_onset") == (0, 0)  # not published: not generated
    assert count(GROUP_AS, "calcinosis_ever") == (0, 0)
    s = titer_course_summary(patients)
    assert (s.followed, s.declined, s.normalised, s.normalised_and_stopped_treatment,
            s.normalised_stopped_and_restarted) == (10, 10, 3, 2, 0)
    curves = group_curves(patients, "ck")
    assert [c.group for c in curves] == list(PF2019_GROUP_SIZES)
    assert all(c.curve is not None for c in curves)
