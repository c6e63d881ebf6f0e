"""Condition → diagnosis and findings; MedicationRequest/Statement → treatments;
Procedure/DiagnosticReport → investigations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from myositis_cds.adapters.fhir.codes import FREQUENCY_SYSTEM
from myositis_cds.adapters.fhir.elements import (
    codings,
    day_of,
    first_mapping,
    number,
    period_bounds,
    text_of,
)
from myositis_cds.adapters.fhir.importing.draft import Concept, Draft
from myositis_cds.adapters.fhir.mapping import COUNT_UNITS
from myositis_cds.domain.vocabulary import FREQUENCIES

__all__ = [
    "map_condition",
    "map_diagnostic_report",
    "map_medication",
    "map_procedure",
]

_ONGOING: Final = frozenset({"active", "recurrence", "relapse"})
_ENDED: Final = frozenset({"inactive", "remission", "resolved"})
_UNCONFIRMED: Final = frozenset({"unconfirmed", "provisional", "differential", "entered-in-error"})
_REQUEST_STATUSES: Final = frozenset({"active", "completed", "stopped", "on-hold"})
_REQUEST_INTENTS: Final = frozenset({"order", "original-order", "reflex-order", "filler-order",
                                     "instance-order"})
_STATEMENT_STATUSES: Final = frozenset({"active", "completed", "stopped", "on-hold"})
_ENDED_TREATMENT: Final = frozenset({"completed", "stopped"})
_REPORT_STATUSES: Final = frozenset({"final", "amended", "corrected", "appended"})
_PERIOD_UNITS: Final = {"d": "daily", "wk": "weekly", "mo": "monthly"}


def _status_code(concept: object) -> str | None:
    for _, code, _ in codings(concept):
        if code:
            return code
    return None


def _diagnosis_date(resource: Mapping[str, Any], order: tuple[str, ...]) -> str | None:
    """The first full date among the Condition's elements in the site's order (docs/fhir.md)."""
    for source in order:
        value = (period_bounds(resource.get("onsetPeriod"))[0] if source == "onsetPeriod.start"
                 else resource.get(source))
        day, _ = day_of(value)
        if day is not None:
            return day
    return None


def map_condition(draft: Draft, resource: Mapping[str, Any]) -> None:
    """A diagnosis candidate, or a finding present at onset (and absent from abatement on)."""
    rt = "Condition"
    concept = draft.resolve(rt, resource.get("code"), "diagnosis", "finding")
    if concept is None:
        return
    verification = _status_code(resource.get("verificationStatus"))
    clinical = _status_code(resource.get("clinicalStatus"))
    onset, _ = day_of(resource.get("onsetDateTime") or period_bounds(resource.get("onsetPeriod"))[0])
    recorded, _ = day_of(resource.get("recordedDate"))
    if concept.category == "diagnosis":
        if verification in _UNCONFIRMED or verification == "refuted":
            draft.unmapped(rt, "status_excluded", concept)
            return
        item: dict[str, Any] = {"name": concept.name}
        diagnosed = _diagnosis_date(resource, draft.mapping.diagnosis_date_order)
        if diagnosed is not None:
            item["date"] = diagnosed
        if onset is not None:
            item["symptom_onset_date"] = onset
        # The record allows a diagnosis without a date (what needs it becomes not evaluable), so
        # an undated one is kept; it ranks below every dated diagnosis ("" sorts first).
        dates = [d for d in (onset, recorded) if d is not None]
        draft.diagnoses.append((max(dates, default=""), item, concept))
        return
    if verification in _UNCONFIRMED:
        draft.unmapped(rt, "status_excluded", concept)
        return
    if verification == "refuted":
        day = draft.day(rt, resource.get("recordedDate") or resource.get("onsetDateTime"), concept)
        if day is not None:
            draft.add("findings", {"code": concept.name, "present": False, "date": day}, rt,
                      concept)
        return
    start = onset or recorded
    if start is None:
        draft.unmapped(rt, "missing_date", concept)
        return
    draft.add("findings", {"code": concept.name, "present": True, "date": start}, rt, concept)
    abated, _ = day_of(resource.get("abatementDateTime")
                       or period_bounds(resource.get("abatementPeriod"))[1])
    if abated is not None:
        draft.add("findings", {"code": concept.name, "present": False, "date": abated}, rt,
                  concept)
    elif clinical in _ENDED:
        draft.unmapped(rt, "ended_without_date", concept)


def _medication_concept(draft: Draft, rt: str, resource: Mapping[str, Any]) -> object:
    """medicationCodeableConcept, or the code of the Medication that medicationReference names
    (contained ``#x``, ``Medication/x``, ``urn:uuid:x``); None (counted) when it names none."""
    if "medicationCodeableConcept" in resource:
        return resource["medicationCodeableConcept"]
    reference = resource.get("medicationReference")
    ref = reference.get("reference") if isinstance(reference, dict) else None
    medication: Mapping[str, Any] | None = None
    if isinstance(ref, str):
        if ref.startswith("#"):
            contained = resource.get("contained")
            if isinstance(contained, list):
                medication = next((c for c in contained if isinstance(c, dict)
                                   and c.get("id") == ref[1:]), None)
        else:
            medication = draft.medications.get(ref) or draft.medications.get(ref.rsplit("/", 1)[-1])
    if medication is None:
        draft.unmapped(rt, "unresolved_medication")
        return None
    return medication.get("code")


def _frequency(dosage: Mapping[str, Any]) -> str | None:
    """timing.code in the project-local frequency system, else a plain timing.repeat."""
    timing = dosage.get("timing")
    if not isinstance(timing, dict):
        return None
    for system, code, _ in codings(timing.get("code")):
        if system == FREQUENCY_SYSTEM and code in FREQUENCIES:
            return code
    repeat = timing.get("repeat")
    if not isinstance(repeat, dict):
        return None
    if repeat.get("count") == 1:
        return "once"
    if repeat.get("frequency", 1) == 1 and repeat.get("period") == 1:
        return _PERIOD_UNITS.get(str(repeat.get("periodUnit")))
    return None


def _bounds(dosage: Mapping[str, Any] | None) -> tuple[object, object]:
    if dosage is None:
        return None, None
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict):
        return None, None
    return period_bounds(repeat.get("boundsPeriod"))


