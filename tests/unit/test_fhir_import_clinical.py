"""FHIR import: Condition, MedicationRequest/Statement, Procedure, DiagnosticReport, Bundles and
validation, with exact documents and unmapped counts."""

from __future__ import annotations

from typing import Any

import pytest

from myositis_cds.adapters.fhir import (
    UnmappedReport,
    iter_bundle_patients,
    patient_document,
    validate_import,
)
from tests.conftest import TODAY
from tests.unit.fhir_builders import (
    LOCAL,
    LOINC,
    RXNORM,
    SNOMED,
    SUBJECT,
    concept,
    condition,
    observation,
    patient,
    quantity,
    request,
    statement,
    status,
)

HEAD = {"format": "myositis-cds/patient-record@1", "id": "p1"}
DRUG = f"{LOCAL}drug"


def _import(*resources: dict[str, Any]) -> tuple[dict[str, Any], UnmappedReport]:
    result = patient_document([patient(), *resources])
    return result.document, result.unmapped


def _groups(report: UnmappedReport) -> dict[tuple[str, str], int]:
    return {(g["resource_type"], g["reason"]): g["count"] for g in report.to_dict()["groups"]}


# --- Condition ----------------------------------------------------------------------------------

def test_diagnosis_from_snomed_with_onset_and_recorded_date() -> None:
    document, report = _import(condition(SNOMED, "396230008", onsetDateTime="2025-11-01",
                                         recordedDate="2026-01-12T09:00:00Z"))
    assert document == {**HEAD, "diagnosis": {"name": "dermatomyositis", "date": "2026-01-12",
                                              "symptom_onset_date": "2025-11-01"}}
    assert not report


def test_an_undated_diagnosis_is_kept_but_ranks_below_dated_ones() -> None:
    document, report = _import(condition(SNOMED, "396230008"))
    assert document == {**HEAD, "diagnosis": {"name": "dermatomyositis"}}
    assert not report
    document, report = _import(condition(SNOMED, "396230008"),
                               condition(f"{LOCAL}diagnosis", "imnm", recordedDate="2020-01-01"))
    assert document["diagnosis"] == {"name": "imnm", "date": "2020-01-01"}
    assert report.count("Condition", "superseded_diagnosis", system=SNOMED, code="396230008") == 1


def test_the_latest_diagnosis_wins_and_the_others_are_counted() -> None:
    document, report = _import(
        condition(SNOMED, "396230008", recordedDate="2026-01-12"),
        condition(f"{LOCAL}diagnosis", "antisynthetase_syndrome", recordedDate="2026-05-02"),
        condition(f"{LOCAL}diagnosis", "imnm", recordedDate="2026-03-01",
                  verificationStatus=status("condition-ver-status", "provisional")))
    assert document["diagnosis"] == {"name": "antisynthetase_syndrome", "date": "2026-05-02"}
    assert _groups(report) == {("Condition", "superseded_diagnosis"): 1,
                               ("Condition", "status_excluded"): 1}
    assert report.count("Condition", "superseded_diagnosis", system=SNOMED, code="396230008") == 1


def test_finding_conditions_present_absent_and_resolved() -> None:
    document, report = _import(
        condition(SNOMED, "233703007", onsetDateTime="2026-01-20",
                  abatementDateTime="2026-06-01"),
        condition(SNOMED, "40739000", recordedDate="2026-01-12",
                  verificationStatus=status("condition-ver-status", "refuted")),
        condition(f"{LOCAL}finding", "calcinosis", onsetDateTime="2025-12-01",
                  clinicalStatus=status("condition-clinical", "resolved")),
        condition(f"{LOCAL}finding", "fever", recordedDate="2026-01-12",
                  verificationStatus=status("condition-ver-status", "unconfirmed")),
        condition(f"{LOCAL}finding", "raynaud"))
    assert document["findings"] == [
        {"code": "ild", "present": True, "date": "2026-01-20"},
        {"code": "ild", "present": False, "date": "2026-06-01"},
        {"code": "dysphagia", "present": False, "date": "2026-01-12"},
        {"code": "calcinosis", "present": True, "date": "2025-12-01"},
    ]
    assert _groups(report) == {("Condition", "ended_without_date"): 1,
                               ("Condition", "status_excluded"): 1,
                               ("Condition", "missing_date"): 1}


