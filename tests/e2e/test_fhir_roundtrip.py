"""record → FHIR Bundle → importer → record → assess gives the assessment of the original record.

The Bundles are the fixtures in ``tests/fixtures/fhir/examples`` (one per example patient), generated
from the examples and checked here to be current. Regenerate one with
``MYOSITIS_CDS_TODAY=2026-11-21 myositis-cds export-fhir examples/NAME.json --what record
--out tests/fixtures/fhir/examples/NAME.json``.

Nothing is excluded from the comparison: the importer keeps the order of the resources, so even
the JSON paths into the record (``$.labs[9]`` in ``inputs[].source`` and in messages) are the same,
and the validated records themselves are equal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from myositis_cds.adapters.fhir.exporting.common import validate_bundle
from myositis_cds.adapters.fhir.exporting.record import record_to_bundle
from myositis_cds.adapters.fhir.importing.importer import iter_bundle_patients
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import assess, to_dict
from myositis_cds.entrypoints.cli import main
from tests.conftest import EXAMPLES, ROOT, TODAY

FIXTURES = ROOT / "tests" / "fixtures" / "fhir" / "examples"


def _assessment(record: PatientRecord) -> dict[str, Any]:
    return to_dict(assess(record, TODAY, default_params()))


def test_there_is_one_fixture_per_example() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(p.name for p in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_an_example_round_trips_through_fhir_to_the_same_assessment(example: Path) -> None:
    document = json.loads(example.read_text("utf-8"))
    bundle = json.loads((FIXTURES / example.name).read_text("utf-8"))
    assert bundle == record_to_bundle(document, today=TODAY), \
        f"fixture {example.name} is stale: regenerate it (see the module docstring)"
    assert validate_bundle(bundle) == []
    (imported,) = iter_bundle_patients(bundle)
    assert imported.unmapped.to_dict()["total"] == 0
    original = parse_record(document, today=TODAY)
    back = parse_record(imported.document, today=TODAY)
    assert back == original
    before, after = _assessment(original), _assessment(back)
    assert after["patient_id"] == before["patient_id"] == document["id"]
    assert after == before


def test_a_bundle_with_the_assessment_imports_to_the_same_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = ROOT / "examples" / "over-40-no-screening.json"
    out = tmp_path / "both.json"
    assert main(["export-fhir", str(example), "--what", "both", "--out", str(out)]) == 0
    capsys.readouterr()
    both = json.loads(out.read_text("utf-8"))
    record_only = json.loads((FIXTURES / example.name).read_text("utf-8"))
    (from_both,) = iter_bundle_patients(both)
    (from_record,) = iter_bundle_patients(record_only)
    assert from_both.document == from_record.document
    skipped = {(g["resource_type"], g["reason"]) for g in from_both.unmapped.to_dict()["groups"]}
    assert skipped == {("DetectedIssue", "unsupported_resource_type"),
                       ("CarePlan", "unsupported_resource_type"),
                       ("DocumentReference", "unsupported_resource_type")}


def test_the_commands_round_trip_a_record_through_fhir(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = ROOT / "examples" / "non-severe.json"
    bundle, records = tmp_path / "bundle.json", tmp_path / "records.json"
    before, after = tmp_path / "before.json", tmp_path / "after.ndjson"
    assert main(["export-fhir", str(example), "--what", "record", "--out", str(bundle)]) == 0
    assert main(["import-fhir", str(bundle), "--strict", "--out", str(records)]) == 0
    assert main(["assess", str(example), "--format", "json", "--out", str(before)]) == 0
    assert main(["assess", str(records), "--format", "json", "--out", str(after)]) == 0
    capsys.readouterr()
    (line,) = after.read_text("utf-8").splitlines()
    assert json.loads(line) == json.loads(before.read_text("utf-8"))
