"""The command line as a user runs it: outputs, schemas, and every class of bad input."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from myositis_cds.adapters.assessment_schema import assessment_json_schema
from myositis_cds.entrypoints.cli import main
from tests.conftest import EXAMPLES, ROOT, load_example


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, data: object, name: str = "record.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def assessment_schema() -> dict[str, Any]:
    schema = assessment_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_json_validates_against_published_schema(
    capsys: pytest.CaptureFixture[str], example: Path, assessment_schema: dict[str, Any]
) -> None:
    code, out, err = run(capsys, "assess", str(example), "--as-of", "2026-11-21", "--format",
                         "json")
    assert code == 0, err
    document = json.loads(out)
    validator = jsonschema.Draft202012Validator(assessment_schema,
                                                format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(document)) == []
    assert document["format"] == "myositis-cds/assessment@1"
    assert document["knowledge"] == {"pack": "anti-mi2-dm", "version": "2026.2"}


def test_schema_command_prints_valid_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("patient-record", "assessment"):
        code, out, _ = run(capsys, "schema", name)
        assert code == 0
        jsonschema.Draft202012Validator.check_schema(json.loads(out))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_validate_against_record_schema(
    capsys: pytest.CaptureFixture[str], example: Path
) -> None:
    _, out, _ = run(capsys, "schema", "patient-record")
    schema = json.loads(out)
    jsonschema.validate(json.loads(example.read_text("utf-8")), schema)


def test_text_report_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ROOT / "examples" / "over-40-no-screening.json")
    for fmt in ("text", "markdown", "html"):
        code, out, _ = run(capsys, "assess", path, "--format", fmt, "--as-of", "2026-11-21")
        assert code == 0
        assert "ALERT-SCREEN-AGE40" in out
    assert "<!DOCTYPE html>" in out or "<!doctype html>" in out.lower()


def test_example_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "example", "--list")
    assert code == 0
    names = out.split()
    assert len(names) >= 8
    assert "juvenile" in names
    code, out, _ = run(capsys, "example", "juvenile")
    assert json.loads(out) == load_example("juvenile")
    code, _, err = run(capsys, "example", "nope")
    assert code == 2
    assert "'nope'" in err
    assert "juvenile" in err


def test_as_of_default_is_today_and_future_refused(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ROOT / "examples" / "non-severe.json")
    code, out, _ = run(capsys, "assess", path, "--format", "json")
    assert code == 0
    assert json.loads(out)["as_of"] == "2026-11-21"
    code, _, err = run(capsys, "assess", path, "--as-of", "2026-11-22")
    assert code == 2
    assert "--as-of" in err
    assert "2026-11-22" in err
    code, _, err = run(capsys, "assess", path, "--as-of", "21/11/2026")
    assert code == 2
    assert "YYYY-MM-DD" in err


def test_as_of_excludes_later_data(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ROOT / "examples" / "non-severe.json")
    code, out, _ = run(capsys, "assess", path, "--format", "json", "--as-of", "2026-06-01")
    assert code == 0
    document = json.loads(out)
    for section in ("workup", "alerts"):
        for item in document[section]:
            for ref in item["inputs"]:
                assert ref["date"] is None or ref["date"] <= "2026-06-01"


# -- bad input: every class exits 2, names path/value/expected, writes nothing -------------------

def _mutate(change: str) -> dict[str, Any]:
    record = copy.deepcopy(load_example("non-severe"))
    if change == "wrong type":
        record["labs"][0]["value"] = "4200"
    elif change == "unknown key":
        record["labs"][0]["colour"] = "red"
    elif change == "unknown code":
        record["findings"][0]["code"] = "gottrons_papules"
    elif change == "negative value":
        record["labs"][0]["value"] = -5
    elif change == "zero weight":
        record["body_measurements"][0]["weight_kg"] = 0
    elif change == "stop before start":
        record["treatments"][0]["stop"] = "2000-01-01"
    elif change == "date after today":
        record["labs"][0]["date"] = "2026-11-22"
    elif change == "impossible date":
        record["labs"][0]["date"] = "2026-02-30"
    elif change == "unknown antibody":
        record["antibodies"][0]["target"] = "Mi-3"
    elif change == "misspelt drug":
        record["treatments"][1]["drug"] = "azathioprin"
    elif change == "implausible weight":
        record["body_measurements"][0]["weight_kg"] = 2000
    elif change == "implausible CK":
        record["labs"][0]["value"] = 6_000_000
    elif change == "other without name":
        record["treatments"][1]["drug"] = "other"
    return record


BAD_INPUTS = [
    ("wrong type", "$.labs[0].value", "'4200'", "number"),
    ("unknown key", "$.labs[0].colour", "'red'", "allowed here"),
    ("unknown code", "$.findings[0].code", "'gottrons_papules'", "gottron_papules"),
    ("negative value", "$.labs[0].value", "-5", "greater than or equal to 0"),
    ("zero weight", "$.body_measurements[0].weight_kg", "0", "greater than 0"),
    ("stop before start", "$.treatments[0].stop", "'2000-01-01'", "on or after start"),
    ("date after today", "$.labs[0].date", "'2026-11-22'", "on or before today (2026-11-21)"),
    ("impossible date", "$.labs[0].date", "'2026-02-30'", "day value is outside expected range"),
    ("unknown antibody", "$.antibodies[0].target", "'Mi-3'", "TIF1-gamma"),
    ("misspelt drug", "$.treatments[1].drug", "'azathioprin'", "aza → azathioprine"),
    ("implausible weight", "$.body_measurements[0].weight_kg", "2000",
     "between 0.3 and 400 kg (setting plausibility)"),
    ("implausible CK", "$.labs[0].value", "6000000", "between 0 and 5,000,000 U/L"),
    ("other without name", "$.treatments[1].name", "", "required when drug is 'other'"),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_with_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: tuple[str, str, str, str]
) -> None:
    change, path, value, expected = case
    record_file = write(tmp_path, _mutate(change))
    out_file = tmp_path / "report.json"
    code, out, err = run(capsys, "assess", str(record_file), "--format", "json", "--out",
                         str(out_file))
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    line = next(line for line in err.splitlines() if path in line)
    assert value in line
    assert expected in line
    assert not out_file.exists()
    assert list(tmp_path.iterdir()) == [record_file]


def test_all_errors_reported_at_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    record = _mutate("negative value")
    record["findings"][0]["code"] = "nope"
    record["sex"] = "F"
    record["treatments"][0]["drug"] = "prednisolon"  # checked after the types: still in the same round
    record["body_measurements"][1]["weight_kg"] = 2000
    code, _, err = run(capsys, "assess", str(write(tmp_path, record)))
    assert code == 2
    assert "5 errors" in err
    for path in ("$.labs[0].value", "$.findings[0].code", "$.sex", "$.treatments[0].drug",
                 "$.body_measurements[1].weight_kg"):
        assert path in err


def test_invalid_json_and_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "x",', encoding="utf-8")
    code, _, err = run(capsys, "assess", str(broken))
    assert code == 2
    assert "valid JSON" in err
    code, _, err = run(capsys, "assess", str(tmp_path / "absent.json"))
    assert code == 2
    assert "no such file" in err
    array = write(tmp_path, [1, 2], "array.json")
    code, _, err = run(capsys, "assess", str(array))
    assert code == 2
    assert "a JSON object" in err


def test_bad_settings_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = tmp_path / "site.toml"
    settings.write_text('screening_window_days = "ninety"\nunknown_thing = 1\n', "utf-8")
    code, _, err = run(capsys, "assess", str(ROOT / "examples" / "non-severe.json"),
                       "--settings", str(settings))
    assert code == 2
    assert "$.screening_window_days" in err
    assert "'ninety'" in err
    assert "$.unknown_thing" in err


def test_settings_file_changes_result_and_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = tmp_path / "site.json"
    settings.write_text(json.dumps({"severity_when_unrecorded": "non_severe"}), "utf-8")
    path = str(ROOT / "examples" / "incomplete-data.json")
    _, out, _ = run(capsys, "assess", path, "--format", "json")
    assert json.loads(out)["severity"]["tier"] == "not_evaluable"
    code, out, _ = run(capsys, "assess", path, "--format", "json", "--settings", str(settings))
    assert code == 0
    document = json.loads(out)
    assert document["severity"]["tier"] == "non_severe"
    assert document["settings"]["overridden"] == ["severity_when_unrecorded"]
    assert any(n["setting"] == "severity_when_unrecorded" for n in document["severity"]["notes"])


# -- batches ---------------------------------------------------------------------------------------

def test_batch_streams_one_json_line_per_patient(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    records = [load_example(p.stem) for p in EXAMPLES]
    batch = write(tmp_path, {"format": "myositis-cds/patient-records@1", "records": records})
    code, out, _ = run(capsys, "assess", str(batch), "--format", "json")
    assert code == 0
    lines = out.splitlines()
    assert [json.loads(line)["patient_id"] for line in lines] == [r["id"] for r in records]


def test_batch_with_a_bad_record_reports_it_and_keeps_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = load_example("juvenile")
    bad = _mutate("negative value")
    batch = write(tmp_path, {"format": "myositis-cds/patient-records@1",
                             "records": [good, bad, good]})
    code, out, err = run(capsys, "assess", str(batch), "--format", "json")
    assert code == 2
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["format"] for line in lines] == [
        "myositis-cds/assessment@1", "myositis-cds/assessment-error@1",
        "myositis-cds/assessment@1"]
    assert lines[1]["errors"][0]["path"] == "$.records[1].labs[0].value"
    assert "1 record(s) rejected" in err


def test_batch_without_format_is_refused(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    batch = write(tmp_path, {"records": [load_example("juvenile")]})
    code, _, err = run(capsys, "assess", str(batch))
    assert code == 2
    assert "patient-records@1" in err


def test_demo_writes_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "demo", "--out", str(tmp_path / "out"))
    assert code == 0
    for example in EXAMPLES:
        assert (tmp_path / "out" / f"{example.stem}.html").stat().st_size > 1000
        json.loads((tmp_path / "out" / f"{example.stem}.json").read_text("utf-8"))
    assert "index.html" in out


def test_pack_command_lists_rules_and_settings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "pack")
    assert code == 0
    assert "anti-mi2-dm 2026.2" in out
    assert "screening_window_days = 90 (default)" in out
    assert "ALERT-DELAYED-IMMUNOSUPPRESSION" in out


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, {"id": "x", "sex": "F"})
    script = Path(sys.executable).parent / "myositis-cds"
    result = subprocess.run([str(script), "assess", str(bad)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2
    assert "$.sex" in result.stderr
    assert "Traceback" not in result.stderr


def test_out_to_a_device_writes_through_and_keeps_the_device(
    capsys: pytest.CaptureFixture[str],
) -> None:
    devnull = Path(os.devnull)
    assert devnull.is_char_device()
    code, _, _ = run(capsys, "assess", str(ROOT / "examples" / "juvenile.json"), "--format",
                     "json", "--out", os.devnull)
    assert code == 0
    assert devnull.is_char_device()


def test_out_file_is_written_whole(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "reports" / "juvenile.json"
    code, _, _ = run(capsys, "assess", str(ROOT / "examples" / "juvenile.json"), "--format",
                     "json", "--out", str(target))
    assert code == 0
    assert json.loads(target.read_text("utf-8"))["patient_id"] == "ex-juvenile"
    assert [p.name for p in target.parent.iterdir()] == ["juvenile.json"]
