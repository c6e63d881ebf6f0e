"""``patient-record@1`` at the edge: strict parsing, unit conversion, and errors that name the field.

Untrusted JSON (already decoded to Python objects) is validated by pydantic models in strict mode
(no "12" for 12, no number for a date), then by cross-field checks (a stop before its start, a date
after today or before birth, mismatched units), and converted to the immutable domain record in
canonical units. Every problem is collected and raised at once as a
:class:`~myositis_cds.errors.RecordValidationError` whose entries give the JSON path, the value and
what was expected.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from myositis_cds.domain import record as domain
from myositis_cds.domain.units import ENZYME_UNITS, exact, inches_to_cm, pounds_to_kg
from myositis_cds.domain.vocabulary import ENZYMES, canonical_antibody
from myositis_cds.errors import MISSING_VALUE, FieldError, RecordValidationError
from myositis_cds.scores.haq_di import HaqAnswer, HaqDiResult, haq_di
from myositis_cds.scores.mmt8 import MMT8_MAXIMUM, mmt8_total

__all__ = [
    "RECORDS_FORMAT",
    "RECORD_FORMAT",
    "PatientRecordModel",
    "parse_record",
    "record_json_schema",
]

RECORD_FORMAT = "myositis-cds/patient-record@1"
RECORDS_FORMAT = "myositis-cds/patient-records@1"
IsoDate = dt.date
"""Strict JSON mode accepts exactly ``YYYY-MM-DD`` strings of existing calendar dates."""
Vas = Annotated[float, Field(ge=0, le=10, description="10 cm visual analogue scale")]
Text = Annotated[str, Field(min_length=1, max_length=500)]
Grade = Annotated[float, Field(ge=0, le=10, description="MMT grade 0–10")]

Sex = Literal["female", "male", "other", "unknown"]
DiagnosisName = Literal[
    "dermatomyositis", "amyopathic_dermatomyositis", "juvenile_dermatomyositis",
    "antisynthetase_syndrome", "imnm", "polymyositis", "inclusion_body_myositis",
    "overlap_myositis", "undetermined",
]
AntibodyTarget = Literal[
    "Mi-2", "Mi-2α", "Mi-2β", "Mi-2alpha", "Mi-2beta", "TIF1-gamma", "TIF1γ", "NXP2", "MDA5",
    "SAE1", "Jo-1", "PL-7", "PL-12", "EJ", "OJ", "SRP", "HMGCR", "Ro52", "PM-Scl", "Ku", "U1-RNP",
]
FindingCode = Literal[
    "heliotrope_rash", "gottron_papules", "gottron_sign", "v_sign", "shawl_sign",
    "periungual_changes", "cutaneous_necrosis", "proximal_weakness", "extensive_weakness",
    "dysphagia", "ild", "calcinosis", "fever", "respiratory_symptoms", "arthritis", "raynaud",
    "photosensitivity",
]
InvestigationKind = Literal[
    "skin_exam", "pulmonary_function_tests", "chest_radiograph", "hrct_chest", "emg",
    "muscle_biopsy", "age_appropriate_cancer_screening", "ct_chest_abdomen_pelvis",
]
Frequency = Literal["daily", "weekly", "once", "monthly", "course"]


class _Model(BaseModel):
    # Only keys are worth caching: values (ids, dates) are mostly unique and would fill the cache.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False,
                              cache_strings="keys")


class DiagnosisModel(_Model):
    name: DiagnosisName
    date: IsoDate | None = None
    symptom_onset_date: IsoDate | None = None


class BodyMeasurementModel(_Model):
    date: IsoDate
    weight_kg: Annotated[float, Field(gt=0)] | None = None
    height_cm: Annotated[float, Field(gt=0)] | None = None
    weight_lb: Annotated[float, Field(gt=0)] | None = None
    height_in: Annotated[float, Field(gt=0)] | None = None


class AntibodyModel(_Model):
    target: AntibodyTarget
    result: Literal["positive", "negative", "borderline"]
    date: IsoDate
    titer: Annotated[float, Field(ge=0)] | None = None
    unit: Text | None = None
    cutoff: Annotated[float, Field(gt=0)] | None = None
    method: Text | None = None


class FindingModel(_Model):
    code: FindingCode
    present: bool
    date: IsoDate


class LabModel(_Model):
    test: Annotated[str, Field(min_length=1, max_length=64)]
    value: Annotated[float, Field(ge=0)]
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    uln: Annotated[float, Field(gt=0)] | None = None
    date: IsoDate


class Mmt8GradesModel(_Model):
    """Per-muscle MMT-8 grades (0–10 each, unilateral); all 8 groups are required."""

    neck_flexors: Grade
    deltoid: Grade
    biceps: Grade
    wrist_extensors: Grade
    gluteus_maximus: Grade
    gluteus_medius: Grade
    quadriceps: Grade
    ankle_dorsiflexors: Grade


class HaqCategoryModel(_Model):
    """One HAQ-DI category: its worst item score (0–3) and whether an aid, device or help is used."""

    score: Annotated[int, Field(ge=0, le=3)]
    aid_or_help: bool = False


class HaqAnswersModel(_Model):
    """HAQ-DI answers per category; an absent or null category is unanswered."""

    dressing_grooming: HaqCategoryModel | None = None
    arising: HaqCategoryModel | None = None
    eating: HaqCategoryModel | None = None
    walking: HaqCategoryModel | None = None
    hygiene: HaqCategoryModel | None = None
    reach: HaqCategoryModel | None = None
    grip: HaqCategoryModel | None = None
    activities: HaqCategoryModel | None = None


class AssessmentModel(_Model):
    date: IsoDate
    physician_global: Vas | None = None
    patient_global: Vas | None = None
    extramuscular_global: Vas | None = None
    mmt8: Annotated[float, Field(ge=0)] | None = None
    mmt8_max: Annotated[float, Field(gt=0)] = 80.0
    haq: Annotated[float, Field(ge=0, le=3)] | None = None
    cdasi_activity: Annotated[float, Field(ge=0)] | None = None
    mmt8_grades: Mmt8GradesModel | None = None
    """When given, ``mmt8`` is their total (and must equal it if also given)."""
    haq_answers: HaqAnswersModel | None = None
    """When given with ≥ 7 categories answered, ``haq`` is their HAQ-DI (must agree if also given)."""


class TreatmentModel(_Model):
    drug: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64,
                               description="generic name, lower case (e.g. prednisone)")]
    dose: Annotated[float, Field(gt=0)] | None = None
    unit: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    frequency: Frequency | None = None
    route: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    start: IsoDate
    stop: IsoDate | None = None


class InvestigationModel(_Model):
    kind: InvestigationKind
    date: IsoDate
    result: Annotated[str, Field(max_length=2000)] | None = None
    abnormal: bool | None = None


class PatientRecordModel(_Model):
    """One patient, ``myositis-cds/patient-record@1``."""

    model_config = ConfigDict(title="myositis-cds/patient-record@1")

    format: Literal["myositis-cds/patient-record@1"] | None = None
    id: Annotated[str, Field(min_length=1, max_length=128)]
    sex: Sex | None = None
    birth_date: IsoDate | None = None
    diagnosis: DiagnosisModel | None = None
    body_measurements: list[BodyMeasurementModel] = []
    antibodies: list[AntibodyModel] = []
    findings: list[FindingModel] = []
    labs: list[LabModel] = []
    assessments: list[AssessmentModel] = []
    treatments: list[TreatmentModel] = []
    investigations: list[InvestigationModel] = []


def record_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of ``patient-record@1``."""
    schema = PatientRecordModel.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://myositis-cds.example/schemas/patient-record@1.json"
    return schema