def test_unknown_condition_code_is_counted_with_its_display() -> None:
    document, report = _import(condition(SNOMED, "44054006", onsetDateTime="2020-01-01") | {
        "code": concept(SNOMED, "44054006", "Diabetes mellitus type 2")})
    assert document == HEAD
    assert report.to_dict()["groups"][0]["examples"] == [
        {"system": SNOMED, "code": "44054006", "display": "Diabetes mellitus type 2", "count": 1}]


# --- medications --------------------------------------------------------------------------------

def _dosage(**timing: Any) -> list[dict[str, Any]]:
    return [{"timing": {"repeat": timing}, "route": {"text": "oral"},
             "doseAndRate": [{"doseQuantity": {"value": 60, "unit": "mg"}}]}]


def test_medication_request_with_dose_frequency_route_and_bounds() -> None:
    document, report = _import(request(
        concept(DRUG, "prednisone"),
        dosageInstruction=_dosage(frequency=1, period=1, periodUnit="d",
                                  boundsPeriod={"start": "2026-01-14", "end": "2026-03-01"})))
    assert document["treatments"] == [
        {"drug": "prednisone", "dose": 60, "unit": "mg", "frequency": "daily", "route": "oral",
         "start": "2026-01-14", "stop": "2026-03-01"}]
    assert not report


@pytest.mark.parametrize(("timing", "frequency"), [
    ({"frequency": 1, "period": 1, "periodUnit": "wk"}, "weekly"),
    ({"frequency": 1, "period": 1, "periodUnit": "mo"}, "monthly"),
    ({"count": 1}, "once"),
    ({"frequency": 2, "period": 1, "periodUnit": "d"}, None),
])
def test_frequency_from_timing_repeat(timing: dict[str, Any], frequency: str | None) -> None:
    document, _ = _import(request(concept(DRUG, "methotrexate"), dosageInstruction=_dosage(**timing)))
    assert document["treatments"][0].get("frequency") == frequency
    assert document["treatments"][0]["start"] == "2026-01-13"


def test_frequency_code_of_the_exporter_wins() -> None:
    dosage = [{"timing": {"code": concept(f"{LOCAL}frequency", "course")}}]
    document, _ = _import(statement(concept(DRUG, "ivig"), dosage=dosage,
                                    effectivePeriod={"start": "2026-02-01"}))
    assert document["treatments"] == [
        {"drug": "ivig", "frequency": "course", "start": "2026-02-01", "stop": None}]


def test_medication_references_contained_bundle_and_unresolved() -> None:
    medication = {"resourceType": "Medication", "id": "m1", "code": concept(DRUG, "azathioprine")}
    contained = {"resourceType": "Medication", "id": "c1", "code": concept(DRUG, "rituximab")}
    document, report = _import(
        medication,
        request(medicationReference={"reference": "Medication/m1"}),
        request(medicationReference={"reference": "#c1"}, contained=[contained]),
        request(medicationReference={"reference": "Medication/absent"}))
    assert [t["drug"] for t in document["treatments"]] == ["azathioprine", "rituximab"]
    assert _groups(report) == {("MedicationRequest", "unresolved_medication"): 1}


def test_medication_statuses_and_intents_that_did_not_happen() -> None:
    document, report = _import(
        request(concept(DRUG, "prednisone"), status="cancelled"),
        request(concept(DRUG, "prednisone"), intent="proposal"),
        statement(concept(DRUG, "prednisone"), status="not-taken",
                  effectivePeriod={"start": "2026-01-01"}),
        statement(concept(DRUG, "prednisone"), status="completed",
                  effectivePeriod={"start": "2026-01-01"}),
        request(concept(RXNORM, "8640", "prednisone")))
    assert document == HEAD
    assert _groups(report) == {("MedicationRequest", "status_excluded"): 2,
                               ("MedicationStatement", "status_excluded"): 1,
                               ("MedicationStatement", "ended_without_date"): 1,
                               ("MedicationRequest", "unknown_code"): 1}


def test_medication_statement_single_day_when_completed() -> None:
    document, _ = _import(statement(concept(DRUG, "methylprednisolone_iv"), status="completed",
                                    effectiveDateTime="2026-01-15"))
    assert document["treatments"] == [
        {"drug": "methylprednisolone_iv", "start": "2026-01-15", "stop": "2026-01-15"}]


# --- investigations -----------------------------------------------------------------------------

