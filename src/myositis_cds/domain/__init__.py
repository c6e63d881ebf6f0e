"""Domain layer: the validated patient record as immutable values. Standard library only."""

from myositis_cds.domain.record import (
    AntibodyResult,
    BodyMeasurement,
    Diagnosis,
    Finding,
    Investigation,
    LabResult,
    PatientRecord,
    Treatment,
    Visit,
)

__all__ = [
    "AntibodyResult",
    "BodyMeasurement",
    "Diagnosis",
    "Finding",
    "Investigation",
    "LabResult",
    "PatientRecord",
    "Treatment",
    "Visit",
]
