"""Validated models to the immutable domain record, in canonical units (kg, cm, U/L, g/L, …)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from myositis_cds.adapters.record_json.models import (
    AssessmentModel,
    LabModel,
    PatientRecordModel,
    TreatmentModel,
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


class CanonicalLab:
    """A lab value and ULN in its test's canonical unit (``None`` when the unit is not accepted)."""

    __slots__ = ("original_unit", "uln", "unit", "value")

    def __init__(self, value: float, uln: float | None, unit: str, original_unit: str | None) -> None:
        self.value, self.uln, self.unit, self.original_unit = value, uln, unit, original_unit


def canonical_lab(lab: LabModel) -> CanonicalLab | None:
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


def mmt8_from_grades(visit: AssessmentModel) -> float | None:
    if visit.mmt8_grades is None:
        return None
    return mmt8_total(visit.mmt8_grades.model_dump()).total


def haq_from_answers(visit: AssessmentModel) -> HaqDiResult | None:
    if visit.haq_answers is None:
        return None
    answers = {
        name: None if answer is None else HaqAnswer(score=answer.score,
                                                    aid_or_help=answer.aid_or_help)
        for name, answer in visit.haq_answers
    }
    return haq_di(answers)


def haq_agrees(given: float, computed: Fraction) -> bool:
    """A given HAQ-DI agrees with the computed one if it is that value rounded to its own decimals."""
    written = Decimal(repr(given))
    places = Decimal(1).scaleb(min(written.as_tuple().exponent, 0))  # type: ignore[arg-type]
    rounded = (Decimal(computed.numerator) / Decimal(computed.denominator)).quantize(
        places, rounding=ROUND_HALF_UP)
    return rounded == written


def _visit(index: int, v: AssessmentModel) -> domain.Visit:
    total = mmt8_from_grades(v)
    haq = haq_from_answers(v)
    haq_computed = v.haq is None and haq is not None and haq.index is not None
    return domain.Visit(
        index=index, date=v.date, physician_global=v.physician_global,
        patient_global=v.patient_global, extramuscular_global=v.extramuscular_global,
        mmt8=total if v.mmt8 is None and total is not None else v.mmt8, mmt8_max=v.mmt8_max,
        haq=haq.index if haq_computed and haq is not None else v.haq,
        cdasi_activity=v.cdasi_activity,
        mmt8_grades=None if v.mmt8_grades is None else v.mmt8_grades.model_dump(),
        haq_answers=None if v.haq_answers is None else {
            name: None if a is None else (a.score, a.aid_or_help) for name, a in v.haq_answers},
        mmt8_computed=v.mmt8 is None and total is not None,
        haq_computed=haq_computed,
    )


def _lab(index: int, lab: LabModel) -> domain.LabResult:
    canonical = canonical_lab(lab)
    assert canonical is not None  # the checks refused a unit the test does not accept
    return domain.LabResult(index=index, test=lab.test, value=canonical.value, unit=canonical.unit,
                            uln=canonical.uln, date=lab.date, original_unit=canonical.original_unit)


def _treatment(index: int, t: TreatmentModel) -> domain.Treatment:
    drug = canonical_drug(t.drug)
    assert drug is not None  # the checks refused an unknown drug
    return domain.Treatment(index=index, drug=drug, name=t.name, start=t.start, stop=t.stop,
                            dose=t.dose, unit=t.unit, frequency=t.frequency, route=t.route)


def to_domain(model: PatientRecordModel) -> domain.PatientRecord:
    diagnosis = model.diagnosis
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
            for i, m in enumerate(model.body_measurements)),
        antibodies=tuple(
            domain.AntibodyResult(index=i, target=canonical_antibody(a.target), result=a.result,
                                  date=a.date, titer=a.titer, unit=a.unit, cutoff=a.cutoff,
                                  method=a.method)
            for i, a in enumerate(model.antibodies)),
        findings=tuple(domain.Finding(index=i, code=f.code, present=f.present, date=f.date)
                       for i, f in enumerate(model.findings)),
        labs=tuple(_lab(i, lab) for i, lab in enumerate(model.labs)),
        assessments=tuple(_visit(i, v) for i, v in enumerate(model.assessments)),
        treatments=tuple(_treatment(i, t) for i, t in enumerate(model.treatments)),
        investigations=tuple(
            domain.Investigation(index=i, kind=x.kind, date=x.date, result=x.result,
                                 abnormal=x.abnormal)
            for i, x in enumerate(model.investigations)),
    )
