"""``myositis-cds titers``: per-patient Spearman and the cohort mixed model from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from myositis_cds.entrypoints.cli import main
from tests.conftest import ROOT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_one_patient(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "titers", str(ROOT / "examples" / "drug-free-remission.json"),
                       "--as-of", "2026-11-21", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["format"] == "myositis-cds/titer-association@1"
    assert document["cohort"] is None
    (patient,) = document["patients"]
    # Titers 92 → 9 U/mL fall while CK falls and MMT-8 rises (examples/README.md): rank order.
    assert patient["ck"]["n"] == 6
    assert patient["ck"]["rho"] == pytest.approx(1.0)
    assert patient["mmt8"]["rho"] < -0.9
    assert patient["ck"]["descriptive_only"] is True
    assert patient["citations"] == ["PF2019"]


def test_folder_gives_the_cohort_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name in ("drug-free-remission", "non-severe", "juvenile", "severe-ild"):
        shutil.copy(ROOT / "examples" / f"{name}.json", tmp_path)
    code, out, _ = run(capsys, "titers", str(tmp_path), "--as-of", "2026-11-21", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert len(document["patients"]) == 4
    cohort = document["cohort"]
    assert cohort["ck"]["formula"] == "log(CK × ULN) ~ 1 + titer + (1 | patient)"
    assert cohort["ck"]["n_patients"] <= 4
    code, text, _ = run(capsys, "titers", str(tmp_path), "--as-of", "2026-11-21")
    assert "Cohort mixed models" in text


def test_bad_record_and_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"id": "x", "sex": "F"}), "utf-8")
    code, out, err = run(capsys, "titers", str(tmp_path))
    assert code == 2
    assert out == ""
    assert "$.sex" in err
    code, _, err = run(capsys, "titers", str(tmp_path / "nowhere"))
    assert code == 2
    assert "no such file or folder" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "titers", str(empty))
    assert code == 2
    assert "no .json record files" in err
