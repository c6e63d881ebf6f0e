"""FHIR R4 import: Bundles and Bulk Data NDJSON exports → ``patient-record@1`` documents.

Public API (docs/fhir.md): :func:`load_codes` and :class:`FhirCodes` (the code tables, both ways),
:func:`patient_key_of`, :func:`patient_document`, :class:`PatientImport`,
:func:`iter_bundle_patients`, :func:`iter_bulk_patients`, :class:`UnmappedReport`,
:func:`validate_import`.
"""

from myositis_cds.adapters.fhir.codes import Category, Coding, FhirCodes, load_codes, local_system
from myositis_cds.adapters.fhir.importing.bulk import iter_bulk_patients
from myositis_cds.adapters.fhir.importing.importer import (
    PatientImport,
    default_codes,
    iter_bundle_patients,
    patient_document,
    patient_key_of,
)
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from myositis_cds.adapters.fhir.importing.validation import ValidatedImport, validate_import

__all__ = [
    "Category",
    "Coding",
    "FhirCodes",
    "PatientImport",
    "UnmappedReport",
    "ValidatedImport",
    "default_codes",
    "iter_bulk_patients",
    "iter_bundle_patients",
    "load_codes",
    "local_system",
    "patient_document",
    "patient_key_of",
    "validate_import",
]
