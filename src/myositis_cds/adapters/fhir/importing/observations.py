"""Observation → labs (enzymes), body measurements, antibodies, core-set measures, findings.

Units are read from ``valueQuantity.code`` when its system is UCUM (or absent), else from
``valueQuantity.unit``; only the units the record accepts pass (enzymes U/L, ukat/L, µkat/L; weight
kg, [lb_av]; height cm, [in_i]); anything else is counted as ``unit_not_accepted`` and left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from myositis_cds.adapters.fhir.codes import UCUM
from myositis_cds.adapters.fhir.elements import number, text_of
from myositis_cds.adapters.fhir.importing.draft import Concept, Draft
from myositis_cds.domain.vocabulary import ANTIBODY_RESULTS

__all__ = [
    "ACCEPTED_OBSERVATION_STATUSES",
    "BODY_UNITS",
    "ENZYME_UNIT_CODES",
    "MEASURE_UNITS",
    "map_observation",
]

RT: Final = "Observation"
ACCEPTED_OBSERVATION_STATUSES: Final = frozenset({"final", "amended", "corrected"})
# UCUM code (or unit text) → the record's unit spelling.
ENZYME_UNIT_CODES: Final = {"U/L": "U/L", "ukat/L": "ukat/L", "µkat/L": "µkat/L", "μkat/L": "µkat/L"}
# body measure → UCUM code → the record field.
BODY_UNITS: Final = {
    "weight": {"kg": "weight_kg", "[lb_av]": "weight_lb"},
    "height": {"cm": "height_cm", "[in_i]": "height_in"},
}


def _unit(quantity: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(unit system, unit code or text) of a Quantity."""
    system = quantity.get("system")
    code = quantity.get("code")
    unit = quantity.get("unit")
    if isinstance(code, str) and (system is None or system == UCUM):
        return UCUM, code
    if isinstance(unit, str):
        return (system if isinstance(system, str) else None), unit
    return (system if isinstance(system, str) else None), (code if isinstance(code, str) else None)


def _quantity(draft: Draft, resource: Mapping[str, Any], concept: Concept) -> tuple[
        float | int, Mapping[str, Any]] | None:
    """valueQuantity's value (counted as missing or censored when unusable) and the Quantity."""
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, dict):
        draft.unmapped(RT, "missing_value", concept)
        return None
    if quantity.get("comparator") is not None:
        draft.unmapped(RT, "censored_value", concept)
        return None
    value = number(quantity.get("value"))
    if value is None:
        draft.unmapped(RT, "missing_value", concept)
        return None
    return value, quantity


def _high(draft: Draft, resource: Mapping[str, Any], unit: str | None,
          concept: Concept) -> float | int | None:
    """referenceRange[*].high of the first range that has one, if in ``unit`` (or unitless)."""
    ranges = resource.get("referenceRange")
    if not isinstance(ranges, list):
        return None
    for item in ranges:
        high = item.get("high") if isinstance(item, dict) else None
        if not isinstance(high, dict):
            continue
        value = number(high.get("value"))
        if value is None:
            continue
        _, high_unit = _unit(high)
        if high_unit is not None and high_unit != unit:
            draft.unmapped(RT, "uln_unit_mismatch", concept)
            return None
        return value
    return None


def _lab(draft: Draft, resource: Mapping[str, Any], concept: Concept, day: str) -> None:
    found = _quantity(draft, resource, concept)
    if found is None:
        return
    value, quantity = found
    system, code = _unit(quantity)
    unit = ENZYME_UNIT_CODES.get(code or "")
    if unit is None:
        draft.report.add(RT, "unit_not_accepted", system=system, code=code, display=concept.name)
        return
    item: dict[str, Any] = {"test": concept.name, "value": value, "unit": unit}
    uln = _high(draft, resource, code, concept)
    if uln is not None:
        item["uln"] = uln
    item["date"] = day
    draft.add("labs", item, RT, concept)


def _body(draft: Draft, resource: Mapping[str, Any], concept: Concept, day: str) -> None:
    found = _quantity(draft, resource, concept)
    if found is None:
        return
    value, quantity = found
    system, code = _unit(quantity)
    field = BODY_UNITS[concept.name].get(code or "")
    if field is None:
        draft.report.add(RT, "unit_not_accepted", system=system, code=code, display=concept.name)
        return
    kind = concept.name
    for item in draft.body_measurements:  # one entry per date: a weight and a height pair up
        if item["date"] == day and not any(key.startswith(kind) for key in item):
            item[field] = value
            return
    draft.add("body_measurements", {"date": day, field: value}, RT, concept)


