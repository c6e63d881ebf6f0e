"""Decoding the files of a records folder: each holds one ``patient-record@1`` document or a
``patient-records@1`` batch. Every engine decodes the files' bytes with :func:`decode_file`.

A patient's key is the record's ``id``; a record without a usable ``id`` is keyed by its file and
JSON path. A file that is not JSON, or a document that is not an object, becomes one invalid
"patient" keyed by the file name, so that it shows up in the worklist instead of vanishing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.record_json import RECORDS_FORMAT, parse_record
from myositis_cds.domain.record import PatientRecord
from myositis_cds.errors import UsageError

__all__ = ["DatedRecordParser", "Decoded", "decode_file", "key_of_document", "record_files"]

Decoded = tuple[str, Mapping[str, Any] | None, list[dict[str, Any]]]
"""(patient key, document or ``None``, decoding errors)."""

SUFFIX = ".json"


class DatedRecordParser:
    """``parse_record`` with today's date: picklable (unlike a closure), so that the DuckDB
    engine's helper processes and Spark executors receive it."""

    def __init__(self, today: dt.date) -> None:
        self.today = today

    def __call__(self, data: object, *, prefix: str, source: str) -> PatientRecord:
        return parse_record(data, today=self.today, prefix=prefix, source=source)


def record_files(folder: Path) -> list[Path]:
    """The ``*.json`` files of ``folder`` (not recursive), sorted by name."""
    if not folder.is_dir():
        msg = f"{folder}: no such folder; expected a folder of patient-record@1 .json files"
        raise UsageError(msg)
    return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file())


def key_of_document(document: Mapping[str, Any], fallback: str) -> str:
    key = document.get("id")
    return key if isinstance(key, str) and key.strip() else fallback


def decode_file(name: str, data: bytes) -> Iterator[Decoded]:
    try:
        document = json_edge.loads(data)
    except orjson.JSONDecodeError as exc:
        yield name, None, [{"path": "$", "value": f"{name} (not JSON: {exc.msg})",
                            "expected": "a JSON object (patient-record@1 or patient-records@1)"}]
        return
    if not isinstance(document, dict):
        yield name, None, [{"path": "$", "value": type(document).__name__,
                            "expected": "a JSON object (patient-record@1 or patient-records@1)"}]
        return
    if document.get("format") != RECORDS_FORMAT:
        yield key_of_document(document, name), document, []
        return
    records = document.get("records")
    if not isinstance(records, list):
        yield name, None, [{"path": "$.records", "value": type(records).__name__,
                            "expected": "a list of patient-record@1 objects"}]
        return
    for index, record in enumerate(records):
        fallback = f"{name}$.records[{index}]"
        if isinstance(record, dict):
            yield key_of_document(record, fallback), record, []
        else:
            yield fallback, None, [{"path": f"$.records[{index}]", "value": type(record).__name__,
                                    "expected": "a patient-record@1 object"}]
