"""Prefetch and the EHR's FHIR server: 412 when needed data cannot be had, fetching with the
bearer token from a registered fhirServer only (a fake in-memory server), and refused requests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.cds_support import (
    FHIR_BASE,
    SERVICE_URL,
    Ehr,
    FakeFhirServer,
    example_resources,
    hook_call,
    prefetch_of,
    searchset,
    write_config,
)
from tests.e2e.web_support import Web, make_web

PATH = "/cds-services/anti-mi2-dm-plan"
AUTHORIZATION = {"access_token": "fhir-access-token-7f3a", "token_type": "Bearer",
                 "expires_in": 300, "scope": "patient/*.read", "subject": "myositis-cds"}


@dataclass
class Env:
    web: Web
    client: TestClient
    ehr: Ehr
    fhir: FakeFhirServer
    patient_id: str
    resources: list[dict[str, Any]]

    def post(self, body: dict[str, Any]) -> Any:
        return self.client.post(PATH, headers=self.ehr.auth(SERVICE_URL), json=body)


@pytest.fixture(scope="module")
def ehr() -> Ehr:
    return Ehr()


@pytest.fixture
def env(tmp_path: Path, ehr: Ehr) -> Iterator[Env]:
    web = make_web(tmp_path, cds_hooks=write_config(tmp_path, ehr))
    patient_id, resources = example_resources("incomplete-data")
    fhir = FakeFhirServer(resources)
    web.app.state.cds.transport = fhir
    with web.client() as client:
        yield Env(web=web, client=client, ehr=ehr, fhir=fhir, patient_id=patient_id,
                  resources=resources)
    web.close()


def _summaries(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [card["summary"] for card in response.json()["cards"]]


def test_missing_prefetch_without_fhir_access_is_412(env: Env) -> None:
    prefetch = prefetch_of(env.resources)
    del prefetch["observations"], prefetch["conditions"]
    response = env.post(hook_call(env.patient_id, prefetch))
    assert response.status_code == 412
    assert response.json() == {
        "detail": "needed prefetch is missing and no fhirServer with fhirAuthorization was given: "
                  "observations, conditions",
        "missing_prefetch": ["observations", "conditions"]}
    assert [(e.action, e.detail) for e in env.web.audit()] == [
        ("cds.hook", "patient-view anti-mi2-dm-plan: 412, prefetch missing: observations, "
                     "conditions")]
    assert env.fhir.calls == []


def test_a_null_patient_counts_as_missing(env: Env) -> None:
    prefetch = prefetch_of(env.resources) | {"patient": None}
    response = env.post(hook_call(env.patient_id, prefetch))
    assert (response.status_code, response.json()["missing_prefetch"]) == (412, ["patient"])


def test_a_second_page_in_the_prefetch_is_not_taken_as_the_whole(env: Env) -> None:
    prefetch = prefetch_of(env.resources)
    prefetch["observations"]["link"] = [{"relation": "next", "url": f"{FHIR_BASE}/page2"}]
    response = env.post(hook_call(env.patient_id, prefetch))
    assert (response.status_code, response.json()["missing_prefetch"]) == (412, ["observations"])


def test_everything_is_fetched_with_the_bearer_token_when_nothing_is_prefetched(env: Env) -> None:
    with_prefetch = _summaries(env.post(hook_call(env.patient_id, prefetch_of(env.resources))))
    fetched = env.post(hook_call(env.patient_id, None, fhirServer=FHIR_BASE + "/",
                                 fhirAuthorization=AUTHORIZATION))
    assert _summaries(fetched) == with_prefetch
    pid = env.patient_id
    count = "&_count=1000"
    assert [url for url, _ in env.fhir.calls] == [
        f"{FHIR_BASE}/Patient/{pid}", f"{FHIR_BASE}/Observation?patient={pid}{count}",
        f"{FHIR_BASE}/Condition?patient={pid}{count}",
        f"{FHIR_BASE}/MedicationRequest?patient={pid}&_include=MedicationRequest:medication{count}",
        f"{FHIR_BASE}/MedicationStatement?patient={pid}"
        f"&_include=MedicationStatement:medication{count}",
        f"{FHIR_BASE}/Procedure?patient={pid}{count}",
        f"{FHIR_BASE}/DiagnosticReport?patient={pid}{count}"]
    for _, headers in env.fhir.calls:
        assert headers == {"Authorization": "Bearer fhir-access-token-7f3a",
                           "Accept": "application/fhir+json"}
    assert env.web.audit()[-1].detail.endswith("prefetch 0, fetched 7, not provided 0; 0 item(s) "
                                               "unmapped")


def test_only_the_missing_keys_are_fetched(env: Env) -> None:
    prefetch = prefetch_of(env.resources)
    del prefetch["conditions"]
    response = env.post(hook_call(env.patient_id, prefetch, fhirServer=FHIR_BASE,
                                  fhirAuthorization=AUTHORIZATION))
    assert response.status_code == 200
    assert [url for url, _ in env.fhir.calls] == [
        f"{FHIR_BASE}/Condition?patient={env.patient_id}&_count=1000"]


def test_an_unregistered_fhir_server_is_never_called(env: Env) -> None:
    response = env.post(hook_call(env.patient_id, None, fhirServer="https://elsewhere.example.org",
                                  fhirAuthorization=AUTHORIZATION))
    assert response.status_code == 412
    assert response.json()["detail"].startswith(
        "needed prefetch is missing and the fhirServer is not registered for this client")
    assert env.fhir.calls == []


def test_a_required_key_the_server_refuses_is_412(env: Env) -> None:
    env.fhir.status["Observation"] = 500
    response = env.post(hook_call(env.patient_id, None, fhirServer=FHIR_BASE,
                                  fhirAuthorization=AUTHORIZATION))
    assert response.status_code == 412
    assert response.json() == {"detail": "the needed FHIR data could not be fetched: "
                                         "observations: the FHIR server answered HTTP 500"}


def test_a_wrong_access_token_is_412(env: Env) -> None:
    body = hook_call(env.patient_id, None, fhirServer=FHIR_BASE,
                     fhirAuthorization=AUTHORIZATION | {"access_token": "stale"})
    response = env.post(body)
    assert response.status_code == 412
    assert "stale" not in response.text
    assert response.json()["detail"].endswith("patient: the FHIR server answered HTTP 401")


def test_optional_keys_not_provided_are_named_on_the_plan_card(env: Env) -> None:
    prefetch = prefetch_of(env.resources)
    for key in ("medicationStatements", "procedures", "diagnosticReports"):
        del prefetch[key]
    cards = env.post(hook_call(env.patient_id, prefetch)).json()["cards"]
    assert ("**Not provided by the EHR**: medicationStatements, procedures, diagnosticReports — "
            "what they hold (treatments taken, investigations such as cancer screening) is "
            "unknown here, not absent.") in cards[-1]["detail"]
    env.fhir.status["Procedure"] = 404  # a server without Procedure: that key is not provided
    response = env.post(hook_call(env.patient_id, None, fhirServer=FHIR_BASE,
                                  fhirAuthorization=AUTHORIZATION))
    assert "**Not provided by the EHR**: procedures —" in response.json()["cards"][-1]["detail"]


def test_medication_requests_are_read_as_treatments(env: Env) -> None:
    statements = [r for r in env.resources if r["resourceType"] == "MedicationStatement"]
    requests = [{"resourceType": "MedicationRequest", "id": f"mr{i}", "status": "active",
                 "intent": "order", "subject": {"reference": f"Patient/{env.patient_id}"},
                 "medicationCodeableConcept": s["medicationCodeableConcept"],
                 "authoredOn": s["effectivePeriod"]["start"]} for i, s in enumerate(statements)]
    prefetch = prefetch_of(env.resources) | {"medicationStatements": None,
                                              "medicationRequests": searchset(requests)}
    line = "- prednisone: 2026-10-09 to ongoing (2026-10-09) — `$.treatments[0]`"
    cards = env.post(hook_call(env.patient_id, prefetch)).json()["cards"]
    assert cards[0]["summary"] == "Do not delay immunosuppression"
    assert line in cards[0]["detail"]
    without = prefetch | {"medicationRequests": None}
    cards = env.post(hook_call(env.patient_id, without)).json()["cards"]
    assert cards[0]["summary"] == "Do not delay immunosuppression"  # fires on the diagnosis date
    assert "prednisone" not in cards[0]["detail"]


@pytest.mark.parametrize(("change", "detail"), [
    (lambda p, pid: p["patient"].update(id="someone-else"),
     "prefetch.patient.id: the Patient's id is not context.patientId"),
    (lambda p, pid: p["conditions"]["entry"][0]["resource"].update(
        subject={"reference": "https://ehr.example.org/fhir/Patient/someone-else"}),
     "prefetch.conditions.entry[0].resource.subject: refers to another patient than "
     "context.patientId"),
    (lambda p, pid: p.update(observations=p["conditions"]),
     "prefetch.observations.entry[0].resource: got a Condition; expected a Observation "
     "(Observation?patient={{context.patientId}})"),
    (lambda p, pid: p.update(conditions={"resourceType": "Condition"}),
     "prefetch.conditions: expected a searchset Bundle (Condition?patient={{context.patientId}})"),
])
def test_prefetch_that_contradicts_its_template_is_refused(env: Env, change: Any,
                                                           detail: str) -> None:
    prefetch = prefetch_of(env.resources)
    change(prefetch, env.patient_id)
    response = env.post(hook_call(env.patient_id, prefetch))
    assert (response.status_code, response.json()) == (400, {"detail": detail})
    assert env.web.audit()[-1].detail == ("patient-view anti-mi2-dm-plan: 400, prefetch "
                                          "contradicts its template")


def test_bad_requests_name_the_field_and_never_echo_a_token(env: Env) -> None:
    ok = hook_call(env.patient_id, prefetch_of(env.resources))
    post = env.client.post
    auth = env.ehr.auth
    not_json = post(PATH, headers={**auth(SERVICE_URL), "Content-Type": "application/json"},
                    content=b"{")
    assert (not_json.status_code, not_json.json()) == (400, {"detail": "$: got invalid JSON ("
                                                                       "unexpected end of data at "
                                                                       "line 1 column 2); expected "
                                                                       "valid JSON"})
    text = post(PATH, headers={**auth(SERVICE_URL), "Content-Type": "text/plain"}, content=b"x")
    assert text.status_code == 415
    no_patient = ok | {"context": {"userId": "Practitioner/1"}}
    response = post(PATH, headers=auth(SERVICE_URL), json=no_patient)
    assert (response.status_code, response.json()["errors"]) == (
        400, [{"path": "$.context.patientId", "expected": "Field required"}])
    bad_id = ok | {"context": {"userId": "Practitioner/1", "patientId": "../Patient/x"}}
    assert post(PATH, headers=auth(SERVICE_URL), json=bad_id).json()["errors"][0]["path"] == \
        "$.context.patientId"
    secret = "very-secret-access-token"
    bad_auth = ok | {"fhirAuthorization": {"access_token": secret, "token_type": "MAC"}}
    response = post(PATH, headers=auth(SERVICE_URL), json=bad_auth)
    assert response.status_code == 400
    assert secret not in response.text
    assert response.json()["errors"][0]["path"] == "$.fhirAuthorization.token_type"
    other_hook = post(PATH, headers=auth(SERVICE_URL), json=ok | {"hook": "order-select"})
    assert (other_hook.status_code, other_hook.json()) == (
        400, {"detail": "$.hook: got 'order-select'; expected 'patient-view'"})
    unknown = post("/cds-services/other", headers=auth("https://cds.example.org/cds-services/other"),
                   json=ok)
    assert unknown.status_code == 404
    assert env.web.audit() == []  # nothing of a patient was read