def _antibody_result(draft: Draft, resource: Mapping[str, Any]) -> str | None:
    concept = draft.resolve(RT, resource.get("valueCodeableConcept"), "antibody_result",
                            report=False)
    if concept is not None:
        return concept.name
    text = resource.get("valueString")
    if isinstance(text, str) and text.strip().lower() in ANTIBODY_RESULTS:
        return text.strip().lower()
    interpretations = resource.get("interpretation")
    if isinstance(interpretations, list):
        for interpretation in interpretations:
            concept = draft.resolve(RT, interpretation, "antibody_result", report=False)
            if concept is not None:
                return concept.name
    return None


def _antibody(draft: Draft, resource: Mapping[str, Any], concept: Concept, day: str) -> None:
    result = _antibody_result(draft, resource)
    if result is None:
        draft.unmapped(RT, "unknown_result", concept)
        return
    item: dict[str, Any] = {"target": concept.name, "result": result, "date": day}
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and quantity.get("comparator") is None:
        titer = number(quantity.get("value"))
        if titer is not None:
            _, unit = _unit(quantity)
            item["titer"] = titer
            if unit:
                item["unit"] = unit
            cutoff = _high(draft, resource, unit, concept)
            if cutoff is not None and cutoff > 0:
                item["cutoff"] = cutoff
    method = text_of(resource.get("method"))
    if method:
        item["method"] = method[:500]
    draft.add("antibodies", item, RT, concept)


def _measure(draft: Draft, resource: Mapping[str, Any], concept: Concept, day: str) -> None:
    quantity = resource.get("valueQuantity")
    value = number(resource.get("valueInteger"))
    unit: str | None = None
    if value is None and isinstance(quantity, dict):
        if quantity.get("comparator") is not None:
            draft.unmapped(RT, "censored_value", concept)
            return
        value = number(quantity.get("value"))
        system, unit = _unit(quantity)
        if unit is not None and unit not in MEASURE_UNITS[concept.name]:
            draft.report.add(RT, "unit_not_accepted", system=system, code=unit,
                             display=concept.name)
            return
    if value is None:
        draft.unmapped(RT, "missing_value", concept)
        return
    name = concept.name
    visit = next((v for v in draft.assessments if v["date"] == day and name not in v), None)
    if visit is None:
        visit = {"date": day}
        draft.add("assessments", visit, RT, concept)
    visit[name] = value
    if name == "mmt8":
        maximum = _high(draft, resource, unit, concept)
        if maximum is not None:
            visit["mmt8_max"] = maximum


MEASURE_UNITS: Final = {
    "physician_global": frozenset({"cm"}), "patient_global": frozenset({"cm"}),
    "extramuscular_global": frozenset({"cm"}), "mmt8": frozenset({"{score}", "1"}),
    "haq": frozenset({"{score}", "1"}), "cdasi_activity": frozenset({"{score}", "1"}),
}
"""Accepted units of the core-set measures (a value without a unit is taken as is): the global
activities are 10 cm visual analogue scales (a value in mm is refused, never rescaled)."""


def _finding(draft: Draft, resource: Mapping[str, Any], concept: Concept, day: str) -> None:
    present = resource.get("valueBoolean")
    if not isinstance(present, bool):
        draft.unmapped(RT, "missing_value", concept)
        return
    draft.add("findings", {"code": concept.name, "present": present, "date": day}, RT, concept)


_MAPPERS: Final = {"lab": _lab, "body": _body, "antibody": _antibody, "measure": _measure,
                   "finding": _finding}


def map_observation(draft: Draft, resource: Mapping[str, Any]) -> None:
    """Add what one Observation says to ``draft``, or count why it cannot."""
    concept = draft.resolve(RT, resource.get("code"), "lab", "body", "antibody", "measure",
                            "finding")
    if concept is None:
        return
    if resource.get("status") not in ACCEPTED_OBSERVATION_STATUSES:
        draft.unmapped(RT, "status_excluded", concept)
        return
    day = draft.effective_day(resource, concept)
    if day is None:
        return
    _MAPPERS[concept.category](draft, resource, concept, day)

