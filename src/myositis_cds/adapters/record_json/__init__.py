"""``patient-record@1`` at the edge: strict parsing, unit conversion, and errors that name the field.

Untrusted JSON (decoded, or raw bytes) is type-checked strictly (no "12" for 12, no number for a
date) — first by msgspec structs (:mod:`.structs`, the fast path that only accepts), and when they
refuse a record by the pydantic models (:mod:`.models`), which name every problem — then by
cross-field checks (a stop before its start, a date after today
or before birth, units, plausibility ranges, the drug vocabulary with its synonyms), and converted to
the immutable domain record in canonical units. Every problem is collected and raised at once as a
:class:`~myositis_cds.errors.RecordValidationError` whose entries give the JSON path, the value and
what was expected: when the type checks fail, the cross-field checks still run on every item that
passed them, so one round of corrections is enough.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from myositis_cds.adapters.record_json.checks import RecordParts, check_record, parts_of
from myositis_cds.adapters.record_json.convert import to_domain
from myositis_cds.adapters.record_json.field_errors import field_errors
from myositis_cds.adapters.record_json.models import (
    LITERAL_VOCABULARIES,
    MODEL_AT,
    RECORD_FORMAT,
    RECORDS_FORMAT,
    SECTIONS,
    DiagnosisModel,
    PatientRecordModel,
)
from myositis_cds.adapters.record_json.structs import decode_record
from myositis_cds.domain import record as domain
from myositis_cds.errors import MISSING_VALUE, FieldError, RecordValidationError
from myositis_cds.knowledge.plausibility import Plausibility, default_plausibility

__all__ = [
    "LITERAL_VOCABULARIES",
    "RECORDS_FORMAT",
    "RECORD_FORMAT",
    "PatientRecordModel",
    "parse_record",
    "record_json_schema",
]


def record_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of ``patient-record@1``."""
    schema = PatientRecordModel.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://myositis-cds.example/schemas/patient-record@1.json"
    return schema


def _non_finite(value: object, path: str) -> Iterator[tuple[str, float]]:
    """Paths of NaN and infinite floats in a decoded document (Python's json accepts them)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, float | Mapping | list):
                yield from _non_finite(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, float | Mapping | list):
                yield from _non_finite(item, f"{path}[{index}]")


def _nul_strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """Paths of strings (values or keys) holding U+0000, which PostgreSQL cannot store."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                yield f"{path}.{key}", key
            yield from _nul_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_strings(item, f"{path}[{index}]")


def _nul_errors(raw: str | bytes, data: object, prefix: str) -> list[FieldError]:
    """Only when the JSON text holds the escape ``\\u0000`` is the decoded document walked."""
    escaped = b"\\u0000" in raw if isinstance(raw, bytes) else "\\u0000" in raw
    if not escaped:
        return []
    if not isinstance(data, Mapping):
        try:
            data = json.loads(raw)
        except ValueError:
            return []  # malformed JSON: pydantic names the problem
    return [FieldError(path=p, value=v, expected="text without NUL characters")
            for p, v in _nul_strings(data, prefix)]


def _validate_part(model: type[BaseModel], value: object,
                   path: str) -> tuple[BaseModel | None, list[FieldError]]:
    try:
        return model.model_validate_json(json.dumps(value, separators=(",", ":"))), []
    except ValidationError as exc:
        return None, field_errors(exc, path, root=model)


def _every_error(data: Mapping[str, Any], prefix: str, today: dt.date,
                 limits: Plausibility) -> list[FieldError]:
    """All problems of a record that failed the type checks: each section item is type-checked on
    its own, and the cross-field checks run on the items that passed."""
    shell = {key: ([] if key in SECTIONS and isinstance(value, list) else value)
             for key, value in data.items()}
    errors: list[FieldError] = []
    top, problems = _validate_part(PatientRecordModel, shell, prefix)
    errors += problems
    parts = RecordParts()
    if isinstance(top, PatientRecordModel):
        parts.birth_date, parts.diagnosis = top.birth_date, top.diagnosis
    else:  # keep what can be kept for the date checks
        birth = data.get("birth_date")
        if isinstance(birth, str):
            try:
                parts.birth_date = dt.date.fromisoformat(birth) if len(birth) == 10 else None
            except ValueError:
                parts.birth_date = None
        diagnosis, _ = _validate_part(DiagnosisModel, data.get("diagnosis"), prefix)
        parts.diagnosis = diagnosis if isinstance(diagnosis, DiagnosisModel) else None
    for section in SECTIONS:
        items = data.get(section)
        if not isinstance(items, list):
            continue
        valid: list[tuple[int, object]] = []
        for index, item in enumerate(items):
            part, problems = _validate_part(MODEL_AT[section], item, f"{prefix}.{section}[{index}]")
            errors += problems
            if part is not None:
                valid.append((index, part))
        parts.items[section] = valid
    return errors + check_record(parts, prefix, today, limits)


def parse_record(data: object, *, today: dt.date, prefix: str = "$", source: str = "record",
                 limits: Plausibility | None = None) -> domain.PatientRecord:
    """Validate one ``patient-record@1`` document (decoded, or raw JSON bytes) into the domain record.

    Validation runs on JSON text in strict mode (a decoded document is re-encoded first), so dates
    must be ``YYYY-MM-DD`` strings and numbers must be JSON numbers: msgspec accepts a valid record
    in one pass; a record it refuses goes to the pydantic models, whose errors are reported.
    ``today`` bounds every date (a date after today is refused); ``limits`` are the plausibility
    ranges (the embedded pack's by default). Raises :class:`RecordValidationError` listing every problem.
    """
    limits = limits or default_plausibility()
    raw: bytes | str
    if isinstance(data, bytes):  # a str is a decoded JSON string, never a record (issue 13)
        raw = data
    elif isinstance(data, Mapping):
        try:  # the C encoder refuses NaN/inf, which orjson would silently write as null
            raw = json.dumps(data, allow_nan=False, separators=(",", ":"))
        except ValueError:
            raise RecordValidationError(
                [FieldError(path=p, value=v, expected="a finite number")
                 for p, v in _non_finite(data, prefix)],
                source=source) from None
        except TypeError as exc:
            raise RecordValidationError(
                [FieldError(path=prefix, value=MISSING_VALUE, expected=f"JSON values only ({exc})")],
                source=source) from None
    else:
        raise RecordValidationError(
            [FieldError(path=prefix, value=data, expected="a JSON object (patient-record@1)")],
            source=source)
    nul = _nul_errors(raw, data, prefix)
    accepted = decode_record(raw)
    if accepted is not None:
        errors = nul + check_record(parts_of(accepted), prefix, today, limits)
        if errors:
            raise RecordValidationError(errors, source=source)
        return to_domain(accepted)
    try:
        model = PatientRecordModel.model_validate_json(raw)
    except ValidationError as exc:
        decoded = data if isinstance(data, Mapping) else _decoded(raw)
        errors = (_every_error(decoded, prefix, today, limits) if isinstance(decoded, Mapping)
                  else field_errors(exc, prefix))
        raise RecordValidationError(nul + errors, source=source) from None
    errors = nul + check_record(parts_of(model), prefix, today, limits)
    if errors:
        raise RecordValidationError(errors, source=source)
    return to_domain(model)


def _decoded(raw: str | bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None  # malformed JSON: pydantic's own error names the problem
