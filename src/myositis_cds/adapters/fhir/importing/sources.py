"""Where a FHIR import reads from: a Bundle JSON file, an NDJSON file, or a Bulk Data export folder."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.codes import FhirCodes
from myositis_cds.adapters.fhir.importing.bulk import iter_bulk_patients, ndjson_files
from myositis_cds.adapters.fhir.importing.importer import PatientImport, iter_bundle_patients
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from myositis_cds.adapters.fhir.importing.strict import check_bundle, check_resource
from myositis_cds.errors import FieldError, UsageError

__all__ = ["iter_path_patients", "read_bundle"]

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


def iter_path_patients(path: Path, *, codes: FhirCodes | None = None,
                       unassigned: UnmappedReport | None = None,
                       strict: bool = False) -> Iterator[PatientImport]:
    """Patients of a folder of ``*.ndjson`` files, of one ``.ndjson`` file, or of a Bundle file.

    With ``strict``, the input is first checked against the FHIR R4B models and refused (a
    :class:`UsageError` listing the problems) if it does not conform.
    """
    if path.is_dir() or path.name.endswith(".ndjson"):
        if strict:
            _check_ndjson(ndjson_files(path))
        return iter_bulk_patients(path, codes=codes, unassigned=unassigned)
    if not path.exists():
        msg = f"{path}: no such file or folder; expected a FHIR Bundle JSON file or a Bulk Data " \
              "export folder of *.ndjson files"
        raise UsageError(msg)
    bundle = read_bundle(path)
    if strict:
        errors = check_bundle(bundle)
        if errors:
            raise _refuse(str(path), errors)
    return iter_bundle_patients(bundle, codes=codes, unassigned=unassigned)
