"""FHIR import: Patient and Observation mappings, with exact documents and unmapped counts."""

from __future__ import annotations

from typing import Any

import pytest

from myositis_cds.adapters.fhir import patient_document, patient_key_of
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from tests.unit.fhir_builders import (
    INTERPRETATION,
    LOCAL,
    LOINC,
    SNOMED,
    UCUM,
    concept,
    observation,
    patient,
    quantity,
)

HEAD = {"format": "myositis-cds/patient-record@1", "id": "p1"}


def _import(*resources: dict[str, Any]) -> tuple[dict[str, Any], UnmappedReport]:
    result = patient_document([patient(), *resources])
    assert result.patient_key == "p1"
    return result.document, result.unmapped


def _groups(report: UnmappedReport) -> dict[tuple[str, str], int]:
    return {(g["resource_type"], g["reason"]): g["count"] for g in report.to_dict()["groups"]}


# --- patient_key_of -----------------------------------------------------------------------------

@pytest.mark.parametrize(("resource", "expected"), [
    ({"resourceType": "Patient", "id": "abc"}, "abc"),
    ({"resourceType": "Observation", "subject": {"reference": "Patient/x1"}}, "x1"),
    ({"resourceType": "Observation", "subject": {"reference": "https://ehr.example/fhir/Patient/x2"}},
     "x2"),
    ({"resourceType": "Observation", "subject": {"reference": "Patient/x3/_history/4"}}, "x3"),
    ({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/x4"}}, "x4"),
    ({"resourceType": "Observation", "subject": {"reference": "Group/g1"}}, None),
    ({"resourceType": "Observation", "subject": {"display": "someone"}}, None),
    ({"resourceType": "Organization", "id": "o1"}, None),
    ({"resourceType": "Patient"}, None),
])
def test_patient_key_of(resource: dict[str, Any], expected: str | None) -> None:
    assert patient_key_of(resource) == expected


def test_patient_key_of_resolves_urn_uuid_through_full_urls() -> None:
    resource = {"resourceType": "Condition", "subject": {"reference": "urn:uuid:1234"}}
    assert patient_key_of(resource) is None
    assert patient_key_of(resource, full_urls={"urn:uuid:1234": "p9"}) == "p9"


# --- Patient ------------------------------------------------------------------------------------

def test_patient_gender_and_birth_date() -> None:
    result = patient_document([patient(gender="female", birthDate="1979-03-14")])
    assert result.document == {**HEAD, "sex": "female", "birth_date": "1979-03-14"}
    assert not result.unmapped


def test_partial_birth_date_and_unknown_gender_are_counted() -> None:
    result = patient_document([patient(gender="intersex", birthDate="1979-03")])
    assert result.document == HEAD
    assert _groups(result.unmapped) == {("Patient", "partial_date"): 1,
                                        ("Patient", "unknown_gender"): 1}


def test_record_id_from_the_exporters_identifier() -> None:
    resource = patient(identifier=[{"system": "urn:myositis-cds:patient-id", "value": "demo 001"}])
    result = patient_document([resource])
    assert result.patient_key == "p1"
    assert result.document["id"] == "demo 001"


def test_without_patient_resource_the_reference_gives_the_key() -> None:
    ck = observation(LOINC, "2157-6", valueQuantity=quantity(300, "U/L"))
    result = patient_document([ck])
    assert result.document == {**HEAD, "labs": [
        {"test": "CK", "value": 300, "unit": "U/L", "date": "2026-01-12"}]}
    assert _groups(result.unmapped) == {("Patient", "no_patient_resource"): 1}


def test_resources_of_no_patient_are_refused() -> None:
    with pytest.raises(ValueError, match="no identifiable patient"):
        patient_document([{"resourceType": "Organization", "id": "o1"}])


def test_a_second_patient_resource_is_counted() -> None:
    result = patient_document([patient(gender="male"), patient(gender="female")])
    assert result.document["sex"] == "male"
    assert _groups(result.unmapped) == {("Patient", "duplicate_patient"): 1}


# --- labs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "test"), [
    ("2157-6", "CK"), ("1742-6", "ALT"), ("1920-8", "AST"), ("2532-0", "LDH"), ("1761-6", "aldolase"),
])
def test_enzymes_by_loinc_with_uln(code: str, test: str) -> None:
    lab = observation(LOINC, code, effectiveDateTime="2026-01-12T23:30:00+01:00",
                      valueQuantity=quantity(4200, "U/L", unit="U/L"),
                      referenceRange=[{"low": quantity(20, "U/L"), "high": quantity(200, "U/L")}])
    document, report = _import(lab)
    assert document == {**HEAD, "labs": [
        {"test": test, "value": 4200, "unit": "U/L", "uln": 200, "date": "2026-01-12"}]}
    assert not report


