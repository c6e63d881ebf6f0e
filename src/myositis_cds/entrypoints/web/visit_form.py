"""The visit form: one screen for what a clinic visit records.

The core set (physician, patient and extramuscular global activity, HAQ, CDASI), strength as an
MMT-8 total or per muscle group, each clinical finding as present, absent or not examined, the
muscle and liver enzymes (value, unit, upper limit of normal), the drug-monitoring bloods of the
safety companion (§15: full blood count, creatinine, albumin; value and unit) and the weight.
Number fields show the pack's plausibility range as a hint; the record's check stays the judge.
One submit becomes one change that adds an assessment, findings, labs and a body measurement
at once, each dated the visit date (labs: the date the blood was drawn, when given). "Not
examined" and empty fields add nothing: a missing value is never recorded as normal or as 0,
and a visit without any core set measure adds no assessment (an empty one would become the TIS
baseline).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from myositis_cds.domain.units import LAB_UNITS as UNITS_OF_TEST
from myositis_cds.domain.vocabulary import (
    ALL_FINDINGS,
    CUTANEOUS_FINDINGS,
    ENZYME_LIKE_TESTS,
    MONITORING_BLOOD_TESTS,
)
from myositis_cds.entrypoints.web.choices import FINDING_LABELS
from myositis_cds.entrypoints.web.form_errors import Target
from myositis_cds.entrypoints.web.forms import (
    ASSESSMENT_FORM,
    FORM,
    LAB_TEST_LABELS,
    FieldSpec,
    build_entry,
    typed_values,
)
from myositis_cds.errors import FieldError
from myositis_cds.services.record_changes import EntryKey

__all__ = [
    "FINDING_STATES",
    "VISIT_LAB_TESTS",
    "VisitPart",
    "build_visit",
    "visit_field_names",
    "visit_layout",
    "visit_targets",
]

FINDING_STATES: Final = (("present", "Present"), ("absent", "Absent"), ("", "Not examined"))
VISIT_LAB_TESTS: Final = (*ENZYME_LIKE_TESTS, *MONITORING_BLOOD_TESTS)
"""Muscle and liver enzymes (with the upper limit of normal), then the drug-monitoring bloods
(§15: full blood count, creatinine and albumin; ALT or AST are with the enzymes)."""
_DATE = FieldSpec(name="date", label="Visit date", kind="date", required=True)
_LAB_DATE = FieldSpec(name="lab_date", label="Blood drawn on", kind="date",
                      hint="empty: the visit date")
_WEIGHT = FieldSpec(name="weight_kg", label="Weight (kg)", kind="number", quantity="weight_kg")
_CORE_NAMES: Final = ("physician_global", "patient_global", "extramuscular_global", "haq",
                      "cdasi_activity")


def _unit_choices(test: str) -> tuple[str, ...]:
    """One spelling of each unit the record converts for ``test``, the canonical one first."""
    canonical, spellings = UNITS_OF_TEST[test]
    factors = dict.fromkeys(spellings.values())
    return tuple(dict.fromkeys([canonical, *(next(s for s, f in spellings.items() if f == factor)
                                             for factor in factors)]))


def _lab_fields(test: str) -> tuple[FieldSpec, FieldSpec, FieldSpec | None]:
    """Value, unit and (enzymes) upper limit of normal of one test on the visit form."""
    words = LAB_TEST_LABELS[test]
    value = FieldSpec(name=f"lab_{test}_value", label=f"{words} value", kind="number",
                      quantity=test)
    unit = FieldSpec(name=f"lab_{test}_unit", label=f"{words} unit", kind="select",
                     choices=_unit_choices(test))
    if test not in ENZYME_LIKE_TESTS:
        return value, unit, None
    return value, unit, FieldSpec(name=f"lab_{test}_uln", label=f"{words} upper limit of normal",
                                  kind="number", quantity="enzyme_uln")


_ASSESSMENT_FIELDS: Final = tuple(s for s in ASSESSMENT_FORM.fields if s.name != "date")


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitPart:
    """One entry the visit adds, and which form field holds each of its values."""

    key: EntryKey
    entry: dict[str, object]
    fields: Mapping[str, str]


def visit_field_names() -> list[str]:
    names = [_DATE.name, *(s.name for s in _ASSESSMENT_FIELDS), _LAB_DATE.name, _WEIGHT.name]
    names += [f"finding_{code}" for code in ALL_FINDINGS]
    names += [s.name for test in VISIT_LAB_TESTS for s in _lab_fields(test) if s is not None]
    return names


def visit_layout() -> dict[str, object]:
    """What the template lays out, section by section."""
    core = [s for s in _ASSESSMENT_FIELDS if s.name in _CORE_NAMES]
    mmt = [s for s in _ASSESSMENT_FIELDS if s.name not in _CORE_NAMES]
    return {
        "date": _DATE, "core": core, "mmt_total": mmt[:2], "mmt_grades": mmt[2:],
        "skin": [(c, FINDING_LABELS[c]) for c in CUTANEOUS_FINDINGS],
        "other_findings": [(c, FINDING_LABELS[c]) for c in ALL_FINDINGS
                           if c not in CUTANEOUS_FINDINGS],
        "finding_states": FINDING_STATES, "lab_date": _LAB_DATE,
        "labs": [(LAB_TEST_LABELS[t], *_lab_fields(t)) for t in ENZYME_LIKE_TESTS],
        "bloods": [(LAB_TEST_LABELS[t], *_lab_fields(t)) for t in MONITORING_BLOOD_TESTS],
        "weight": _WEIGHT,
    }


def _findings(values: Mapping[str, str], date: object,
              errors: list[FieldError]) -> list[VisitPart]:
    parts = []
    for code in ALL_FINDINGS:
        name = f"finding_{code}"
        state = values.get(name, "").strip()
        if not state:
            continue  # not examined: nothing is recorded
        if state not in ("present", "absent"):
            errors.append(FieldError(path=f"{FORM}.{name}", value=state,
                                     expected="present, absent or not examined"))
            continue
        entry: dict[str, object] = {"code": code, "present": state == "present"}
        if date is not None:
            entry["date"] = date
        parts.append(VisitPart(key="findings", entry=entry,
                               fields={"code": name, "present": name, "date": "date"}))
    return parts


def _labs(values: Mapping[str, str], date: object, errors: list[FieldError]) -> list[VisitPart]:
    drawn = typed_values((_LAB_DATE,), values, errors).get("lab_date")
    day = drawn if drawn is not None else date
    parts = []
    for test in VISIT_LAB_TESTS:
        value_spec, unit_spec, uln_spec = _lab_fields(test)
        specs = (value_spec, unit_spec) if uln_spec is None else (value_spec, unit_spec, uln_spec)
        typed = typed_values(specs, values, errors)
        if value_spec.name not in typed:
            if uln_spec is not None and uln_spec.name in typed:
                errors.append(FieldError(path=f"{FORM}.{value_spec.name}", value="<missing>",
                                         expected=f"the {test} result (an upper limit of normal "
                                                  "alone records nothing)"))
            continue
        entry: dict[str, object] = {"test": test, "value": typed[value_spec.name],
                                    "unit": typed.get(unit_spec.name, unit_spec.choices[0])}
        if uln_spec is not None and uln_spec.name in typed:
            entry["uln"] = typed[uln_spec.name]
        if day is not None:
            entry["date"] = day
        fields = {"test": value_spec.name, "value": value_spec.name, "unit": unit_spec.name,
                  "date": "lab_date" if drawn is not None else "date"}
        if uln_spec is not None:
            fields["uln"] = uln_spec.name
        parts.append(VisitPart(key="labs", entry=entry, fields=fields))
    return parts


def build_visit(values: Mapping[str, str]) -> tuple[list[VisitPart], list[FieldError]]:
    """The entries a submitted visit form adds, and the form's own problems (all of them)."""
    errors: list[FieldError] = []
    date = typed_values((_DATE,), values, errors).get("date")
    parts: list[VisitPart] = []
    assessment, problems = build_entry(ASSESSMENT_FORM, {**values, "date": ""})
    errors += [e for e in problems if e.path != f"{FORM}.date"]
    if assessment:  # at least one core set or strength measure
        if date is not None:
            assessment = {"date": date, **assessment}
        parts.append(VisitPart(key="assessments", entry=assessment, fields={
            spec.json_key: spec.name for spec in ASSESSMENT_FORM.fields}))
    parts += _findings(values, date, errors)
    parts += _labs(values, date, errors)
    weight = typed_values((_WEIGHT,), values, errors).get("weight_kg")
    if weight is not None:
        entry: dict[str, object] = {"weight_kg": weight} if date is None else {"date": date,
                                                                               "weight_kg": weight}
        parts.append(VisitPart(key="body_measurements", entry=entry,
                               fields={"weight_kg": "weight_kg", "date": "date"}))
    if not parts and not errors:
        errors.append(FieldError(path=f"{FORM}.date", value="an empty visit",
                                 expected="at least one measure, finding, lab result or weight "
                                          "(nothing was entered)"))
    return parts, errors


def visit_targets(parts: list[VisitPart], paths: tuple[str, ...]) -> list[Target]:
    """Where each part went in the record (``paths`` as the change reported them)."""
    return [(path, part.fields) for part, path in zip(parts, paths, strict=True)]
