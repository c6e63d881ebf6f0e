"""The fast acceptance path of ``patient-record@1``: msgspec structs that mirror the pydantic models.

msgspec decodes and type-checks a record in one pass, several times faster than pydantic, but its
errors stop at the first problem. So the structs only ever *accept*: when msgspec refuses a record,
:func:`~myositis_cds.adapters.record_json.parse_record` hands the bytes to the pydantic models
(:mod:`.models`), which name every problem at once, exactly as before. The structs must therefore
never accept what the models refuse, and accept what they accept (else the slow path runs, which is
correct but slow): every field, type, default and bound below mirrors :mod:`.models` (a unit test
compares them field by field, and both paths on the examples, generated records and mutated ones).
The cross-field checks and the conversion to the domain record take either form (:data:`Lab` …).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from myositis_cds.adapters.record_json.models import (
    AntibodyModel,
    AntibodyTarget,
    AssessmentModel,
    BodyMeasurementModel,
    DiagnosisModel,
    DiagnosisName,
    FindingCode,
    FindingModel,
    Frequency,
    HaqAnswersModel,
    HaqCategoryModel,
    InvestigationKind,
    InvestigationModel,
    LabModel,
    Mmt8GradesModel,
    PatientRecordModel,
    Sex,
    TreatmentModel,
)

__all__ = [
    "Antibody",
    "AntibodyStruct",
    "AssessmentStruct",
    "BodyMeasurement",
    "BodyMeasurementStruct",
    "Diagnosis",
    "DiagnosisStruct",
    "Finding",
    "FindingStruct",
    "HaqAnswers",
    "HaqAnswersStruct",
    "HaqCategory",
    "HaqCategoryStruct",
    "Investigation",
    "InvestigationStruct",
    "Lab",
    "LabStruct",
    "Mmt8Grades",
    "Mmt8GradesStruct",
    "PatientRecordStruct",
    "Record",
    "Treatment",
    "TreatmentStruct",
    "Visit",
    "decode_record",
]

# The bounds of models.py (pydantic ``Field``) as msgspec ``Meta``. Numbers beyond a float's range
# and NaN/Infinity are not JSON msgspec decodes, so ``allow_inf_nan=False`` needs no counterpart.
_Vas = Annotated[float, msgspec.Meta(ge=0, le=10)]
_Grade = Annotated[float, msgspec.Meta(ge=0, le=10)]
_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
_Positive = Annotated[float, msgspec.Meta(gt=0)]
_NonNegative = Annotated[float, msgspec.Meta(ge=0)]


class _Struct(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """extra="forbid" (models.py's ``_Model``); msgspec is strict by default. Not tracked by the
    garbage collector (a struct never refers back to its parent). Each struct is ``kw_only`` so
    that fields keep the models' order whatever their defaults."""


class DiagnosisStruct(_Struct, kw_only=True):
    name: DiagnosisName
    date: dt.date | None = None
    symptom_onset_date: dt.date | None = None


class BodyMeasurementStruct(_Struct, kw_only=True):
    date: dt.date
    weight_kg: _Positive | None = None
    height_cm: _Positive | None = None
    weight_lb: _Positive | None = None
    height_in: _Positive | None = None


class AntibodyStruct(_Struct, kw_only=True):
    target: AntibodyTarget
    result: Literal["positive", "negative", "borderline"]
    date: dt.date
    titer: _NonNegative | None = None
    unit: _Text | None = None
    cutoff: _Positive | None = None
    method: _Text | None = None


class FindingStruct(_Struct, kw_only=True):
    code: FindingCode
    present: bool
    date: dt.date


class LabStruct(_Struct, kw_only=True):
    test: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    value: _NonNegative
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    uln: _Positive | None = None
    date: dt.date


class Mmt8GradesStruct(_Struct, kw_only=True):
    neck_flexors: _Grade
    deltoid: _Grade
    biceps: _Grade
    wrist_extensors: _Grade
    gluteus_maximus: _Grade
    gluteus_medius: _Grade
    quadriceps: _Grade
    ankle_dorsiflexors: _Grade


class HaqCategoryStruct(_Struct, kw_only=True):
    score: Annotated[int, msgspec.Meta(ge=0, le=3)]
    aid_or_help: bool = False


class HaqAnswersStruct(_Struct, kw_only=True):
    dressing_grooming: HaqCategoryStruct | None = None
    arising: HaqCategoryStruct | None = None
    eating: HaqCategoryStruct | None = None
    walking: HaqCategoryStruct | None = None
    hygiene: HaqCategoryStruct | None = None
    reach: HaqCategoryStruct | None = None
    grip: HaqCategoryStruct | None = None
    activities: HaqCategoryStruct | None = None


class AssessmentStruct(_Struct, kw_only=True):
    date: dt.date
    physician_global: _Vas | None = None
    patient_global: _Vas | None = None
    extramuscular_global: _Vas | None = None
    mmt8: _NonNegative | None = None
    mmt8_max: _Positive = 80.0
    haq: Annotated[float, msgspec.Meta(ge=0, le=3)] | None = None
    cdasi_activity: _NonNegative | None = None
    mmt8_grades: Mmt8GradesStruct | None = None
    haq_answers: HaqAnswersStruct | None = None


class TreatmentStruct(_Struct, kw_only=True):
    drug: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    name: _Text | None = None
    dose: _Positive | None = None
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=32)] | None = None
    frequency: Frequency | None = None
    route: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    start: dt.date
    stop: dt.date | None = None


class InvestigationStruct(_Struct, kw_only=True):
    kind: InvestigationKind
    date: dt.date
    result: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    abnormal: bool | None = None


class PatientRecordStruct(_Struct, kw_only=True):
    format: Literal["myositis-cds/patient-record@1"] | None = None
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    sex: Sex | None = None
    birth_date: dt.date | None = None
    diagnosis: DiagnosisStruct | None = None
    body_measurements: list[BodyMeasurementStruct] = []
    antibodies: list[AntibodyStruct] = []
    findings: list[FindingStruct] = []
    labs: list[LabStruct] = []
    assessments: list[AssessmentStruct] = []
    treatments: list[TreatmentStruct] = []
    investigations: list[InvestigationStruct] = []


_DECODER = msgspec.json.Decoder(PatientRecordStruct)


def decode_record(raw: bytes | str) -> PatientRecordStruct | None:
    """The record as structs, or ``None`` when msgspec refuses it (the pydantic models then say why)."""
    try:
        return _DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError):  # a str with a lone surrogate
        return None


# Either form of each part, as the cross-field checks and the conversion take them.
Diagnosis = DiagnosisModel | DiagnosisStruct
BodyMeasurement = BodyMeasurementModel | BodyMeasurementStruct
Antibody = AntibodyModel | AntibodyStruct
Finding = FindingModel | FindingStruct
Lab = LabModel | LabStruct
Visit = AssessmentModel | AssessmentStruct
Treatment = TreatmentModel | TreatmentStruct
Investigation = InvestigationModel | InvestigationStruct
Record = PatientRecordModel | PatientRecordStruct
Mmt8Grades = Mmt8GradesModel | Mmt8GradesStruct
HaqAnswers = HaqAnswersModel | HaqAnswersStruct
HaqCategory = HaqCategoryModel | HaqCategoryStruct