# ---------------------------------------------------------------------------------------------
# Errors


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    parts = [prefix]
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item.startswith(("function-", "lax-", "strict-")) or item in {"literal", "nullable"}:
            continue
        else:
            parts.append(f".{item}")
    return "".join(parts)


_NESTED_MODELS: dict[str, type[BaseModel]] = {
    "mmt8_grades": Mmt8GradesModel, "haq_answers": HaqAnswersModel,
}
_MODEL_AT: dict[str, type[BaseModel]] = {
    "diagnosis": DiagnosisModel, "body_measurements": BodyMeasurementModel,
    "antibodies": AntibodyModel, "findings": FindingModel, "labs": LabModel,
    "assessments": AssessmentModel, "treatments": TreatmentModel,
    "investigations": InvestigationModel,
}


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = PatientRecordModel
    if len(loc) > 1 and isinstance(loc[0], str) and loc[0] in _MODEL_AT:
        model = _MODEL_AT[loc[0]]
    names = [part for part in loc[:-1] if isinstance(part, str)]
    for name in names[1:]:
        if name in _NESTED_MODELS:
            model = _NESTED_MODELS[name]
        elif name in HaqAnswersModel.model_fields:
            model = HaqCategoryModel
    return list(model.model_fields)


def _expected(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    message = str(error["msg"])
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        return "no such key; allowed here: " + ", ".join(_allowed_keys(loc))
    if kind == "missing":
        return "a value (this field is required)"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "literal_error":
        field = str(loc[-1]) if loc else "value"
        options = message.removeprefix("Input should be ")
        if field in {"target", "code", "kind", "name", "frequency", "result", "sex"}:
            return f"a known {field} code: {options}"
        return options
    return message.removeprefix("Input should be ").removeprefix("input should be ")


def _field_errors(exc: ValidationError, prefix: str) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        value = MISSING_VALUE if error["type"] == "missing" else error.get("input")
        errors.append(FieldError(path=_path(prefix, loc), value=value, expected=_expected(error)))
    return errors


# ---------------------------------------------------------------------------------------------
# Cross-field checks and conversion


def _check_dates(model: PatientRecordModel, prefix: str, today: dt.date) -> list[FieldError]:
    errors: list[FieldError] = []
    birth = model.birth_date
    dated: list[tuple[str, dt.date]] = []
    if model.diagnosis is not None:
        for name in ("date", "symptom_onset_date"):
            value = getattr(model.diagnosis, name)
            if value is not None:
                dated.append((f"{prefix}.diagnosis.{name}", value))
    for name in ("body_measurements", "antibodies", "findings", "labs", "assessments",
                 "investigations"):
        dated += [(f"{prefix}.{name}[{i}].date", item.date)
                  for i, item in enumerate(getattr(model, name))]
    for i, t in enumerate(model.treatments):
        dated.append((f"{prefix}.treatments[{i}].start", t.start))
        if t.stop is not None and t.stop < t.start:
            errors.append(FieldError(path=f"{prefix}.treatments[{i}].stop", value=t.stop.isoformat(),
                                     expected=f"a date on or after start ({t.start.isoformat()})"))
    if birth is not None:
        dated.append((f"{prefix}.birth_date", birth))
    for i, t in enumerate(model.treatments):
        if t.stop is not None:
            dated.append((f"{prefix}.treatments[{i}].stop", t.stop))
    errors += [
        FieldError(path=path, value=day.isoformat(),
                   expected=f"a date on or before today ({today.isoformat()})")
        for path, day in dated if day > today
    ]
    if birth is not None:
        errors += [
            FieldError(path=path, value=day.isoformat(),
                       expected=f"a date on or after birth_date ({birth.isoformat()})")
            for path, day in dated if day < birth and not path.endswith(".birth_date")
        ]
    return errors


def _check_items(model: PatientRecordModel, prefix: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, m in enumerate(model.body_measurements):
        where = f"{prefix}.body_measurements[{i}]"
        if m.weight_kg is not None and m.weight_lb is not None:
            errors.append(FieldError(path=f"{where}.weight_lb", value=m.weight_lb,
                                     expected="either weight_kg or weight_lb, not both"))
        if m.height_cm is not None and m.height_in is not None:
            errors.append(FieldError(path=f"{where}.height_in", value=m.height_in,
                                     expected="either height_cm or height_in, not both"))
        if all(v is None for v in (m.weight_kg, m.weight_lb, m.height_cm, m.height_in)):
            errors.append(FieldError(path=where, value=MISSING_VALUE,
                                     expected="a weight (weight_kg or weight_lb) and/or a height "
                                     "(height_cm or height_in)"))
    for i, lab in enumerate(model.labs):
        if lab.test in ENZYMES and lab.unit not in ENZYME_UNITS:
            errors.append(FieldError(path=f"{prefix}.labs[{i}].unit", value=lab.unit,
                                     expected=f"a unit for {lab.test}: U/L, µkat/L or ukat/L"))
    for i, visit in enumerate(model.assessments):
        errors += _check_instruments(visit, f"{prefix}.assessments[{i}]")
        if visit.mmt8 is not None and visit.mmt8 > visit.mmt8_max:
            errors.append(FieldError(path=f"{prefix}.assessments[{i}].mmt8", value=visit.mmt8,
                                     expected=f"a score between 0 and mmt8_max ({visit.mmt8_max:g})"))
    return errors


def _mmt8_from_grades(visit: AssessmentModel) -> float | None:
    if visit.mmt8_grades is None:
        return None
    return mmt8_total(visit.mmt8_grades.model_dump()).total


def _haq_from_answers(visit: AssessmentModel) -> HaqDiResult | None:
    if visit.haq_answers is None:
        return None
    answers = {
        name: None if answer is None else HaqAnswer(score=answer.score,
                                                    aid_or_help=answer.aid_or_help)
        for name, answer in visit.haq_answers
    }
    return haq_di(answers)


def _agrees(given: float, exact: Fraction) -> bool:
    """A given HAQ-DI agrees with the computed one if it is that value rounded to its own decimals."""
    written = Decimal(repr(given))
    places = Decimal(1).scaleb(min(written.as_tuple().exponent, 0))  # type: ignore[arg-type]
    computed = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        places, rounding=ROUND_HALF_UP)
    return computed == written


def _check_instruments(visit: AssessmentModel, where: str) -> list[FieldError]:
    errors: list[FieldError] = []
    total = _mmt8_from_grades(visit)
    if total is not None:
        if visit.mmt8_max != MMT8_MAXIMUM:
            errors.append(FieldError(path=f"{where}.mmt8_max", value=visit.mmt8_max,
                                     expected=f"{MMT8_MAXIMUM:g} (the MMT-8 maximum) when "
                                     "mmt8_grades are given"))
        if visit.mmt8 is not None and visit.mmt8 != total:
            errors.append(FieldError(path=f"{where}.mmt8", value=visit.mmt8,
                                     expected=f"the total of mmt8_grades ({total:g})"))
    haq = _haq_from_answers(visit)
    if (haq is not None and haq.index_exact is not None and visit.haq is not None
            and not _agrees(visit.haq, haq.index_exact)):
        errors.append(FieldError(path=f"{where}.haq", value=visit.haq,
                                 expected=f"the HAQ-DI of haq_answers ({haq.index:g} = "
                                 f"{haq.total}/{haq.answered})"))
    return errors


def _visit(index: int, v: AssessmentModel) -> domain.Visit:
    total = _mmt8_from_grades(v)
    haq = _haq_from_answers(v)
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
    if lab.test in ENZYMES and lab.unit != "U/L":
        factor = ENZYME_UNITS[lab.unit]
        return domain.LabResult(
            index=index, test=lab.test, value=float(exact(lab.value) * factor), unit="U/L",
            uln=None if lab.uln is None else float(exact(lab.uln) * factor), date=lab.date,
            original_unit=lab.unit)
    return domain.LabResult(index=index, test=lab.test, value=lab.value, unit=lab.unit,
                            uln=lab.uln, date=lab.date)


def _to_domain(model: PatientRecordModel) -> domain.PatientRecord:
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
        treatments=tuple(
            domain.Treatment(index=i, drug=t.drug, start=t.start, stop=t.stop, dose=t.dose,
                             unit=t.unit, frequency=t.frequency, route=t.route)
            for i, t in enumerate(model.treatments)),
        investigations=tuple(
            domain.Investigation(index=i, kind=x.kind, date=x.date, result=x.result,
                                 abnormal=x.abnormal)
            for i, x in enumerate(model.investigations)),
    )


