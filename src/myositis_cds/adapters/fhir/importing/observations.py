"""Observation → labs (enzymes), body measurements, antibodies, core-set measures, findings.

Units are read from ``valueQuantity.code`` when its system is UCUM (or absent), else from
``valueQuantity.unit``; only the units the record accepts pass (enzymes U/L, ukat/L, µkat/L;
the monitoring bloods' units of ``domain.units.LAB_UNITS``, e.g. 10*9/L, g/L, g/dL, umol/L,
mg/dL; weight kg, [lb_av]; height cm, [in_i]); anything else is counted as ``unit_not_accepted``
and left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from myositis_cds.adapters.fhir.codes import UCUM
from myositis_cds.adapters.fhir.elements import number, text_of
from myositis_cds.adapters.fhir.importing.draft import Concept, Draft
from myositis_cds.domain.units import LAB_UNITS
from myositis_cds.domain.vocabulary import ANTIBODY_RESULTS, ENZYME_LIKE_TESTS

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


def _scaled(value: float | int, factor: float) -> float | int:
    return value if factor == 1 else value * factor


def _lab(draft: Draft, resource: Mapping[str, Any], concept: Concept, day: str) -> None:
    """A lab result; a site's unit spelling converts it (value and ULN alike); without a
    ``referenceRange.high`` the site's default ULN of the test (in the same unit) is used."""
    found = _quantity(draft, resource, concept)
    if found is None:
        return
    value, quantity = found
    system, code = _unit(quantity)
    spelled = draft.mapping.lab_units.get((concept.name, code or ""))
    known = LAB_UNITS.get(concept.name)
    factor = 1.0
    unit: str | None
    if spelled is not None:
        unit, factor = spelled.unit, spelled.factor
    elif known is not None and concept.name not in ENZYME_LIKE_TESTS:
        unit = code if code in known[1] else None  # blood counts, haemoglobin, creatinine, albumin
    else:
        unit = ENZYME_UNIT_CODES.get(code or "")
    if unit is None:
        draft.report.add(RT, "unit_not_accepted", system=system, code=code, display=concept.name)
        return
    item: dict[str, Any] = {"test": concept.name, "value": _scaled(value, factor), "unit": unit}
    uln = _high(draft, resource, code, concept)
    if uln is not None:
        item["uln"] = _scaled(uln, factor)
    elif not _has_high(resource):
        default = draft.mapping.lab_defaults.get(concept.name)
        if default is not None and default.unit == unit:
            item["uln"] = default.uln
            draft.unmapped(RT, "uln_site_default", concept)
    item["date"] = day
    draft.add("labs", item, RT, concept)


def _has_high(resource: Mapping[str, Any]) -> bool:
    ranges = resource.get("referenceRange")
    return isinstance(ranges, list) and any(
        isinstance(r, dict) and isinstance(r.get("high"), dict) for r in ranges)


_CANONICAL: Final = {"weight_kg": 1.0, "weight_lb": 0.45359237, "height_cm": 1.0, "height_in": 2.54}
"""Body fields → factor to kg or cm (to compare two measurements of one date)."""


def same_amount(first: float, second: float) -> bool:
    """Whether two measurements agree to the precision they are written at (0.05 of the unit)."""
    return abs(first - second) <= 0.05


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
    item = draft.by_date.get(("body_measurements", day))
    if item is None:  # one entry per date: a weight and a height pair up
        item = draft.by_date["body_measurements", day] = {"date": day, field: value}
        draft.add("body_measurements", item, RT, concept)
        return
    known = next((key for key in item if key.startswith(kind)), None)
    if known is None:
        item[field] = value
    elif same_amount(item[known] * _CANONICAL[known], value * _CANONICAL[field]):
        draft.unmapped(RT, "duplicate_value", concept)
    else:
        draft.conflict("body_measurements", kind, day, concept)


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
    visit = draft.by_date.get(("assessments", day))
    if visit is not None and name in visit:  # one visit per date: a second value of a measure
        if visit[name] == value:
            draft.unmapped(RT, "duplicate_value", concept)
        else:
            draft.conflict("assessments", name, day, concept)
        return
    if visit is None:
        visit = draft.by_date["assessments", day] = {"date": day}
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
    status = resource.get("status")  # any JSON value: a list or object must not raise
    if not isinstance(status, str) or status not in ACCEPTED_OBSERVATION_STATUSES:
        draft.unmapped(RT, "status_excluded", concept)
        return
    day = draft.effective_day(resource, concept)
    if day is None:
        return
    _MAPPERS[concept.category](draft, resource, concept, day)

