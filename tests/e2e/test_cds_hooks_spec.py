"""CDS Hooks 2.0 as specified: strict requests, suggestions and override reasons, feedback checked
against the card and counted per rule, real charts fetched in pages with their Medications, keys
from the EHR's JWK Set URL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from myositis_cds.adapters.fhir.exporting.common import validate_bundle
from myositis_cds.adapters.storage.cds_hooks import SqlCdsFeedback
from myositis_cds.entrypoints.cli import main
from tests.e2e.cds_support import (
    FEEDBACK_URL,
    SERVICE_URL,
    Ehr,
    example_resources,
    hook_call,
    prefetch_of,
    write_config,
)
from tests.e2e.web_support import Web, make_web
from tests.fhir_server import FhirServer, serve_fhir

PATH = "/cds-services/anti-mi2-dm-plan"
OVERRIDE = "urn:myositis-cds:codes:override-reason"
AUTHORIZATION = {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 300,
                 "scope": "patient/*.read", "subject": "myositis-cds"}


def _call(client: TestClient, ehr: Ehr, body: dict[str, Any]) -> Any:
    return client.post(PATH, headers=ehr.auth(SERVICE_URL), json=body)


def _cards(client: TestClient, ehr: Ehr, name: str = "incomplete-data") -> list[dict[str, Any]]:
    patient_id, resources = example_resources(name)
    response = _call(client, ehr, hook_call(patient_id, prefetch_of(resources)))
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


@pytest.mark.parametrize(("changes", "path"), [
    ({"fhirAuthorization": AUTHORIZATION}, "$"),  # without fhirServer
    ({"hookInstance": "call-1"}, "$.hookInstance"),
    ({"context": {"userId": "Dr Smith", "patientId": "x"}}, "$.context.userId"),
    ({"fhirServer": "https://ehr.example.org/fhir",
      "fhirAuthorization": {k: v for k, v in AUTHORIZATION.items() if k != "scope"}},
     "$.fhirAuthorization.scope"),
    ({"fhirServer": "ftp://ehr.example.org"}, "$.fhirServer"),
])
def test_requests_are_checked_as_specified(client: TestClient, ehr: Ehr, web: Web,
                                           changes: dict[str, Any], path: str) -> None:
    patient_id, resources = example_resources("non-severe")
    body = hook_call(patient_id, prefetch_of(resources)) | changes
    response = _call(client, ehr, body)
    assert response.status_code == 400
    assert path in [error["path"] for error in response.json()["errors"]]
    assert "tok-1" not in response.text
    assert web.audit() == []


def test_cards_offer_draft_orders_and_override_reasons(client: TestClient, ehr: Ehr) -> None:
    cards = _cards(client, ehr)
    plan = cards[-1]
    assert plan["selectionBehavior"] == "any"
    labels = [s["label"] for s in plan["suggestions"]]
    assert labels[:4] == ["Add azathioprine (one of 3: a steroid-sparing agent)",
                          "Add methotrexate (one of 3: a steroid-sparing agent)",
                          "Add mycophenolate mofetil (one of 3: a steroid-sparing agent)",
                          "Order hepatitis B serology"]
    start = labels.index("Order aldolase")
    assert labels[start:start + 4] == ["Order aldolase", "Order AST", "Order ALT", "Order LDH"]
    assert "Order pulmonary function tests" in labels
    assert "Order age appropriate cancer screening" in labels  # the screen due in October
    prescription = plan["suggestions"][0]["actions"][0]["resource"]
    assert (prescription["resourceType"], prescription["status"], prescription["intent"]) == (
        "MedicationRequest", "draft", "proposal")
    assert prescription["medicationCodeableConcept"]["text"] == "azathioprine"
    assert "dosageInstruction" not in prescription  # the clinician writes the dose
    request = plan["suggestions"][start]["actions"][0]
    assert request["type"] == "create"
    service_request = request["resource"]
    assert service_request["status"] == "draft"
    assert service_request["intent"] == "proposal"
    assert service_request["subject"] == {"reference": "Patient/ex-incomplete-data"}
    assert service_request["code"]["coding"] == [{"system": "http://loinc.org", "code": "1761-6"}]
    assert service_request["reasonCode"][0]["coding"][0]["code"] == "WORKUP-ENZYMES"
    # Every suggested resource is a valid FHIR R4 resource.
    resources = [a["resource"] for c in cards for s in c.get("suggestions", ()) for a in s["actions"]]
    entries = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r} for r in resources]
    assert validate_bundle({"resourceType": "Bundle", "type": "collection", "entry": entries}) == []
    panel = next(c for c in cards if c["summary"].startswith("Myositis-specific antibody panel"))
    assert {s["label"] for s in panel["suggestions"]} >= {"Order TIF1-gamma", "Order NXP2"}
    for card in cards:
        assert [r["code"] for r in card["overrideReasons"]] == [
            "already-done", "not-applicable", "patient-declined", "clinical-judgement",
            "data-incorrect"]
        assert {r["system"] for r in card["overrideReasons"]} == {OVERRIDE}
        assert len({s["uuid"] for s in card.get("suggestions", ())}) == len(
            card.get("suggestions", ()))


def _feedback(client: TestClient, ehr: Ehr, *items: dict[str, Any]) -> Any:
    stamped = [{"outcomeTimestamp": "2026-11-21T08:00:00Z", **item} for item in items]
    return client.post(PATH + "/feedback", headers=ehr.auth(FEEDBACK_URL),
                       json={"feedback": stamped})


def test_feedback_is_refused_unless_it_fits_the_card(client: TestClient, ehr: Ehr,
                                                     web: Web) -> None:
    cards = _cards(client, ehr)
    plan, alert = cards[-1], cards[0]
    before = len(web.audit())
    cases = [
        ({"card": plan["uuid"], "outcome": "accepted"}, "$.feedback[0]"),
        ({"card": plan["uuid"], "outcome": "accepted",
          "acceptedSuggestions": [{"id": str(uuid.uuid4())}]},
         "$.feedback[0].acceptedSuggestions[0].id"),
        ({"card": str(uuid.uuid4()), "outcome": "accepted",
          "acceptedSuggestions": [{"id": plan["suggestions"][0]["uuid"]}]}, "$.feedback[0].card"),
        ({"card": alert["uuid"], "outcome": "overridden",
          "overrideReason": {"reason": {"system": OVERRIDE, "code": "too-busy"}}},
         "$.feedback[0].overrideReason.reason"),
        ({"card": plan["uuid"], "outcome": "overridden",
          "acceptedSuggestions": [{"id": plan["suggestions"][0]["uuid"]}]}, "$.feedback[0]"),
    ]
    for item, path in cases:
        response = _feedback(client, ehr, item)
        assert response.status_code == 400, item
        assert path in [e["path"] for e in response.json()["errors"]], response.json()
    # One bad item refuses the whole request: nothing is audited or counted.
    response = _feedback(client, ehr, {"card": alert["uuid"], "outcome": "overridden"},
                         cases[1][0])
    assert response.status_code == 400
    assert len(web.audit()) == before
    assert SqlCdsFeedback(web.app.state.web.uow.engine).by_rule(since=0) == []


def test_feedback_is_counted_per_rule(client: TestClient, ehr: Ehr, web: Web,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cards = _cards(client, ehr)
    plan, alert = cards[-1], cards[0]
    response = _feedback(
        client, ehr,
        {"card": plan["uuid"], "outcome": "accepted",
         "acceptedSuggestions": [{"id": s["uuid"]} for s in plan["suggestions"][:2]]},
        {"card": alert["uuid"], "outcome": "overridden",
         "overrideReason": {"reason": {"system": OVERRIDE, "code": "already-done"},
                            "userComment": "started azathioprine on Monday"}},
        {"card": cards[1]["uuid"], "outcome": "overridden"})
    assert response.status_code == 200, response.text
    rows = {r.rule: r for r in SqlCdsFeedback(web.app.state.web.uow.engine).by_rule(since=0)}
    assert (rows["PLAN"].accepted, rows["PLAN"].suggestions_accepted) == (1, 2)
    assert rows["ALERT-DELAYED-IMMUNOSUPPRESSION"].reasons == (("already-done", 1),)
    assert rows["ALERT-INCOMPLETE-MSA-PANEL"].reasons == (("(none)", 1),)
    assert main(["cds-feedback", "--database-url", web.url, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"rule": "PLAN"' in out
    assert "azathioprine" not in out


def test_a_real_chart_is_fetched_page_by_page_with_its_medications(
        tmp_path: Path, ehr: Ehr) -> None:
    patient_id, resources = example_resources("incomplete-data")
    vitals = [{"resourceType": "Observation", "id": f"bp{i}", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
               "subject": {"reference": f"Patient/{patient_id}"},
               "effectiveDateTime": "2026-01-12"} for i in range(1270)]
    medication = {"resourceType": "Medication", "id": "med-1", "code": {"coding": [
        {"system": "urn:myositis-cds:codes:drug", "code": "methotrexate"}]}}
    order = {"resourceType": "MedicationRequest", "id": "mr-1", "status": "active",
             "intent": "order", "subject": {"reference": f"Patient/{patient_id}"},
             "medicationReference": {"reference": "Medication/med-1"},
             "authoredOn": "2026-11-01"}
    with serve_fhir(FhirServer(resources=[*resources, *vitals, medication, order],
                               static_token="tok-1")) as fhir:
        web = make_web(tmp_path, cds_hooks=write_config(tmp_path, ehr,
                                                        fhir_servers=(fhir.fhir_base,)))
        try:
            with web.client() as client:
                response = _call(client, ehr, hook_call(
                    patient_id, None, fhirServer=fhir.fhir_base, fhirAuthorization=AUTHORIZATION))
        finally:
            web.close()
    assert response.status_code == 200, response.text
    details = " ".join(card["detail"] for card in response.json()["cards"])
    # methotrexate (a Medication included with the order) ends the steroid-only alert
    assert "ALERT-DELAYED-IMMUNOSUPPRESSION" not in details
    assert "Rule `ALERT-INCOMPLETE-MSA-PANEL`" in details
    observation_pages = [path for method, path, _ in fhir.requests if path.startswith(
        "/fhir/Observation")]
    assert len(observation_pages) == 2  # 1,270 + the chart's own in pages of 1,000
    assert "_count=1000" in observation_pages[0]
    assert any("_include=MedicationRequest%3Amedication" in path or
               "_include=MedicationRequest:medication" in path for _, path, _ in fhir.requests)


def test_client_keys_come_from_the_jwk_set_url_cached_and_refreshed(tmp_path: Path) -> None:
    first, rotated = Ehr(kid="k-2025"), Ehr(kid="k-2026")
    with serve_fhir(FhirServer(jwks=first.jwks())) as server:
        clients = tmp_path / "cds-clients.toml"
        clients.write_text(f'public_url = "https://cds.example.org"\n[[client]]\n'
                           f'iss = "{first.iss}"\njwks_url = "{server.base}/jwks.json"\n', "utf-8")
        from myositis_cds.entrypoints.web.cds_hooks.config import load_config  # noqa: PLC0415

        web = make_web(tmp_path, cds_hooks=load_config(clients))
        try:
            with web.client() as client:
                discovery = "https://cds.example.org/cds-services"
                assert client.get("/cds-services", headers=first.auth(discovery)).status_code == 200
                assert client.get("/cds-services", headers=first.auth(discovery)).status_code == 200
                assert server.jwks_requests == 1  # cached
                # The EHR rotates its key: an unknown kid fetches the set again, once.
                server.jwks = rotated.jwks()
                remote = web.app.state.cds.config.clients[first.iss].remote
                remote.min_refresh = 0.0
                assert client.get("/cds-services", headers=rotated.auth(discovery)).status_code == 200
                assert server.jwks_requests == 2
                remote.min_refresh = 60.0
                stranger = Ehr(kid="k-unknown")
                for _ in range(3):  # made-up kids cannot make the service hammer the EHR
                    assert client.get("/cds-services",
                                      headers=stranger.auth(discovery)).status_code == 401
                assert server.jwks_requests == 2
        finally:
            web.close()
