"""A ``patient-record@1`` document as a FHIR R4B Bundle (``collection`` or ``transaction``).

The document is validated first (:func:`~myositis_cds.adapters.record_json.parse_record`: a bad
record raises :class:`~myositis_cds.errors.RecordValidationError` naming every field) and the
validated values are exported, in canonical units (kg, cm; U/L for the five enzymes):

Every resource but the Patient carries an ``identifier`` (system ``urn:myositis-cds:record-item``)
derived from the patient and its content, and a ``transaction`` Bundle creates each resource only
if none with its identifier exists (``ifNoneExist``): loading the same export twice duplicates
nothing.

- ``Patient``: ``identifier`` (system ``urn:myositis-cds:patient-id``) = the record ``id``; ``id`` =
  the record id when it is a valid FHIR id, else a name derived from it; ``gender``, ``birthDate``;
- ``Condition``: the diagnosis (``recordedDate`` = diagnosis date, ``onsetDateTime`` = symptom
  onset) and one per finding: present → ``verificationStatus`` confirmed, ``clinicalStatus`` active,
  onset and recorded date = the finding's date; absent → ``verificationStatus`` refuted (no clinical
  status), ``recordedDate`` = the date;
- ``Observation`` (status final): each lab (code from the code tables, LOINC for the enzymes;
  ``valueQuantity`` in UCUM; ``referenceRange.high`` = ULN), weight and height (LOINC, kg / cm),
  each antibody result (``valueQuantity`` = titer with ``interpretation`` = the result, or
  ``valueCodeableConcept`` = the result when there is no titer; ``referenceRange.high`` = the assay
  cut-off; ``method`` text) and each core-set measure of a visit (``mmt8_max`` as
  ``referenceRange.high``);
- ``MedicationStatement``: each treatment (``effectivePeriod`` start/stop, status active or
  completed, ``dosage`` with dose, ``timing`` and ``route`` text);
- ``DiagnosticReport`` (status final): each investigation (``conclusion`` = result text,
  ``conclusionCode`` = normal/abnormal when recorded).

Codes come only from :class:`~myositis_cds.adapters.fhir.codes.FhirCodes` (the exporter writes each
entry's first coding), so the importer reads back what is written here. :func:`record_entries`
also returns, for every JSON path of the record, the URL of the entry that carries it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from myositis_cds.adapters.fhir.codes import FREQUENCY_SYSTEM, UCUM, Category, FhirCodes
from myositis_cds.adapters.fhir.exporting.common import (
    PATIENT_ID_SYSTEM,
    BundleEntry,
    bundle,
    full_url,
    item_identifier,
    patient_resource_id,
    patient_url,
)
from myositis_cds.adapters.fhir.importing.importer import default_codes
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.domain import record as domain

__all__ = [
    "FREQUENCY_TIMING",
    "MEASURE_UNITS",
    "RecordEntries",
    "record_entries",
    "record_to_bundle",
]

_CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_VERIFICATION: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
_OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
FREQUENCY_TIMING: Final[Mapping[str, Mapping[str, Any]]] = {
    "daily": {"frequency": 1, "period": 1, "periodUnit": "d"},
    "weekly": {"frequency": 1, "period": 1, "periodUnit": "wk"},
    "monthly": {"frequency": 1, "period": 1, "periodUnit": "mo"},
    "once": {"count": 1},
}
"""``Dosage.timing.repeat`` of a frequency; ``timing.code`` (``FREQUENCY_SYSTEM`` of the code tables)
is always written too, since ``course`` has no structured FHIR timing."""
MEASURE_UNITS: Final[Mapping[str, tuple[str, str]]] = {
    "physician_global": ("cm", "cm"), "patient_global": ("cm", "cm"),
    "extramuscular_global": ("cm", "cm"), "mmt8": ("{score}", "score"),
    "haq": ("{score}", "score"), "cdasi_activity": ("{score}", "score")}
"""Core-set measure → (UCUM code, display unit): the VAS are 10 cm lines, the others scores."""
_UCUM_AS_WRITTEN: Final = frozenset({"U/L", "U/mL", "mg", "g", "mg/kg", "g/kg", "mg/m2", "kg", "cm"})
"""Units whose record spelling is their UCUM code: written with system and code; any other unit
is written as ``unit`` text only (never guessed into UCUM)."""


def _quantity(value: float, unit: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value}
    if unit:
        out["unit"] = unit
        if unit in _UCUM_AS_WRITTEN:
            out.update(system=UCUM, code=unit)
    return out


def _concept(codes: FhirCodes, category: Category, name: str) -> dict[str, Any]:
    """The entry's coding and its name as text; text only for a name no code system can hold
    (a lab test name with ``|``, which the record accepts)."""
    try:
        coding = codes.coding_for(category, name)
    except ValueError:
        return {"text": name}
    return {"coding": [coding.to_dict()], "text": name}


def _category(system: str, code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": system, "code": code}]}]


class RecordEntries:
    """The Bundle entries of one validated record and the entry URL of each of its JSON paths."""

    def __init__(self, record: domain.PatientRecord, codes: FhirCodes) -> None:
        self.record = record
        self.codes = codes
        self.pid = record.id
        self.entries: list[BundleEntry] = []
        self.urls: dict[str, str] = {}
        self._seen: dict[str, int] = {}

    @property
    def patient(self) -> dict[str, str]:
        """A new Reference to the Patient (each resource gets its own dict)."""
        return {"reference": patient_url(self.pid), "type": "Patient"}

    def add(self, paths: tuple[str, ...], *parts: str, resource: dict[str, Any]) -> str:
        if resource["resourceType"] != "Patient":  # the Patient's identifier is the record id
            probe = item_identifier(self.pid, resource)["value"]
            occurrence = self._seen.get(probe, 0)
            self._seen[probe] = occurrence + 1
            resource["identifier"] = [item_identifier(self.pid, resource, occurrence)]
        url = full_url(self.pid, *parts)
        self.entries.append((url, resource))
        for path in paths:
            self.urls.setdefault(path, url)
        return url

    def observation(self, *, category: str, code: dict[str, Any], day: dt.date,
                    **values: Any) -> dict[str, Any]:
        return {"resourceType": "Observation", "status": "final",
                "category": _category(_OBSERVATION_CATEGORY, category), "code": code,
                "subject": self.patient, "effectiveDateTime": day.isoformat(), **values}

    def build(self) -> RecordEntries:
        rec = self.record
        patient: dict[str, Any] = {"resourceType": "Patient"}
        patient["id"] = patient_resource_id(rec.id)
        patient["identifier"] = [{"system": PATIENT_ID_SYSTEM, "value": rec.id}]
        if rec.sex is not None:
            patient["gender"] = rec.sex
        if rec.birth_date is not None:
            patient["birthDate"] = rec.birth_date.isoformat()
        self.add(("$", "$.id", "$.sex", "$.birth_date"), "Patient", resource=patient)
        if rec.diagnosis is not None:
            self.diagnosis(rec.diagnosis)
        for measurement in rec.body_measurements:
            self.body(measurement)
        for antibody in rec.antibodies:
            self.antibody(antibody)
        for finding in rec.findings:
            self.finding(finding)
        for lab in rec.labs:
            self.lab(lab)
        for visit in rec.assessments:
            self.visit(visit)
        for treatment in rec.treatments:
            self.treatment(treatment)
        for investigation in rec.investigations:
            self.investigation(investigation)
        return self

    def diagnosis(self, diagnosis: domain.Diagnosis) -> None:
        condition: dict[str, Any] = {
            "resourceType": "Condition",
            "clinicalStatus": _category(_CONDITION_CLINICAL, "active")[0],
            "verificationStatus": _category(_CONDITION_VERIFICATION, "confirmed")[0],
            "category": _category(_CONDITION_CATEGORY, "problem-list-item"),
            "code": _concept(self.codes, "diagnosis", diagnosis.name), "subject": self.patient}
        if diagnosis.symptom_onset_date is not None:
            condition["onsetDateTime"] = diagnosis.symptom_onset_date.isoformat()
        if diagnosis.date is not None:
            condition["recordedDate"] = diagnosis.date.isoformat()
        self.add(("$.diagnosis",), "diagnosis", resource=condition)

    def body(self, item: domain.BodyMeasurement) -> None:
        where = f"$.body_measurements[{item.index}]"
        for name, value, unit, field in (("weight", item.weight_kg, "kg", "weight_kg"),
                                         ("height", item.height_cm, "cm", "height_cm")):
            if value is None:
                continue
            resource = self.observation(category="vital-signs", code=_concept(self.codes, "body", name),
                                        day=item.date, valueQuantity=_quantity(value, unit))
            self.add((f"{where}.{field}", where), "body_measurements", str(item.index), name,
                     resource=resource)

    def antibody(self, item: domain.AntibodyResult) -> None:
        result = _concept(self.codes, "antibody_result", item.result)
        values: dict[str, Any] = {}
        if item.titer is not None:
            values["valueQuantity"] = _quantity(item.titer, item.unit)
            values["interpretation"] = [result]
        else:
            values["valueCodeableConcept"] = result
        if item.cutoff is not None:
            high = _quantity(item.cutoff, item.unit)
            values["referenceRange"] = [{"high": high, "text": "assay positivity cut-off"}]
        if item.method:
            values["method"] = {"text": item.method}
        resource = self.observation(category="laboratory",
                                    code=_concept(self.codes, "antibody", item.target),
                                    day=item.date, **values)
        self.add((f"$.antibodies[{item.index}]",), "antibodies", str(item.index), resource=resource)

    def finding(self, item: domain.Finding) -> None:
        day = item.date.isoformat()
        condition: dict[str, Any] = {"resourceType": "Condition"}
        if item.present:
            condition["clinicalStatus"] = _category(_CONDITION_CLINICAL, "active")[0]
            condition["verificationStatus"] = _category(_CONDITION_VERIFICATION, "confirmed")[0]
        else:
            condition["verificationStatus"] = _category(_CONDITION_VERIFICATION, "refuted")[0]
        condition["code"] = _concept(self.codes, "finding", item.code)
        condition["subject"] = self.patient
        if item.present:
            condition["onsetDateTime"] = day
        condition["recordedDate"] = day
        self.add((f"$.findings[{item.index}]",), "findings", str(item.index), resource=condition)

    def lab(self, item: domain.LabResult) -> None:
        values: dict[str, Any] = {"valueQuantity": _quantity(item.value, item.unit)}
        if item.uln is not None:
            values["referenceRange"] = [{"high": _quantity(item.uln, item.unit)}]
        resource = self.observation(category="laboratory", code=_concept(self.codes, "lab", item.test),
                                    day=item.date, **values)
        self.add((f"$.labs[{item.index}]",), "labs", str(item.index), resource=resource)

    def visit(self, visit: domain.Visit) -> None:
        where = f"$.assessments[{visit.index}]"
        for name, (code, unit) in MEASURE_UNITS.items():
            value = getattr(visit, name)
            if value is None:
                continue
            values: dict[str, Any] = {
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": code}}
            if name == "mmt8":
                values["referenceRange"] = [{"high": {"value": visit.mmt8_max},
                                             "text": "maximum possible score"}]
            resource = self.observation(category="exam", code=_concept(self.codes, "measure", name),
                                        day=visit.date, **values)
            paths = (f"{where}.{name}", f"{where}.mmt8_max") if name == "mmt8" else (f"{where}.{name}",)
            self.add(paths, "assessments", str(visit.index), name, resource=resource)

    def treatment(self, item: domain.Treatment) -> None:
        period = {"start": item.start.isoformat()}
        if item.stop is not None:
            period["end"] = item.stop.isoformat()
        dosage: dict[str, Any] = {}
        if item.frequency is not None:
            timing: dict[str, Any] = {"code": {"coding": [
                {"system": FREQUENCY_SYSTEM, "code": item.frequency}], "text": item.frequency}}
            if item.frequency in FREQUENCY_TIMING:
                timing["repeat"] = dict(FREQUENCY_TIMING[item.frequency])
            dosage["timing"] = timing
        if item.route is not None:
            dosage["route"] = {"text": item.route}
        if item.dose is not None:
            dosage["doseAndRate"] = [{"doseQuantity": _quantity(item.dose, item.unit)}]
        text = " ".join(str(p) for p in (item.drug, item.dose, item.unit, item.frequency, item.route)
                        if p is not None)
        statement: dict[str, Any] = {
            "resourceType": "MedicationStatement",
            "status": "active" if item.stop is None else "completed",
            "medicationCodeableConcept": _concept(self.codes, "drug", item.drug),
            "subject": self.patient, "effectivePeriod": period}
        if dosage:
            statement["dosage"] = [{"text": text, **dosage}]
        self.add((f"$.treatments[{item.index}]",), "treatments", str(item.index), resource=statement)

    def investigation(self, item: domain.Investigation) -> None:
        report: dict[str, Any] = {
            "resourceType": "DiagnosticReport", "status": "final",
            "code": _concept(self.codes, "investigation", item.kind), "subject": self.patient,
            "effectiveDateTime": item.date.isoformat()}
        if item.result is not None and item.result.strip():
            report["conclusion"] = item.result
        if item.abnormal is not None:
            flag = "abnormal" if item.abnormal else "normal"
            report["conclusionCode"] = [_concept(self.codes, "investigation_result", flag)]
        self.add((f"$.investigations[{item.index}]",), "investigations", str(item.index),
                 resource=report)


def record_entries(record: domain.PatientRecord, *,
                   codes: FhirCodes | None = None) -> tuple[list[BundleEntry], dict[str, str]]:
    """(entries, JSON path → entry URL) of a validated record (see the module docstring)."""
    built = RecordEntries(record, codes or default_codes()).build()
    return built.entries, built.urls


def record_to_bundle(record_document: object, *, today: dt.date | None = None,
                     codes: FhirCodes | None = None, bundle_type: str = "collection",
                     source: str = "record") -> dict[str, Any]:
    """A ``patient-record@1`` JSON document → a FHIR R4B Bundle (``collection`` or ``transaction``).

    ``today`` bounds the record's dates as in every other command (default: the calendar date).
    Raises :class:`~myositis_cds.errors.RecordValidationError` for a bad record.
    """
    if bundle_type not in {"collection", "transaction"}:
        msg = f"bundle_type: got {bundle_type!r}; expected 'collection' or 'transaction'"
        raise ValueError(msg)
    day = today or dt.date.today()  # noqa: DTZ011 - the clinic's calendar date, as elsewhere
    record = parse_record(record_document, today=day, source=source)
    entries, _ = record_entries(record, codes=codes)
    return bundle(entries, bundle_type=bundle_type)
