"""Validate imported documents with the ``patient-record@1`` validator, item by item.

An item the validator refuses (a lab dated after today, a stop before its start...) is left out and
counted as ``invalid_value`` under the resource type and coding it came from, and the rest of the
record is validated again; so is a refused top-level field (``sex``, ``birth_date``,
``diagnosis``). In a visit or a body measurement (merged from several Observations) only the
refused value is left out, and the item only if nothing measured is left. A record still refused
after that (e.g. an id that is too long) is not imported and
counted as ``invalid_record``. The validator's errors (which name the JSON path, the value and what
was expected) are returned with the result so that the user can correct the source.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Final

from myositis_cds.adapters.fhir.codes import local_system
from myositis_cds.adapters.fhir.importing.importer import PatientImport
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.domain.record import PatientRecord
from myositis_cds.errors import FieldError, RecordValidationError

__all__ = ["ValidatedImport", "validate_import"]

_ITEM: Final = re.compile(r"^\$\.([a-z_]+)(?:\[(\d+)\](?:\.([a-z_0-9]+))?)?")
# Items merged from several Observations: a refused value leaves out that value, not the item.
_MERGED: Final = {
    "assessments": {"physician_global": "physician_global", "patient_global": "patient_global",
                    "extramuscular_global": "extramuscular_global", "mmt8": "mmt8",
                    "mmt8_max": "mmt8", "haq": "haq", "cdasi_activity": "cdasi_activity"},
    "body_measurements": {"weight_kg": "weight", "weight_lb": "weight", "height_cm": "height",
                          "height_in": "height"},
}
_MERGED_SYSTEM: Final = {"assessments": local_system("measure"),
                         "body_measurements": local_system("body")}
_TOP_LEVEL_ORIGIN: Final = {"sex": "Patient", "birth_date": "Patient", "diagnosis": "Condition"}
_ATTEMPTS: Final = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatedImport:
    """One patient after validation: the accepted document and record, or None if refused."""

    patient_key: str
    document: dict[str, Any] | None
    record: PatientRecord | None
    errors: tuple[FieldError, ...]
    """Every validator error met (items left out, or why the record was refused)."""
    unmapped: UnmappedReport
    """The import's report plus ``invalid_value`` / ``invalid_record`` counts."""

    @property
    def accepted(self) -> bool:
        return self.record is not None


class _Pruner:
    """Removes refused items from a copy of the document, tracking each item's original position."""

    def __init__(self, item: PatientImport) -> None:
        self.item = item
        self.document = dict(item.document)
        self.positions = {name: list(range(len(value))) for name, value in self.document.items()
                          if isinstance(value, list)}
        self.report = UnmappedReport()

    def _count(self, name: str, position: int) -> None:
        origins = self.item.origins.get(name, ())
        if position < len(origins):
            resource_type, system, code, display = origins[position]
            self.report.add(resource_type, "invalid_value", system=system, code=code,
                            display=display)
        else:
            self.report.add(_TOP_LEVEL_ORIGIN.get(name, "Patient"), "invalid_value", display=name)

    def _drop_value(self, name: str, index: int, field: str) -> None:
        """Leave one value out of a merged item (a visit, a body measurement)."""
        item = dict(self.document[name][index])  # a copy: the import's document stays as it was
        measure = _MERGED[name][field]
        for key in [k for k in item if _MERGED[name].get(k) == measure]:
            del item[key]
        self.report.add("Observation", "invalid_value", system=_MERGED_SYSTEM[name], code=measure)
        self.document[name] = [item if i == index else x for i, x in enumerate(self.document[name])]

    def drop(self, errors: tuple[FieldError, ...]) -> bool:
        """Remove what the errors point at; False if one points at something not removable."""
        doomed: dict[str, set[int]] = {}
        values: set[tuple[str, int, str]] = set()
        fields: set[str] = set()
        for error in errors:
            match = _ITEM.match(error.path)
            if match is None:
                return False
            name, index, field = match.group(1), match.group(2), match.group(3)
            if index is not None and field in _MERGED.get(name, {}):
                values.add((name, int(index), field))
            elif index is not None and name in self.positions:
                doomed.setdefault(name, set()).add(int(index))
            elif name in _TOP_LEVEL_ORIGIN and name in self.document:
                fields.add(name)
            else:
                return False
        for name in sorted(fields):
            del self.document[name]
            self._count(name, 0)
        for name, index, field in sorted(values):
            if index in doomed.get(name, ()) or field not in self.document[name][index]:
                continue  # already left out with its item, or with its pair (mmt8 and mmt8_max)
            self._drop_value(name, index, field)
            if not set(self.document[name][index]) & set(_MERGED[name]):
                doomed.setdefault(name, set()).add(index)  # nothing measured is left
                self.positions[name][index] = -1  # not counted again
        for name, indexes in sorted(doomed.items()):
            positions = self.positions[name]
            for index in sorted(indexes):
                if positions[index] >= 0:
                    self._count(name, positions[index])
            items = self.document[name]
            self.document[name] = [x for i, x in enumerate(items) if i not in indexes]
            self.positions[name] = [p for i, p in enumerate(positions) if i not in indexes]
            if not self.document[name]:
                del self.document[name]
        return True


def validate_import(item: PatientImport, *, today: dt.date) -> ValidatedImport:
    """Validate ``item.document``; refused items are left out and counted (see the module doc)."""
    report = UnmappedReport()
    report.merge(item.unmapped)
    pruner = _Pruner(item)
    met: list[FieldError] = []
    source = f"FHIR Patient {item.patient_key}"
    for _ in range(_ATTEMPTS):
        try:
            record = parse_record(pruner.document, today=today, source=source)
        except RecordValidationError as exc:
            met.extend(exc.errors)
            if not pruner.drop(exc.errors):
                break
            continue
        report.merge(pruner.report)
        return ValidatedImport(patient_key=item.patient_key, document=pruner.document,
                               record=record, errors=tuple(met), unmapped=report)
    report.add("Patient", "invalid_record")
    return ValidatedImport(patient_key=item.patient_key, document=None, record=None,
                           errors=tuple(met), unmapped=report)
