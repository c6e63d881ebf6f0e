"""``myositis-cds cohort``: synthesize → features → table1 / figure / titers, from files and the database."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from myositis_cds import bootstrap
from myositis_cds.adapters.storage import Database
from myositis_cds.entrypoints.cli import main
from myositis_cds.services import patients
from myositis_cds.services.ports import AuditQuery, SystemActor


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cohort(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "synthetic.json"
    code, _, err = run(capsys, "cohort", "synthesize", "--n", "533", "--seed", "3", "--out", str(path))
    assert code == 0
    assert "synthetic" in err
    return path


def test_records_to_table1_json_with_pf2019_counts(cohort: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cohort", "table1", str(cohort), "--format", "json",
                       "--groups", "anti-Mi-2-positive DM,anti-Mi-2-negative DM",
                       "--variables", "calcinosis_ever,ild_ever,fever_ever")
    assert code == 0
    document = json.loads(out)
    assert document["synthetic"] is True
    assert "synthetic" in document["title"]
    rows = {r["variable"]: r for r in document["rows"]}
    calcinosis = rows["calcinosis_ever"]
    assert calcinosis["groups"]["anti-Mi-2-positive DM"] | {"percent": None} == {
        "N": 58, "missing": 0, "n": 5, "percent": None, "median": None, "q1": None, "q3": None}
    assert calcinosis["groups"]["anti-Mi-2-negative DM"]["n"] == 40
    assert [round(rows[v]["p_value"], 4) for v in ("calcinosis_ever", "ild_ever", "fever_ever")] == [
        0.0026, 0.0382, 0.0209]
    assert calcinosis["test"] == "Fisher exact (two-sided)"
    assert calcinosis["odds_ratio"]["estimate"] == pytest.approx(515 / 2120)


def test_features_csv_then_table1_every_format(cohort: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    features = tmp_path / "features.csv"
    assert run(capsys, "cohort", "features", str(cohort), "--out", str(features))[0] == 0
    with features.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 533
    assert rows[0]["patient"].startswith("synthetic-")
    for fmt in ("text", "csv", "html", "latex", "json"):
        code, out, _ = run(capsys, "cohort", "table1", str(features), "--group", "group", "--policy",
                           "textbook", "--format", fmt, "--variables", "ild_ever,ck_peak_x_uln")
        assert code == 0
        assert "synthetic" in out.lower()
    code, out, _ = run(capsys, "cohort", "table1", str(features), "--variables", "ild_ever")
    assert "Pairwise comparisons (p adjusted by Holm" in out


def test_figure_and_titers(cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figure = tmp_path / "figure.svg"
    code, out, _ = run(capsys, "cohort", "figure", str(cohort), "--out", str(figure))
    assert code == 0
    assert "synthetic" in out
    svg = figure.read_text(encoding="utf-8")
    assert svg.startswith("<?xml")
    assert "SYNTHETIC cohort" in svg
    code, out, _ = run(capsys, "cohort", "titers", str(cohort), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["synthetic"] is True
    assert document["mixed_model"]["ck"]["status"] == "fitted"
    assert document["mixed_model"]["patients"] == 58
    course = document["titer_course"]
    assert (course["followed"], course["declined"], course["normalised"],
            course["normalised_and_stopped_treatment"], course["normalised_stopped_and_restarted"]) == (
        10, 10, 3, 2, 0)


def test_bad_inputs_exit_2_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("patient,group,x\np1,A,1\np2,B\n", encoding="utf-8")
    out = tmp_path / "t.txt"
    code, _, err = run(capsys, "cohort", "table1", str(bad), "--out", str(out))
    assert code == 2
    assert "line 3: got 2 field(s); expected 3" in err
    assert not out.exists()
    good = tmp_path / "good.csv"
    good.write_text("patient,group,x\np1,A,1\np2,B,2\n", encoding="utf-8")
    code, _, err = run(capsys, "cohort", "table1", str(good), "--group", "arm")
    assert code == 2
    assert "--group: got 'arm'; expected one of the columns 'patient', 'group', 'x'" in err
    code, _, err = run(capsys, "cohort", "figure", str(good), "--out", str(tmp_path / "f.svg"))
    assert code == 2
    assert "has no measurements over time" in err
    code, _, err = run(capsys, "cohort", "synthesize", "--n", "2")
    assert code == 2
    assert "--n: got 2; expected at least 4" in err


def test_database_source_is_deidentified_and_audited(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cds.sqlite3'}"
    bootstrap.upgrade(url)
    code, out, _ = run(capsys, "cohort", "synthesize", "--n", "40", "--seed", "1")
    assert code == 0
    documents = json.loads(out)["records"]
    parse = bootstrap.make_parser(bootstrap.current_date())
    with Database(url) as database:
        for document in documents:
            patients.create_patient(database, SystemActor(username="loader"), document, parse=parse)
    code, out, _ = run(capsys, "cohort", "features", "db:", "--database-url", url)
    assert code == 0
    assert "synthetic-" not in out
    keys = [row["patient"] for row in csv.DictReader(out.splitlines())]
    assert sorted(keys) == [f"P{i:04d}" for i in range(1, 41)]
    code, out, _ = run(capsys, "cohort", "table1", "db:", "--database-url", url, "--format", "json",
                       "--variables", "ild_ever")
    assert code == 0
    document = json.loads(out)
    assert document["synthetic"] is True
    assert document["group_sizes"] == {"anti-Mi-2-positive DM": 4, "anti-Mi-2-negative DM": 11,
                                       "antisynthetase syndrome": 12, "IMNM": 13}
    with Database(url) as database, database() as work:
        events = work.audit.list(AuditQuery(action="cohort.export"))
    assert len(events) == 2
    assert all(e.patient_key is None and e.detail == "de-identified cohort of 40 patients" for e in events)
