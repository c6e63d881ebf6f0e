"""patient-record@1 at the edge: conversion, aliases, and the error for every kind of bad value."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from myositis_cds.adapters.record_json import (
    LITERAL_VOCABULARIES,
    parse_record,
    record_json_schema,
)
from myositis_cds.bootstrap import make_params
from myositis_cds.domain import vocabulary as v
from myositis_cds.errors import RecordValidationError
from myositis_cds.knowledge import Plausibility
from tests.conftest import TODAY


def minimal(**extra: Any) -> dict[str, Any]:
    return {"format": "myositis-cds/patient-record@1", "id": "p1", **extra}


def errors_of(data: object) -> list[tuple[str, str]]:
    with pytest.raises(RecordValidationError) as caught:
        parse_record(data, today=TODAY)
    return [(e.path, e.expected) for e in caught.value.errors]


def test_minimal_record_is_accepted() -> None:
    record = parse_record(minimal(), today=TODAY)
    assert record.id == "p1"
    assert record.birth_date is None
    assert record.labs == ()


def test_imperial_units_are_converted_exactly() -> None:
    record = parse_record(minimal(body_measurements=[
        {"date": "2026-01-01", "weight_lb": 150, "height_in": 65}]), today=TODAY)
    measurement = record.body_measurements[0]
    assert measurement.weight_kg == 68.0388555
    assert measurement.height_cm == 165.1


def test_enzymes_in_microkatal_are_converted_with_their_uln() -> None:
    record = parse_record(minimal(labs=[
        {"test": "CK", "value": 70, "unit": "µkat/L", "uln": 3.3, "date": "2026-01-01"},
        {"test": "LDH", "value": 4.1, "unit": "ukat/L", "uln": 4.2, "date": "2026-01-01"},
        {"test": "CRP", "value": 12, "unit": "mg/L", "date": "2026-01-01"}]), today=TODAY)
    ck, ldh, crp = record.labs
    assert (ck.value, ck.uln, ck.unit, ck.original_unit) == (4200.0, 198.0, "U/L", "µkat/L")
    assert (ldh.value, ldh.uln) == (246.0, 252.0)
    assert (crp.value, crp.unit, crp.original_unit) == (12.0, "mg/L", None)


def test_antibody_aliases_are_canonical() -> None:
    record = parse_record(minimal(antibodies=[
        {"target": "Mi-2beta", "result": "positive", "date": "2026-01-01"},
        {"target": "TIF1γ", "result": "negative", "date": "2026-01-01"}]), today=TODAY)
    assert [a.target for a in record.antibodies] == ["Mi-2β", "TIF1-gamma"]


def test_elements_keep_their_source_index() -> None:
    record = parse_record(minimal(findings=[
        {"code": "fever", "present": False, "date": "2026-01-02"},
        {"code": "ild", "present": True, "date": "2026-01-01"}]), today=TODAY)
    assert [f.index for f in record.findings] == [0, 1]


@pytest.mark.parametrize(("data", "path", "expected"), [
    (minimal(id=""), "$.id", "at least 1 character"),
    (minimal(birth_date="1990-13-01"), "$.birth_date", "valid date"),
    (minimal(birth_date=19900101), "$.birth_date", "valid date"),
    (minimal(sex="F"), "$.sex", "'female'"),
    (minimal(diagnosis={"name": "dm"}), "$.diagnosis.name", "dermatomyositis"),
    (minimal(findings=[{"code": "fever", "present": "yes", "date": "2026-01-01"}]),
     "$.findings[0].present", "valid boolean"),
    (minimal(assessments=[{"date": "2026-01-01", "haq": 3.5}]), "$.assessments[0].haq",
     "less than or equal to 3"),
    (minimal(assessments=[{"date": "2026-01-01", "physician_global": 11}]),
     "$.assessments[0].physician_global", "less than or equal to 10"),
    (minimal(assessments=[{"date": "2026-01-01", "mmt8": 81}]), "$.assessments[0].mmt8",
     "between 0 and mmt8_max (80)"),
    (minimal(labs=[{"test": "CK", "value": 100, "unit": "IU/ml", "date": "2026-01-01"}]),
     "$.labs[0].unit", "a unit for CK: U/L, µkat/L"),
    (minimal(labs=[{"test": "CK", "value": 100, "unit": "U/L"}]), "$.labs[0].date",
     "required"),
    (minimal(treatments=[{"drug": "azathioprin", "start": "2026-01-01"}]),
     "$.treatments[0].drug", "a drug code (case-insensitive): "),
    (minimal(treatments=[{"drug": "other", "start": "2026-01-01"}]),
     "$.treatments[0].name", "required when drug is 'other'"),
    (minimal(treatments=[{"drug": "prednisone", "start": "2026-01-01", "frequency": "bd"}]),
     "$.treatments[0].frequency", "'daily'"),
    (minimal(body_measurements=[{"date": "2026-01-01"}]), "$.body_measurements[0]",
     "a weight"),
    (minimal(body_measurements=[{"date": "2026-01-01", "weight_kg": 70, "weight_lb": 154}]),
     "$.body_measurements[0].weight_lb", "not both"),
    (minimal(birth_date="2000-01-01", labs=[
        {"test": "CK", "value": 1, "unit": "U/L", "date": "1999-12-31"}]),
     "$.labs[0].date", "on or after birth_date"),
    (minimal(birth_date="2026-11-22"), "$.birth_date", "on or before today"),
    (minimal(investigations=[{"kind": "mri", "date": "2026-01-01"}]),
     "$.investigations[0].kind", "skin_exam"),
    (minimal(antibodies=[{"target": "Mi-2", "result": "positive", "date": "2026-01-01",
                          "cutoff": 0}]), "$.antibodies[0].cutoff", "greater than 0"),
])
def test_each_bad_value_is_named(data: dict[str, Any], path: str, expected: str) -> None:
    found = errors_of(data)
    assert any(p == path and expected in e for p, e in found), found


def test_not_an_object() -> None:
    assert errors_of([1, 2]) == [("$", "a JSON object (patient-record@1)")]


def test_batch_prefix_is_used_in_paths() -> None:
    with pytest.raises(RecordValidationError) as caught:
        parse_record(minimal(sex="F"), today=TODAY, prefix="$.records[4]")
    assert caught.value.errors[0].path == "$.records[4].sex"


def test_today_is_a_parameter_not_the_clock() -> None:
    data = minimal(birth_date="2030-01-01")
    parse_record(data, today=dt.date(2031, 1, 1))
    with pytest.raises(RecordValidationError):
        parse_record(data, today=dt.date(2029, 12, 31))


def test_literal_vocabularies_match_the_domain() -> None:
    assert set(LITERAL_VOCABULARIES["finding"]) == set(v.ALL_FINDINGS)
    assert set(LITERAL_VOCABULARIES["investigation"]) == set(v.INVESTIGATION_KINDS)
    assert set(LITERAL_VOCABULARIES["diagnosis"]) == set(v.DIAGNOSES)
    assert set(LITERAL_VOCABULARIES["frequency"]) == set(v.FREQUENCIES)
    assert set(LITERAL_VOCABULARIES["sex"]) == set(v.SEXES)
    assert set(LITERAL_VOCABULARIES["antibody"]) == set(v.ANTIBODY_TARGETS) | set(
        v.ANTIBODY_ALIASES)


def test_schema_declares_dates_and_forbids_unknown_keys() -> None:
    schema = record_json_schema()
    assert schema["properties"]["birth_date"]["anyOf"][0]["format"] == "date"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["id"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused_not_dropped(bad: float) -> None:
    data = minimal(body_measurements=[{"date": "2026-01-01", "weight_kg": bad, "height_cm": 170}])
    assert errors_of(data) == [("$.body_measurements[0].weight_kg", "a finite number")]


def test_nan_literal_in_raw_json_is_refused() -> None:
    raw = b'{"id": "p", "body_measurements": [{"date": "2026-01-01", "weight_kg": NaN}]}'
    with pytest.raises(RecordValidationError):
        parse_record(raw, today=TODAY)


GRADES = {"neck_flexors": 8, "deltoid": 7.5, "biceps": 9, "wrist_extensors": 10,
          "gluteus_maximus": 6, "gluteus_medius": 7, "quadriceps": 8, "ankle_dorsiflexors": 9}
HAQ = {"dressing_grooming": {"score": 1}, "arising": {"score": 1, "aid_or_help": True},
       "eating": {"score": 0}, "walking": {"score": 2}, "hygiene": {"score": 1},
       "reach": {"score": 1}, "grip": {"score": 0}, "activities": {"score": 2}}
# MMT-8: 8 + 7.5 + 9 + 10 + 6 + 7 + 8 + 9 = 64.5
# HAQ-DI: 1 + 2 (arising raised from 1 by the aid) + 0 + 2 + 1 + 1 + 0 + 2 = 9; 9 / 8 = 1.125


def test_instrument_answers_give_the_totals() -> None:
    record = parse_record(minimal(assessments=[
        {"date": "2026-01-01", "mmt8_grades": GRADES, "haq_answers": HAQ}]), today=TODAY)
    visit = record.assessments[0]
    assert (visit.mmt8, visit.mmt8_computed) == (64.5, True)
    assert (visit.haq, visit.haq_computed) == (1.125, True)
    assert visit.mmt8_grades is not None
    assert visit.mmt8_grades["deltoid"] == 7.5


def test_matching_totals_are_accepted_with_their_rounding() -> None:
    answers = {**HAQ, "grip": None}  # 7 answered: 9 / 7 = 1.2857...
    record = parse_record(minimal(assessments=[
        {"date": "2026-01-01", "mmt8": 64.5, "mmt8_grades": GRADES, "haq": 1.29,
         "haq_answers": answers}]), today=TODAY)
    assert record.assessments[0].haq == 1.29
    assert not record.assessments[0].haq_computed


@pytest.mark.parametrize(("visit", "path", "expected"), [
    ({"mmt8": 60, "mmt8_grades": GRADES}, "$.assessments[0].mmt8",
     "the total of mmt8_grades (64.5)"),
    ({"mmt8_max": 160, "mmt8_grades": GRADES}, "$.assessments[0].mmt8_max", "80"),
    ({"haq": 1.0, "haq_answers": HAQ}, "$.assessments[0].haq", "HAQ-DI of haq_answers (1.125"),
    ({"mmt8_grades": {**GRADES, "deltoid": 11}}, "$.assessments[0].mmt8_grades.deltoid",
     "less than or equal to 10"),
    ({"mmt8_grades": {k: v for k, v in GRADES.items() if k != "biceps"}},
     "$.assessments[0].mmt8_grades.biceps", "required"),
    ({"haq_answers": {**HAQ, "eating": {"score": 4}}},
     "$.assessments[0].haq_answers.eating.score", "less than or equal to 3"),
    ({"haq_answers": {**HAQ, "typing": {"score": 1}}},
     "$.assessments[0].haq_answers.typing", "allowed here: dressing_grooming"),
])
def test_instrument_conflicts_and_bad_answers(visit: dict[str, Any], path: str,
                                              expected: str) -> None:
    found = errors_of(minimal(assessments=[{"date": "2026-01-01", **visit}]))
    assert any(p == path and expected in e for p, e in found), found


def test_too_few_haq_answers_leave_haq_missing() -> None:
    answers = dict(list(HAQ.items())[:6])
    record = parse_record(minimal(assessments=[{"date": "2026-01-01", "haq_answers": answers}]),
                          today=TODAY)
    assert record.assessments[0].haq is None


@pytest.mark.parametrize("as_text", [False, True])
def test_nul_characters_are_refused_with_their_paths(as_text: bool) -> None:
    import json  # noqa: PLC0415

    document = minimal(labs=[{"test": "CK\x00", "value": 100, "unit": "U/L", "date": "2026-01-01"}],
                       name="A\x00B")
    data: object = json.dumps(document).encode() if as_text else document
    found = errors_of(data)
    nul = {p for p, e in found if e == "text without NUL characters"}
    assert nul == {"$.labs[0].test", "$.name"}, found


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    record = parse_record(b'{"format": "myositis-cds/patient-record@1", "id": "p\\\\u0000"}',
                          today=TODAY)
    assert record.id == "p\\u0000"


# ---------------------------------------------------------------------------------------------
# Pack 2026.2: closed drug vocabulary, plausibility ranges, new tests and kinds, errors at once.

@pytest.mark.parametrize(("written", "code"), [
    ("prednisone", "prednisone"), ("Prednisone", "prednisone"), ("  PREDNISOLONE ", "prednisolone"),
    ("MMF", "mycophenolate_mofetil"), ("mycophenolate", "mycophenolate_mofetil"),
    ("CellCept", "mycophenolate_mofetil"), ("mtx", "methotrexate"), ("AZA", "azathioprine"),
    ("IVMP", "methylprednisolone_iv"), ("methylprednisolone IV", "methylprednisolone_iv"),
    ("Solu-Medrol", "methylprednisolone_iv"), ("intravenous immunoglobulin", "ivig"),
    ("Ciclosporin", "cyclosporine"), ("CYC", "cyclophosphamide"),
    ("co-trimoxazole", "trimethoprim_sulfamethoxazole"), ("TMP-SMX", "trimethoprim_sulfamethoxazole"),
    ("calcium_vitamin_d", "calcium_vitamin_d"), ("Hydroxychloroquine", "hydroxychloroquine"),
])
def test_drug_spellings_are_stored_under_their_code(written: str, code: str) -> None:
    record = parse_record(minimal(treatments=[{"drug": written, "start": "2026-01-01"}]), today=TODAY)
    assert record.treatments[0].drug == code


def test_every_code_of_the_vocabulary_is_accepted_and_other_keeps_its_name() -> None:
    treatments = [{"drug": code, "start": "2026-01-01", **({"name": "colchicine"} if code == "other"
                                                            else {})} for code in v.DRUGS]
    record = parse_record(minimal(treatments=treatments), today=TODAY)
    assert [t.drug for t in record.treatments] == list(v.DRUGS)
    assert record.treatments[-1].name == "colchicine"


def test_an_unknown_drug_lists_the_codes_and_is_never_stored_as_other() -> None:
    with pytest.raises(RecordValidationError) as caught:
        parse_record(minimal(treatments=[{"drug": "azathioprin", "start": "2026-01-01"}]), today=TODAY)
    (error,) = caught.value.errors
    assert error.value == "azathioprin"
    assert all(code in error.expected for code in v.DRUGS)
    assert "aza → azathioprine" in error.expected


# (quantity, field builder, value just inside each bound, value just outside)
_RANGES = [
    ("weight", lambda x: {"body_measurements": [{"date": "2026-01-01", "weight_kg": x}]},
     "$.body_measurements[0].weight_kg", (0.3, 400), (0.29, 400.1)),
    ("height", lambda x: {"body_measurements": [{"date": "2026-01-01", "height_cm": x}]},
     "$.body_measurements[0].height_cm", (25, 250), (24.9, 250.1)),
    ("CK", lambda x: {"labs": [{"test": "CK", "value": x, "unit": "U/L", "date": "2026-01-01"}]},
     "$.labs[0].value", (0, 5_000_000), (None, 5_000_001)),
    *[(test, lambda x, test=test: {"labs": [{"test": test, "value": x, "unit": "U/L",
                                              "date": "2026-01-01"}]},
       "$.labs[0].value", (0, 100_000), (None, 100_000.5))
      for test in ("aldolase", "AST", "ALT", "LDH", "GGT")],
    ("ULN", lambda x: {"labs": [{"test": "CK", "value": 100, "unit": "U/L", "uln": x,
                                 "date": "2026-01-01"}]}, "$.labs[0].uln", (0.01, 10_000),
     (None, 10_000.1)),
    ("titer", lambda x: {"antibodies": [{"target": "Mi-2", "result": "positive", "titer": x,
                                         "date": "2026-01-01"}]}, "$.antibodies[0].titer",
     (0, 100_000), (None, 100_001)),
    *[(test, lambda x, test=test: {"labs": [{"test": test, "value": x, "unit": "10^9/L",
                                              "date": "2026-01-01"}]},
       "$.labs[0].value", (0, 500), (None, 501)) for test in ("wbc", "neutrophils")],
    ("platelets", lambda x: {"labs": [{"test": "platelets", "value": x, "unit": "10^9/L",
                                       "date": "2026-01-01"}]}, "$.labs[0].value", (0, 5000),
     (None, 5001)),
    ("haemoglobin", lambda x: {"labs": [{"test": "haemoglobin", "value": x, "unit": "g/L",
                                         "date": "2026-01-01"}]}, "$.labs[0].value", (10, 250),
     (9.9, 250.5)),
    ("creatinine", lambda x: {"labs": [{"test": "creatinine", "value": x, "unit": "µmol/L",
                                        "date": "2026-01-01"}]}, "$.labs[0].value", (5, 3000),
     (4.9, 3001)),
    ("albumin", lambda x: {"labs": [{"test": "albumin", "value": x, "unit": "g/L",
                                     "date": "2026-01-01"}]}, "$.labs[0].value", (5, 70), (4.9, 70.1)),
]


@pytest.mark.parametrize(("name", "build", "path", "inside", "outside"), _RANGES,
                         ids=[r[0] for r in _RANGES])
def test_each_plausibility_bound(name: str, build: Any, path: str, inside: tuple[float, float],
                                 outside: tuple[float | None, float]) -> None:
    for value in inside:
        parse_record(minimal(**build(value)), today=TODAY)
    for bad in outside:
        if bad is None:  # the lower bound is 0, which the type check already enforces
            continue
        found = errors_of(minimal(**build(bad)))
        assert len(found) == 1, found
        assert found[0][0] == path
        assert "(setting plausibility)" in found[0][1]


def test_plausibility_is_checked_after_unit_conversion() -> None:
    found = errors_of(minimal(body_measurements=[{"date": "2026-01-01", "weight_lb": 4409}]))
    assert found == [("$.body_measurements[0].weight_lb",
                      "a value between 0.3 and 400 kg (setting plausibility)")]
    record = parse_record(minimal(labs=[
        {"test": "haemoglobin", "value": 12.5, "unit": "g/dL", "date": "2026-01-01"},
        {"test": "creatinine", "value": 1.1, "unit": "mg/dL", "date": "2026-01-01"},
        {"test": "albumin", "value": 4.2, "unit": "g/dL", "date": "2026-01-01"}]), today=TODAY)
    assert [(lab.value, lab.unit) for lab in record.labs] == [
        (125.0, "g/L"), (97.24, "µmol/L"), (42.0, "g/L")]
    assert errors_of(minimal(labs=[{"test": "haemoglobin", "value": 26, "unit": "g/dL",
                                    "date": "2026-01-01"}])) == [
        ("$.labs[0].value", "a value between 10 and 250 g/L (setting plausibility)")]


def test_a_site_may_widen_a_plausibility_bound() -> None:
    wide = Plausibility.from_settings(make_params(
        overrides={"plausibility": {"weight_kg": [0.3, 500]}}).settings)
    record = parse_record(minimal(body_measurements=[{"date": "2026-01-01", "weight_kg": 450}]),
                          today=TODAY, limits=wide)
    assert record.body_measurements[0].weight_kg == 450


def test_new_units_are_refused_naming_the_accepted_ones() -> None:
    assert errors_of(minimal(labs=[{"test": "platelets", "value": 200, "unit": "/uL",
                                    "date": "2026-01-01"}])) == [
        ("$.labs[0].unit", "a unit for platelets: 10^9/L, 10*9/L, ×10⁹/L, x10^9/L, G/L")]


def test_every_error_of_a_record_is_reported_at_once() -> None:
    """Type errors and cross-field errors together: one round of corrections is enough."""
    found = errors_of(minimal(
        birth_date="1980-01-01",
        body_measurements=[{"date": "2026-01-01", "weight_kg": 2000}],
        labs=[{"test": "CK", "value": "4200", "unit": "U/L", "date": "2026-01-01"},
              {"test": "CK", "value": 100, "unit": "U/L", "date": "2027-01-01"}],
        assessments=[{"date": "2026-01-01", "physician_global": 11, "haq": 4}],
        treatments=[{"drug": "azathioprin", "start": "2026-02-01", "stop": "2026-01-01"}],
        findings=[{"code": "fever", "present": "yes", "date": "1970-01-01"}],
    ))
    assert sorted(found) == sorted([
        ("$.labs[0].value", "a valid number"),
        ("$.assessments[0].physician_global", "less than or equal to 10"),
        ("$.assessments[0].haq", "less than or equal to 3"),
        ("$.findings[0].present", "a valid boolean"),
        ("$.labs[1].date", "a date on or before today (2026-11-21)"),
        ("$.treatments[0].stop", "a date on or after start (2026-02-01)"),
        ("$.body_measurements[0].weight_kg", "a value between 0.3 and 400 kg (setting plausibility)"),
        ("$.treatments[0].drug", found[[p for p, _ in found].index("$.treatments[0].drug")][1]),
    ])
