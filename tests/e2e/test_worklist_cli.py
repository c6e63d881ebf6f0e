"""``myositis-cds worklist`` from the command line: sources, formats, exit codes, incremental runs."""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from myositis_cds import bootstrap
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.entrypoints.cli import main
from myositis_cds.services import audit, patients
from myositis_cds.services.ports import AuditQuery, SystemActor
from tests.conftest import EXAMPLES, TODAY
from tests.unit.test_worklist_items import EXPECTED
from tests.worklist_population import generate_record, write_folder, write_ndjson


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["worklist", *argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    folder = tmp_path / "records"
    folder.mkdir()
    for path in EXAMPLES:
        shutil.copy(path, folder)
    return folder


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_examples_to_stdout(capsys: pytest.CaptureFixture[str], examples: Path) -> None:
    code, out, err = run(capsys, str(examples), "--as-of", "2026-11-21", "--engine", "local")
    assert code == 0
    rows = _csv(out)
    assert len(rows) == len(EXPECTED)
    assert list(rows[0]) == ["patient_key", "severity", "rule_id", "item", "kind", "status", "due",
                             "values", "scope"]
    assert (rows[0]["patient_key"], rows[0]["severity"], rows[0]["rule_id"]) == (
        "ex-incomplete-data", "critical", "ALERT-DELAYED-IMMUNOSUPPRESSION")
    assert [r["severity"] for r in rows] == sorted(
        (r["severity"] for r in rows), key=["critical", "warning", "info"].index)
    n = len(EXAMPLES)
    assert f"{n} patients, {len({r[0] for r in EXPECTED})} with open items, {len(EXPECTED)} rows" in err
    assert f"recomputed {n}, reused 0" in err
    assert "  critical ALERT-DELAYED-IMMUNOSUPPRESSION    fired          2" in err


def test_parquet_and_csv_agree_and_summary_json(capsys: pytest.CaptureFixture[str], examples: Path,
                                                tmp_path: Path) -> None:
    parquet, text = tmp_path / "w.parquet", tmp_path / "w.csv"
    summary = tmp_path / "summary.json"
    assert run(capsys, str(examples), "--out", str(parquet), "--workers", "2",
               "--summary-json", str(summary))[0] == 0
    assert run(capsys, str(examples), "--out", str(text), "--workers", "1")[0] == 0
    table = pq.read_table(parquet).to_pylist()
    rows = _csv(text.read_text("utf-8"))
    assert len(table) == len(rows) == len(EXPECTED)
    for from_parquet, from_csv in zip(table, rows, strict=True):
        due = from_parquet["due"]
        assert from_csv["due"] == (due.isoformat() if due else "")
        assert from_csv["values"] == from_parquet["values"]
        assert from_csv["rule_id"] == from_parquet["rule_id"]
    document = json.loads(summary.read_text("utf-8"))
    assert (document["patients"], document["rows"], document["engine"]) == (
        len(EXAMPLES), len(EXPECTED), "duckdb")
    assert document["items"][0] == {"severity": "critical",
                                    "rule_id": "ALERT-DELAYED-IMMUNOSUPPRESSION",
                                    "status": "fired", "rows": 2}


@pytest.mark.parametrize(("argv", "message"), [
    (["/no/such/folder"], "SOURCE: got '/no/such/folder', which is not a folder"),
    (["{examples}", "--as-of", "2026-13-01"], "--as-of: got '2026-13-01'; expected an ISO 8601 date"),
    (["{examples}", "--as-of", "2027-01-01"], "--as-of: got 2027-01-01; expected a date from 1900-01-01"),
    (["{examples}", "--out", "w.xlsx"], "--out: got 'w.xlsx'; expected a file name ending in .parquet"),
    (["{examples}", "--state", "s.json"], "--state: got 's.json'; expected a file name ending in"),
    (["{empty}"], "holds no .json or .ndjson file"),
    (["{examples}", "--workers", "0"], "--workers: got 0; expected 1 or more"),
])
def test_bad_usage_exits_2_and_writes_nothing(capsys: pytest.CaptureFixture[str], examples: Path,
                                              tmp_path: Path, argv: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "never.csv"
    argv = [a.format(examples=examples, empty=tmp_path / "empty") for a in argv]
    code, stdout, err = run(capsys, *argv, "--out", str(out)) if "--out" not in argv else \
        run(capsys, *argv)
    assert code == 2
    assert message in err
    assert stdout == ""
    assert not out.exists()


def test_mixed_folder_is_refused(capsys: pytest.CaptureFixture[str], examples: Path) -> None:
    (examples / "Patient.ndjson").write_text("{}\n", encoding="utf-8")
    code, _, err = run(capsys, str(examples))
    assert code == 2
    assert "holds both .json and .ndjson files" in err


def test_invalid_records_are_rows_and_exit_2(capsys: pytest.CaptureFixture[str], examples: Path,
                                             tmp_path: Path) -> None:
    (examples / "broken.json").write_text("{not json", encoding="utf-8")
    bad = json.loads(EXAMPLES[0].read_text("utf-8")) | {"id": "bad-ck", "sex": "robot"}
    (examples / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    out = tmp_path / "w.csv"
    code, _, err = run(capsys, str(examples), "--out", str(out), "--engine", "duckdb",
                       "--workers", "1")
    assert code == 2
    assert "invalid records 2" in err
    invalid = [r for r in _csv(out.read_text("utf-8")) if r["rule_id"] == "RECORD-INVALID"]
    assert sorted(r["patient_key"] for r in invalid) == ["bad-ck", "broken.json"]
    assert {r["severity"] for r in invalid} == {"warning"}
    sex = next(r for r in invalid if r["patient_key"] == "bad-ck")
    assert json.loads(sex["values"])[0]["path"] == "$.sex"


@pytest.mark.parametrize("engine", ["local", "duckdb"])
def test_engines_agree_on_a_generated_population(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path, engine: str) -> None:
    rng = random.Random(5)
    records = [generate_record(rng, i, TODAY) for i in range(80)]
    folder = write_folder(tmp_path / "records", records)
    export = write_ndjson(tmp_path / "export", records, TODAY)
    outputs = {}
    for name, source in (("records", folder), ("fhir", export)):
        for this in ("local", engine):
            out = tmp_path / f"{name}-{this}.csv"
            assert run(capsys, str(source), "--engine", this, "--out", str(out),
                       "--workers", "2")[0] == 0
            outputs[name, this] = out.read_text("utf-8")
    assert outputs["records", engine] == outputs["records", "local"]
    assert outputs["fhir", engine] == outputs["fhir", "local"]
    assert len(_csv(outputs["records", "local"])) > 500


def test_incremental_runs_reuse_unchanged_patients(capsys: pytest.CaptureFixture[str],
                                                   examples: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.parquet"
    first = tmp_path / "first.csv"

    def nightly(as_of: str, out: Path) -> str:
        code, _, err = run(capsys, str(examples), "--as-of", as_of, "--state", str(state),
                           "--out", str(out), "--workers", "1")
        assert code == 0
        return err

    n = len(EXAMPLES)
    assert f"recomputed {n}, reused 0" in nightly("2026-11-20", first)
    again = tmp_path / "again.csv"
    assert f"recomputed 0, reused {n}" in nightly("2026-11-20", again)
    assert again.read_text("utf-8") == first.read_text("utf-8")
    # One record changes: only it is recomputed.
    changed = json.loads((examples / "juvenile.json").read_text("utf-8"))
    changed["findings"].append({"code": "dysphagia", "present": True, "date": "2026-11-19"})
    (examples / "juvenile.json").write_text(json.dumps(changed), encoding="utf-8")
    assert f"recomputed 1, reused {n - 1}" in nightly("2026-11-20", tmp_path / "third.csv")
    # The next day: patients whose recheck date has come are recomputed, and the rows equal a run
    # without state.
    stored = pq.read_table(state).to_pylist()
    due = sum(1 for s in stored if s["recheck_on"] is not None
              and s["recheck_on"].isoformat() <= "2026-11-21")
    incremental = tmp_path / "incremental.csv"
    assert f"recomputed {due}, reused {n - due}" in nightly("2026-11-21", incremental)
    fresh = tmp_path / "fresh.csv"
    assert run(capsys, str(examples), "--as-of", "2026-11-21", "--out", str(fresh),
               "--engine", "local")[0] == 0
    assert incremental.read_text("utf-8") == fresh.read_text("utf-8")
    # An earlier as-of date than the cached one is never served from the cache.
    assert f"recomputed {n}, reused 0" in nightly("2026-11-01", tmp_path / "earlier.csv")


def test_database_source_reads_through_the_audited_use_case(
        capsys: pytest.CaptureFixture[str], examples: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    bootstrap.upgrade(url)
    database = bootstrap.make_unit_of_work(url)
    actor = SystemActor(username="test:seed")
    try:
        for path in EXAMPLES:
            patients.create_patient(database, actor, json.loads(path.read_text("utf-8")),
                                    parse=lambda d, *, prefix, source: parse_record(
                                        d, today=TODAY, prefix=prefix, source=source))
        from_db, from_folder = tmp_path / "db.csv", tmp_path / "folder.csv"
        assert run(capsys, "db", "--database-url", url, "--out", str(from_db))[0] == 0
        assert run(capsys, str(examples), "--out", str(from_folder), "--workers", "1")[0] == 0
        assert from_db.read_text("utf-8") == from_folder.read_text("utf-8")
        events = audit.list_audit_events(database, actor, AuditQuery(actor="system:worklist"))
        assert [e.action for e in events] == ["patient.list"]
        code, _, err = run(capsys, "db", "--database-url", url, "--engine", "spark")
        assert code == 2
        assert "--engine: got 'spark' for SOURCE db" in err
    finally:
        database.dispose()


def _outsiders(folder: Path) -> None:
    """Two patients of a health system's export with no myositis at all (one with an invalid
    record), and one whose anti-Mi-2 test was negative (a result: in the population)."""
    base = {"format": "myositis-cds/patient-record@1", "sex": "female", "birth_date": "1960-02-01"}
    (folder / "zz-flu.json").write_text(json.dumps({**base, "id": "zz-flu", "labs": [
        {"test": "CK", "value": 120, "unit": "U/L", "uln": 200, "date": "2026-03-01"}]}), "utf-8")
    (folder / "zz-broken.json").write_text(json.dumps({**base, "id": "zz-broken",
                                                       "birth_date": "2099-01-01"}), "utf-8")
    (folder / "zz-tested.json").write_text(json.dumps({**base, "id": "zz-tested", "antibodies": [
        {"target": "Mi-2", "result": "negative", "date": "2026-03-01"}]}), "utf-8")


@pytest.mark.parametrize("engine", ["local", "duckdb"])
def test_only_the_population_is_evaluated_and_the_others_are_counted(
        capsys: pytest.CaptureFixture[str], examples: Path, tmp_path: Path, engine: str) -> None:
    _outsiders(examples)
    summary = tmp_path / "summary.json"
    code, out, err = run(capsys, str(examples), "--as-of", "2026-11-21", "--engine", engine,
                         "--summary-json", str(summary), "--workers", "1")
    assert code == 0  # the invalid record is outside the population: not evaluated
    keys = {row["patient_key"] for row in _csv(out)}
    assert "zz-flu" not in keys
    assert "zz-broken" not in keys
    assert "zz-tested" in keys  # a negative anti-Mi-2 result is a result: evaluated, out of scope
    n = len(EXAMPLES)  # every example has a DM diagnosis; zz-tested a Mi-2 result
    assert f"population: {n + 1} evaluated, 2 outside" in err
    document = json.loads(summary.read_text("utf-8"))
    assert (document["patients"], document["outside_population"]) == (n + 3, 2)


def test_all_evaluates_everyone_and_a_cohort_adds_listed_patients(
        capsys: pytest.CaptureFixture[str], examples: Path, tmp_path: Path) -> None:
    _outsiders(examples)
    code, out, err = run(capsys, str(examples), "--as-of", "2026-11-21", "--engine", "local",
                         "--all")
    assert code == 2  # the invalid record is evaluated now: a RECORD-INVALID row
    rows = _csv(out)
    assert {"zz-flu", "zz-broken"} <= {row["patient_key"] for row in rows}
    assert f"population: {len(EXAMPLES) + 3} evaluated, 0 outside" in err
    cohort = tmp_path / "cohort.txt"
    cohort.write_text("# registry export\nzz-flu\n\n", "utf-8")
    code, out, err = run(capsys, str(examples), "--as-of", "2026-11-21", "--engine", "local",
                         "--cohort", str(cohort))
    assert code == 0
    assert "zz-flu" in {row["patient_key"] for row in _csv(out)}
    assert f"population: {len(EXAMPLES) + 2} evaluated, 1 outside" in err
    with pytest.raises(SystemExit) as stopped:
        run(capsys, str(examples), "--all", "--cohort", str(cohort))
    assert stopped.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_folder_of_bundles_is_a_source(capsys: pytest.CaptureFixture[str], examples: Path,
                                         tmp_path: Path) -> None:
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    for path in sorted(examples.glob("*.json")):
        assert main(["export-fhir", str(path), "--what", "record", "--no-validate",
                     "--out", str(bundles / path.name)]) == 0
    capsys.readouterr()
    code, records_out, _ = run(capsys, str(examples), "--as-of", "2026-11-21", "--engine", "local")
    assert code == 0

    def items(text: str) -> list[tuple[str, ...]]:
        return [(r["patient_key"], r["rule_id"], r["item"], r["status"], r["due"], r["scope"])
                for r in _csv(text)]

    outputs = []
    for engine in ("local", "duckdb"):
        code, out, err = run(capsys, str(bundles), "--as-of", "2026-11-21", "--engine", engine,
                             "--workers", "1")
        assert code == 0, err
        outputs.append(out)
    assert outputs[0] == outputs[1]
    # The same open items as from the records (the Bundle's resources are read in the canonical
    # order of every FHIR source, so the JSON paths in `values` may name other indexes).
    assert items(outputs[0]) == items(records_out)
