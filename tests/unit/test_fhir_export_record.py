"""patient-record@1 → FHIR R4B Bundle: each kind of record item, value by value."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from myositis_cds.adapters.fhir.exporting.common import patient_url, validate_bundle
from myositis_cds.adapters.fhir.exporting.record import record_entries, record_to_bundle
from myositis_cds.adapters.fhir.importing.importer import iter_bundle_patients
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.errors import RecordValidationError
from tests.conftest import TODAY

UCUM = "http://unitsofmeasure.org"
RECORD: dict[str, Any] = {
    "format": "myositis-cds/patient-record@1", "id": "p-7", "sex": "female",
    "birth_date": "1979-03-14",
    "diagnosis": {"name": "dermatomyositis", "date": "2026-01-12", "symptom_onset_date": "2025-11-01"},
    "body_measurements": [{"date": "2026-01-12", "weight_lb": 150.0, "height_cm": 165.0}],
    "antibodies": [
        {"target": "Mi-2", "result": "positive", "date": "2026-01-05", "titer": 88.0, "unit": "U/mL",
         "cutoff": 20.0, "method": "ELISA"},
        {"target": "TIF1γ", "result": "borderline", "date": "2026-01-05"}],
    "findings": [{"code": "ild", "present": True, "date": "2026-01-12"},
                 {"code": "dysphagia", "present": False, "date": "2026-01-12"}],
    "labs": [{"test": "CK", "value": 4200, "unit": "U/L", "uln": 200, "date": "2026-01-12"},
             {"test": "ALT", "value": 1.5, "unit": "µkat/L", "uln": 0.5, "date": "2026-01-12"}],
    "assessments": [{"date": "2026-01-12", "physician_global": 6.5, "haq": 1.375,
                     "mmt8_grades": {"neck_flexors": 7, "deltoid": 8, "biceps": 9, "wrist_extensors": 10,
                                     "gluteus_maximus": 6, "gluteus_medius": 7, "quadriceps": 8,
                                     "ankle_dorsiflexors": 9}}],
    "treatments": [
        {"drug": "prednisone", "dose": 60, "unit": "mg", "frequency": "daily", "route": "oral",
         "start": "2026-01-13", "stop": None},
        {"drug": "ivig", "dose": 2, "unit": "g/kg", "frequency": "course", "start": "2026-02-01",
         "stop": "2026-02-05"}],
    "investigations": [
        {"kind": "pulmonary_function_tests", "date": "2026-01-20", "result": "DLCO 61%", "abnormal": True},
        {"kind": "emg", "date": "2026-01-21"}],
}


def _export(**kwargs: Any) -> dict[str, Any]:
    return record_to_bundle(RECORD, today=TODAY, **kwargs)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _codings(concept: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in concept["coding"]]


def test_the_record_bundle_is_valid_fhir_r4b_with_one_resource_per_item() -> None:
    bundle = _export()
    assert validate_bundle(bundle) == []
    assert Bundle.model_validate(bundle).type == "collection"
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Patient", "Condition", "Observation", "Observation", "Observation", "Observation",
        "Condition", "Condition", "Observation", "Observation", "Observation", "Observation",
        "Observation", "MedicationStatement", "MedicationStatement", "DiagnosticReport",
        "DiagnosticReport"]
    subjects = {e["resource"].get("subject", {}).get("reference") for e in bundle["entry"][1:]}
    assert subjects == {patient_url("p-7")}


def test_patient_diagnosis_and_findings() -> None:
    bundle = _export()
    (patient,) = _resources(bundle, "Patient")
    assert patient == {"resourceType": "Patient", "id": "p-7",
                       "identifier": [{"system": "urn:myositis-cds:patient-id", "value": "p-7"}],
                       "gender": "female", "birthDate": "1979-03-14"}
    diagnosis, ild, dysphagia = _resources(bundle, "Condition")
    assert _codings(diagnosis["code"]) == [("http://snomed.info/sct", "396230008")]
    assert (diagnosis["recordedDate"], diagnosis["onsetDateTime"]) == ("2026-01-12", "2025-11-01")
    assert _codings(ild["code"]) == [("http://snomed.info/sct", "233703007")]
    assert ild["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert ild["clinicalStatus"]["coding"][0]["code"] == "active"
    assert (ild["onsetDateTime"], ild["recordedDate"]) == ("2026-01-12", "2026-01-12")
    assert dysphagia["verificationStatus"]["coding"][0]["code"] == "refuted"
    assert "clinicalStatus" not in dysphagia
    assert "onsetDateTime" not in dysphagia
    assert dysphagia["recordedDate"] == "2026-01-12"


def test_observations_carry_loinc_ucum_and_the_uln_as_reference_range_high() -> None:
    observations = _resources(_export(), "Observation")
    weight, height, mi2, tif1, ck, alt, physician, mmt8, haq = observations
    assert _codings(weight["code"]) == [("http://loinc.org", "29463-7")]
    assert weight["valueQuantity"] == {"value": 68.0388555, "unit": "kg", "system": UCUM, "code": "kg"}
    assert height["valueQuantity"] == {"value": 165.0, "unit": "cm", "system": UCUM, "code": "cm"}
    assert _codings(ck["code"]) == [("http://loinc.org", "2157-6")]
    assert ck["valueQuantity"] == {"value": 4200.0, "unit": "U/L", "system": UCUM, "code": "U/L"}
    assert ck["referenceRange"] == [{"high": {"value": 200.0, "unit": "U/L", "system": UCUM,
                                              "code": "U/L"}}]
    assert ck["effectiveDateTime"] == "2026-01-12"
    assert ck["status"] == "final"
    # µkat/L is exported in U/L, as the record validator converts it (1 µkat/L = 60 U/L)
    assert (alt["valueQuantity"]["value"], alt["referenceRange"][0]["high"]["value"]) == (90.0, 30.0)
    assert _codings(mi2["code"]) == [("urn:myositis-cds:codes:antibody", "Mi-2")]
    assert mi2["valueQuantity"] == {"value": 88.0, "unit": "U/mL", "system": UCUM, "code": "U/mL"}
    assert _codings(mi2["interpretation"][0]) == [
        ("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "POS")]
    assert mi2["referenceRange"][0]["high"]["value"] == 20.0
    assert mi2["method"] == {"text": "ELISA"}
    assert tif1["code"]["text"] == "TIF1-gamma"
    assert _codings(tif1["valueCodeableConcept"]) == [
        ("urn:myositis-cds:codes:antibody-result", "borderline")]
    assert physician["valueQuantity"] == {"value": 6.5, "unit": "cm", "system": UCUM, "code": "cm"}
    assert mmt8["valueQuantity"]["value"] == 64.0  # the total of the grades
    assert mmt8["referenceRange"][0]["high"] == {"value": 80.0}
    assert haq["valueQuantity"]["code"] == "{score}"


def test_treatments_and_investigations() -> None:
    bundle = _export()
    prednisone, ivig = _resources(bundle, "MedicationStatement")
    assert prednisone["status"] == "active"
    assert prednisone["effectivePeriod"] == {"start": "2026-01-13"}
    assert prednisone["dosage"] == [{
        "text": "prednisone 60.0 mg daily oral",
        "timing": {"code": {"coding": [{"system": "urn:myositis-cds:codes:frequency", "code": "daily"}],
                            "text": "daily"},
                   "repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
        "route": {"text": "oral"},
        "doseAndRate": [{"doseQuantity": {"value": 60.0, "unit": "mg", "system": UCUM, "code": "mg"}}]}]
    assert ivig["status"] == "completed"
    assert ivig["effectivePeriod"] == {"start": "2026-02-01", "end": "2026-02-05"}
    assert "repeat" not in ivig["dosage"][0]["timing"]  # FHIR has no structured "per course"
    pft, emg = _resources(bundle, "DiagnosticReport")
    assert pft["conclusion"] == "DLCO 61%"
    assert _codings(pft["conclusionCode"][0]) == [
        ("urn:myositis-cds:codes:investigation-result", "abnormal")]
    assert "conclusion" not in emg
    assert "conclusionCode" not in emg


def test_record_paths_name_the_entries_that_carry_them() -> None:
    entries, urls = record_entries(parse_record(RECORD, today=TODAY))
    kinds = {url: resource["resourceType"] for url, resource in entries}
    assert kinds[urls["$.birth_date"]] == "Patient"
    assert kinds[urls["$.diagnosis"]] == "Condition"
    assert kinds[urls["$.labs[1]"]] == "Observation"
    assert urls["$.body_measurements[0]"] == urls["$.body_measurements[0].weight_kg"]
    assert urls["$.body_measurements[0].height_cm"] != urls["$.body_measurements[0].weight_kg"]
    assert urls["$.assessments[0].mmt8_max"] == urls["$.assessments[0].mmt8"]
    assert kinds[urls["$.treatments[1]"]] == "MedicationStatement"
    assert kinds[urls["$.investigations[0]"]] == "DiagnosticReport"


def test_a_transaction_bundle_posts_each_resource() -> None:
    bundle = _export(bundle_type="transaction")
    assert validate_bundle(bundle) == []
    assert bundle["type"] == "transaction"
    patient, diagnosis = bundle["entry"][:2]
    item = diagnosis["resource"]["identifier"][0]
    assert [patient["request"], diagnosis["request"]] == [
        {"method": "POST", "url": "Patient",
         "ifNoneExist": "identifier=urn:myositis-cds:patient-id|p-7"},
        {"method": "POST", "url": "Condition",
         "ifNoneExist": f"identifier=urn:myositis-cds:record-item|{item['value']}"}]
    # The identifiers are the same at every export, and different for every item.
    again = _export(bundle_type="transaction")
    assert [e["request"] for e in again["entry"]] == [e["request"] for e in bundle["entry"]]
    conditions = [e["request"]["ifNoneExist"] for e in bundle["entry"]]
    assert len(set(conditions)) == len(conditions)
    with pytest.raises(ValueError, match="bundle_type: got 'batch'"):
        _export(bundle_type="batch")


def test_an_identifier_that_is_not_a_fhir_id_is_kept_in_the_identifier() -> None:
    bundle = record_to_bundle({"id": "MRN 0042/7"}, today=TODAY)
    (patient,) = _resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "MRN 0042/7"
    assert patient["id"] != "MRN 0042/7"
    assert validate_bundle(bundle) == []


def test_a_lab_name_no_code_system_can_hold_is_exported_as_text() -> None:
    record = {"id": "p-8", "labs": [{"test": "CRP|hs", "value": 3.1, "unit": "mg/L", "date": "2026-01-12"}]}
    bundle = record_to_bundle(record, today=TODAY)
    (observation,) = _resources(bundle, "Observation")
    assert observation["code"] == {"text": "CRP|hs"}
    assert observation["valueQuantity"] == {"value": 3.1, "unit": "mg/L"}
    assert validate_bundle(bundle) == []


def test_a_bad_record_is_refused_with_the_field_named() -> None:
    bad = {**RECORD, "labs": [{"test": "CK", "value": -5, "unit": "U/L", "date": "2026-01-12"}]}
    with pytest.raises(RecordValidationError) as caught:
        record_to_bundle(bad, today=TODAY)
    assert [e.path for e in caught.value.errors] == ["$.labs[0].value"]


def test_the_importer_reads_back_what_is_exported() -> None:
    (imported,) = iter_bundle_patients(_export())
    assert imported.unmapped.to_dict()["total"] == 0
    document = imported.document
    assert document["id"] == "p-7"
    assert document["findings"] == [{"code": "ild", "present": True, "date": "2026-01-12"},
                                    {"code": "dysphagia", "present": False, "date": "2026-01-12"}]
    assert document["labs"][0] == {"test": "CK", "value": 4200.0, "unit": "U/L", "uln": 200.0,
                                   "date": "2026-01-12"}
    assert document["antibodies"][0] == {"target": "Mi-2", "result": "positive", "date": "2026-01-05",
                                         "titer": 88.0, "unit": "U/mL", "cutoff": 20.0,
                                         "method": "ELISA"}
    assert document["treatments"][0] == {"drug": "prednisone", "dose": 60.0, "unit": "mg",
                                         "frequency": "daily", "route": "oral", "start": "2026-01-13",
                                         "stop": None}
