"""The CDS Hooks service called as an EHR calls it: discovery, cards, links and the audit trail."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from myositis_cds.entrypoints.web.clinical import Clinic
from tests.conftest import EXAMPLES, TODAY, load_example
from tests.e2e.cds_support import (
    DISCOVERY_URL,
    EHR_ISS,
    FHIR_BASE,
    PUBLIC_URL,
    SERVICE_URL,
    Ehr,
    example_resources,
    hook_call,
    prefetch_of,
    write_config,
)
from tests.e2e.web_support import Web, api_sign_in, make_web

PATH = "/cds-services/anti-mi2-dm-plan"
LABEL = "myositis-cds (knowledge pack anti-mi2-dm 2026.2)"


def call(client: TestClient, ehr: Ehr, name: str, **extra: Any) -> dict[str, Any]:
    patient_id, resources = example_resources(name)
    response = client.post(PATH, headers=ehr.auth(SERVICE_URL),
                           json=hook_call(patient_id, prefetch_of(resources), **extra))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_discovery_lists_the_patient_view_service_and_its_prefetch(client: TestClient,
                                                                   ehr: Ehr) -> None:
    response = client.get("/cds-services", headers=ehr.auth(DISCOVERY_URL))
    assert response.status_code == 200
    (service,) = response.json()["services"]
    assert {k: service[k] for k in ("hook", "id")} == {"hook": "patient-view",
                                                       "id": "anti-mi2-dm-plan"}
    assert service["title"] == "Anti-Mi-2 dermatomyositis: alerts and management plan"
    assert service["description"].startswith("For a patient with dermatomyositis and anti-Mi-2")
    assert service["prefetch"] == {
        "patient": "Patient/{{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "medicationRequests": "MedicationRequest?patient={{context.patientId}}"
                              "&_include=MedicationRequest:medication",
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}"
                                "&_include=MedicationStatement:medication",
        "procedures": "Procedure?patient={{context.patientId}}",
        "diagnosticReports": "DiagnosticReport?patient={{context.patientId}}",
    }


def test_cards_of_a_patient_with_two_warnings(client: TestClient, ehr: Ehr) -> None:
    cards = call(client, ehr, "over-40-no-screening")["cards"]
    assert [(c["indicator"], c["summary"]) for c in cards] == [
        ("warning", "Do not rely on muscle enzymes alone: CK normal with active skin disease"),
        ("warning", "Drug-monitoring bloods overdue"),
        ("warning", "Age ≥ 40 without an enhanced cancer screen at diagnosis"),
        ("info", "Myositis-specific antibody panel incomplete"),
        ("info", "Glucocorticoid taper due"),
        ("info", "Anti-Mi-2 DM plan: Taper prednisone; cancer screening enhanced: due 2026-09-21; 1 "
                 "work-up item(s) open"),
    ]
    for card in cards:
        assert len(card["summary"]) < 140
        assert uuid.UUID(card["uuid"]).version == 4
        assert card["source"] == {"label": LABEL, "url": f"{PUBLIC_URL}/"}
        assert "links" not in card  # not stored here and no SMART launch URL configured
        assert "**References**" in card["detail"]
    assert len({c["uuid"] for c in cards}) == 6
    screen = cards[2]["detail"]
    assert screen.startswith("**")
    assert "Rule `ALERT-SCREEN-AGE40` · knowledge pack anti-mi2-dm 2026.2 · as of 2026-11-21" in screen
    assert ("1. MI2-SUMMARY: Anti-Mi-2 positive dermatomyositis: management summary (seed document "
            "001\\_750ec6adf53e7234.txt)") in screen
    assert "2. IMACS-CANCER-2023: Oldroyd AGS, et al. International guideline" in screen


def test_critical_alert_and_a_check_that_could_not_run(client: TestClient, ehr: Ehr) -> None:
    cards = call(client, ehr, "incomplete-data")["cards"]
    assert [(c["indicator"], c["summary"]) for c in cards] == [
        ("critical", "Do not delay immunosuppression"),
        ("info", "Myositis-specific antibody panel incomplete"),
        ("info", "Not checked: Recorded dose outside the range for this patient (weight missing: "
                 "glucocorticoid mg/kg/day not checked)"),
        ("info", "Not checked: Age ≥ 40 without an enhanced cancer screen at diagnosis (age at "
                 "onset unknown: birth date missing)"),
        ("info", "Anti-Mi-2 DM plan: Add a steroid-sparing agent; cancer screening not evaluable: "
                 "due 2026-10-08; 6 work-up item(s) open"),
    ]
    critical = cards[0]["detail"]
    assert critical.splitlines()[0] == (
        "**prednisone (50 mg/day prednisone-equivalent) has run without a steroid-sparing or "
        "second-line agent for 43 days (since 2026-10-09): add a steroid-sparing agent.**")
    assert "- prednisone: 2026-10-09 to ongoing (2026-10-09) — `$.treatments[0]`" in critical
    assert "could not run: age at onset unknown" in cards[3]["detail"]
    plan = cards[4]["detail"]
    assert "**Baseline work-up**: 6 of 8 item(s) open" in plan
    assert "- prednisone: not evaluable (weight missing) (1 mg/kg/day, max 60-80 mg/day)" in plan
    assert "**EHR data**: every resource sent was mapped." in plan
    assert plan.startswith(
        "**What to do now**\n\n- **Add** a steroid-sparing agent (Azathioprine, Methotrexate, "
        "Mycophenolate mofetil): Prednisone running without a steroid-sparing or second-line agent: "
        "add a steroid-sparing agent (azathioprine, methotrexate, mycophenolate mofetil).\n"
        "- **Continue** Prednisone (50 mg/day)\n")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_cards_match_the_assessment_of_the_same_record(client: TestClient, ehr: Ehr,
                                                       path: Path) -> None:
    """Through FHIR (export, prefetch, import, validation) the cards say what the engine says of
    the record itself: one card per alert in its order and severity, per check not run, one plan."""
    clinic = Clinic()
    assessment = clinic.assessment(load_example(path.stem), TODAY)
    cards = call(client, ehr, path.stem)["cards"]
    if assessment["scope"]["status"] == "out_of_scope":
        assert cards == []
        return
    expected = [a["severity"] for a in assessment["alerts"]]
    expected += ["info"] * len(assessment["alerts_not_evaluable"]) + ["info"]
    assert [c["indicator"] for c in cards] == expected
    assert all(len(c["summary"]) < 140 for c in cards)
    assert [c["summary"] for c in cards[:len(assessment["alerts"])]] == \
        [a["title"] for a in assessment["alerts"]]


def test_no_cards_for_a_patient_without_myositis_data(client: TestClient, ehr: Ehr,
                                                      web: Web) -> None:
    patient = {"resourceType": "Patient", "id": "p-42", "gender": "male", "birthDate": "1970-03-04"}
    prefetch = {"patient": patient, "observations": None, "conditions": None,
                "medicationRequests": None, "medicationStatements": None, "procedures": None,
                "diagnosticReports": None}
    response = client.post(PATH, headers=ehr.auth(SERVICE_URL), json=hook_call("p-42", prefetch))
    assert response.json() == {"cards": []}
    assert [(e.action, e.patient_key, e.detail) for e in web.audit()] == [
        ("cds.hook", "p-42", "patient-view anti-mi2-dm-plan: not applicable (scope not_evaluable): "
                             "no cards; prefetch 7, fetched 0, not provided 0; 0 item(s) unmapped")]


def test_out_of_scope_patient_gets_no_cards(client: TestClient, ehr: Ehr) -> None:
    assert call(client, ehr, "mi2-negative-dm") == {"cards": []}


def test_each_call_is_audited_with_the_client_as_actor_and_no_patient_data(
        client: TestClient, ehr: Ehr, web: Web) -> None:
    call(client, ehr, "incomplete-data")
    (event,) = web.audit()
    assert (event.actor, event.action, event.patient_key) == (EHR_ISS, "cds.hook",
                                                              "ex-incomplete-data")
    assert event.detail == ("patient-view anti-mi2-dm-plan: 5 card(s) (alerts: 1 critical, "
                            "0 warning, 1 info; 2 not evaluable); prefetch 7, fetched 0, not "
                            "provided 0; 0 item(s) unmapped")


def test_a_stored_patient_gets_an_absolute_link_to_its_page(client: TestClient, ehr: Ehr,
                                                            web: Web) -> None:
    stored = web.store("over-40-no-screening")
    cards = call(client, ehr, "over-40-no-screening")["cards"]
    for card in cards:
        assert card["links"] == [{"label": "Open the patient page in myositis-cds",
                                  "url": f"{PUBLIC_URL}/patients/{stored.id}", "type": "absolute"}]


def test_a_configured_smart_launch_gives_smart_links(tmp_path: Path, ehr: Ehr) -> None:
    config = write_config(tmp_path, ehr, extra='smart_launch_url = "https://cds.example.org/launch"')
    web = make_web(tmp_path, cds_hooks=config)
    try:
        with web.client() as client:
            cards = call(client, ehr, "juvenile")["cards"]
    finally:
        web.close()
    assert len(cards) == 2
    for card in cards:
        (link,) = card["links"]
        assert {k: link[k] for k in ("label", "url", "type")} == {
            "label": "Open in myositis-cds", "url": "https://cds.example.org/launch", "type": "smart"}
        assert json.loads(link["appContext"]) == {"patient_key": "ex-juvenile",
                                                  "as_of": "2026-11-21"}


def test_tokens_and_patient_data_never_reach_the_log(client: TestClient, ehr: Ehr,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    patient_id, resources = example_resources("incomplete-data")
    token = ehr.token(SERVICE_URL)
    body = hook_call(patient_id, prefetch_of(resources), fhirServer=FHIR_BASE,
                     fhirAuthorization={"access_token": "secret-fhir-token-123",
                                        "token_type": "Bearer", "expires_in": 300,
                                        "scope": "patient/*.read", "subject": "cds"})
    with caplog.at_level(logging.DEBUG):
        response = client.post(PATH, headers={"Authorization": f"Bearer {token}"}, json=body)
    assert response.status_code == 200
    for secret in (token, *token.split("."), "secret-fhir-token-123", patient_id, "2026-10-09"):
        assert secret not in caplog.text
    assert "POST /cds-services/{service_id} 200" in caplog.text
    assert f"user=cds:{EHR_ISS}" in caplog.text


def test_a_signed_in_session_does_not_open_the_cds_endpoints(client: TestClient, web: Web) -> None:
    web.add_user("alice")
    csrf = api_sign_in(client, "alice")
    patient_id, resources = example_resources("non-severe")
    response = client.post(PATH, headers={"X-CSRF-Token": csrf},
                           json=hook_call(patient_id, prefetch_of(resources)))
    assert (response.status_code, response.content) == (401, b"")


def test_responses_keep_the_security_headers(client: TestClient, ehr: Ehr) -> None:
    response = client.get("/cds-services", headers=ehr.auth(DISCOVERY_URL))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_serve_refuses_a_bad_clients_file_before_starting(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from myositis_cds.entrypoints.cli import main  # noqa: PLC0415

    (tmp_path / "clients.toml").write_text('public_url = "ftp://x"\n', "utf-8")
    monkeypatch.setenv("MYOSITIS_CDS_CDS_CLIENTS", str(tmp_path / "clients.toml"))
    assert main(["serve", "--database-url", f"sqlite:///{tmp_path / 'db.sqlite3'}"]) == 2
    assert "public_url: got 'ftp://x'; expected an absolute http(s) URL" in capsys.readouterr().err
    assert not (tmp_path / "db.sqlite3").exists()


def test_the_server_settings_read_the_clients_file_from_the_environment(
        tmp_path: Path, ehr: Ehr) -> None:
    from myositis_cds.entrypoints.web import WebSettings  # noqa: PLC0415

    write_config(tmp_path, ehr)
    settings = WebSettings.from_environment({
        "MYOSITIS_CDS_DATABASE_URL": "sqlite://",
        "MYOSITIS_CDS_CDS_CLIENTS": str(tmp_path / "cds-clients.toml"),
        "MYOSITIS_CDS_PUBLIC_URL": "https://cds.example.net"})
    assert settings.cds_hooks is not None
    assert settings.cds_hooks.public_url == "https://cds.example.net"
    assert list(settings.cds_hooks.clients) == [EHR_ISS]
    assert WebSettings.from_environment({"MYOSITIS_CDS_DATABASE_URL": "sqlite://"}).cds_hooks is None


def test_a_record_the_validator_refuses_gets_one_warning_card(
        client: TestClient, ehr: Ehr, web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    """The importer leaves out refused items; if the record is still refused (no real FHIR input
    does that today, so the validator's answer is replaced here), nothing is assessed and the
    clinician is told so — never an empty answer that reads as "no alerts"."""
    from myositis_cds import bootstrap  # noqa: PLC0415
    from myositis_cds.adapters.fhir.importing.report import UnmappedReport  # noqa: PLC0415
    from myositis_cds.adapters.fhir.importing.validation import ValidatedImport  # noqa: PLC0415
    from myositis_cds.errors import FieldError  # noqa: PLC0415

    def refused(item: Any, *, today: Any) -> ValidatedImport:
        report = UnmappedReport()
        report.add("Patient", "invalid_record")
        return ValidatedImport(patient_key=item.patient_key, document=None, record=None,
                               errors=(FieldError(path="$.id", value="x" * 200,
                                                  expected="at most 128 characters"),),
                               unmapped=report)

    monkeypatch.setattr(bootstrap, "validate_import", refused)  # the FHIR import port's validator
    (card,) = call(client, ehr, "non-severe")["cards"]
    assert (card["indicator"], card["summary"]) == (
        "warning", "myositis-cds could not assess this patient: the EHR data did not validate")
    assert "- `$.id`: expected at most 128 characters" in card["detail"]
    assert "x" * 200 not in card["detail"]
    assert web.audit()[-1].detail.startswith("patient-view anti-mi2-dm-plan: record invalid "
                                             "(1 error(s)): 1 warning card;")


def test_without_a_ready_database_the_call_is_503_not_answered(tmp_path: Path, ehr: Ehr) -> None:
    url = f"sqlite:///{tmp_path / 'not-migrated.sqlite3'}"
    web = make_web(tmp_path, url=url, cds_hooks=write_config(tmp_path, ehr))
    try:
        with web.client() as client:
            response = client.get("/cds-services", headers=ehr.auth(DISCOVERY_URL))
    finally:
        web.close()
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the database is unavailable")
    assert response.headers["retry-after"] == "30"
