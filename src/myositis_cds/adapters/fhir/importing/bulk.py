"""FHIR Bulk Data export folders (NDJSON, one resource per line) → one record per patient.

Memory strategy (two passes; memory bounded by one patient's resources plus the index):

1. Index pass: every ``*.ndjson`` file of the folder is read line by line; each line is decoded
   (orjson) to learn its resource type and patient, then dropped; the line's place (file, byte
   offset, line number) is appended to that patient's list. Medication resources (which belong to
   no patient and serve medicationReferences) are kept decoded.
2. Patient pass: patients in order of first appearance; each one's lines are read back by offset
   (seek + readline on files kept open), decoded again, mapped by
   :func:`~myositis_cds.adapters.fhir.importing.importer.patient_document` and released, with the patient's
   index entry.

So memory grows with the number of resources only through the index (three small integers per
resource, about 100 bytes), never with their content. Keeping the decoded resources between the
passes was measured and rejected: CPython's cyclic garbage collector then rescans them all
repeatedly, which costs more than the second decode saves.

A line that is not a JSON object stops the import with an error naming the file and line number.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.importing.importer import (
    MAPPED_RESOURCE_TYPES,
    PatientImport,
    default_mapping,
    medication_index,
    patient_document,
    patient_key_of,
)
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.errors import UsageError

__all__ = [
    "BulkIndex",
    "Place",
    "index_bulk_folder",
    "iter_bulk_patients",
    "ndjson_files",
]


def ndjson_files(folder: Path) -> list[Path]:
    """The ``*.ndjson`` files of an export folder, sorted by name; a usage error if there are none.

    A single ``.ndjson`` file stands for a folder holding only it.
    """
    if folder.is_file() and folder.name.endswith(".ndjson"):
        return [folder]
    if not folder.is_dir():
        msg = f"{folder}: no such folder; expected a FHIR Bulk Data export folder of *.ndjson files"
        raise UsageError(msg)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(".ndjson"))
    if not files:
        msg = f"{folder}: holds no *.ndjson file; expected a FHIR Bulk Data export folder"
        raise UsageError(msg)
    return files


def _decode(line: bytes, path: Path, number: int) -> Mapping[str, Any]:
    try:
        resource = json_edge.loads(line)
    except orjson.JSONDecodeError as exc:
        msg = f"{path}:{number}: got a line that is not valid JSON ({exc}); expected one FHIR " \
              "resource (a JSON object) per line"
        raise UsageError(msg) from None
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        msg = f"{path}:{number}: got {type(resource).__name__}; expected a FHIR resource (a JSON " \
              "object with a resourceType)"
        raise UsageError(msg)
    return resource


Place = tuple[int, int, int]
"""(file number, byte offset, line number) of one resource."""


@dataclass(slots=True)
class BulkIndex:
    """Where each patient's resources are (see :data:`Place`), in order of first appearance."""

    files: list[Path]
    patients: dict[str, list[Place]] = field(default_factory=dict)
    medications: list[Mapping[str, Any]] = field(default_factory=list)
    resources: int = 0
    """Lines read (blank lines excepted)."""


def index_bulk_folder(folder: Path, *, unassigned: UnmappedReport | None = None) -> BulkIndex:
    """The index pass; resources of no patient are counted in ``unassigned`` when given."""
    index = BulkIndex(files=ndjson_files(folder))
    for file_number, path in enumerate(index.files):
        with path.open("rb") as stream:
            offset = 0
            for number, line in enumerate(stream, start=1):
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                index.resources += 1
                resource = _decode(line, path, number)
                resource_type = resource["resourceType"]
                if resource_type == "Medication":
                    index.medications.append(resource)
                    continue
                key = patient_key_of(resource)
                if key is None:
                    if unassigned is not None:
                        unassigned.add(resource_type, "no_patient"
                                       if resource_type in MAPPED_RESOURCE_TYPES
                                       else "unsupported_resource_type")
                    continue
                index.patients.setdefault(key, []).append((file_number, start, number))
    return index


def iter_bulk_patients(folder: Path, *, mapping: FhirMapping | None = None,
                       unassigned: UnmappedReport | None = None) -> Iterator[PatientImport]:
    """One :class:`PatientImport` per patient of an export folder, in order of first appearance."""
    mapping = mapping or default_mapping()
    index = index_bulk_folder(folder, unassigned=unassigned)
    medications = medication_index(index.medications)
    with ExitStack() as stack:
        streams: dict[int, IO[bytes]] = {}
        for key in list(index.patients):
            resources: list[Mapping[str, Any]] = []
            for file_number, offset, number in index.patients.pop(key):
                stream = streams.get(file_number)
                if stream is None:
                    stream = streams[file_number] = stack.enter_context(
                        index.files[file_number].open("rb"))
                stream.seek(offset)
                resources.append(_decode(stream.readline(), index.files[file_number], number))
            yield patient_document(resources, mapping=mapping, medications=medications)
