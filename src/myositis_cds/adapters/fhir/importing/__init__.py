"""FHIR R4 import: Bundles, Bundle folders and Bulk Data NDJSON exports → ``patient-record@1``
documents, one patient at a time, with the report of what could not be mapped (docs/fhir.md)."""

__all__: list[str] = []
