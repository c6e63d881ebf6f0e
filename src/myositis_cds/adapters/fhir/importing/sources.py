"""Where a FHIR import reads from: a Bundle JSON file, a folder of Bundle JSON files (Synthea's
output, one patient per file), an NDJSON file, or a Bulk Data export folder (``*.ndjson``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.importing.bulk import iter_bulk_patients, ndjson_files
from myositis_cds.adapters.fhir.importing.importer import PatientImport, iter_bundle_patients
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from myositis_cds.adapters.fhir.importing.strict import check_bundle, check_resource
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.errors import FieldError, UsageError

__all__ = ["bundle_files", "folder_kind", "iter_path_patients", "read_bundle"]

_SHOWN_ERRORS: Final = 20


def read_bundle(path: Path) -> Mapping[str, Any]:
    """A Bundle JSON file, decoded; a usage error naming the file if it is not one."""
    try:
        data = json_edge.read_file(path)
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror}); expected a FHIR Bundle JSON file or a " \
              "Bulk Data export folder"
        raise UsageError(msg) from None
    except orjson.JSONDecodeError as exc:
        msg = f"{path}: not valid JSON ({exc}); expected a FHIR Bundle"
        raise UsageError(msg) from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        msg = f"{path}: $.resourceType: got {found!r}; expected 'Bundle' (or give a Bulk Data " \
              "export folder of *.ndjson files)"
        raise UsageError(msg)
    return data


def _refuse(source: str, errors: list[FieldError]) -> UsageError:
    lines = "\n".join(f"  - {e}" for e in errors[:_SHOWN_ERRORS])
    more = f"\n  ... and {len(errors) - _SHOWN_ERRORS} more" if len(errors) > _SHOWN_ERRORS else ""
    return UsageError(f"{source}: {len(errors)} FHIR R4 conformance error(s) (--strict)\n{lines}{more}")


def _check_ndjson(files: list[Path]) -> None:
    errors: list[FieldError] = []
    for path in files:
        with path.open("rb") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    resource = json_edge.loads(line)
                except orjson.JSONDecodeError:
                    continue  # the import itself names the line
                if isinstance(resource, dict):
                    errors += check_resource(resource, prefix=f"{path.name}:{number}:$")
    if errors:
        raise _refuse(str(files[0].parent), errors)


def bundle_files(folder: Path) -> list[Path]:
    """The ``*.json`` files of a folder of Bundles, sorted by name (not recursive)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".json")


def folder_kind(folder: Path) -> str:
    """``ndjson`` (a Bulk Data export: its ``*.ndjson`` files, other files such as the export's
    ``manifest.json`` are not read) or ``bundles`` (a folder of Bundle ``.json`` files); a usage
    error naming the folder when it holds neither."""
    if any(p.name.endswith(".ndjson") for p in folder.iterdir()):
        return "ndjson"
    if any(p.suffix == ".json" for p in folder.iterdir()):
        return "bundles"
    msg = (f"{folder}: holds no *.ndjson or *.json file; expected a FHIR Bulk Data export folder "
           "or a folder of Bundle files")
    raise UsageError(msg)


def _check_bundle_files(files: list[Path]) -> None:
    errors: list[FieldError] = []
    for path in files:
        errors += check_bundle(read_bundle(path), prefix=f"{path.name}:$")
    if errors:
        raise _refuse(str(files[0].parent), errors)


def _bundle_folder(folder: Path, *, mapping: FhirMapping | None,
                   unassigned: UnmappedReport | None) -> Iterator[PatientImport]:
    """Each file's patients in turn (one Bundle decoded at a time). A patient already met in an
    earlier file is counted ``duplicate_patient`` and skipped: a Bundle folder holds each patient
    once (use a Bulk Data export for data split across files)."""
    seen: set[str] = set()
    for path in bundle_files(folder):
        bundle = read_bundle(path)
        for item in iter_bundle_patients(bundle, mapping=mapping, unassigned=unassigned):
            if item.patient_key in seen:
                if unassigned is not None:
                    unassigned.add("Patient", "duplicate_patient")
                continue
            seen.add(item.patient_key)
            yield item


def iter_path_patients(path: Path, *, mapping: FhirMapping | None = None,
                       unassigned: UnmappedReport | None = None,
                       strict: bool = False) -> Iterator[PatientImport]:
    """Patients of a folder of ``*.ndjson`` files or of Bundle ``*.json`` files, of one
    ``.ndjson`` file, or of a Bundle file.

    With ``strict``, the input is first checked against the FHIR R4B models and refused (a
    :class:`UsageError` listing the problems) if it does not conform, before anything is read.
    """
    if path.is_dir() and folder_kind(path) == "bundles":
        if strict:
            _check_bundle_files(bundle_files(path))
        return _bundle_folder(path, mapping=mapping, unassigned=unassigned)
    if path.is_dir() or path.name.endswith(".ndjson"):
        if strict:
            _check_ndjson(ndjson_files(path))
        return iter_bulk_patients(path, mapping=mapping, unassigned=unassigned)
    if not path.exists():
        msg = f"{path}: no such file or folder; expected a FHIR Bundle JSON file or a Bulk Data " \
              "export folder of *.ndjson files"
        raise UsageError(msg)
    bundle = read_bundle(path)
    if strict:
        errors = check_bundle(bundle)
        if errors:
            raise _refuse(str(path), errors)
    return iter_bundle_patients(bundle, mapping=mapping, unassigned=unassigned)
