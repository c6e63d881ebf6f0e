"""FHIR R4 resources → ``patient-record@1`` documents, one patient at a time (plain dict processing).

:func:`patient_document` turns all the resources of one patient into one record document (not yet
validated) and an :class:`UnmappedReport` of what it could not map; :func:`iter_bundle_patients`
groups a Bundle's entries by patient. The bulk NDJSON reader is in :mod:`.bulk`, validation of the
documents in :mod:`.records`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from myositis_cds.adapters.fhir.codes import FhirCodes, load_codes
from myositis_cds.adapters.fhir.elements import day_of, reference_id
from myositis_cds.adapters.fhir.exporting.common import PATIENT_ID_SYSTEM
from myositis_cds.adapters.fhir.importing.clinical import (
    map_condition,
    map_diagnostic_report,
    map_medication,
    map_procedure,
)
from myositis_cds.adapters.fhir.importing.draft import Concept, Draft
from myositis_cds.adapters.fhir.importing.duplicates import collapse_duplicates
from myositis_cds.adapters.fhir.importing.observations import map_observation
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.adapters.record_json import RECORD_FORMAT
from myositis_cds.domain.vocabulary import SEXES

__all__ = [
    "MAPPED_RESOURCE_TYPES",
    "NO_TYPE",
    "Origin",
    "PatientImport",
    "bundle_resources",
    "default_codes",
    "default_mapping",
    "iter_bundle_patients",
    "medication_index",
    "patient_document",
    "patient_key_of",
    "record_id_of",
    "type_of",
]

_MAPPERS: Final = {
    "Observation": map_observation,
    "Condition": map_condition,
    "MedicationRequest": map_medication,
    "MedicationStatement": map_medication,
    "Procedure": map_procedure,
    "DiagnosticReport": map_diagnostic_report,
}
MAPPED_RESOURCE_TYPES: Final = frozenset({"Patient", "Medication", *_MAPPERS})
"""Resource types the importer reads (Medication only as the target of a medicationReference)."""
Origin = tuple[str, str, str, str | None]
"""(resource type, code system, code, display) of the coding an item was mapped from."""
NO_TYPE: Final = "(no resourceType)"
_PATIENT_ELEMENTS: Final = ("subject", "patient")
_LISTS: Final = ("body_measurements", "antibodies", "findings", "labs", "assessments",
                 "treatments", "investigations")


@cache
def default_codes() -> FhirCodes:
    """The embedded code tables (loaded once per process)."""
    return load_codes()


@cache
def default_mapping() -> FhirMapping:
    """The embedded code tables and no site facts (no site configuration given)."""
    return FhirMapping(codes=default_codes())


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientImport:
    """One patient's record document (not yet validated) and what could not be mapped."""

    patient_key: str
    """The FHIR Patient id (the document's ``id`` is the same unless the Patient carries a record id
    as identifier ``urn:myositis-cds:patient-id``)."""
    document: dict[str, Any]
    """A ``patient-record@1`` JSON document."""
    unmapped: UnmappedReport
    origins: Mapping[str, tuple[Origin, ...]] = field(default_factory=dict)
    """Per list of the document (and ``diagnosis``), where each item came from, aligned with it."""

    def to_dict(self) -> dict[str, Any]:
        return {"patient_key": self.patient_key, "document": self.document,
                "unmapped": self.unmapped.to_dict()}


def type_of(resource: Mapping[str, Any]) -> str:
    """A resource's type, or ``(no resourceType)`` for an object without one."""
    resource_type = resource.get("resourceType")
    return resource_type if isinstance(resource_type, str) and resource_type else NO_TYPE


