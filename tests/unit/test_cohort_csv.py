"""Per-patient cohort CSV: reading (errors name the line and what was expected) and writing."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from myositis_cds.adapters.cohort_csv import read_cohort_csv, write_cohort_csv
from myositis_cds.errors import UsageError


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "cohort.csv"
    path.write_bytes(data)
    return path


def test_reads_columns_with_missing_cells_bom_and_blank_lines(tmp_path: Path) -> None:
    path = _file(tmp_path, "\ufeffpatient,group,ild\r\np1,A,yes\r\n\r\np2,B,  \r\np3,,no\r\n".encode())
    data = read_cohort_csv(path)
    assert data.columns == {"patient": ["p1", "p2", "p3"], "group": ["A", "B", None],
                            "ild": ["yes", None, "no"]}
    assert data.synthetic is False
    assert data.source == str(path)


def test_synthetic_only_when_every_identifier_is(tmp_path: Path) -> None:
    assert read_cohort_csv(_file(tmp_path, b"patient,g\nsynthetic-1,A\nsynthetic-2,B\n")).synthetic
    assert not read_cohort_csv(_file(tmp_path, b"patient,g\nsynthetic-1,A\nreal,B\n")).synthetic
    assert not read_cohort_csv(_file(tmp_path, b"id,g\nsynthetic-1,A\n")).synthetic
    assert read_cohort_csv(_file(tmp_path, b"id,g\nsynthetic-1,A\n"), id_column="id").synthetic


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty; expected a header row"),
    (b"patient,group\n", "no patient rows; expected one row per patient"),
    (b"patient,,x\np,A,1\n", "line 1, column 2: got an empty column name"),
    (b"a,b,a\n1,2,3\n", "line 1: got the column 'a' twice; expected unique names"),
    (b"a,b\n1,2\n1,2,3\n", "line 3: got 3 field(s); expected 2"),
    (b"a,b\n\xff\xfe,1\n", "is not UTF-8; expected a UTF-8 CSV file"),
])
def test_bad_files(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        read_cohort_csv(_file(tmp_path, data))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_cohort_csv(tmp_path / "none.csv")


def test_write() -> None:
    out = io.StringIO()
    write_cohort_csv({"patient": ["p1", "p2"], "ild": [True, None], "ck": [12.3456789, 3]}, out)
    assert out.getvalue() == "patient,ild,ck\np1,yes,12.3457\np2,,3\n"