def test_procedure_and_diagnostic_report_become_investigations() -> None:
    investigation = f"{LOCAL}investigation"
    document, report = _import(
        {"resourceType": "Procedure", "status": "completed", "subject": SUBJECT,
         "code": concept(investigation, "muscle_biopsy"),
         "performedPeriod": {"start": "2026-01-16", "end": "2026-01-16"},
         "outcome": {"text": "perifascicular atrophy"}},
        {"resourceType": "Procedure", "status": "not-done", "subject": SUBJECT,
         "code": concept(investigation, "emg"), "performedDateTime": "2026-01-17"},
        {"resourceType": "DiagnosticReport", "status": "final", "subject": SUBJECT,
         "code": concept(investigation, "pulmonary_function_tests"),
         "effectiveDateTime": "2026-01-20", "conclusion": "DLCO 55% predicted",
         "conclusionCode": [concept(f"{LOCAL}investigation-result", "abnormal")]},
        {"resourceType": "DiagnosticReport", "status": "final", "subject": SUBJECT,
         "code": concept(LOINC, "58410-2"), "effectiveDateTime": "2026-01-20"})
    assert document["investigations"] == [
        {"kind": "muscle_biopsy", "date": "2026-01-16", "result": "perifascicular atrophy"},
        {"kind": "pulmonary_function_tests", "date": "2026-01-20", "result": "DLCO 55% predicted",
         "abnormal": True},
    ]
    assert _groups(report) == {("Procedure", "status_excluded"): 1,
                               ("DiagnosticReport", "unknown_code"): 1}


def test_unsupported_resource_types_are_counted() -> None:
    document, report = _import({"resourceType": "Encounter", "subject": SUBJECT},
                               {"resourceType": "Encounter", "subject": SUBJECT},
                               {"resourceType": "Immunization", "patient": SUBJECT})
    assert document == HEAD
    assert _groups(report) == {("Encounter", "unsupported_resource_type"): 2,
                               ("Immunization", "unsupported_resource_type"): 1}


# --- Bundles ------------------------------------------------------------------------------------

def test_bundle_groups_by_patient_resolves_urn_uuid_and_counts_the_rest() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:aaa", "resource": patient(id="aaa", gender="female")},
        {"fullUrl": "urn:uuid:bbb", "resource": patient(id="bbb", gender="male")},
        {"resource": {"resourceType": "Medication", "id": "m1", "code": concept(DRUG, "tacrolimus")}},
        {"resource": request(medicationReference={"reference": "urn:uuid:m1"}) | {
            "subject": {"reference": "urn:uuid:bbb"}}},
        {"resource": {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": observation(LOINC, "2157-6", valueQuantity=quantity(300, "U/L")) | {
                "subject": {"reference": "urn:uuid:aaa"}}}]}},
        {"resource": {"resourceType": "Organization", "id": "o1"}},
        {"resource": observation(LOINC, "2157-6") | {"subject": {"reference": "urn:uuid:zzz"}}},
        {"request": {"method": "GET", "url": "Patient"}},
    ]}
    unassigned = UnmappedReport()
    imports = list(iter_bundle_patients(bundle, unassigned=unassigned))
    assert [(i.patient_key, i.document) for i in imports] == [
        ("aaa", {"format": "myositis-cds/patient-record@1", "id": "aaa", "sex": "female", "labs": [
            {"test": "CK", "value": 300, "unit": "U/L", "date": "2026-01-12"}]}),
        ("bbb", {"format": "myositis-cds/patient-record@1", "id": "bbb", "sex": "male",
                 "treatments": [{"drug": "tacrolimus", "start": "2026-01-13", "stop": None}]}),
    ]
    assert _groups(unassigned) == {("Organization", "unsupported_resource_type"): 1,
                                   ("Observation", "no_patient"): 1}


# --- validation ---------------------------------------------------------------------------------

