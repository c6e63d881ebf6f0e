"""FHIR Bulk Data NDJSON folders: the hand-made export in tests/fixtures/fhir/bulk, and bad lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from myositis_cds.adapters.fhir import UnmappedReport, iter_bulk_patients, validate_import
from myositis_cds.adapters.fhir.importing.bulk import index_bulk_folder
from myositis_cds.errors import UsageError
from tests.conftest import TODAY

BULK = Path(__file__).resolve().parent.parent / "fixtures" / "fhir" / "bulk"

PA = {
    "format": "myositis-cds/patient-record@1", "id": "pa", "sex": "female",
    "birth_date": "1979-03-14",
    "diagnosis": {"name": "dermatomyositis", "date": "2026-01-12", "symptom_onset_date": "2025-11-01"},
    "antibodies": [{"target": "Mi-2", "result": "positive", "date": "2026-01-05"}],
    "findings": [{"code": "dysphagia", "present": False, "date": "2026-01-12"}],
    "labs": [{"test": "CK", "value": 4200, "unit": "U/L", "uln": 200, "date": "2026-01-12"}],
    "treatments": [
        {"drug": "methotrexate", "dose": 15, "unit": "mg", "frequency": "weekly", "route": "oral",
         "start": "2026-01-13", "stop": None},
        {"drug": "prednisone", "dose": 60, "unit": "mg", "start": "2026-01-13", "stop": None}],
    "investigations": [
        {"kind": "pulmonary_function_tests", "date": "2026-01-20", "result": "normal",
         "abnormal": False},
        {"kind": "emg", "date": "2026-01-15"}],
}
PB = {"format": "myositis-cds/patient-record@1", "id": "pb", "sex": "male", "birth_date": "1961-07-02",
      "body_measurements": [{"date": "2026-02-01", "height_in": 70, "weight_lb": 180}]}


def test_the_hand_made_export_becomes_two_exact_records() -> None:
    unassigned = UnmappedReport()
    imports = list(iter_bulk_patients(BULK, unassigned=unassigned))
    assert [(i.patient_key, i.document) for i in imports] == [("pa", PA), ("pb", PB)]
    assert imports[0].unmapped.to_dict()["groups"] == [
        {"resource_type": "Encounter", "reason": "unsupported_resource_type",
         "description": "a resource type the importer does not read", "count": 1,
         "distinct_codes": 1, "examples": []},
        {"resource_type": "Observation", "reason": "unknown_code",
         "description": "no coding of the resource is in the code tables", "count": 1,
         "distinct_codes": 1, "examples": [
             {"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate", "count": 1}]},
    ]
    assert imports[1].unmapped.count("Encounter", "unsupported_resource_type") == 1
    assert imports[1].unmapped.total == 1
    assert unassigned.count("Observation", "no_patient") == 1
    assert unassigned.total == 1
    for item in imports:
        assert validate_import(item, today=TODAY).accepted


def test_the_index_holds_offsets_not_resources() -> None:
    index = index_bulk_folder(BULK)
    assert index.resources == 17
    assert [p.name for p in index.files][:3] == ["Condition.ndjson", "DiagnosticReport.ndjson",
                                                  "Encounter.ndjson"]
    assert sum(len(places) for places in index.patients.values()) == 15  # 17 - Medication - o6
    assert all(isinstance(offset, int) for places in index.patients.values()
               for _, offset, _ in places)
    assert [m["id"] for m in index.medications] == ["med-mtx"]


def test_a_single_ndjson_file(tmp_path: Path) -> None:
    path = tmp_path / "Patient.ndjson"
    shutil.copy(BULK / "Patient.ndjson", path)
    assert [i.document["id"] for i in iter_bulk_patients(path)] == ["pa", "pb"]


@pytest.mark.parametrize(("line", "expected"), [
    ('{"resourceType": "Patient", "id": ', "Observation.ndjson:3: got a line that is not valid JSON"),
    ("[1, 2]", "Observation.ndjson:3: got list; expected a FHIR resource"),
    ('{"id": "x"}', "Observation.ndjson:3: got dict; expected a FHIR resource"),
])
def test_a_bad_line_names_the_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    good = '{"resourceType":"Patient","id":"a"}\n'
    (tmp_path / "Observation.ndjson").write_text(good + "\n" + line + "\n" + good, encoding="utf-8")
    with pytest.raises(UsageError, match=expected):
        list(iter_bulk_patients(tmp_path))


def test_folders_without_ndjson_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"holds no \*\.ndjson file"):
        list(iter_bulk_patients(tmp_path))
    with pytest.raises(UsageError, match="no such folder"):
        list(iter_bulk_patients(tmp_path / "absent"))
