"""Every command that needs a database or a Spark master fails cleanly when it is not there.

Exit code 2, one ``error:`` line that names what could not be used (with any password hidden) and
what to check; never a traceback (issue 13, item 12).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from myositis_cds.entrypoints.cli import main
from tests.conftest import ROOT

BULK = str(ROOT / "tests" / "fixtures" / "fhir" / "bulk")
UNREACHABLE = "postgresql+psycopg://clinic:s3cret-pw@127.0.0.1:1/clinic"
COMMANDS = [
    ("users", "list"),
    ("users", "disable", "alice"),
    ("users", "add", "alice", "--role", "clinician", "--password-stdin"),
    ("db", "upgrade"),
    ("views", "render"),
    ("audit", "verify"),
    ("users", "unlock", "alice"),
    ("worklist", "db", "--no-progress"),
    ("cohort", "features", "db:"),
    ("import-fhir", BULK, "--store"),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv[:2]))
@pytest.mark.parametrize("url", [UNREACHABLE, "sqlite:////proc/no-such-folder/cds.sqlite3",
                                 "mysql://clinic@host/db", "postgresql://clinic@[::1"])
def test_an_unusable_database_is_exit_2_with_one_line(
        argv: tuple[str, ...], url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery staple\n"))
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ")
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert "s3cret-pw" not in err
    assert "database" in err


def test_a_file_that_is_not_a_database(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n", "utf-8")
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", f"sqlite:///{text}")
    assert main(["users", "list"]) == 2
    assert "file is not a database" in capsys.readouterr().err


def test_an_unreachable_spark_master_is_exit_2_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["worklist", str(ROOT / "examples"), "--engine", "spark", "--spark-master",
                 "spark://127.0.0.1:1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--spark-master spark://127.0.0.1:1: no Spark master answers" in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_an_unwritable_output_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", "utf-8")
    code = main(["assess", str(ROOT / "examples" / "non-severe.json"), "--out",
                 str(blocker / "report.txt")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(blocker) in err
