"""Reading record files: one ``patient-record@1`` document, or a streamed ``patient-records@1`` batch.

A batch ``{"format": "myositis-cds/patient-records@1", "records": [...]}`` is parsed incrementally
(ijson), so memory stays flat however many records it holds: each record is yielded as soon as it
has been read. A single record is an ordinary JSON object.

The bytes pass the JSON edge (:mod:`myositis_cds.adapters.json_edge`) as they are read: nesting
deeper than :data:`~myositis_cds.adapters.json_edge.MAX_DEPTH`, a record (or the single document)
larger than :data:`~myositis_cds.adapters.json_edge.MAX_RECORD_BYTES`, bytes that are not UTF-8
and escaped lone surrogates are refused with the file and the JSON path of the record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson

from myositis_cds.adapters.json_edge import (
    MAX_RECORD_BYTES,
    JsonEvents,
    JsonRefusedError,
    refusal,
)
from myositis_cds.adapters.record_json import RECORDS_FORMAT
from myositis_cds.errors import MISSING_VALUE, FieldError, RecordValidationError, UsageError

__all__ = ["RawRecord", "iter_raw_records"]

_EXPECTED = "a JSON object (patient-record@1 or patient-records@1)"


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


def iter_raw_records(path: Path, *, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[RawRecord]:
    """Yield every record document in ``path`` (one, or each of a batch), streaming a batch."""
    with _open(path) as stream:
        yield from _iter_stream(stream, str(path), max_record_bytes)


@dataclass(slots=True)
class _Batch:
    """Where the reader is: the top-level document outside ``records``, and the current record."""

    top: ijson.ObjectBuilder
    fmt: object = None
    key: str | None = None
    """The top-level key whose value is being read."""
    in_records: bool = False
    index: int = -1
    record: ijson.ObjectBuilder | None = None

    @property
    def where(self) -> str:
        return f"$.records[{self.index}]" if self.record is not None else "$"


def _iter_stream(stream: IO[bytes], source: str, max_record_bytes: int) -> Iterator[RawRecord]:
    head = stream.read(1)
    while head and head.isspace():
        head = stream.read(1)
    if head != b"{":
        raise RecordValidationError(
            [FieldError(path="$", value=head.decode(errors="replace") or MISSING_VALUE,
                        expected=_EXPECTED)], source=source)
    stream.seek(stream.tell() - 1)
    events = JsonEvents(stream, max_unit=max_record_bytes)  # each record, and the top level
    batch = _Batch(top=ijson.ObjectBuilder())
    saw_records = False
    try:
        for event, value in events:
            if batch.record is not None:
                batch.record.event(event, value)
                if events.depth == 2 and event in ("end_map", "end_array"):
                    yield RawRecord(path=batch.where, data=batch.record.value)
                    batch.record = None
            elif batch.in_records and events.depth >= 2:  # a record starts (or is a bare scalar)
                batch.index += 1
                events.start_unit()
                if event in ("start_map", "start_array"):
                    batch.record = ijson.ObjectBuilder()
                    batch.record.event(event, value)
                else:
                    yield RawRecord(path=f"$.records[{batch.index}]", data=value)
            elif batch.in_records:  # the records array ends; the rest of the top level follows
                batch.in_records = False
                events.start_unit()
            elif events.depth == 2 and batch.key == "records" and event == "start_array":
                _check_batch_format(batch.fmt, source)
                saw_records = batch.in_records = True
            else:
                _top_event(batch, events.depth, event, value)
    except JsonRefusedError as exc:
        raise refusal(exc, source=source, path=batch.where) from None
    if not saw_records:
        yield RawRecord(path="$", data=batch.top.value)


def _top_event(batch: _Batch, depth: int, event: str, value: Any) -> None:
    """One event of the top-level document (a single record, or a batch outside its records)."""
    if depth == 1 and event == "map_key":
        batch.key = value
    elif depth == 1 and batch.key == "format" and event == "string":
        batch.fmt = value
    batch.top.event(event, value)


def _check_batch_format(fmt: object, source: str) -> None:
    if fmt != RECORDS_FORMAT:
        raise RecordValidationError(
            [FieldError(path="$.format", value=MISSING_VALUE if fmt is None else fmt,
                        expected=f'"{RECORDS_FORMAT}" before "records" in a batch file')],
            source=source)
