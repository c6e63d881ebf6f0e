"""The researcher's page: Table 1 by the four groups, the course figure, the titer mixed models
and CSV downloads — the same computations as ``myositis-cds cohort ... db:``, de-identified, one
audit event per view."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from myositis_cds import bootstrap
from myositis_cds.entrypoints.cli import main
from myositis_cds.services import patients
from myositis_cds.services.ports import SystemActor
from tests.e2e.web_support import Web, make_web, page_sign_in

LOADER = SystemActor(username="loader")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """A synthetic cohort of 40 in PF2019's proportions (every group present)."""
    web = make_web(tmp_path_factory.mktemp("cohort"))
    web.add_user("rita", role="researcher")
    web.add_user("alice")
    from myositis_cds.stats.synthetic_cohort import synthesize  # noqa: PLC0415

    parse = bootstrap.make_parser(bootstrap.current_date())
    for document in synthesize(40, seed=1, today=bootstrap.current_date()):
        patients.create_patient(web.uow, LOADER, document, parse=parse)
    yield web
    web.close()


@pytest.fixture(scope="module")
def rita(cohort: Web) -> Iterator[TestClient]:
    with cohort.client() as client:
        page_sign_in(client, "rita")
        yield client


@pytest.fixture(scope="module")
def page(rita: TestClient) -> str:
    response = rita.get("/cohort")
    assert response.status_code == 200
    return response.text


def test_table1_by_the_four_groups_is_the_command_lines(cohort: Web, rita: TestClient, page: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    for group, n in (("anti-Mi-2-positive DM", 4), ("anti-Mi-2-negative DM", 11),
                     ("antisynthetase syndrome", 12), ("IMNM", 13)):
        assert f"<th scope=\"col\">{group} (n={n})</th>" in page
    assert "Calcinosis ever: yes" in page  # variables in words
    assert "calcinosis_ever" not in page
    download = rita.get("/cohort/table1.csv")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="table1.csv"'
    assert main(["cohort", "table1", "db:", "--database-url", cohort.url, "--format", "csv"]) == 0
    assert download.text == capsys.readouterr().out  # one computation, two ways in


def test_features_csv_is_pseudonymised(cohort: Web, rita: TestClient) -> None:
    response = rita.get("/cohort/features.csv")
    rows = list(csv.DictReader(response.text.splitlines()))
    assert sorted(r["patient"] for r in rows) == [f"P{i:04d}" for i in range(1, 41)]
    assert "synthetic-" not in response.text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", response.text)  # no dates


def test_the_page_shows_no_identifier_or_date_of_a_patient(cohort: Web, page: str) -> None:
    with cohort.uow() as work:
        stored = work.patients.list(limit=100)
    for patient in stored:
        assert patient.patient_key not in page
    assert not re.search(r"\d{4}-\d{2}-\d{2}", page)  # no date at all


def test_figures_and_mixed_models_are_in_the_page(page: str) -> None:
    assert page.count("<svg ") == 2  # the wide figure and the stacked one for phones
    assert " style=" not in page.split("<svg ", 1)[1]  # no inline style: the CSP holds
    assert "Anti-Mi-2 titer" in page
    assert re.search(r"log\(CK × ULN\) on titer</th>\s*<td>\d+</td>", page)
    assert "MMT-8" in page
    assert "Titer course in anti-Mi-2-positive DM" in page


def test_one_audit_event_per_view_and_per_download(cohort: Web, rita: TestClient) -> None:
    before = len(cohort.audit())
    assert rita.get("/cohort").status_code == 200
    events = cohort.audit()[before:]
    assert [(e.actor, e.action, e.patient_key) for e in events] == [
        ("rita", "cohort.export", None)]


def test_every_role_sees_only_the_deidentified_view(cohort: Web) -> None:
    with cohort.client() as anonymous:
        assert anonymous.get("/cohort", follow_redirects=False).status_code == 303
        assert anonymous.get("/cohort/features.csv", follow_redirects=False).status_code == 303
    with cohort.client() as alice:
        page_sign_in(alice, "alice")
        assert "P0001" in alice.get("/cohort/features.csv").text
