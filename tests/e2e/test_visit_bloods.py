"""The visit form records the drug-monitoring bloods of the safety companion (§15) and shows the
pack's plausibility ranges as hints before submit, while the record's check stays the judge."""

from __future__ import annotations

import html as html_text
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from myositis_cds import bootstrap
from myositis_cds.domain.vocabulary import MONITORING_BLOOD_TESTS
from myositis_cds.knowledge.plausibility import Plausibility
from tests.conftest import TODAY
from tests.e2e.web_support import Web, hidden_fields, make_web, page_sign_in

PATIENT = {"id": "bloods-001", "sex": "female", "birth_date": "1970-03-02",
           "diagnosis_name": "dermatomyositis", "diagnosis_date": "2026-10-01"}
METHOTREXATE = {"drug": "methotrexate", "dose": "15", "unit": "mg", "frequency": "weekly",
                "route": "oral", "start": "2026-11-07", "stop": ""}
"""Started 14 days before today (2026-11-21): the first monitoring occasion is today."""
BLOODS = {"lab_wbc_value": "6.1", "lab_neutrophils_value": "3.9", "lab_platelets_value": "250",
          "lab_haemoglobin_value": "12.9", "lab_haemoglobin_unit": "g/dL",
          "lab_creatinine_value": "70", "lab_albumin_value": "40"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    web: Web = make_web(tmp_path)
    web.add_user("alice")
    try:
        with web.client() as client:
            page_sign_in(client, "alice")
            yield client
    finally:
        web.close()


def _submit(client: TestClient, path: str, fields: dict[str, str]) -> tuple[int, str]:
    form = client.get(path)
    assert form.status_code == 200, form.text
    response = client.post(path, data={**hidden_fields(form.text), **fields},
                           follow_redirects=False)
    return response.status_code, response.text


def _create(client: TestClient) -> str:
    response = client.post("/patients/new", data={
        **hidden_fields(client.get("/patients/new").text), **PATIENT}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _bloods_status(client: TestClient, patient: str) -> str:
    safety = client.get(f"/api/v1{patient}/assessment").json()["safety"]
    [item] = [s for s in safety if s["id"] == "SAFETY-MONITORING-BLOODS"]
    assert item["drug"] == "methotrexate"
    return str(item["status"])


def test_a_visit_with_the_monitoring_bloods_stores_them_and_the_safety_item_is_done(
        client: TestClient) -> None:
    patient = _create(client)
    assert _submit(client, f"{patient}/add/treatment", METHOTREXATE)[0] == 303
    assert _bloods_status(client, patient) == "due"
    day = TODAY.isoformat()
    # the full blood count, creatinine and albumin without ALT or AST do not meet the occasion
    status, page = _submit(client, f"{patient}/add/visit", {"date": day, **BLOODS})
    assert status == 303, page
    record = client.get(f"/api/v1{patient}").json()["record"]
    assert sorted(lab["test"] for lab in record["labs"]) == sorted(MONITORING_BLOOD_TESTS)
    assert {"test": "haemoglobin", "value": 12.9, "unit": "g/dL", "date": day} in record["labs"]
    assert {"test": "wbc", "value": 6.1, "unit": "10^9/L", "date": day} in record["labs"]
    assert _bloods_status(client, patient) == "due"
    status, page = _submit(client, f"{patient}/add/visit", {
        "date": day, "lab_ALT_value": "31", "lab_ALT_uln": "35"})
    assert status == 303, page
    assert _bloods_status(client, patient) == "done"


def test_blood_errors_come_all_at_once_next_to_their_fields(client: TestClient) -> None:
    patient = _create(client)
    status, page = _submit(client, f"{patient}/add/visit", {
        "date": TODAY.isoformat(), **BLOODS, "lab_platelets_value": "9000",
        "lab_creatinine_value": "abc", "weight_kg": "500"})
    assert status == 422
    limits = bootstrap.plausibility_limits()
    for field, expected in (("lab_platelets_value", "expected " + limits.describe("platelets")),
                            ("lab_creatinine_value", "expected a number"),
                            ("weight_kg", "expected " + limits.describe("weight_kg"))):
        found = re.search(rf'id="e-{field}">([^<]*)<', page)
        assert found is not None, field
        assert expected in html_text.unescape(found.group(1)), (field, found.group(1))
    assert "labs" not in client.get(f"/api/v1{patient}").json()["record"]  # nothing half-written


def test_number_fields_show_the_packs_plausibility_range_as_a_hint(client: TestClient) -> None:
    patient = _create(client)
    page = html_text.unescape(client.get(f"{patient}/add/visit").text)
    limits = bootstrap.plausibility_limits()
    assert limits.hint("weight_kg") == "plausible: 0.3–400 kg"  # the pack's setting, as shown
    for field, quantity in (("weight_kg", "weight_kg"), ("lab_CK_value", "CK"),
                            ("lab_CK_uln", "enzyme_uln"), ("lab_platelets_value", "platelets"),
                            ("lab_haemoglobin_value", "haemoglobin")):
        assert re.search(rf'id="h-{field}">[^<]*{re.escape(limits.hint(quantity))}<', page), field
        assert re.search(rf'id="f-{field}"[^>]*aria-describedby="h-{field}"', page), field
    measurement = html_text.unescape(client.get(f"{patient}/add/measurement").text)
    assert limits.hint("height_cm") in measurement


def test_a_hint_follows_the_ranges_it_is_given() -> None:
    site = Plausibility({"weight_kg": (20.0, 300.0), "enzyme_uln": (0.0, 2500.0)})
    assert site.hint("weight_kg") == "plausible: 20–300 kg"
    assert site.hint("enzyme_uln") == "plausible: above 0, up to 2,500 U/L"
    assert site.hint("CK") == ""  # no range: no hint
