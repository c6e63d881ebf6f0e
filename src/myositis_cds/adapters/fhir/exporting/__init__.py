"""FHIR R4 export: records as Bundles (``collection`` or ``transaction``), assessments as
DetectedIssue, CarePlan and DocumentReference (docs/fhir-export.md)."""

__all__: list[str] = []