def _dose(draft: Draft, rt: str, dosage: Mapping[str, Any], drug: tuple[Concept, object],
          item: dict[str, Any]) -> None:
    """``dose`` and ``unit`` from doseQuantity. A dose counted in tablets (capsules...), or with
    no unit at all, becomes an amount only through the strength the site gives for the product's
    coding; otherwise the dose is left out and counted, never shown as a bare number."""
    dose_and_rate = first_mapping(dosage.get("doseAndRate"))
    quantity = dose_and_rate.get("doseQuantity") if dose_and_rate else None
    value = number(quantity.get("value")) if isinstance(quantity, dict) else None
    if value is None or not isinstance(quantity, dict):
        return
    unit = quantity.get("unit") or quantity.get("code")
    unit = unit if isinstance(unit, str) else ""
    if unit.strip() not in COUNT_UNITS:
        item["dose"] = value
        item["unit"] = unit
        return
    concept, medication = drug
    products = [(system, code) for system, code, _ in codings(medication) if system and code]
    strength = draft.mapping.strength_of([(concept.system, concept.code), *products])
    if strength is None:
        draft.unmapped(rt, "dose_unit_unknown", concept)
        return
    item["dose"] = value * strength.amount
    item["unit"] = strength.unit
    draft.unmapped(rt, "dose_site_strength", concept)


