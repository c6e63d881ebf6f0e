"""CSV injection: every CSV export of the package, fed attacker-chosen text, stays spreadsheet-safe.

Each export gets the texts of :data:`tests.spreadsheet.ATTACKS` where it copies user-controlled
text (a username on a failed sign-in, a patient id, a column name, a category) and the result is
read the way a spreadsheet reads it: no hidden row, no cell that runs as a formula.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from myositis_cds.entrypoints.cli import main
from myositis_cds.services import audit
from myositis_cds.services.ports import SystemActor
from tests.conftest import load_example
from tests.e2e.web_support import Web, api_sign_in, make_web
from tests.spreadsheet import ATTACKS, assert_spreadsheet_safe

_ADMIN = SystemActor(username="test:export")


def _records(folder: Path) -> list[dict[str, Any]]:
    """An example record under each attacking id, one file each."""
    folder.mkdir()
    bases = ("incomplete-data", "mi2-negative-dm", "over-40-no-screening", "severe-ild")
    records = []
    for n, attack in enumerate(ATTACKS):
        record = load_example(bases[n % len(bases)]) | {"id": attack}
        (folder / f"r{n}.json").write_text(json.dumps(record), "utf-8")
        records.append(record)
    return records


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    web = make_web(tmp_path)
    web.add_user("alice")
    yield web
    web.close()


def test_audit_export_of_attacking_usernames_and_patient_ids(web: Web) -> None:
    for n, attack in enumerate(ATTACKS):  # an unauthenticated attacker's failed sign-ins
        with web.client(client=(f"198.51.100.{n}", 1000)) as anonymous:
            form = anonymous.get("/login").text
            token = form.split('name="login_token" value="', 1)[1].split('"', 1)[0]
            assert anonymous.post("/login", data={"username": attack, "password": "x",
                                                  "login_token": token}).status_code == 401
    with web.client() as alice:
        csrf = api_sign_in(alice, "alice")
        for attack in ATTACKS[:3]:
            response = alice.post("/api/v1/patients", headers={"X-CSRF-Token": csrf},
                                  json=load_example("non-severe") | {"id": attack})
            assert response.status_code == 201, response.text
    out = io.StringIO()
    count = audit.export_audit_events(web.uow, _ADMIN, out, fmt="csv")
    rows = assert_spreadsheet_safe(out.getvalue())
    assert len(rows) == count + 1
    actors = {row[1] for row in rows[1:]}
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in actors
    assert "probe\r=2+3\rSUMMARY" in actors  # one cell, quoted: the CR splits nothing
    assert {"probe\r=2+3\rSUMMARY", "'  =1+1"} <= {row[3] for row in rows[1:]}


def test_timeline_csv_of_a_batch_with_attacking_ids(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    records = _records(tmp_path / "records")
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"format": "myositis-cds/patient-records@1", "records": records}),
                     "utf-8")
    rows = assert_spreadsheet_safe(_cli(capsys, "timeline", str(batch), "--format", "csv"))
    assert {row[0] for row in rows[1:]} >= {"'@SUM(1+1)", "'-2+3", "' =1", "'  =1+1"}


def test_cohort_features_csv_with_attacking_ids(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "records"
    _records(folder)
    rows = assert_spreadsheet_safe(_cli(capsys, "cohort", "features", str(folder)))
    ids = {row[0] for row in rows[1:]}
    assert {"'=HYPERLINK(\"http://evil.example\",\"x\")", "'+cmd|' /C calc'!A0",
            "'@SUM(1+1)"} <= ids
    assert len(rows) == len(ATTACKS) + 1


def test_cohort_table1_csv_with_attacking_columns_groups_and_levels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "cohort.csv"
    lines = ['patient,arm,"=1+1","@kind"']
    for n in range(40):
        lines.append(f'p{n},{"-A" if n % 2 else "+B"},{"yes" if n % 3 else "no"},'
                     f'{"=x" if n % 4 else "-y"}')
    source.write_text("\n".join(lines) + "\n", "utf-8")
    out = _cli(capsys, "cohort", "table1", str(source), "--group", "arm", "--format", "csv")
    rows = assert_spreadsheet_safe(out)
    cells = {cell for row in rows for cell in row}
    assert {"'=1+1", "'@kind", "'=x", "'-y"} <= cells
    assert any(cell.startswith("'-A") for cell in rows[0])


def test_worklist_csv_with_attacking_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "records"
    _records(folder)
    out = tmp_path / "worklist.csv"
    _cli(capsys, "worklist", str(folder), "--out", str(out), "--no-progress")
    rows = assert_spreadsheet_safe(out.read_bytes().decode("utf-8"))  # newlines as written
    keys = {row[0] for row in rows[1:]}
    assert {"'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(1+1)", "probe\r=2+3\rSUMMARY"} <= keys