def _non_finite(value: object, path: str) -> Iterator[tuple[str, float]]:
    """Paths of NaN and infinite floats in a decoded document (Python's json accepts them)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, float | Mapping | list):
                yield from _non_finite(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, float | Mapping | list):
                yield from _non_finite(item, f"{path}[{index}]")


def _nul_strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """Paths of strings (values or keys) holding U+0000, which PostgreSQL cannot store."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                yield f"{path}.{key}", key
            yield from _nul_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_strings(item, f"{path}[{index}]")


def _nul_errors(raw: str | bytes, data: object, prefix: str) -> list[FieldError]:
    """Only when the JSON text holds the escape ``\\u0000`` is the decoded document walked."""
    escaped = b"\\u0000" in raw if isinstance(raw, bytes) else "\\u0000" in raw
    if not escaped:
        return []
    if not isinstance(data, Mapping):
        try:
            data = json.loads(raw)
        except ValueError:
            return []  # malformed JSON: pydantic names the problem
    return [FieldError(path=p, value=v, expected="text without NUL characters")
            for p, v in _nul_strings(data, prefix)]


def parse_record(data: object, *, today: dt.date, prefix: str = "$",
                 source: str = "record") -> domain.PatientRecord:
    """Validate one ``patient-record@1`` document (decoded, or raw JSON bytes) into the domain record.

    Validation runs in pydantic's strict JSON mode (a decoded document is re-encoded
    first), so dates must be ``YYYY-MM-DD`` strings and numbers must be JSON numbers. ``today``
    bounds every date (a date after today is refused). Raises :class:`RecordValidationError`
    listing every problem.
    """
    raw: bytes | str
    if isinstance(data, bytes):  # a str is a decoded JSON string, never a record (issue 13)
        raw = data
    elif isinstance(data, Mapping):
        try:  # the C encoder refuses NaN/inf, which orjson would silently write as null
            raw = json.dumps(data, allow_nan=False, separators=(",", ":"))
        except ValueError:
            raise RecordValidationError(
                [FieldError(path=p, value=v, expected="a finite number")
                 for p, v in _non_finite(data, prefix)],
                source=source) from None
        except TypeError as exc:
            raise RecordValidationError(
                [FieldError(path=prefix, value=MISSING_VALUE, expected=f"JSON values only ({exc})")],
                source=source) from None
    else:
        raise RecordValidationError(
            [FieldError(path=prefix, value=data, expected="a JSON object (patient-record@1)")],
            source=source)
    nul = _nul_errors(raw, data, prefix)
    try:
        model = PatientRecordModel.model_validate_json(raw)
    except ValidationError as exc:
        raise RecordValidationError(nul + _field_errors(exc, prefix), source=source) from None
    errors = nul + _check_dates(model, prefix, today) + _check_items(model, prefix)
    if errors:
        raise RecordValidationError(errors, source=source)
    return _to_domain(model)


# Keep the Literal vocabularies in step with the domain vocabulary (checked by a unit test).
LITERAL_VOCABULARIES = {
    "sex": get_args(Sex), "diagnosis": get_args(DiagnosisName),
    "antibody": get_args(AntibodyTarget), "finding": get_args(FindingCode),
    "investigation": get_args(InvestigationKind), "frequency": get_args(Frequency),
}