def map_medication(draft: Draft, resource: Mapping[str, Any]) -> None:
    """MedicationRequest (an order) or MedicationStatement (taken) → one treatment."""
    rt = str(resource.get("resourceType"))
    request = rt == "MedicationRequest"
    medication = _medication_concept(draft, rt, resource)
    if medication is None:
        return
    concept = draft.resolve(rt, medication, "drug")
    if concept is None:
        return
    status = resource.get("status")
    allowed = _REQUEST_STATUSES if request else _STATEMENT_STATUSES
    intent = resource.get("intent")  # any JSON value: a list or object must not raise
    if not isinstance(status, str) or status not in allowed or (
            request and (not isinstance(intent, str) or intent not in _REQUEST_INTENTS)):
        draft.unmapped(rt, "status_excluded", concept)
        return
    dosage = first_mapping(resource.get("dosageInstruction" if request else "dosage"))
    if request:
        start, stop = _bounds(dosage)
        start = start or resource.get("authoredOn")
    else:
        start, stop = period_bounds(resource.get("effectivePeriod"))
        start = start or resource.get("effectiveDateTime")
        stop = stop or (resource.get("effectiveDateTime") if status in _ENDED_TREATMENT else None)
    start_day = draft.day(rt, start, concept)
    if start_day is None:
        return
    stop_day, _ = day_of(stop)
    if stop_day is None and status in _ENDED_TREATMENT:
        draft.unmapped(rt, "ended_without_date", concept)
        return
    item: dict[str, Any] = {"drug": concept.name}
    if dosage is not None:
        _dose(draft, rt, dosage, (concept, medication), item)
        frequency = _frequency(dosage)
        if frequency is not None:
            item["frequency"] = frequency
        route = text_of(dosage.get("route"))
        if route:
            item["route"] = route[:64]
    item["start"] = start_day
    item["stop"] = stop_day
    draft.add("treatments", item, rt, concept)


def _investigation(draft: Draft, rt: str, resource: Mapping[str, Any], when: object,
                   allowed: frozenset[str]) -> tuple[Concept, str] | None:
    concept = draft.resolve(rt, resource.get("code"), "investigation")
    if concept is None:
        return None
    if resource.get("status") not in allowed:
        draft.unmapped(rt, "status_excluded", concept)
        return None
    day = draft.day(rt, when, concept)
    return None if day is None else (concept, day)


def map_procedure(draft: Draft, resource: Mapping[str, Any]) -> None:
    """A completed Procedure → an investigation (its outcome text as the result)."""
    when = resource.get("performedDateTime") or period_bounds(resource.get("performedPeriod"))[0]
    found = _investigation(draft, "Procedure", resource, when, frozenset({"completed"}))
    if found is None:
        return
    concept, day = found
    item: dict[str, Any] = {"kind": concept.name, "date": day}
    outcome = text_of(resource.get("outcome"))
    if outcome:
        item["result"] = outcome[:2000]
    draft.add("investigations", item, "Procedure", concept)


def map_diagnostic_report(draft: Draft, resource: Mapping[str, Any]) -> None:
    """A final DiagnosticReport → an investigation (conclusion; conclusionCode → abnormal)."""
    when = resource.get("effectiveDateTime") or period_bounds(resource.get("effectivePeriod"))[0]
    found = _investigation(draft, "DiagnosticReport", resource, when, _REPORT_STATUSES)
    if found is None:
        return
    concept, day = found
    item: dict[str, Any] = {"kind": concept.name, "date": day}
    conclusion = resource.get("conclusion")
    if isinstance(conclusion, str) and conclusion.strip():
        item["result"] = conclusion.strip()[:2000]
    flags = resource.get("conclusionCode")
    if isinstance(flags, list):
        for flag in flags:
            result = draft.resolve("DiagnosticReport", flag, "investigation_result", report=False)
            if result is not None:
                item["abnormal"] = result.name == "abnormal"
                break
    draft.add("investigations", item, "DiagnosticReport", concept)
