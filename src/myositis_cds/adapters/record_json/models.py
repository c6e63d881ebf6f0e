"""The pydantic models of ``patient-record@1``: types, strict JSON mode, closed vocabularies.

Cross-field rules (dates, units, plausibility, the drug vocabulary with its synonyms) are checked
after these models, in :mod:`myositis_cds.adapters.record_json.checks`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LITERAL_VOCABULARIES",
    "MODEL_AT",
    "NESTED_MODELS",
    "RECORDS_FORMAT",
    "RECORD_FORMAT",
    "SECTIONS",
    "AntibodyModel",
    "AssessmentModel",
    "BodyMeasurementModel",
    "DiagnosisModel",
    "FindingModel",
    "HaqAnswersModel",
    "HaqCategoryModel",
    "InvestigationModel",
    "LabModel",
    "Mmt8GradesModel",
    "PatientRecordModel",
    "TreatmentModel",
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
    "hbv_serology", "hcv_serology", "hiv_serology", "tb_igra",
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
    drug: Annotated[str, Field(min_length=1, max_length=64, description=(
        "a drug code of clinical-reference §12.4 or one of its synonyms, case-insensitive "
        "(e.g. prednisone, MTX, Solu-Medrol); 'other' needs a name"))]
    name: Text | None = None
    """The drug's name as prescribed; required when ``drug`` is ``other``."""
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


SECTIONS = ("body_measurements", "antibodies", "findings", "labs", "assessments", "treatments",
            "investigations")
"""The list-valued sections of a record, in the order their items are checked."""
NESTED_MODELS: dict[str, type[BaseModel]] = {
    "mmt8_grades": Mmt8GradesModel, "haq_answers": HaqAnswersModel,
}
MODEL_AT: dict[str, type[BaseModel]] = {
    "diagnosis": DiagnosisModel, "body_measurements": BodyMeasurementModel,
    "antibodies": AntibodyModel, "findings": FindingModel, "labs": LabModel,
    "assessments": AssessmentModel, "treatments": TreatmentModel,
    "investigations": InvestigationModel,
}

# Keep the Literal vocabularies in step with the domain vocabulary (checked by a unit test).
LITERAL_VOCABULARIES = {
    "sex": get_args(Sex), "diagnosis": get_args(DiagnosisName),
    "antibody": get_args(AntibodyTarget), "finding": get_args(FindingCode),
    "investigation": get_args(InvestigationKind), "frequency": get_args(Frequency),
}