def test_ukat_per_litre_is_kept_for_the_validator_to_convert() -> None:
    lab = observation(LOINC, "2157-6", valueQuantity=quantity(70, "ukat/L"),
                      referenceRange=[{"high": quantity(3.3, "ukat/L")}])
    document, _ = _import(lab)
    assert document["labs"] == [
        {"test": "CK", "value": 70, "unit": "ukat/L", "uln": 3.3, "date": "2026-01-12"}]


def test_a_lab_unit_the_record_does_not_accept_is_counted_with_the_unit() -> None:
    lab = observation(LOINC, "2157-6", valueQuantity=quantity(4.2, "mg/dL"))
    document, report = _import(lab)
    assert "labs" not in document
    assert report.count("Observation", "unit_not_accepted", system=UCUM, code="mg/dL") == 1
    assert report.to_dict()["groups"][0]["examples"] == [
        {"system": UCUM, "code": "mg/dL", "display": "CK", "count": 1}]


def test_uln_in_another_unit_is_left_out_and_counted() -> None:
    lab = observation(LOINC, "2157-6", valueQuantity=quantity(300, "U/L"),
                      referenceRange=[{"high": quantity(3.3, "ukat/L")}])
    document, report = _import(lab)
    assert document["labs"] == [{"test": "CK", "value": 300, "unit": "U/L", "date": "2026-01-12"}]
    assert _groups(report) == {("Observation", "uln_unit_mismatch"): 1}


@pytest.mark.parametrize(("changes", "reason"), [
    ({"status": "preliminary"}, "status_excluded"),
    ({"status": "entered-in-error"}, "status_excluded"),
    ({"day": None}, "missing_date"),
    ({"day": "2026-01"}, "partial_date"),
    ({"valueQuantity": {"value": 20, "comparator": "<", "system": UCUM, "code": "U/L"}},
     "censored_value"),
    ({"valueQuantity": {"unit": "U/L"}}, "missing_value"),
    ({"valueString": "high"}, "missing_value"),
])
def test_unusable_lab_observations_are_counted(changes: dict[str, Any], reason: str) -> None:
    fields: dict[str, Any] = {"valueQuantity": quantity(300, "U/L")}
    fields.update(changes)
    if "valueString" in changes:
        del fields["valueQuantity"]
    document, report = _import(observation(LOINC, "2157-6", **fields))
    assert document == HEAD
    assert report.count("Observation", reason, system=LOINC, code="2157-6") == 1
    assert report.total == 1


def test_unknown_and_uncoded_observations_are_counted() -> None:
    heart = observation(LOINC, "8867-4", valueQuantity=quantity(70, "/min"))
    heart["code"]["coding"][0]["display"] = "Heart rate"
    text_only = observation(LOINC, "x", valueQuantity=quantity(1, "1"))
    text_only["code"] = {"text": "something measured"}
    document, report = _import(heart, heart, text_only)
    assert document == HEAD
    assert report.to_dict()["groups"] == [
        {"resource_type": "Observation", "reason": "unknown_code",
         "description": "no coding of the resource is in the code tables", "count": 2,
         "distinct_codes": 1,
         "examples": [{"system": LOINC, "code": "8867-4", "display": "Heart rate", "count": 2}]},
        {"resource_type": "Observation", "reason": "no_coding",
         "description": "the concept has no coding (text only)", "count": 1, "distinct_codes": 1,
         "examples": []},
    ]


# --- body measurements --------------------------------------------------------------------------

def test_weight_and_height_of_one_date_share_an_entry() -> None:
    document, report = _import(
        observation(LOINC, "29463-7", valueQuantity=quantity(68.0, "kg")),
        observation(LOINC, "8302-2", valueQuantity=quantity(165.0, "cm")),
        observation(LOINC, "29463-7", day="2026-03-01", valueQuantity=quantity(150, "[lb_av]")),
        observation(LOINC, "8302-2", day="2026-03-01", valueQuantity=quantity(65, "[in_i]")))
    assert document["body_measurements"] == [
        {"date": "2026-01-12", "weight_kg": 68.0, "height_cm": 165.0},
        {"date": "2026-03-01", "weight_lb": 150, "height_in": 65},
    ]
    assert not report


def test_a_repeated_body_measurement_is_kept_once_in_any_unit() -> None:
    document, report = _import(
        observation(LOINC, "29463-7", valueQuantity=quantity(150, "[lb_av]")),
        observation(LOINC, "29463-7", valueQuantity=quantity(68.04, "kg")),  # 150 lb = 68.039 kg
        observation(LOINC, "29463-7", valueQuantity=quantity(150, "[lb_av]")))
    assert document["body_measurements"] == [{"date": "2026-01-12", "weight_lb": 150}]
    assert report.count("Observation", "duplicate_value") == 2


