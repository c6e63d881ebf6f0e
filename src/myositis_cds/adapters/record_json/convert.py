"""Validated records to the immutable domain record, in canonical units (kg, cm, U/L, g/L, …).

A validated record is either form of :mod:`.structs`: the msgspec structs of the fast path or the
pydantic models; both have the same fields, read here by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from myositis_cds.adapters.record_json.models import HaqAnswersModel, Mmt8GradesModel
from myositis_cds.adapters.record_json.structs import (
    Antibody,
    BodyMeasurement,
    Finding,
    HaqAnswers,
    HaqCategory,
    Investigation,
    Lab,
    Mmt8Grades,
    Record,
    Treatment,
    Visit,
)
from myositis_cds.domain import record as domain
from myositis_cds.domain.units import LAB_UNITS, exact, inches_to_cm, pounds_to_kg
from myositis_cds.domain.vocabulary import canonical_antibody, canonical_drug
from myositis_cds.scores.haq_di import HaqAnswer, HaqDiResult, haq_di
from myositis_cds.scores.mmt8 import mmt8_total

__all__ = [
    "CanonicalLab",
    "canonical_lab",
    "haq_agrees",
    "haq_from_answers",
    "mmt8_from_grades",
    "to_domain",
]

MMT8_GROUPS = tuple(Mmt8GradesModel.model_fields)
"""The muscle groups of ``mmt8_grades``, in the record's order (their total is summed in it)."""
HAQ_CATEGORIES = tuple(HaqAnswersModel.model_fields)


def _grades(grades: Mmt8Grades) -> dict[str, float]:
    return {name: getattr(grades, name) for name in MMT8_GROUPS}


def _answers(answers: HaqAnswers) -> list[tuple[str, HaqCategory | None]]:
    return [(name, getattr(answers, name)) for name in HAQ_CATEGORIES]


class CanonicalLab:
    """A lab value and ULN in its test's canonical unit (``None`` when the unit is not accepted)."""

    __slots__ = ("original_unit", "uln", "unit", "value")

    def __init__(self, value: float, uln: float | None, unit: str, original_unit: str | None) -> None:
        self.value, self.uln, self.unit, self.original_unit = value, uln, unit, original_unit


def canonical_lab(lab: Lab) -> CanonicalLab | None:
    known = LAB_UNITS.get(lab.test)
    if known is None:
        return CanonicalLab(lab.value, lab.uln, lab.unit, None)
    unit, factors = known
    factor = factors.get(lab.unit)
    if factor is None:
        return None
    if lab.unit == unit:
        return CanonicalLab(lab.value, lab.uln, unit, None)
    return CanonicalLab(float(exact(lab.value) * factor),
                        None if lab.uln is None else float(exact(lab.uln) * factor), unit, lab.unit)


def mmt8_from_grades(visit: Visit) -> float | None:
    if visit.mmt8_grades is None:
        return None
    return mmt8_total(_grades(visit.mmt8_grades)).total


def haq_from_answers(visit: Visit) -> HaqDiResult | None:
    if visit.haq_answers is None:
        return None
    answers = {
        name: None if answer is None else HaqAnswer(score=answer.score,
                                                    aid_or_help=answer.aid_or_help)
        for name, answer in _answers(visit.haq_answers)
    }
    return haq_di(answers)


def haq_agrees(given: float, computed: Fraction) -> bool:
    """A given HAQ-DI agrees with the computed one if it is that value rounded to its own decimals."""
    written = Decimal(repr(given))
    places = Decimal(1).scaleb(min(written.as_tuple().exponent, 0))  # type: ignore[arg-type]
    rounded = (Decimal(computed.numerator) / Decimal(computed.denominator)).quantize(
        places, rounding=ROUND_HALF_UP)
    return rounded == written


def _visit(index: int, v: Visit) -> domain.Visit:
    total = mmt8_from_grades(v)
    haq = haq_from_answers(v)
    haq_computed = v.haq is None and haq is not None and haq.index is not None
    return domain.Visit(
        index=index, date=v.date, physician_global=v.physician_global,
        patient_global=v.patient_global, extramuscular_global=v.extramuscular_global,
        mmt8=total if v.mmt8 is None and total is not None else v.mmt8, mmt8_max=v.mmt8_max,
        haq=haq.index if haq_computed and haq is not None else v.haq,
        cdasi_activity=v.cdasi_activity,
        mmt8_grades=None if v.mmt8_grades is None else _grades(v.mmt8_grades),
        haq_answers=None if v.haq_answers is None else {
            name: None if a is None else (a.score, a.aid_or_help)
            for name, a in _answers(v.haq_answers)},
        mmt8_computed=v.mmt8 is None and total is not None,
        haq_computed=haq_computed,
    )


def _lab(index: int, lab: Lab) -> domain.LabResult:
    canonical = canonical_lab(lab)
    assert canonical is not None  # the checks refused a unit the test does not accept
    return domain.LabResult(index=index, test=lab.test, value=canonical.value, unit=canonical.unit,
                            uln=canonical.uln, date=lab.date, original_unit=canonical.original_unit)


def _treatment(index: int, t: Treatment) -> domain.Treatment:
    drug = canonical_drug(t.drug)
    assert drug is not None  # the checks refused an unknown drug
    return domain.Treatment(index=index, drug=drug, name=t.name, start=t.start, stop=t.stop,
                            dose=t.dose, unit=t.unit, frequency=t.frequency, route=t.route)


def to_domain(model: Record) -> domain.PatientRecord:
    diagnosis = model.diagnosis
    measurements: Sequence[BodyMeasurement] = model.body_measurements
    antibodies: Sequence[Antibody] = model.antibodies
    findings: Sequence[Finding] = model.findings
    labs: Sequence[Lab] = model.labs
    visits: Sequence[Visit] = model.assessments
    treatments: Sequence[Treatment] = model.treatments
    investigations: Sequence[Investigation] = model.investigations
    return domain.PatientRecord(
        id=model.id,
        sex=model.sex,
        birth_date=model.birth_date,
        diagnosis=None if diagnosis is None else domain.Diagnosis(
            name=diagnosis.name, date=diagnosis.date,
            symptom_onset_date=diagnosis.symptom_onset_date),
        body_measurements=tuple(
            domain.BodyMeasurement(
                index=i, date=m.date,
                weight_kg=m.weight_kg if m.weight_lb is None else pounds_to_kg(m.weight_lb),
                height_cm=m.height_cm if m.height_in is None else inches_to_cm(m.height_in))
            for i, m in enumerate(measurements)),
        antibodies=tuple(
            domain.AntibodyResult(index=i, target=canonical_antibody(a.target), result=a.result,
                                  date=a.date, titer=a.titer, unit=a.unit, cutoff=a.cutoff,
                                  method=a.method)
            for i, a in enumerate(antibodies)),
        findings=tuple(domain.Finding(index=i, code=f.code, present=f.present, date=f.date)
                       for i, f in enumerate(findings)),
        labs=tuple(_lab(i, lab) for i, lab in enumerate(labs)),
        assessments=tuple(_visit(i, v) for i, v in enumerate(visits)),
        treatments=tuple(_treatment(i, t) for i, t in enumerate(treatments)),
        investigations=tuple(
            domain.Investigation(index=i, kind=x.kind, date=x.date, result=x.result,
                                 abnormal=x.abnormal)
            for i, x in enumerate(investigations)),
    )
