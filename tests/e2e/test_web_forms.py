"""The data-entry forms as a person uses them (no JavaScript): create, edit, add entries, print."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from myositis_cds.domain.vocabulary import DRUGS
from tests.e2e.web_support import Web, hidden_fields, hidden_value, make_web, page_sign_in


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    web = make_web(tmp_path)
    web.add_user("alice")
    web.add_user("bob")
    web.add_user("rita", role="researcher")
    yield web
    web.close()


@pytest.fixture
def client(web: Web) -> Iterator[TestClient]:
    with web.client() as client:
        page_sign_in(client, "alice")
        yield client



def _submit(client: TestClient, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
    """Open the form at ``path``, post ``fields`` with its hidden fields; (status, location, html)."""
    form = client.get(path)
    assert form.status_code == 200, form.text
    data = {**hidden_fields(form.text), **fields}
    response = client.post(path, data=data, follow_redirects=False)
    return response.status_code, response.headers.get("location", ""), response.text


PATIENT = {"id": "web-001", "sex": "female", "birth_date": "1980-05-02",
           "diagnosis_name": "dermatomyositis", "diagnosis_date": "2026-06-01",
           "diagnosis_symptom_onset_date": "2026-04-15"}
BASELINE = {"date": "2026-06-02", "physician_global": "6", "patient_global": "6.5",
            "extramuscular_global": "4", "mmt8": "58", "mmt8_max": "", "haq": "1.5",
            "cdasi_activity": "20"}
FOLLOW_UP = {"date": "2026-10-20", "physician_global": "1.5", "patient_global": "2",
             "extramuscular_global": "0.5", "mmt8": "76", "mmt8_max": "80", "haq": "0.25",
             "cdasi_activity": ""}


def _create(client: TestClient) -> str:
    status, location, html = _submit(client, "/patients/new", PATIENT)
    assert status == 303, html
    assert re.fullmatch(r"/patients/\d+", location)
    return location


def test_create_patient_add_entries_and_see_the_tis_and_an_alert(client: TestClient) -> None:
    patient = _create(client)
    entries = {
        "antibody": {"target": "Mi-2", "result": "positive", "date": "2026-05-28", "titer": "90",
                     "unit": "U/mL", "cutoff": "20", "method": "ELISA"},
        "lab": {"test": "CK", "value": "3900", "unit": "U/L", "uln": "200", "date": "2026-06-02"},
        "finding": {"code": "gottron_papules", "present": "yes", "date": "2026-06-02"},
        "treatment": {"drug": "prednisone", "dose": "50", "unit": "mg", "frequency": "daily",
                      "route": "oral", "start": "2026-06-03", "stop": ""},
        "investigation": {"kind": "pulmonary_function_tests", "date": "2026-06-10",
                          "result": "normal", "abnormal": "no"},
        "measurement": {"date": "2026-06-02", "weight_kg": "61.5", "height_cm": "166"},
    }
    for slug, fields in entries.items():
        status, location, html = _submit(client, f"{patient}/add/{slug}", fields)
        assert (status, location) == (303, patient), html
    for visit in (BASELINE, FOLLOW_UP):
        status, location, html = _submit(client, f"{patient}/add/visit", visit)
        assert (status, location) == (303, patient), html
    record = client.get("/api/v1" + patient).json()["record"]
    assert record["assessments"][0] == {"date": "2026-06-02", "physician_global": 6,
                                        "patient_global": 6.5, "extramuscular_global": 4,
                                        "mmt8": 58, "haq": 1.5, "cdasi_activity": 20}
    assert "cdasi_activity" not in record["assessments"][1]  # empty is absent, never 0
    assert record["findings"] == [{"code": "gottron_papules", "present": True, "date": "2026-06-02"}]
    assert record["treatments"][0] == {"drug": "prednisone", "dose": 50, "unit": "mg",
                                       "frequency": "daily", "route": "oral", "start": "2026-06-03"}
    page = client.get(patient)
    assert page.status_code == 200
    html = page.text
    assert "TIS and IMACS DOI of each visit" in html
    assert re.search(r"<th scope=\"row\">2026-10-20</th><td class=\"num\"><strong>\d+(\.\d+)?</strong>",
                     html)
    assert "ALERT-" in html
    assert html.count('class="trend-figure') == 3  # the trend figures, served on their own URLs
    assert patient + "/figures/ck.svg?v=" in html
    assert 'href="' + patient + '/add/visit"' in html
    assert client.get("/api/v1" + patient).json()["version"] == 9


def test_edit_patient_details_and_empty_means_absent(client: TestClient) -> None:
    patient = _create(client)
    form = client.get(f"{patient}/edit")
    assert 'value="web-001"' in form.text
    assert '<option value="dermatomyositis" selected>' in form.text
    status, location, _ = _submit(client, f"{patient}/edit",
                                  {**PATIENT, "id": "web-002", "birth_date": "",
                                   "diagnosis_symptom_onset_date": ""})
    assert (status, location) == (303, patient)
    record = client.get("/api/v1" + patient).json()["record"]
    assert record["id"] == "web-002"
    assert "birth_date" not in record
    assert record["diagnosis"] == {"name": "dermatomyositis", "date": "2026-06-01"}


def test_invalid_visit_shows_every_problem_after_one_submit(client: TestClient) -> None:
    patient = _create(client)
    typed = {**BASELINE, "haq": "5", "patient_global": "abc", "physician_global": "11",
             "grade_deltoid": "12", "lab_CK_value": "-5", "lab_AST_uln": "40",
             "finding_dysphagia": "maybe"}
    status, _, html = _submit(client, f"{patient}/add/visit", typed)
    assert status == 422
    # The form's own problems (a non-number, an upper limit without a result, a bad state) and
    # the record's (scales, a negative value, incomplete muscle grades), all at once.
    for field, expected in (("patient_global", "got &#39;abc&#39;; expected a number"),
                            ("haq", "got 5; expected less than or equal to 3"),
                            ("physician_global", "got 11"), ("grade_deltoid", "got 12"),
                            ("grade_biceps", "got nothing"), ("lab_CK_value", "got -5"),
                            ("lab_AST_value", "upper limit of normal alone"),
                            ("finding_dysphagia", "present, absent or not examined")):
        assert re.search(rf'id="e-{field}">[^<]*{expected}', html), field
    for name, value in typed.items():
        if name.startswith(("finding_", "lab_")):
            continue
        assert f'name="{name}" value="{value}"' in html  # the typed input is kept
    assert 'name="lab_CK_value" value="-5"' in html
    assert "nothing was stored" in html
    stored = client.get("/api/v1" + patient).json()
    assert stored["version"] == 1
    assert "assessments" not in stored["record"]
    missing = client.post(f"{patient}/add/finding", data={
        "csrf_token": hidden_value(html, "csrf_token"), "version": "1", "code": "dysphagia",
        "present": "", "date": "2026-06-02"})
    assert missing.status_code == 422
    assert 'id="e-present">got nothing; expected a value for present' in missing.text


def test_one_visit_form_records_core_set_strength_findings_and_labs(client: TestClient) -> None:
    patient = _create(client)
    grades = {f"grade_{g}": "8" for g in ("neck_flexors", "deltoid", "biceps", "wrist_extensors",
                                          "gluteus_maximus", "gluteus_medius", "quadriceps",
                                          "ankle_dorsiflexors")}
    visit = {"date": "2026-06-02", "physician_global": "6", "haq": "1.25", **grades,
             "finding_gottron_papules": "present", "finding_dysphagia": "absent",
             "finding_ild": "", "lab_CK_value": "4200", "lab_CK_unit": "U/L", "lab_CK_uln": "200",
             "lab_AST_value": "1.5", "lab_AST_unit": "µkat/L", "lab_date": "2026-05-30",
             "weight_kg": "61.5"}
    status, location, html = _submit(client, f"{patient}/add/visit", visit)
    assert (status, location) == (303, patient), html
    stored = client.get("/api/v1" + patient).json()
    record = stored["record"]
    assert stored["version"] == 2  # one visit, one change
    assert record["assessments"] == [{"date": "2026-06-02", "physician_global": 6, "haq": 1.25,
                                      "mmt8_grades": {g.removeprefix("grade_"): 8 for g in grades}}]
    assert record["findings"] == [
        {"code": "gottron_papules", "present": True, "date": "2026-06-02"},
        {"code": "dysphagia", "present": False, "date": "2026-06-02"}]  # ILD not examined
    assert record["labs"] == [
        {"test": "CK", "value": 4200, "unit": "U/L", "uln": 200, "date": "2026-05-30"},
        {"test": "AST", "value": 1.5, "unit": "µkat/L", "date": "2026-05-30"}]
    assert record["body_measurements"] == [{"date": "2026-06-02", "weight_kg": 61.5}]
    # Findings and labs only: no empty assessment (it would become the TIS baseline).
    status, _, _ = _submit(client, f"{patient}/add/visit", {"date": "2026-06-09",
                                                             "finding_fever": "present"})
    record = client.get("/api/v1" + patient).json()["record"]
    assert len(record["assessments"]) == 1
    status, _, html = _submit(client, f"{patient}/add/visit", {"date": "2026-06-10"})
    assert status == 422
    assert "nothing was entered" in html


def test_new_patient_form_errors_and_duplicate_id(client: TestClient) -> None:
    status, _, html = _submit(client, "/patients/new", {**PATIENT, "birth_date": "2030-01-01",
                                                        "id": ""})
    assert status == 422
    assert 'id="e-id">got nothing' in html
    _create(client)
    status, _, html = _submit(client, "/patients/new", PATIENT)
    assert status == 409
    assert "already" in html
    assert 'name="diagnosis_date" value="2026-06-01"' in html


def test_two_clinicians_additions_merge(web: Web, client: TestClient) -> None:
    patient = _create(client)
    mine = client.get(f"{patient}/add/lab")
    with web.client() as other:
        page_sign_in(other, "bob")
        status, location, _ = _submit(other, f"{patient}/add/visit", BASELINE)
        assert (status, location) == (303, patient)
    lab = {"test": "CK", "value": "800", "unit": "U/L", "uln": "200", "date": "2026-06-02"}
    merged = client.post(f"{patient}/add/lab", data={
        "csrf_token": hidden_value(mine.text, "csrf_token"), "version": hidden_value(mine.text, "version"),
        **lab}, follow_redirects=False)
    assert (merged.status_code, merged.headers["location"]) == (303, patient)
    record = client.get("/api/v1" + patient).json()
    assert record["version"] == 3
    assert len(record["record"]["assessments"]) == 1  # bob's visit
    assert record["record"]["labs"][0]["value"] == 800  # and alice's lab
    details = [e.detail for e in web.audit() if e.action == "patient.update"]
    assert details[-1].endswith("added 1 lab result; applied to version 2 (the form was loaded "
                                "at version 1)")


def test_forms_need_the_csrf_token(client: TestClient) -> None:
    patient = _create(client)
    assert client.post("/patients/new", data={**PATIENT, "id": "x"}).status_code == 403
    assert client.post(f"{patient}/add/visit", data={**BASELINE, "version": "1"}).status_code == 403
    assert client.post(f"{patient}/edit", data={**PATIENT, "version": "1",
                                                "csrf_token": "forged"}).status_code == 403
    assert client.get("/api/v1" + patient).json()["version"] == 1


def test_researcher_is_refused_every_form(web: Web, client: TestClient) -> None:
    patient = _create(client)
    with web.client() as researcher:
        csrf = page_sign_in(researcher, "rita")
        assert researcher.get("/patients/new").status_code == 403
        assert researcher.post("/patients/new", data={"csrf_token": csrf, **PATIENT,
                                                      "id": "r-1"}).status_code == 403
        assert researcher.get(f"{patient}/edit").status_code == 403
        assert researcher.post(f"{patient}/edit", data={"csrf_token": csrf, "version": "1",
                                                        **PATIENT}).status_code == 403
        assert researcher.get(f"{patient}/print").status_code == 403
        for slug in ("visit", "lab", "antibody", "finding", "treatment", "investigation",
                     "measurement"):
            assert researcher.get(f"{patient}/add/{slug}").status_code == 403
            assert researcher.post(f"{patient}/add/{slug}",
                                   data={"csrf_token": csrf, "version": "1"}).status_code == 403
    assert client.get("/api/v1" + patient).json()["version"] == 1
    denied = [e for e in web.audit() if e.action == "access.denied" and e.actor == "rita"]
    assert len(denied) >= 18


def test_print_view_has_no_navigation_and_no_script(client: TestClient) -> None:
    patient = _create(client)
    _submit(client, f"{patient}/add/visit", BASELINE)
    page = client.get(f"{patient}/print")
    assert page.status_code == 200
    assert "Clinic letter — web-001" in page.text  # the print view is the clinic letter
    assert "<nav" not in page.text
    assert "<script" not in page.text.lower()
    assert "<form" not in page.text
    assert "@page { size: A4;" in page.text  # its CSS is inline: it prints as it is
    css = client.get("/static/app.css").text
    assert "@media print" in css
    assert client.get("/patients/999999/print").status_code == 404
    assert client.get(f"{patient}/add/nonsense").status_code == 404


def test_navigation_by_role(web: Web, client: TestClient) -> None:
    html = client.get("/patients").text
    for link in ("/patients", "/patients/new", "/patients/import"):
        assert f'href="{link}"' in html
    assert 'href="/admin/users"' not in html
    assert 'action="/logout"' in html
    web.add_user("ada", role="admin")
    with web.client() as admin:
        page_sign_in(admin, "ada")
        html = admin.get("/patients").text
        assert 'href="/admin/users"' in html
        assert 'href="/admin/audit"' in html
    with web.client() as researcher:
        page_sign_in(researcher, "rita")
        html = researcher.get("/cohort").text
        assert 'href="/cohort"' in html
        assert 'href="/patients/new"' not in html


def test_treatment_picklist_is_the_drug_vocabulary_with_its_synonyms(client: TestClient) -> None:
    patient = _create(client)
    form = client.get(f"{patient}/add/treatment").text
    select = re.search(r'<select id="f-drug".*?</select>', form, re.DOTALL)
    assert select is not None
    offered = re.findall(r'<option value="([^"]+)"', select.group(0))
    assert sorted(offered) == sorted(DRUGS)  # every code, nothing else
    assert "Mycophenolate mofetil (also: mmf, mycophenolate, cellcept)</option>" in form
    assert "Co-trimoxazole (also: tmp-smx)</option>" in form
    assert '<optgroup label="Pneumocystis prophylaxis">' in form
    # A synonym typed by a client other than the picklist is stored as its code.
    status, location, html = _submit(client, f"{patient}/add/treatment", {
        "drug": "MTX", "dose": "15", "unit": "mg", "frequency": "weekly", "start": "2026-06-03"})
    assert (status, location) == (303, patient), html
    record = client.get("/api/v1" + patient).json()["record"]
    assert record["treatments"][0]["drug"] == "methotrexate"
    page = client.get(f"{patient}/record").text
    assert '<td data-label="Drug">Methotrexate</td>' in page


def test_treatment_errors_come_from_the_record_validator_all_at_once(client: TestClient) -> None:
    patient = _create(client)
    status, _, html = _submit(client, f"{patient}/add/treatment", {
        "drug": "methotrexat", "dose": "abc", "start": "2026-06-03", "stop": "2026-06-01"})
    assert status == 422
    for field, expected in (("drug", "got &#39;methotrexat&#39;; expected a drug code"),
                            ("dose", "got &#39;abc&#39;; expected a number"),
                            ("stop", "expected a date on or after start")):
        assert re.search(rf'id="e-{field}">[^<]*{expected}', html), field
    assert "mtx → methotrexate" in html  # the validator's list of codes and synonyms
    status, _, html = _submit(client, f"{patient}/add/treatment", {
        "drug": "other", "start": "2026-06-03"})
    assert status == 422
    assert re.search(r'id="e-name">got nothing; expected the drug&#39;s name', html)
    assert client.get("/api/v1" + patient).json()["version"] == 1  # nothing was stored
    status, location, html = _submit(client, f"{patient}/add/treatment", {
        "drug": "other", "name": "abatacept", "start": "2026-06-03"})
    assert (status, location) == (303, patient), html
    assert '<td data-label="Drug">Other treatment: abatacept</td>' in client.get(f"{patient}/record").text


def test_lab_form_takes_the_monitoring_bloods_and_checks_units(client: TestClient) -> None:
    patient = _create(client)
    status, location, html = _submit(client, f"{patient}/add/lab", {
        "test": "neutrophils", "value": "1.2", "unit": "10^9/L", "date": "2026-06-02"})
    assert (status, location) == (303, patient), html
    status, _, html = _submit(client, f"{patient}/add/lab", {
        "test": "CK", "value": "300", "unit": "g/L", "date": "2026-06-02"})
    assert status == 422
    assert re.search(r'id="e-unit">got &#39;g/L&#39;; expected a unit for CK: U/L', html)
    record = client.get("/api/v1" + patient).json()["record"]
    assert record["labs"] == [{"test": "neutrophils", "value": 1.2, "unit": "10^9/L",
                               "date": "2026-06-02"}]