def test_items_the_validator_refuses_are_left_out_and_counted() -> None:
    result = patient_document([
        patient(birthDate="1979-03-14"),
        observation(LOINC, "2157-6", valueQuantity=quantity(300, "U/L")),
        observation(LOINC, "1742-6", day="2027-01-01", valueQuantity=quantity(30, "U/L")),
        request(concept(DRUG, "prednisone"),
                dosageInstruction=_dosage(boundsPeriod={"start": "2026-02-01", "end": "2026-01-01"})),
    ])
    validated = validate_import(result, today=TODAY)
    assert validated.accepted
    assert validated.document == {
        "format": "myositis-cds/patient-record@1", "id": "p1", "birth_date": "1979-03-14",
        "labs": [{"test": "CK", "value": 300, "unit": "U/L", "date": "2026-01-12"}]}
    assert [e.path for e in validated.errors] == ["$.treatments[0].stop", "$.labs[1].date"]
    assert validated.unmapped.count("Observation", "invalid_value", system=LOINC, code="1742-6") == 1
    assert validated.unmapped.count("MedicationRequest", "invalid_value", system=DRUG,
                                    code="prednisone") == 1
    assert validated.record is not None
    assert validated.record.labs[0].value == 300


def test_a_birth_date_after_today_is_left_out() -> None:
    validated = validate_import(patient_document([patient(birthDate="2030-01-01")]), today=TODAY)
    assert validated.document == {"format": "myositis-cds/patient-record@1", "id": "p1"}
    assert validated.unmapped.count("Patient", "invalid_value") == 1


def test_a_record_refused_as_a_whole_is_not_imported() -> None:
    long_id = "x" * 200
    resource = patient(identifier=[{"system": "urn:myositis-cds:patient-id", "value": long_id}])
    validated = validate_import(patient_document([resource]), today=TODAY)
    assert not validated.accepted
    assert validated.document is None
    assert [e.path for e in validated.errors] == ["$.id"]
    assert validated.unmapped.count("Patient", "invalid_record") == 1


def test_a_refused_value_of_a_merged_item_leaves_out_only_that_value() -> None:
    measure = f"{LOCAL}measure"
    result = patient_document([
        patient(),
        observation(measure, "physician_global", valueQuantity=quantity(12, "cm")),
        observation(measure, "haq", valueQuantity=quantity(1.0, "{score}")),
        observation(measure, "mmt8", day="2026-02-01", valueQuantity=quantity(90, "{score}")),
        observation(LOINC, "29463-7", valueQuantity=quantity(0, "kg")),
        observation(LOINC, "8302-2", valueQuantity=quantity(165, "cm")),
    ])
    validated = validate_import(result, today=TODAY)
    assert validated.document == {
        "format": "myositis-cds/patient-record@1", "id": "p1",
        "body_measurements": [{"date": "2026-01-12", "height_cm": 165}],
        "assessments": [{"date": "2026-01-12", "haq": 1.0}]}
    assert [e.path for e in validated.errors] == [
        "$.body_measurements[0].weight_kg", "$.assessments[0].physician_global",
        "$.assessments[1].mmt8"]
    assert validated.unmapped.to_dict()["groups"][0]["examples"] == [
        {"system": f"{LOCAL}body", "code": "weight", "display": None, "count": 1},
        {"system": f"{LOCAL}measure", "code": "mmt8", "display": None, "count": 1},
        {"system": f"{LOCAL}measure", "code": "physician_global", "display": None, "count": 1}]
    assert result.document["assessments"][0]["physician_global"] == 12  # the import is untouched


def test_a_resource_repeated_with_the_same_id_counts_once() -> None:
    ck = observation(LOINC, "2157-6", valueQuantity=quantity(300, "U/L")) | {"id": "o1"}
    document, report = _import(ck, ck, ck | {"id": "o2"})
    assert len(document["labs"]) == 1  # o2 repeats o1's value: a duplicate measurement
    assert _groups(report) == {("Observation", "duplicate_resource"): 1,
                               ("Observation", "duplicate_value"): 1}


def test_a_transaction_bundle_without_ids_is_linked_by_full_url() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
         "resource": {"resourceType": "Patient", "gender": "female"},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
         "resource": {"resourceType": "Medication", "code": concept(DRUG, "ivig")}},
        {"resource": request(medicationReference={
            "reference": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"}) | {
            "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}}},
    ]}
    imports = list(iter_bundle_patients(bundle))
    assert [(i.patient_key, i.document) for i in imports] == [
        ("61ebe359-bfdc-4613-8bf2-c5e300945f0a",
         {"format": "myositis-cds/patient-record@1", "id": "61ebe359-bfdc-4613-8bf2-c5e300945f0a",
          "sex": "female", "treatments": [{"drug": "ivig", "start": "2026-01-13", "stop": None}]})]
    assert not imports[0].unmapped
