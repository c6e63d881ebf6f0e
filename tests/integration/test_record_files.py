"""Record files on disk: single records, streamed batches, and broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from myositis_cds import load_records
from myositis_cds.adapters.record_file import iter_raw_records
from myositis_cds.errors import RecordValidationError
from tests.conftest import TODAY, load_example


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "file.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_single_record(tmp_path: Path) -> None:
    record = load_example("juvenile")
    raws = list(iter_raw_records(write(tmp_path, json.dumps(record))))
    assert [(r.path, r.data) for r in raws] == [("$", record)]


def test_batch_is_yielded_record_by_record(tmp_path: Path) -> None:
    records = [load_example("juvenile"), load_example("non-severe")]
    text = json.dumps({"format": "myositis-cds/patient-records@1", "records": records})
    raws = iter_raw_records(write(tmp_path, text))
    first = next(raws)
    assert (first.path, first.data) == ("$.records[0]", records[0])
    assert [(r.path, r.data) for r in raws] == [("$.records[1]", records[1])]


def test_batch_items_that_are_not_objects_are_reported_by_path(tmp_path: Path) -> None:
    text = json.dumps({"format": "myositis-cds/patient-records@1", "records": [3, [1]]})
    raws = list(iter_raw_records(write(tmp_path, text)))
    assert [(r.path, r.data) for r in raws] == [("$.records[0]", 3), ("$.records[1]", [1])]


def test_load_records_validates_each(tmp_path: Path) -> None:
    records = [load_example("juvenile"), {"id": "bad", "sex": "F"}]
    text = json.dumps({"format": "myositis-cds/patient-records@1", "records": records})
    loaded = load_records(write(tmp_path, text), today=TODAY)
    assert next(loaded).id == "ex-juvenile"
    with pytest.raises(RecordValidationError) as caught:
        next(loaded)
    assert caught.value.errors[0].path == "$.records[1].sex"


@pytest.mark.parametrize(("text", "expected"), [
    ("", "a JSON object"),
    ("[]", "a JSON object"),
    ('{"id": "x",', "valid JSON"),
    ('{"records": []}', "patient-records@1"),
])
def test_broken_files(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(RecordValidationError) as caught:
        list(iter_raw_records(write(tmp_path, text)))
    assert expected in str(caught.value)
