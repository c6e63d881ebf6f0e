"""The command line's JSON edge, as the issue's reproductions ran it (issue 13, items 4, 6 and 7):
exit 2 with the file and the JSON path named, never a traceback, memory bounded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from myositis_cds.adapters.json_edge import MAX_RECORD_BYTES
from myositis_cds.entrypoints.cli import main
from tests.conftest import ROOT, load_example

RECORD = load_example("non-severe")
BATCH = "myositis-cds/patient-records@1"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_deep_nesting_of_a_record_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(RECORD)[:-1] + ', "labs": ' + "[" * 2000 + "]" * 2000 + "}", "utf-8")
    code, _, err = _run(capsys, "assess", str(path))
    assert code == 2
    assert f"{path}: 1 error" in err
    assert "$: got arrays and objects nested more than 64 levels deep" in err


def test_a_200_kb_file_at_depth_100000_stays_small(tmp_path: Path) -> None:
    """It grew to 5.6 GB before (ijson's prefixes): now refused at depth 65, in a child process
    whose peak memory is measured."""
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"labs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    script = ("import sys; from myositis_cds.entrypoints.cli import main; "
              "from tests.fuzz_cli import peak_rss_kib; "
              "code = main(['timeline', sys.argv[1]]); print(peak_rss_kib(), file=sys.stderr); "
              "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "nested more than 64 levels deep" in done.stderr
    assert int(done.stderr.strip().splitlines()[-1]) < 500 * 1024  # KiB


@pytest.mark.parametrize(("data", "found"), [
    (b'{"id": "x\xed\xa0\x80y"}', "bytes that are not UTF-8 text (or UTF-8-encoded surrogates)"),
    (b'{"id": "x\\ud800y"}', "the escape \\ud800 of a lone surrogate"),
    (b'{"id": "x\xffy"}', "invalid JSON (lexical error: invalid bytes in UTF8 string.)"),
])
def test_surrogates_and_bytes_that_are_not_utf8_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, found: str) -> None:
    path = tmp_path / "record.json"
    path.write_bytes(data)
    for command in ("assess", "timeline"):
        code, _, err = _run(capsys, command, str(path))
        assert code == 2
        assert f"{path}: 1 error" in err
        assert f"$: got {found}" in err


def test_a_record_given_as_a_json_string_in_a_batch_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "batch.json"
    path.write_text(json.dumps({"format": BATCH, "records": [json.dumps(RECORD), RECORD]}), "utf-8")
    code, out, err = _run(capsys, "assess", str(path), "--format", "json")
    assert code == 2
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["format"] == "myositis-cds/assessment-error@1"
    assert lines[0]["errors"][0]["path"] == "$.records[0]"
    assert lines[0]["errors"][0]["expected"] == "a JSON object (patient-record@1)"
    assert lines[1]["patient_id"] == RECORD["id"]
    assert "1 record(s) rejected" in err


def test_a_record_over_the_size_limit_is_refused_by_its_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "batch.json"
    huge = RECORD | {"notes": "x" * (MAX_RECORD_BYTES + 100_000)}  # the limit holds to 64 KiB
    path.write_text(json.dumps({"format": BATCH, "records": [RECORD, huge]}), "utf-8")
    code, _, err = _run(capsys, "assess", str(path), "--out", str(tmp_path / "out.txt"))
    assert code == 2
    assert f"$.records[1]: got more than {MAX_RECORD_BYTES} bytes" in err
    assert not (tmp_path / "out.txt").exists()  # nothing half-written


def test_a_settings_file_nested_too_deep_or_not_utf8_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "record.json"
    record.write_text(json.dumps(RECORD), "utf-8")
    for name, data in (("s.json", b"[" * 5000 + b"]" * 5000), ("s.toml", b"a = " + b"[" * 5000 + b"]" * 5000),
                       ("t.json", b'{"x": "\xff"}')):
        settings = tmp_path / name
        settings.write_bytes(data)
        code, _, err = _run(capsys, "assess", str(record), "--settings", str(settings))
        assert code == 2, name
        assert f"{settings}: invalid settings" in err
