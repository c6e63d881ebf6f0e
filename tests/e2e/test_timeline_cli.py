"""``myositis-cds timeline`` as a user runs it: every format, the schema, batches, bad input."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from myositis_cds.adapters.timeline_schema import timeline_json_schema
from myositis_cds.presentation.timeline_report import CSV_COLUMNS
from myositis_cds.scores.tis import MEASURES
from tests.conftest import EXAMPLES, ROOT, load_example
from tests.e2e.test_cli import BAD_INPUTS, _mutate, run, write

NON_SEVERE = str(ROOT / "examples" / "non-severe.json")
EXPECTED_HEADER = [
    "date", "baseline", "physician_global", "patient_global", "extramuscular_global", "mmt8",
    "mmt8_max", "haq", "cdasi_activity", "enzyme", "enzyme_value", "tis_status", "tis_score",
    "tis_range_low", "tis_range_high", "tis_category", "tis_population",
    "physician_global_percent_change", "physician_global_points", "physician_global_worsened",
    "patient_global_percent_change", "patient_global_points", "patient_global_worsened",
    "mmt_percent_change", "mmt_points", "mmt_worsened",
    "haq_percent_change", "haq_points", "haq_worsened",
    "enzyme_percent_change", "enzyme_points", "enzyme_worsened",
    "extramuscular_percent_change", "extramuscular_points", "extramuscular_worsened",
    "imacs_doi_status", "active_treatments",
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = timeline_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def batch(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    return write(tmp_path, {"format": "myositis-cds/patient-records@1", "records": records},
                 "batch.json")


# -- formats -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_json_of_every_example_validates_against_the_published_schema(
    capsys: pytest.CaptureFixture[str], example: Path,
    validator: jsonschema.Draft202012Validator,
) -> None:
    code, out, err = run(capsys, "timeline", str(example), "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert list(validator.iter_errors(document)) == []
    assert document["format"] == "myositis-cds/timeline@1"
    assert document["patient_id"] == load_example(example.stem)["id"]


def test_schema_command_prints_the_timeline_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema", "timeline")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == json.loads(json.dumps(timeline_json_schema()))
    assert schema["properties"]["format"] == {"const": "myositis-cds/timeline@1"}
    assert "format" in schema["required"]


def test_csv_has_one_row_per_visit_and_the_documented_header(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert list(CSV_COLUMNS) == EXPECTED_HEADER
    assert [f"{m}_points" for m in MEASURES] == [h for h in EXPECTED_HEADER if h.endswith("_points")]
    code, out, _ = run(capsys, "timeline", NON_SEVERE, "--format", "csv")
    assert code == 0
    header = next(csv.reader(io.StringIO(out)))
    assert header == EXPECTED_HEADER
    table = rows(out)
    visits = load_example("non-severe")["assessments"]
    assert [r["date"] for r in table] == [v["date"] for v in visits]
    baseline, *follow_ups = table
    assert baseline["baseline"] == "true"
    assert baseline["tis_status"] == ""  # the baseline is not scored against itself
    assert baseline["enzyme"] == "CK"
    assert float(baseline["enzyme_value"]) == 5840
    latest = follow_ups[-1]
    assert latest["baseline"] == "false"
    assert latest["tis_status"] == "complete"
    assert float(latest["tis_score"]) == 82.5
    assert latest["tis_category"] == "major"
    assert latest["tis_population"] == "adult"
    assert float(latest["physician_global_percent_change"]) == 45
    assert float(latest["physician_global_points"]) == 20
    assert latest["physician_global_worsened"] == "false"
    assert latest["imacs_doi_status"] == "improved"
    assert latest["active_treatments"] == "methotrexate;prednisone"


def test_csv_matches_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ROOT / "examples" / "drug-free-remission.json")
    _, out, _ = run(capsys, "timeline", path, "--format", "json")
    document = json.loads(out)
    _, out, _ = run(capsys, "timeline", path, "--format", "csv")
    table = rows(out)
    assert len(table) == len(document["visits"]) == 8
    for row, visit in zip(table, document["visits"], strict=True):
        tis = visit["tis"]
        assert row["tis_score"] == ("" if tis is None else repr(tis["score"]))
        assert row["haq"] == repr(visit["haq"])
        assert row["active_treatments"] == ";".join(visit["active_treatments"])
        if tis is not None:
            for measure in tis["measures"]:
                assert row[f"{measure['measure']}_percent_change"] == repr(measure["percent_change"])


def test_text_report_shows_measures_tis_population_treatments_and_references(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "timeline", str(ROOT / "examples" / "juvenile.json"))
    assert code == 0
    assert out.startswith("myositis-cds timeline — ex-juvenile")
    for heading in ("1. CORE SET MEASURES AT EACH VISIT", "2. RESPONSE AGAINST THE BASELINE",
                    "3. TREATMENT PERIODS", "4. ANTI-MI-2 TITERS", "5. INTERPRETATIONS AND NOTES",
                    "6. REFERENCES"):
        assert heading in out
    assert "juvenile onset: TIS categories use the juvenile DM thresholds" in out
    assert "Category (juvenile)" in out
    assert "Follow-up 2026-05-11" in out
    assert "% change" in out
    assert "Methotrexate" in out
    assert "ongoing" in out
    # The [INTERP] settings the TIS depends on are numbered notes, citations are numbered references.
    assert "tis_percent_change" in out
    assert "lab_visit_window_days" in out
    assert "(ACR-EULAR-2016-JDM)" in out
    assert "[1] Rider LG, et al. 2016 ACR/EULAR criteria for clinical response in juvenile" in out


def test_html_document_and_escaping(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    record = copy.deepcopy(load_example("non-severe"))
    record["id"] = "<script>alert(1)</script>"
    code, out, _ = run(capsys, "timeline", str(write(tmp_path, record)), "--format", "html")
    assert code == 0
    assert out.lower().startswith("<!doctype html>")
    assert '<article class="assessment timeline"' in out
    assert "<script>" not in out
    assert "&lt;script&gt;" in out
    assert "2. Response against the baseline</h3>" in out
    assert "3. Treatment periods</h3>" in out
    assert "6. References</h3>" in out


@pytest.mark.parametrize("fmt", ["text", "json", "csv", "html"])
def test_a_record_without_assessments_still_renders(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str,
    validator: jsonschema.Draft202012Validator,
) -> None:
    bare = write(tmp_path, {"format": "myositis-cds/patient-record@1", "id": "bare", "sex": "female"})
    code, out, err = run(capsys, "timeline", str(bare), "--format", fmt)
    assert code == 0, err
    if fmt == "json":
        document = json.loads(out)
        assert document["visits"] == []
        assert document["baseline_date"] is None
        assert list(validator.iter_errors(document)) == []
    elif fmt == "csv":
        assert out == ",".join(EXPECTED_HEADER) + "\n"
    elif fmt == "text":
        assert "No assessment recorded on or before the as-of date." in out
        assert "Baseline visit:       none: no assessment recorded" in out
    else:
        assert "No visit after the baseline: no TIS to show." in out


def test_csv_cell_that_looks_like_a_formula_is_quoted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    record = copy.deepcopy(load_example("juvenile"))
    record["id"] = "=HYPERLINK(\"http://x\")"
    code, out, _ = run(capsys, "timeline", str(batch(tmp_path, [record])), "--format", "csv")
    assert code == 0
    assert {r["patient_id"] for r in rows(out)} == {"'=HYPERLINK(\"http://x\")"}


def test_as_of_and_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "reports" / "timeline.csv"
    code, out, _ = run(capsys, "timeline", NON_SEVERE, "--format", "csv", "--as-of", "2026-09-01",
                       "--out", str(target))
    assert code == 0
    assert out == ""
    assert [r["date"] for r in rows(target.read_text("utf-8"))] == ["2026-06-15", "2026-08-17"]
    assert [p.name for p in target.parent.iterdir()] == ["timeline.csv"]
    code, _, err = run(capsys, "timeline", NON_SEVERE, "--as-of", "2026-11-22")
    assert code == 2
    assert "--as-of" in err


def test_settings_file_is_used(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = tmp_path / "site.json"
    settings.write_text(json.dumps({"tis_percent_change": "relative"}), "utf-8")
    _, out, _ = run(capsys, "timeline", NON_SEVERE, "--format", "json")
    absolute = json.loads(out)["visits"][-1]["tis"]["measures"][0]["percent_change"]
    code, out, _ = run(capsys, "timeline", NON_SEVERE, "--format", "json", "--settings",
                       str(settings))
    assert code == 0
    relative = json.loads(out)["visits"][-1]["tis"]["measures"][0]["percent_change"]
    assert (absolute, relative) == (45.0, 75.0)  # physician global 6 → 1.5: /10 vs /6
    _, out, _ = run(capsys, "timeline", NON_SEVERE, "--settings", str(settings))
    assert "'relative'" in out


# -- batches -----------------------------------------------------------------------------------------

def test_batch_json_is_one_line_per_patient(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, validator: jsonschema.Draft202012Validator,
) -> None:
    records = [load_example(p.stem) for p in EXAMPLES]
    code, out, _ = run(capsys, "timeline", str(batch(tmp_path, records)), "--format", "json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["patient_id"] for line in lines] == [r["id"] for r in records]
    for line in lines:
        assert list(validator.iter_errors(line)) == []


def test_batch_csv_is_one_table_with_a_patient_id_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    records = [load_example(name) for name in ("non-severe", "drug-free-remission", "juvenile")]
    code, out, _ = run(capsys, "timeline", str(batch(tmp_path, records)), "--format", "csv")
    assert code == 0
    assert next(csv.reader(io.StringIO(out))) == ["patient_id", *EXPECTED_HEADER]
    table = rows(out)
    assert [(r["patient_id"], r["date"]) for r in table] == [
        (record["id"], visit["date"]) for record in records for visit in record["assessments"]]


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_batch_text_and_html_show_each_patient_in_turn(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str,
) -> None:
    records = [load_example("non-severe"), load_example("juvenile")]
    code, out, _ = run(capsys, "timeline", str(batch(tmp_path, records)), "--format", fmt)
    assert code == 0
    first, second = out.index("ex-non-severe"), out.index("ex-juvenile")
    assert first < second
    if fmt == "html":
        assert out.count('<article class="assessment timeline"') == 2
        assert out.count("<!DOCTYPE html>") == 1
    else:
        assert out.count("myositis-cds timeline — ") == 2


def test_batch_with_a_bad_record_reports_it_and_keeps_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    good = load_example("juvenile")
    path = batch(tmp_path, [good, _mutate("negative value"), good])
    code, out, err = run(capsys, "timeline", str(path), "--format", "json")
    assert code == 2
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["format"] for line in lines] == [
        "myositis-cds/timeline@1", "myositis-cds/assessment-error@1", "myositis-cds/timeline@1"]
    assert lines[1]["errors"][0]["path"] == "$.records[1].labs[0].value"
    assert "1 record(s) rejected" in err
    code, out, _ = run(capsys, "timeline", str(path), "--format", "csv")
    assert code == 2
    assert len(rows(out)) == 2 * len(good["assessments"])


# -- bad input: exit 2, the JSON path, the value and what was expected, nothing written ----------------

@pytest.mark.parametrize("case", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_bad_input_is_refused_with_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: tuple[str, str, str, str], fmt: str,
) -> None:
    change, path, value, expected = case
    record_file = write(tmp_path, _mutate(change))
    out_file = tmp_path / f"timeline.{fmt}"
    code, out, err = run(capsys, "timeline", str(record_file), "--format", fmt, "--out",
                         str(out_file))
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    line = next(line for line in err.splitlines() if path in line)
    assert value in line
    assert expected in line
    assert not out_file.exists()
    assert list(tmp_path.iterdir()) == [record_file]


def test_missing_file_invalid_json_empty_batch(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    code, _, err = run(capsys, "timeline", str(tmp_path / "absent.json"))
    assert code == 2
    assert "no such file" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "x",', encoding="utf-8")
    code, _, err = run(capsys, "timeline", str(broken))
    assert code == 2
    assert "valid JSON" in err
    code, _, err = run(capsys, "timeline", str(batch(tmp_path, [])))
    assert code == 2
    assert "no records" in err
