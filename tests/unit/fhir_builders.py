"""Hand-made FHIR R4 resources for the importer tests (small builders; every field is explicit)."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
LOCAL = "urn:myositis-cds:codes:"
SUBJECT = {"reference": "Patient/p1"}


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return {"coding": [coding]}


def patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", **fields}


def quantity(value: float, code: str | None = None, *, unit: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value}
    if unit is not None:
        out["unit"] = unit
    if code is not None:
        out.update(system=UCUM, code=code)
    return out


def observation(system: str, code: str, *, day: str | None = "2026-01-12",
                status: str = "final", **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Observation", "status": status,
                           "code": concept(system, code), "subject": SUBJECT}
    if day is not None:
        out["effectiveDateTime"] = day
    out.update(fields)
    return out


def condition(system: str, code: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "code": concept(system, code), "subject": SUBJECT,
            **fields}


def status(system_name: str, code: str) -> dict[str, Any]:
    return concept(f"http://terminology.hl7.org/CodeSystem/{system_name}", code)


def request(drug: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "MedicationRequest", "status": "active",
                           "intent": "order", "subject": SUBJECT, "authoredOn": "2026-01-13"}
    if drug is not None:
        out["medicationCodeableConcept"] = drug
    out.update(fields)
    return out


def statement(drug: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": drug, "subject": SUBJECT, **fields}
