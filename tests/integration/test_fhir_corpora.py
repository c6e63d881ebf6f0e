"""The importer on real-world FHIR unrelated to myositis: the HL7 R4 examples and Synthea patients.

Nothing may crash; every patient document goes through the validator; the unmapped report is not
empty and has exactly the published shape (docs/fhir.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from myositis_cds.adapters.fhir import (
    PatientImport,
    UnmappedReport,
    iter_bulk_patients,
    iter_bundle_patients,
    validate_import,
)
from myositis_cds.adapters.fhir.importing.report import REASONS
from myositis_cds.adapters.fhir.importing.strict import check_resource
from tests.conftest import TODAY
from tests.integration.fhir_corpora import example_files, examples_tarball, synthea_bundles

GROUP_KEYS = {"resource_type", "reason", "description", "count", "distinct_codes", "examples"}
EXAMPLE_KEYS = {"system", "code", "display", "count"}


@pytest.fixture(scope="module")
def hl7_examples() -> list[tuple[str, dict[str, Any]]]:
    return list(example_files(examples_tarball()))


def _check_shape(report: UnmappedReport) -> dict[str, Any]:
    data = report.to_dict()
    assert set(data) == {"format", "total", "groups"}
    assert data["format"] == "myositis-cds/fhir-unmapped@1"
    assert data["total"] == sum(g["count"] for g in data["groups"]) > 0
    for group in data["groups"]:
        assert set(group) == GROUP_KEYS
        assert group["reason"] in REASONS
        assert group["description"] == REASONS[group["reason"]]
        assert group["distinct_codes"] >= 1
        assert len(group["examples"]) <= 5
        for example in group["examples"]:
            assert set(example) == EXAMPLE_KEYS
            assert all(v is None or isinstance(v, str) for k, v in example.items() if k != "count")
            assert 1 <= example["count"] <= group["count"]
    return data


def _validate_all(imports: list[PatientImport], report: UnmappedReport) -> int:
    accepted = 0
    for item in imports:
        result = validate_import(item, today=TODAY)
        report.merge(result.unmapped)
        accepted += result.accepted
    return accepted


def _collection(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in resources]}


def test_hl7_examples_as_one_bundle(hl7_examples: list[tuple[str, dict[str, Any]]]) -> None:
    singles = [r for name, r in hl7_examples if not name.startswith("Bundle-")]
    assert len(singles) > 400
    report = UnmappedReport()
    imports = list(iter_bundle_patients(_collection(singles), unassigned=report))
    by_key = {i.patient_key: i.document for i in imports}
    # Patient/example is Peter James Chalmers, male, born 1974-12-25 (Patient-example.json).
    assert by_key["example"]["sex"] == "male"
    assert by_key["example"]["birth_date"] == "1974-12-25"
    accepted = _validate_all(imports, report)
    assert accepted == len(imports) > 20
    data = _check_shape(report)
    reasons = {(g["resource_type"], g["reason"]) for g in data["groups"]}
    assert {("Observation", "unknown_code"), ("Condition", "unknown_code"),
            ("MedicationRequest", "unknown_code"), ("Encounter", "unsupported_resource_type"),
            ("Organization", "unsupported_resource_type")} <= reasons
    assert report.count("Observation", "unknown_code", system="http://loinc.org", code="15074-8") >= 1


def test_hl7_example_bundles_one_by_one(hl7_examples: list[tuple[str, dict[str, Any]]]) -> None:
    bundles = [(name, r) for name, r in hl7_examples if r.get("resourceType") == "Bundle"]
    assert len(bundles) > 20
    report = UnmappedReport()
    patients = 0
    for _, bundle in bundles:
        imports = list(iter_bundle_patients(bundle, unassigned=report))
        patients += len(imports)
        _validate_all(imports, report)
    assert patients > 5
    _check_shape(report)


def test_hl7_examples_as_a_bulk_export_give_the_bundle_records(
        hl7_examples: list[tuple[str, dict[str, Any]]], tmp_path: Path) -> None:
    singles = [r for name, r in hl7_examples if not name.startswith("Bundle-")]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in singles:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    for resource_type, resources in by_type.items():  # two files per type, as servers split them
        half = len(resources) // 2
        for part, chunk in ((1, resources[:half]), (2, resources[half:])):
            lines = b"".join(orjson.dumps(r) + b"\n" for r in chunk)
            (tmp_path / f"{resource_type}-{part}.ndjson").write_bytes(lines)
    bulk = {i.patient_key: i.document for i in iter_bulk_patients(tmp_path)}
    bundle = {i.patient_key: i.document for i in iter_bundle_patients(_collection(singles))}
    assert bulk.keys() == bundle.keys()
    for key, document in bundle.items():  # the same items; only their order follows the files
        for name, value in document.items():
            if isinstance(value, list):
                assert Counter(orjson.dumps(v) for v in bulk[key][name]) == Counter(
                    orjson.dumps(v) for v in value), (key, name)
            else:
                assert bulk[key][name] == value


def test_the_r4b_models_read_r4_examples(hl7_examples: list[tuple[str, dict[str, Any]]]) -> None:
    named = dict(hl7_examples)
    for name in ("Patient-example.json", "Observation-f001.json", "Condition-example.json",
                 "MedicationRequest-medrx0302.json"):
        assert check_resource(named[name]) == [], name
    broken = dict(named["Patient-example.json"], birthDate="1974-13-45")
    assert [e.path for e in check_resource(broken)] == ["$.birthDate"]


@pytest.mark.slow
def test_synthea_patients(tmp_path: Path) -> None:
    bundles = synthea_bundles(2, seed=20261121, reference=dt.date(2026, 1, 1), workdir=tmp_path)
    report = UnmappedReport()
    imports = [i for b in bundles for i in iter_bundle_patients(b, unassigned=report)]
    assert len(imports) == 2
    assert _validate_all(imports, report) == 2
    for item in imports:
        assert item.document["sex"] in {"female", "male"}
        assert "birth_date" in item.document
    data = _check_shape(report)
    reasons = {(g["resource_type"], g["reason"]) for g in data["groups"]}
    assert {("Observation", "unknown_code"), ("Encounter", "unsupported_resource_type"),
            ("Claim", "unsupported_resource_type")} <= reasons
