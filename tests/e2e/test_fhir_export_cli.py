"""``myositis-cds export-fhir`` as a user runs it: single records, batches, bad input, site codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from myositis_cds.adapters.fhir.exporting.common import validate_bundle
from myositis_cds.entrypoints.cli import fhir_export, main
from tests.conftest import ROOT, load_example

EXAMPLE = ROOT / "examples" / "over-40-no-screening.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["export-fhir", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _types(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["resourceType"] for e in bundle["entry"]]


def test_an_assessment_bundle_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(EXAMPLE), "--as-of", "2026-11-21")
    assert (code, err) == (0, "")
    bundle = json.loads(out)
    assert validate_bundle(bundle) == []
    assert _types(bundle)[:7] == ["Patient", *["DetectedIssue"] * 5, "CarePlan"]
    codes = [e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "DetectedIssue"]
    assert codes == ["ALERT-CK-NORMAL-ACTIVE-SKIN", "ALERT-MONITORING-BLOODS-OVERDUE",
                     "ALERT-SCREEN-AGE40", "ALERT-INCOMPLETE-MSA-PANEL", "ALERT-TAPER-DUE"]


def test_a_record_transaction_bundle_to_a_file(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "record.json"
    code, stdout, _ = run(capsys, str(EXAMPLE), "--what", "record", "--bundle-type", "transaction",
                          "--out", str(out))
    assert (code, stdout) == (0, "")
    bundle = json.loads(out.read_text("utf-8"))
    assert bundle["type"] == "transaction"
    assert validate_bundle(bundle) == []
    assert all(e["request"]["method"] == "POST" for e in bundle["entry"])
    unchecked = tmp_path / "unchecked.json"
    assert run(capsys, str(EXAMPLE), "--what", "record", "--bundle-type", "transaction",
               "--no-validate", "--out", str(unchecked))[0] == 0
    assert unchecked.read_text("utf-8") == out.read_text("utf-8")


def test_a_batch_is_ndjson_with_an_operation_outcome_for_a_bad_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = load_example("non-severe")
    bad["labs"][0]["value"] = -5
    batch = {"format": "myositis-cds/patient-records@1",
             "records": [load_example("juvenile"), bad, load_example("non-severe")]}
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(batch), encoding="utf-8")
    code, out, err = run(capsys, str(path), "--what", "both")
    assert code == 2
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["resourceType"] for line in lines] == ["Bundle", "OperationOutcome", "Bundle"]
    assert OperationOutcome.model_validate(lines[1]).issue[0].code == "invalid"
    assert lines[1]["issue"] == [{
        "severity": "error", "code": "invalid", "expression": ["$.records[1].labs[0].value"],
        "diagnostics": "$.records[1].labs[0].value: got -5; expected greater than or equal to 0"}]
    patients = [b["entry"][0]["resource"]["id"] for b in (lines[0], lines[2])]
    assert patients == ["ex-juvenile", "ex-non-severe"]
    assert "$.records[1].labs[0].value" in err
    assert "1 record(s) rejected" in err


def test_a_bad_single_record_writes_nothing(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = load_example("juvenile")
    bad["birth_date"] = "2030-01-01"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    out = tmp_path / "out.json"
    code, stdout, err = run(capsys, str(path), "--out", str(out))
    assert (code, stdout) == (2, "")
    assert "$.birth_date" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(("argv", "message"), [
    (["--as-of", "2027-01-01"], "--as-of: got 2027-01-01; expected a date from 1900-01-01 to today"),
    (["--as-of", "21/11/2026"], "--as-of: got '21/11/2026'; expected an ISO 8601 date"),
    (["--bundle-type", "transaction"], "--bundle-type: got 'transaction' with --what assessment; "
                                       "expected 'collection'"),
])
def test_bad_options_are_usage_errors(argv: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(EXAMPLE), *argv)
    assert (code, out) == (2, "")
    assert message in err


def test_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.json"))
    assert code == 2
    assert "no such file" in err


def test_site_codes_are_exported_first_and_a_bad_table_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "codes.toml"
    site.write_text('format = "myositis-cds/fhir-codes@1"\n[antibody]\n'
                    '"Mi-2" = ["http://example.org/site-assays|MI2-ELISA"]\n', encoding="utf-8")
    code, out, _ = run(capsys, str(EXAMPLE), "--what", "record", "--codes", str(site))
    assert code == 0
    mi2 = [e["resource"] for e in json.loads(out)["entry"]
           if e["resource"].get("code", {}).get("text") == "Mi-2"]
    assert [r["code"]["coding"][0]["code"] for r in mi2] == ["MI2-ELISA"]
    site.write_text('format = "myositis-cds/fhir-codes@1"\n[antibody]\n"Mi-3" = ["x|y"]\n',
                    encoding="utf-8")
    code, out, err = run(capsys, str(EXAMPLE), "--codes", str(site))
    assert (code, out) == (2, "")
    assert "Mi-3" in err


def test_a_bundle_that_fails_validation_is_an_internal_error_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhir_export, "validate_bundle", lambda data: ["Bundle.entry[0]: broken"])
    out = tmp_path / "out.json"
    code, stdout, err = run(capsys, str(EXAMPLE), "--out", str(out))
    assert (code, stdout) == (1, "")
    assert "not valid FHIR R4B (a defect of myositis-cds)" in err
    assert "Bundle.entry[0]: broken" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_export_benchmark_runs_in_quick_mode() -> None:
    script = ROOT / "benchmarks" / "bench_fhir_export.py"
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "FHIR export of 20 generated patients" in done.stdout