def patient_key_of(resource: Mapping[str, Any], *,
                   full_urls: Mapping[str, str] | None = None) -> str | None:
    """The FHIR Patient id a resource belongs to, or None.

    A Patient's own id; else the ``subject`` (or ``patient``) reference: ``Patient/x``, an absolute
    URL ending in ``Patient/x`` (``/_history/n`` ignored), or a ``urn:uuid:`` fullUrl resolved
    through ``full_urls`` (fullUrl → Patient id, built from a Bundle's Patient entries).
    """
    if resource.get("resourceType") == "Patient":
        key = resource.get("id")
        return key if isinstance(key, str) and key else None
    for element in _PATIENT_ELEMENTS:
        reference = resource.get(element)
        if not isinstance(reference, dict):
            continue
        key = reference_id(reference, "Patient")
        if key is not None:
            return key
        ref = reference.get("reference")
        if full_urls is not None and isinstance(ref, str):
            key = full_urls.get(ref)
            if key is not None:
                return key
    return None


def record_id_of(patient: Mapping[str, Any]) -> str | None:
    """The record ``id`` a Patient carries as ``identifier`` (system ``urn:myositis-cds:patient-id``,
    written by the exporter when the record id is not a valid FHIR id), else None."""
    identifiers = patient.get("identifier")
    if isinstance(identifiers, list):
        for identifier in identifiers:
            if isinstance(identifier, dict) and identifier.get("system") == PATIENT_ID_SYSTEM:
                value = identifier.get("value")
                if isinstance(value, str) and value:
                    return value
    return None


def _patient(draft: Draft, patient: Mapping[str, Any], document: dict[str, Any]) -> None:
    gender = patient.get("gender")
    if gender in SEXES:
        document["sex"] = gender
    elif gender is not None:
        draft.unmapped("Patient", "unknown_gender")
    if "birthDate" in patient:
        day, partial = day_of(patient["birthDate"])
        if day is not None:
            document["birth_date"] = day
        else:
            draft.unmapped("Patient", "partial_date" if partial else "missing_date",
                           display="birthDate")


def _origin(resource_type: str, concept: Concept) -> Origin:
    return resource_type, concept.system, concept.code, concept.display


def _diagnosis(draft: Draft) -> tuple[dict[str, Any], Origin] | None:
    if not draft.diagnoses:
        return None
    ranked = sorted(draft.diagnoses, key=lambda item: item[0])
    for _, _, concept in ranked[:-1]:
        draft.unmapped("Condition", "superseded_diagnosis", concept)
    _, item, concept = ranked[-1]
    return item, _origin("Condition", concept)


