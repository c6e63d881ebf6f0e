"""Cross-field checks of ``patient-record@1``: dates, units, plausibility and the drug vocabulary.

They run on :class:`RecordParts`: the parts of a record that passed the type checks (msgspec structs
or pydantic models, :mod:`.structs`), each list item with its index in the source array. On a
record that passed every type check the parts are the whole record; on one that did not, they are
the items that did, so every problem of a record is reported in one go (no "waves" of errors, one
fix at a time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from myositis_cds.adapters.record_json.convert import (
    canonical_lab,
    haq_agrees,
    haq_from_answers,
    mmt8_from_grades,
)
from myositis_cds.adapters.record_json.models import (
    AntibodyModel,
    AssessmentModel,
    BodyMeasurementModel,
    LabModel,
    TreatmentModel,
)
from myositis_cds.adapters.record_json.structs import (
    AntibodyStruct,
    AssessmentStruct,
    BodyMeasurementStruct,
    Diagnosis,
    LabStruct,
    Record,
    TreatmentStruct,
)
from myositis_cds.domain.units import LAB_UNITS, inches_to_cm, pounds_to_kg
from myositis_cds.domain.vocabulary import (
    DRUG_SYNONYMS,
    DRUGS,
    ENZYME_LIKE_TESTS,
    MI2_TARGETS,
    canonical_antibody,
    canonical_drug,
)
from myositis_cds.errors import MISSING_VALUE, FieldError
from myositis_cds.knowledge.plausibility import Plausibility
from myositis_cds.scores.mmt8 import MMT8_MAXIMUM

__all__ = ["RecordParts", "check_record", "parts_of"]

DRUG_EXPECTATION = (
    "a drug code (case-insensitive): " + ", ".join(DRUGS)
    + "; or a synonym: " + ", ".join(f"{k} → {v}" for k, v in DRUG_SYNONYMS.items())
)


@dataclass(slots=True)
class RecordParts:
    """What passed the type checks: top-level values and ``(index, item)`` pairs per section."""

    birth_date: dt.date | None = None
    diagnosis: Diagnosis | None = None
    items: dict[str, list[tuple[int, object]]] = field(default_factory=dict)

    def section(self, name: str) -> list[tuple[int, object]]:
        return self.items.get(name, [])


def parts_of(model: Record) -> RecordParts:
    return RecordParts(
        birth_date=model.birth_date, diagnosis=model.diagnosis,
        items={name: list(enumerate(getattr(model, name)))
               for name in ("body_measurements", "antibodies", "findings", "labs", "assessments",
                            "treatments", "investigations")})


def check_record(parts: RecordParts, prefix: str, today: dt.date,
                 limits: Plausibility) -> list[FieldError]:
    return [*_check_dates(parts, prefix, today), *_check_measurements(parts, prefix, limits),
            *_check_labs(parts, prefix, limits), *_check_antibodies(parts, prefix, limits),
            *_check_visits(parts, prefix), *_check_treatments(parts, prefix)]


_DATED_SECTIONS = ("body_measurements", "antibodies", "findings", "labs", "assessments",
                   "investigations")


def _dated(parts: RecordParts) -> Iterator[tuple[str, int | None, str, dt.date]]:
    """Every date of the record as (section, index, field, date); the JSON path of one is built
    only when it is wrong (:func:`_date_path`): most records have none."""
    if parts.diagnosis is not None:
        for name in ("date", "symptom_onset_date"):
            value = getattr(parts.diagnosis, name)
            if value is not None:
                yield "diagnosis", None, name, value
    for section in _DATED_SECTIONS:
        for i, item in parts.section(section):
            yield section, i, "date", item.date  # type: ignore[attr-defined]
    for i, t in parts.section("treatments"):
        assert isinstance(t, TreatmentModel | TreatmentStruct)
        yield "treatments", i, "start", t.start
        if t.stop is not None:
            yield "treatments", i, "stop", t.stop


def _date_path(prefix: str, section: str, index: int | None, name: str) -> str:
    if not section:
        return f"{prefix}.{name}"
    return f"{prefix}.{section}.{name}" if index is None else f"{prefix}.{section}[{index}].{name}"


def _check_dates(parts: RecordParts, prefix: str, today: dt.date) -> Iterator[FieldError]:
    birth = parts.birth_date
    for i, t in parts.section("treatments"):
        assert isinstance(t, TreatmentModel | TreatmentStruct)
        if t.stop is not None and t.stop < t.start:
            yield FieldError(path=f"{prefix}.treatments[{i}].stop", value=t.stop.isoformat(),
                             expected=f"a date on or after start ({t.start.isoformat()})")
    dated = list(_dated(parts))
    if birth is not None:
        dated.append(("", None, "birth_date", birth))
    for section, index, name, day in dated:
        if day > today:
            yield FieldError(path=_date_path(prefix, section, index, name), value=day.isoformat(),
                             expected=f"a date on or before today ({today.isoformat()})")
    if birth is not None:
        for section, index, name, day in dated:
            if day < birth and section:
                yield FieldError(path=_date_path(prefix, section, index, name),
                                 value=day.isoformat(),
                                 expected=f"a date on or after birth_date ({birth.isoformat()})")


def _implausible(path: str, written: float, quantity: str, converted: float,
                 limits: Plausibility) -> FieldError | None:
    if limits.accepts(quantity, converted):
        return None
    return FieldError(path=path, value=written, expected=limits.describe(quantity))


def _check_measurements(parts: RecordParts, prefix: str,
                        limits: Plausibility) -> Iterator[FieldError]:
    for i, m in parts.section("body_measurements"):
        assert isinstance(m, BodyMeasurementModel | BodyMeasurementStruct)
        where = f"{prefix}.body_measurements[{i}]"
        if m.weight_kg is not None and m.weight_lb is not None:
            yield FieldError(path=f"{where}.weight_lb", value=m.weight_lb,
                             expected="either weight_kg or weight_lb, not both")
        if m.height_cm is not None and m.height_in is not None:
            yield FieldError(path=f"{where}.height_in", value=m.height_in,
                             expected="either height_cm or height_in, not both")
        if all(v is None for v in (m.weight_kg, m.weight_lb, m.height_cm, m.height_in)):
            yield FieldError(path=where, value=MISSING_VALUE,
                             expected="a weight (weight_kg or weight_lb) and/or a height "
                             "(height_cm or height_in)")
        checks = (("weight_kg", m.weight_kg, m.weight_kg, "weight_kg"),
                  ("weight_lb", m.weight_lb, None if m.weight_lb is None else
                   pounds_to_kg(m.weight_lb), "weight_kg"),
                  ("height_cm", m.height_cm, m.height_cm, "height_cm"),
                  ("height_in", m.height_in, None if m.height_in is None else
                   inches_to_cm(m.height_in), "height_cm"))
        for name, written, converted, quantity in checks:
            if written is not None and converted is not None:
                error = _implausible(f"{where}.{name}", written, quantity, converted, limits)
                if error is not None:
                    yield error


def _check_labs(parts: RecordParts, prefix: str, limits: Plausibility) -> Iterator[FieldError]:
    for i, lab in parts.section("labs"):
        assert isinstance(lab, LabModel | LabStruct)
        canonical = canonical_lab(lab)
        if canonical is None:
            _unit, factors = LAB_UNITS[lab.test]
            yield FieldError(path=f"{prefix}.labs[{i}].unit", value=lab.unit,
                             expected=f"a unit for {lab.test}: {', '.join(factors)}")
            continue
        if not limits.accepts(lab.test, canonical.value):
            yield FieldError(path=f"{prefix}.labs[{i}].value", value=lab.value,
                             expected=limits.describe(lab.test))
        if (lab.uln is not None and canonical.uln is not None and lab.test in ENZYME_LIKE_TESTS
                and not limits.accepts("enzyme_uln", canonical.uln)):
            yield FieldError(path=f"{prefix}.labs[{i}].uln", value=lab.uln,
                             expected=limits.describe("enzyme_uln"))


def _check_antibodies(parts: RecordParts, prefix: str,
                      limits: Plausibility) -> Iterator[FieldError]:
    for i, a in parts.section("antibodies"):
        assert isinstance(a, AntibodyModel | AntibodyStruct)
        if a.titer is not None and canonical_antibody(a.target) in MI2_TARGETS:
            error = _implausible(f"{prefix}.antibodies[{i}].titer", a.titer, "mi2_titer", a.titer,
                                 limits)
            if error is not None:
                yield error


def _check_visits(parts: RecordParts, prefix: str) -> Iterator[FieldError]:
    for i, visit in parts.section("assessments"):
        assert isinstance(visit, AssessmentModel | AssessmentStruct)
        where = f"{prefix}.assessments[{i}]"
        total = mmt8_from_grades(visit)
        if total is not None:
            if visit.mmt8_max != MMT8_MAXIMUM:
                yield FieldError(path=f"{where}.mmt8_max", value=visit.mmt8_max,
                                 expected=f"{MMT8_MAXIMUM:g} (the MMT-8 maximum) when "
                                 "mmt8_grades are given")
            if visit.mmt8 is not None and visit.mmt8 != total:
                yield FieldError(path=f"{where}.mmt8", value=visit.mmt8,
                                 expected=f"the total of mmt8_grades ({total:g})")
        haq = haq_from_answers(visit)
        if (haq is not None and haq.index_exact is not None and visit.haq is not None
                and not haq_agrees(visit.haq, haq.index_exact)):
            yield FieldError(path=f"{where}.haq", value=visit.haq,
                             expected=f"the HAQ-DI of haq_answers ({haq.index:g} = "
                             f"{haq.total}/{haq.answered})")
        if visit.mmt8 is not None and visit.mmt8 > visit.mmt8_max:
            yield FieldError(path=f"{where}.mmt8", value=visit.mmt8,
                             expected=f"a score between 0 and mmt8_max ({visit.mmt8_max:g})")


def _check_treatments(parts: RecordParts, prefix: str) -> Iterator[FieldError]:
    for i, t in parts.section("treatments"):
        assert isinstance(t, TreatmentModel | TreatmentStruct)
        where = f"{prefix}.treatments[{i}]"
        drug = canonical_drug(t.drug)
        if drug is None:
            yield FieldError(path=f"{where}.drug", value=t.drug, expected=DRUG_EXPECTATION)
        elif drug == "other" and t.name is None:
            yield FieldError(path=f"{where}.name", value=MISSING_VALUE,
                             expected="the drug's name (required when drug is 'other')")


