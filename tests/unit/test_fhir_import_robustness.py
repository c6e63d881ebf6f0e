"""The importer never crashes on malformed FHIR, and its report never carries patient data."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from myositis_cds.adapters.fhir import iter_bundle_patients, patient_document, validate_import
from tests.conftest import TODAY
from tests.unit.fhir_builders import (
    LOCAL,
    LOINC,
    concept,
    observation,
    patient,
    quantity,
    request,
    statement,
)

KEYS = ["code", "subject", "patient", "status", "intent", "valueQuantity", "valueBoolean",
        "valueString", "valueInteger", "valueCodeableConcept", "interpretation", "referenceRange",
        "effectiveDateTime", "effectivePeriod", "onsetDateTime", "recordedDate", "abatementDateTime",
        "verificationStatus", "clinicalStatus", "medicationCodeableConcept", "medicationReference",
        "dosageInstruction", "dosage", "effectiveDateTime", "performedDateTime", "conclusionCode",
        "contained", "gender", "birthDate", "identifier", "id", "coding", "system", "value", "unit",
        "reference", "high", "timing", "repeat", "boundsPeriod", "start", "end", "doseAndRate",
        "doseQuantity", "comparator", "route", "text"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["Patient/p1", "final", "2026-01-12", "2026-13-45", "2026", "U/L", "kg",
                     LOINC, "2157-6", f"{LOCAL}antibody", "Mi-2", "POS", "refuted", "#m1", ""]),
    st.text(max_size=8))
JSON = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=3),
    st.dictionaries(st.sampled_from(KEYS), children, max_size=5)), max_leaves=25)
RESOURCE_TYPES = st.sampled_from(["Observation", "Condition", "MedicationRequest",
                                  "MedicationStatement", "Procedure", "DiagnosticReport",
                                  "Medication", "Encounter", "Patient"])


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8))
    body["resourceType"] = draw(RESOURCE_TYPES)
    body["subject"] = draw(st.sampled_from([{"reference": "Patient/p1"}, body.get("subject")]))
    return body


@settings(max_examples=200, deadline=None)
@given(st.lists(resources(), max_size=8))
def test_malformed_resources_never_crash(items: list[dict[str, Any]]) -> None:
    result = patient_document([patient(), *items])
    assert result.document["id"] == "p1"
    validated = validate_import(result, today=TODAY)
    assert validated.accepted or validated.errors
    json.dumps(validated.unmapped.to_dict())


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_malformed_bundles_never_crash(entries: object) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    for item in iter_bundle_patients(bundle):
        validate_import(item, today=TODAY)


def test_statuses_and_intents_of_any_json_type_are_excluded_not_a_crash() -> None:
    """A mapped resource whose ``status`` or ``intent`` is a list or object (found by the CLI fuzz,
    issue 13: ``TypeError: unhashable type``) is counted as excluded, like an unknown status."""
    drug = concept(f"{LOCAL}drug", "methotrexate")
    for odd in (["final"], {"code": "final"}):
        result = patient_document([
            patient(), {**observation(LOINC, "2157-6", valueQuantity=quantity(300, "U/L")),
                        "status": odd},
            request(drug, status=odd), request(drug, intent=odd), statement(drug, status=odd)])
        assert "labs" not in result.document or not result.document["labs"]
        assert not result.document.get("treatments")
        assert result.unmapped.to_dict()


def test_the_report_holds_no_patient_data() -> None:
    secret = "SECRET-Jane-Doe-123"
    lab = observation(LOINC, "2157-6", valueQuantity=quantity(4.2, "mg/dL"))
    lab["code"]["text"] = secret
    odd = observation(LOINC, "0000-0", valueString=secret)
    odd["note"] = [{"text": secret}]
    text_only = observation(LOINC, "x", valueString=secret)
    text_only["code"] = {"text": secret}
    result = patient_document([
        patient(name=[{"text": secret}], birthDate="1979", gender=secret), lab, odd, text_only,
        observation(f"{LOCAL}antibody", "Mi-2", valueString=secret, method=concept(LOINC, "x")),
        {"resourceType": "Encounter", "subject": {"reference": "Patient/p1"}, "reasonCode": [
            {"text": secret}]}])
    validated = validate_import(result, today=TODAY)
    serialised = json.dumps(validated.unmapped.to_dict()) + validated.unmapped.to_text()
    assert {(g["resource_type"], g["reason"]): g["count"]
            for g in validated.unmapped.to_dict()["groups"]} == {
        ("Patient", "unknown_gender"): 1, ("Patient", "partial_date"): 1,
        ("Observation", "unit_not_accepted"): 1, ("Observation", "unknown_code"): 1,
        ("Observation", "no_coding"): 1, ("Observation", "unknown_result"): 1,
        ("Encounter", "unsupported_resource_type"): 1}
    assert secret not in serialised
    assert "1979" not in serialised
    assert "4.2" not in serialised