def medication_index(resources: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Medication resources by the references that may point at them: ``id``, ``Medication/id``
    and ``urn:uuid:id`` (the fullUrl convention of generated bundles)."""
    index: dict[str, Mapping[str, Any]] = {}
    for resource in resources:
        if resource.get("resourceType") == "Medication" and isinstance(resource.get("id"), str):
            key = resource["id"]
            index[key] = index[f"Medication/{key}"] = index[f"urn:uuid:{key}"] = resource
    return index


def patient_document(resources: Sequence[Mapping[str, Any]], *,
                     mapping: FhirMapping | None = None,
                     medications: Mapping[str, Mapping[str, Any]] | None = None) -> PatientImport:
    """All resources of ONE patient (its Patient resource included) → one record document.

    ``mapping``: the site's code tables and facts (default: the embedded tables). Medication
    resources in ``resources`` (or ``medications``, a :func:`medication_index` shared by many
    patients) serve medicationReferences. Items keep the order of the resources they came from
    (no sorting, so that an exported record reads back identical); repeats are collapsed and
    contradictions left out (:mod:`.duplicates`). Everything not mapped is counted in the
    returned report.
    """
    draft = Draft(mapping=mapping or default_mapping())
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    draft.medications.update(medications or {})
    draft.medications.update(medication_index(resources))
    key = None
    if patients:
        key = patient_key_of(patients[0])
        for _ in patients[1:]:
            draft.unmapped("Patient", "duplicate_patient")
    else:
        draft.unmapped("Patient", "no_patient_resource")
        key = next((k for k in map(patient_key_of, resources) if k is not None), None)
    if key is None:
        msg = "resources: got resources of no identifiable patient; expected a Patient resource " \
              "with an id, or resources whose subject references Patient/<id>"
        raise ValueError(msg)
    document: dict[str, Any] = {"format": RECORD_FORMAT, "id": key}
    if patients:
        document["id"] = record_id_of(patients[0]) or key
        _patient(draft, patients[0], document)
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        resource_type = type_of(resource)
        resource_id = resource.get("id")
        if isinstance(resource_id, str) and resource_type in _MAPPERS:
            if (resource_type, resource_id) in seen:
                draft.unmapped(resource_type, "duplicate_resource")
                continue
            seen.add((resource_type, resource_id))
        mapper = _MAPPERS.get(resource_type)
        if mapper is not None:
            mapper(draft, resource)
        elif resource_type not in MAPPED_RESOURCE_TYPES:
            draft.unmapped(resource_type, "unsupported_resource_type")
    collapse_duplicates(draft)
    origins: dict[str, tuple[Origin, ...]] = {}
    diagnosis = _diagnosis(draft)
    if diagnosis is not None:
        document["diagnosis"], origin = diagnosis
        origins["diagnosis"] = (origin,)
    for name in _LISTS:
        items = getattr(draft, name)
        if items:
            document[name] = list(items)
            origins[name] = tuple(_origin(*draft.origins[id(item)]) for item in document[name])
    return PatientImport(patient_key=key, document=document, unmapped=draft.report,
                         origins=origins)


def bundle_resources(bundle: Mapping[str, Any]) -> Iterator[tuple[str | None, Mapping[str, Any]]]:
    """(fullUrl, resource) of each entry of a Bundle; nested Bundles (e.g. a searchset of
    collections) are descended into."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "Bundle":
            yield from bundle_resources(resource)
            continue
        full_url = entry.get("fullUrl")
        yield (full_url if isinstance(full_url, str) else None), resource


def _with_id(full_url: str | None, resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Patient or Medication without an id (allowed in a transaction Bundle) gets the last part
    of its fullUrl (``urn:uuid:x`` → ``x``) as id, so that its references can find it."""
    if (full_url is None or isinstance(resource.get("id"), str)
            or resource.get("resourceType") not in {"Patient", "Medication"}):
        return resource
    derived = full_url.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return {**resource, "id": derived} if derived else resource


def iter_bundle_patients(bundle: Mapping[str, Any], *, mapping: FhirMapping | None = None,
                         unassigned: UnmappedReport | None = None,
                         order: Callable[[list[Mapping[str, Any]]], list[Mapping[str, Any]]]
                         | None = None) -> Iterator[PatientImport]:
    """One :class:`PatientImport` per patient of a Bundle, in order of first appearance.

    Resources that belong to no patient of the Bundle are counted (``no_patient``, or
    ``unsupported_resource_type``) in ``unassigned`` when given — Medication resources excepted,
    which serve every patient's medicationReferences. A Patient or Medication without an id takes
    it from its fullUrl. ``order`` (e.g. the worklist's canonical order) rearranges each
    patient's resources before they are mapped; by default they keep the Bundle's order.
    """
    mapping = mapping or default_mapping()
    entries = [(url, _with_id(url, r)) for url, r in bundle_resources(bundle)]
    full_urls = {url: str(r["id"]) for url, r in entries
                 if url and r.get("resourceType") == "Patient" and isinstance(r.get("id"), str)}
    medications = medication_index(r for _, r in entries)
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for _, resource in entries:
        resource_type = type_of(resource)
        if resource_type == "Medication":
            continue
        key = patient_key_of(resource, full_urls=full_urls)
        if key is None:
            if unassigned is not None:
                reason = ("no_patient" if resource_type in MAPPED_RESOURCE_TYPES
                          else "unsupported_resource_type")
                unassigned.add(resource_type, reason)
            continue
        groups.setdefault(key, []).append(resource)
    for group in groups.values():
        yield patient_document(order(group) if order else group, mapping=mapping,
                               medications=medications)
