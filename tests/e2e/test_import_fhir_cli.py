"""``myositis-cds import-fhir`` as a user runs it: files, folders, reports, errors and --store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from myositis_cds.adapters.storage import Database
from myositis_cds.entrypoints.cli import main

BULK = Path(__file__).resolve().parent.parent / "fixtures" / "fhir" / "bulk"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in resources]}


def _ck(subject: str, day: str, value: float) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "2157-6"}]},
            "subject": {"reference": f"Patient/{subject}"}, "effectiveDateTime": day,
            "valueQuantity": {"value": value, "system": UCUM, "code": "U/L"}}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_bundle_to_a_batch_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _write(tmp_path / "bundle.json", _bundle(
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1979-03-14"},
        _ck("p1", "2026-01-12", 4200), {"resourceType": "Encounter", "subject": {"reference": "Patient/p1"}}))
    out = tmp_path / "records.json"
    code, stdout, stderr = _run(capsys, "import-fhir", str(bundle), "--out", str(out))
    assert code == 0
    assert stdout == ""
    assert json.loads(out.read_text("utf-8")) == {
        "format": "myositis-cds/patient-records@1", "records": [
            {"format": "myositis-cds/patient-record@1", "id": "p1", "sex": "female",
             "birth_date": "1979-03-14",
             "labs": [{"test": "CK", "value": 4200, "unit": "U/L", "date": "2026-01-12"}]}]}
    assert stderr == (
        "FHIR import: 1 item(s) not mapped\n"
        "        1  Encounter: unsupported_resource_type (a resource type the importer does not read)\n"
        "FHIR import: 1 patient(s) read, 1 imported, 0 refused\n")


def test_bulk_folder_to_stdout_with_a_json_report(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.json"
    code, stdout, stderr = _run(capsys, "import-fhir", str(BULK), "--report", str(report))
    assert code == 0
    batch = json.loads(stdout)
    assert [r["id"] for r in batch["records"]] == ["pa", "pb"]
    assert main(["assess", "--format", "json", "--out", str(tmp_path / "a.json"),
                 _write(tmp_path / "batch.json", batch).as_posix()]) == 0
    data = json.loads(report.read_text("utf-8"))
    assert {k: v for k, v in data.items() if k != "unmapped"} == {
        "format": "myositis-cds/fhir-import-report@1", "patients": 2, "imported": 2,
        "refused": 0, "created": 0, "updated": 0, "unchanged": 0, "kept": 0}
    assert [(g["resource_type"], g["reason"], g["count"]) for g in data["unmapped"]["groups"]] == [
        ("Encounter", "unsupported_resource_type", 2), ("Observation", "no_patient", 1),
        ("Observation", "unknown_code", 1)]
    assert stderr == "FHIR import: 2 patient(s) read, 2 imported, 0 refused\n"


def test_a_bad_path_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "records.json"
    code, _, stderr = _run(capsys, "import-fhir", str(tmp_path / "absent.json"), "--out", str(out))
    assert code == 2
    assert stderr == (f"error: {tmp_path / 'absent.json'}: no such file or folder; expected a FHIR "
                      "Bundle JSON file or a Bulk Data export folder of *.ndjson files\n")
    assert not out.exists()


def test_a_bad_ndjson_line_names_file_and_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"a"}\n{"resourceType":\n',
                                           encoding="utf-8")
    out = tmp_path / "records.json"
    code, _, stderr = _run(capsys, "import-fhir", str(folder), "--out", str(out))
    assert code == 2
    assert stderr.startswith(f"error: {folder / 'Patient.ndjson'}:2: got a line that is not valid JSON")
    assert stderr.endswith("expected one FHIR resource (a JSON object) per line\n")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [folder]  # no partial file either


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", "not valid JSON"),
    ('{"resourceType": "Patient", "id": "x"}', "$.resourceType: got 'Patient'; expected 'Bundle'"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": []}', "holds no patient"),
])
def test_bad_bundles_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                expected: str) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(content, encoding="utf-8")
    code, stdout, stderr = _run(capsys, "import-fhir", str(path))
    assert code == 2
    assert stdout == ""
    assert expected in stderr


def test_strict_refuses_non_conforming_fhir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "bundle.json", _bundle(
        {"resourceType": "Patient", "id": "p1", "birthDate": "1979-02-30"}))
    code, _, stderr = _run(capsys, "import-fhir", str(path), "--strict")
    assert code == 2
    assert "1 FHIR R4 conformance error(s) (--strict)" in stderr
    assert "$.entry[0].resource.birthDate" in stderr


def test_a_bad_codes_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    codes = tmp_path / "codes.toml"
    codes.write_text('format = "myositis-cds/fhir-codes@1"\n[antibody]\n"Mi-3" = ["a|b"]\n',
                     encoding="utf-8")
    code, _, stderr = _run(capsys, "import-fhir", str(BULK), "--codes", str(codes))
    assert code == 2
    assert f"{codes}:antibody.Mi-3: got 'Mi-3'; expected one of Mi-2α" in stderr


def test_refused_items_are_listed_and_the_rest_imported(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "bundle.json", _bundle(
        {"resourceType": "Patient", "id": "p1"}, _ck("p1", "2027-01-01", 300), _ck("p1", "2026-01-01", 250),
        {"resourceType": "Patient", "id": "p2",
         "identifier": [{"system": "urn:myositis-cds:patient-id", "value": "x" * 129}]}))
    code, stdout, stderr = _run(capsys, "import-fhir", str(path))
    assert code == 2  # a refused patient is an error, as a rejected record is for `assess`
    assert json.loads(stdout)["records"] == [
        {"format": "myositis-cds/patient-record@1", "id": "p1",
         "labs": [{"test": "CK", "value": 250, "unit": "U/L", "date": "2026-01-01"}]}]
    assert ("FHIR Patient p1: items left out\n  - $.labs[0].date: got '2027-01-01'; expected a date "
            "on or before today (2026-11-21)\n") in stderr
    assert "FHIR Patient p2: NOT imported\n  - $.id: got 'xxxx" in stderr
    assert "FHIR import: 2 patient(s) read, 1 imported, 1 refused\n" in stderr


def test_store_creates_then_updates_and_audits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cds.sqlite3'}"
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    code, stdout, stderr = _run(capsys, "import-fhir", str(BULK), "--store")
    assert (code, stdout) == (0, "")
    assert stderr.endswith("2 imported, 0 refused; stored: 2 created, 0 updated, 0 unchanged, "
                           "0 kept as stored\n")
    code, _, stderr = _run(capsys, "import-fhir", str(BULK), "--store")
    assert stderr.endswith("stored: 0 created, 0 updated, 2 unchanged, 0 kept as stored\n")
    changed = _write(tmp_path / "bundle.json", _bundle(
        {"resourceType": "Patient", "id": "pb", "gender": "male"}, _ck("pb", "2026-03-01", 900)))
    code, _, stderr = _run(capsys, "import-fhir", str(changed), "--store", "--database-url", url)
    assert code == 0
    assert ("FHIR Patient pb: stored record differs; kept as stored (use --replace to overwrite "
            "it)\n") in stderr
    assert stderr.endswith("stored: 0 created, 0 updated, 0 unchanged, 1 kept as stored\n")
    code, _, stderr = _run(capsys, "import-fhir", str(changed), "--store", "--replace")
    assert stderr.endswith("stored: 0 created, 1 updated, 0 unchanged, 0 kept as stored\n")
    code, _, stderr = _run(capsys, "import-fhir", str(changed), "--replace")
    assert code == 2
    assert "--replace: only with --store" in stderr
    with Database(url) as database, database() as work:
        stored = {p.patient_key: p for p in work.patients.list(limit=10)}
        events = [(e.actor, e.action, e.patient_key) for e in work.audit.export()]
    assert stored["pb"].record["labs"] == [{"test": "CK", "value": 900, "unit": "U/L",
                                            "date": "2026-03-01"}]
    assert stored["pb"].version == 2
    writes = [e for e in events if e[1] in {"patient.create", "patient.update"}]
    assert writes == [("system:import-fhir", "patient.create", "pa"),
                      ("system:import-fhir", "patient.create", "pb"),
                      ("system:import-fhir", "patient.update", "pb")]


def test_strict_checks_every_ndjson_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "export"
    shutil.copytree(BULK, folder)
    code, stdout, _ = _run(capsys, "import-fhir", str(folder), "--strict")
    assert code == 0
    assert [r["id"] for r in json.loads(stdout)["records"]] == ["pa", "pb"]
    with (folder / "Patient.ndjson").open("a", encoding="utf-8") as stream:
        stream.write('{"resourceType":"Patient","id":"pc","birthDate":"1979-02-30"}\n')
    code, stdout, stderr = _run(capsys, "import-fhir", str(folder), "--strict")
    assert (code, stdout) == (2, "")
    assert "1 FHIR R4 conformance error(s) (--strict)" in stderr
    assert "Patient.ndjson:3:$.birthDate: got '1979-02-30'" in stderr