def test_contradictory_heights_of_one_day_are_all_left_out_and_counted() -> None:
    document, report = _import(
        observation(LOINC, "29463-7", valueQuantity=quantity(70.0, "kg")),
        observation(LOINC, "8302-2", valueQuantity=quantity(66.9, "[in_i]")),
        observation(LOINC, "8302-2", valueQuantity=quantity(25, "cm")),
        observation(LOINC, "8302-2", day="2026-01-13", valueQuantity=quantity(25, "cm")),
        observation(LOINC, "8302-2", day="2026-01-13", valueQuantity=quantity(26, "cm")))
    assert document["body_measurements"] == [{"date": "2026-01-12", "weight_kg": 70.0}]
    assert report.count("Observation", "conflicting_values", system=LOINC, code="8302-2") == 4


def test_weight_in_grams_is_not_rescaled() -> None:
    document, report = _import(observation(LOINC, "29463-7", valueQuantity=quantity(68000, "g")))
    assert document == HEAD
    assert report.count("Observation", "unit_not_accepted", system=UCUM, code="g") == 1


# --- antibodies ---------------------------------------------------------------------------------

def test_antibody_with_titer_interpretation_cutoff_and_method() -> None:
    mi2 = observation(f"{LOCAL}antibody", "Mi-2", valueQuantity=quantity(88.0, unit="U/mL"),
                      interpretation=[concept(INTERPRETATION, "POS")],
                      referenceRange=[{"high": quantity(20.0, unit="U/mL")}],
                      method={"text": "ELISA"})
    document, report = _import(mi2)
    assert document["antibodies"] == [
        {"target": "Mi-2", "result": "positive", "date": "2026-01-12", "titer": 88.0,
         "unit": "U/mL", "cutoff": 20.0, "method": "ELISA"}]
    assert not report


@pytest.mark.parametrize(("value", "expected"), [
    ({"valueCodeableConcept": concept(INTERPRETATION, "NEG")}, "negative"),
    ({"valueCodeableConcept": concept(f"{LOCAL}antibody-result", "borderline")}, "borderline"),
    ({"valueString": " Positive "}, "positive"),
])
def test_antibody_result_without_titer(value: dict[str, Any], expected: str) -> None:
    document, _ = _import(observation(f"{LOCAL}antibody", "TIF1-gamma", **value))
    assert document["antibodies"] == [
        {"target": "TIF1-gamma", "result": expected, "date": "2026-01-12"}]


def test_antibody_without_a_result_is_counted() -> None:
    document, report = _import(observation(f"{LOCAL}antibody", "NXP2",
                                           valueQuantity=quantity(12, unit="U/mL")))
    assert document == HEAD
    assert report.count("Observation", "unknown_result", system=f"{LOCAL}antibody",
                        code="NXP2") == 1


# --- core-set measures and findings -------------------------------------------------------------

def test_measures_of_one_date_form_one_visit() -> None:
    measure = f"{LOCAL}measure"
    document, report = _import(
        observation(measure, "physician_global", valueQuantity=quantity(6.5, "cm")),
        observation(measure, "mmt8", valueQuantity=quantity(58, "{score}"),
                    referenceRange=[{"high": {"value": 150}}]),
        observation(measure, "haq", valueQuantity={"value": 1.375}),
        observation(measure, "cdasi_activity", valueInteger=21),
        observation(measure, "patient_global", day="2026-02-01", valueQuantity=quantity(5, "cm")))
    assert document["assessments"] == [
        {"date": "2026-01-12", "physician_global": 6.5, "mmt8": 58, "mmt8_max": 150, "haq": 1.375,
         "cdasi_activity": 21},
        {"date": "2026-02-01", "patient_global": 5},
    ]
    assert not report


def test_a_vas_in_millimetres_is_refused_not_rescaled() -> None:
    document, report = _import(observation(f"{LOCAL}measure", "physician_global",
                                           valueQuantity=quantity(65, "mm")))
    assert document == HEAD
    assert report.count("Observation", "unit_not_accepted", system=UCUM, code="mm") == 1


def test_finding_observation_with_a_boolean() -> None:
    document, report = _import(
        observation(f"{LOCAL}finding", "gottron_papules", valueBoolean=True),
        observation(SNOMED, "40739000", valueBoolean=False),
        observation(f"{LOCAL}finding", "v_sign", valueString="yes"))
    assert document["findings"] == [
        {"code": "gottron_papules", "present": True, "date": "2026-01-12"},
        {"code": "dysphagia", "present": False, "date": "2026-01-12"},
    ]
    assert _groups(report) == {("Observation", "missing_value"): 1}


def test_origins_follow_the_items() -> None:
    result = patient_document([patient(), observation(LOINC, "2157-6",
                                                      valueQuantity=quantity(300, "U/L"))])
    assert result.origins == {"labs": (("Observation", LOINC, "2157-6", None),)}
