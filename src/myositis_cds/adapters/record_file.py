"""Reading record files: one ``patient-record@1`` document, or a streamed ``patient-records@1`` batch.

A batch ``{"format": "myositis-cds/patient-records@1", "records": [...]}`` is parsed incrementally
(ijson), so memory stays flat however many records it holds: each record is yielded as soon as it
has been read. A single record is an ordinary JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson

from myositis_cds.adapters.record_json import RECORDS_FORMAT
from myositis_cds.errors import MISSING_VALUE, FieldError, RecordValidationError, UsageError

__all__ = ["RawRecord", "iter_raw_records"]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A decoded record document and where it sits in its file."""

    path: str
    """JSON path of the record in its file: ``$`` or ``$.records[12]``."""
    data: object


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror}"
        raise UsageError(msg) from None


def iter_raw_records(path: Path) -> Iterator[RawRecord]:
    """Yield every record document in ``path`` (one, or each of a batch), streaming a batch."""
    with _open(path) as stream:
        yield from _iter_stream(stream, str(path))


def _iter_stream(stream: IO[bytes], source: str) -> Iterator[RawRecord]:
    head = stream.read(1)
    while head and head.isspace():
        head = stream.read(1)
    if head != b"{":
        raise RecordValidationError(
            [FieldError(path="$", value=head.decode(errors="replace") or MISSING_VALUE,
                        expected="a JSON object (patient-record@1 or patient-records@1)")],
            source=source)
    stream.seek(stream.tell() - 1)
    top: dict[str, Any] = {}
    builder: ijson.ObjectBuilder | None = None
    index = -1
    saw_records = False
    try:
        for prefix, event, value in ijson.parse(stream, use_float=True):
            if builder is not None:  # inside one record of a batch
                builder.event(event, value)
                if prefix == "records.item" and event in {"end_map", "end_array"}:
                    yield RawRecord(path=f"$.records[{index}]", data=builder.value)
                    builder = None
            elif prefix == "records.item":  # a record starts (or is a bare scalar)
                index += 1
                if event in {"start_map", "start_array"}:
                    builder = ijson.ObjectBuilder()
                    builder.event(event, value)
                else:
                    yield RawRecord(path=f"$.records[{index}]", data=value)
            elif prefix == "records" and event in {"start_array", "end_array"}:
                if event == "start_array":
                    saw_records = True
                    _check_batch_format(top, source)
            else:
                top = _collect(top, prefix, event, value)
    except ijson.JSONError as exc:
        raise RecordValidationError(
            [FieldError(path="$", value=MISSING_VALUE, expected=f"valid JSON ({exc})")],
            source=source) from None
    if not saw_records:
        yield RawRecord(path="$", data=top.get("__document__", {}))


_COLLECTOR = "__builder__"


def _collect(top: dict[str, Any], prefix: str, event: str, value: object) -> dict[str, Any]:
    """Build the top-level document (when it is a single record) from ijson events."""
    builder = top.get(_COLLECTOR)
    if builder is None:
        builder = ijson.ObjectBuilder()
        top[_COLLECTOR] = builder
    builder.event(event, value)
    if prefix == "" and event == "end_map":
        top["__document__"] = builder.value
    elif prefix == "format" and event == "string":
        top["format"] = value
    return top


def _check_batch_format(top: dict[str, Any], source: str) -> None:
    fmt = top.get("format")
    if fmt != RECORDS_FORMAT:
        raise RecordValidationError(
            [FieldError(path="$.format", value=MISSING_VALUE if fmt is None else fmt,
                        expected=f'"{RECORDS_FORMAT}" before "records" in a batch file')],
            source=source)


def loads_document(text: str, source: str = "record") -> object:
    """Decode JSON text, turning syntax errors into a record error with line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordValidationError(
            [FieldError(path="$", value=MISSING_VALUE,
                        expected=f"valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")],
            source=source) from None
