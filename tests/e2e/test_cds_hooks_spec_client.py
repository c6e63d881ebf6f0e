"""An independent CDS Hooks 2.0 client, written from the specification (https://cds-hooks.hl7.org/2.0/),
talks to the service over real HTTP: its own JWT signing (ES384 with ``cryptography``, no PyJWT),
its own prefetch (it evaluates the service's templates against its own FHIR data), plain
``http.client``, and checks of every answer against the specification's rules — not against this
project's helpers (``tests/e2e/cds_support.py`` is not used)."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from myositis_cds import bootstrap
from myositis_cds.entrypoints.web.app import create_app
from myositis_cds.entrypoints.web.cds_hooks.config import load_config
from myositis_cds.entrypoints.web.settings import WebSettings

ISS = "https://ehr.example.net"
KID = "spec-client-1"
INDICATORS = {"info", "warning", "critical"}
SELECTION = {"at-most-one", "any"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}
TOKEN = re.compile(r"\{\{context\.(\w+)\}\}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SpecClient:
    """A CDS Client as the specification describes one ("Trusting CDS Clients": a JWT signed with
    the client's private key, ES384 or RS384, with iss, aud = the endpoint, exp ≤ 5 min, iat,
    jti, header kid and typ JWT)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.key = ec.generate_private_key(ec.SECP384R1())
        parts = urlsplit(base)
        self.host, self.port = str(parts.hostname), int(parts.port or 80)

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "EC", "crv": "P-384", "kid": KID, "use": "sig", "alg": "ES384",
                          "x": _b64(numbers.x.to_bytes(48, "big")),
                          "y": _b64(numbers.y.to_bytes(48, "big"))}]}

    def jwt(self, audience: str) -> str:
        now = int(time.time())
        header = {"alg": "ES384", "typ": "JWT", "kid": KID}
        claims = {"iss": ISS, "aud": audience, "exp": now + 300, "iat": now,
                  "jti": str(uuid.uuid4())}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA384()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(48, 'big') + s.to_bytes(48, 'big'))}"

    def request(self, method: str, path: str, body: object | None = None, *,
                audience: str | None = None, headers: dict[str, str] | None = None) -> tuple[
                    int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        sent = {"Accept": "application/json", **(headers or {})}
        if audience is not None:
            sent["Authorization"] = f"Bearer {self.jwt(audience)}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()


def _fhir_data(patient_id: str) -> list[dict[str, Any]]:
    """The client's own chart: a woman with dermatomyositis, anti-Mi-2 positive, on prednisone
    alone for weeks (FHIR R4 written here by hand, with the built-in codes)."""
    subject = {"reference": f"Patient/{patient_id}"}
    local = "urn:myositis-cds:codes:"
    return [
        {"resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": "1979-03-14"},
        {"resourceType": "Condition", "id": "c1", "subject": subject,
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "396230008"}]},
         "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                            "condition-ver-status", "code": "confirmed"}]},
         "recordedDate": "2026-09-01"},
        {"resourceType": "Observation", "id": "o1", "status": "final", "subject": subject,
         "code": {"coding": [{"system": f"{local}antibody", "code": "Mi-2"}]},
         "valueString": "positive", "effectiveDateTime": "2026-08-20"},
        {"resourceType": "Observation", "id": "o2", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "2157-6"}]},
         "valueQuantity": {"value": 4200, "unit": "U/L", "system": "http://unitsofmeasure.org",
                           "code": "U/L"},
         "referenceRange": [{"high": {"value": 200, "unit": "U/L"}}],
         "effectiveDateTime": "2026-09-01"},
        {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
         "subject": subject, "authoredOn": "2026-09-02",
         "medicationCodeableConcept": {"coding": [{"system": f"{local}drug", "code": "prednisone"}]},
         "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 60, "unit": "mg"}}],
                                "timing": {"repeat": {"frequency": 1, "period": 1,
                                                      "periodUnit": "d"}}}]},
    ]


def _prefetch(templates: dict[str, str], context: dict[str, str],
              data: list[dict[str, Any]]) -> dict[str, Any]:
    """Evaluate the service's prefetch templates (specification, "Prefetch tokens"): replace the
    context tokens, then answer each as this client's FHIR server would (a read, or a searchset
    Bundle of the matches; an empty search is null)."""
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        query = TOKEN.sub(lambda m: context[m.group(1)], template)
        path, _, params = query.partition("?")
        if "/" in path:
            resource_type, resource_id = path.split("/", 1)
            prefetch[key] = next((r for r in data if r["resourceType"] == resource_type
                                  and r["id"] == resource_id), None)
            continue
        patient = parse_qs(params).get("patient", [""])[0]
        found = [r for r in data if r["resourceType"] == path
                 and r.get("subject", {}).get("reference") == f"Patient/{patient}"]
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                         "entry": [{"resource": r, "search": {"mode": "match"}} for r in found]
                         } if found else None
    return prefetch


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpecClient]:
    """The application on a real socket (uvicorn in a thread), its clients file registering the
    spec client's public key."""
    tmp = tmp_path_factory.mktemp("spec-client")
    url = f"sqlite:///{tmp / 'cds.sqlite3'}"
    bootstrap.upgrade(url)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = SpecClient(base)
    (tmp / "jwks.json").write_text(json.dumps(client.jwks()), "utf-8")
    clients = tmp / "cds-clients.toml"
    clients.write_text(f'public_url = "{base}"\n[[client]]\niss = "{ISS}"\n'
                       'jwks_file = "jwks.json"\n', "utf-8")
    app = create_app(WebSettings(database_url=url, cds_hooks=load_config(clients)))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    sockets = [sock]
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield client
    server.should_exit = True
    thread.join(timeout=10)


def _check_card(card: dict[str, Any]) -> None:
    """Card attributes as the specification defines them."""
    assert isinstance(card["summary"], str)
    assert len(card["summary"]) < 140
    assert card["indicator"] in INDICATORS
    assert isinstance(card["source"], dict)
    assert isinstance(card["source"]["label"], str)
    assert card["source"]["label"]
    assert isinstance(card.get("uuid", ""), str)
    assert isinstance(card.get("detail", ""), str)
    suggestions = card.get("suggestions", [])
    if suggestions:
        assert card["selectionBehavior"] in SELECTION
    for suggestion in suggestions:
        assert isinstance(suggestion["label"], str)
        assert isinstance(suggestion["uuid"], str)
        assert isinstance(suggestion.get("isRecommended", False), bool)
        for action in suggestion.get("actions", []):
            assert action["type"] in ACTION_TYPES
            assert isinstance(action["description"], str)
            if action["type"] in ("create", "update"):
                assert isinstance(action["resource"]["resourceType"], str)
    for reason in card.get("overrideReasons", []):
        assert isinstance(reason["code"], str)
        assert isinstance(reason["system"], str)
        assert isinstance(reason["display"], str)
    for link in card.get("links", []):
        assert isinstance(link["label"], str)
        assert link["url"].startswith(("http://", "https://"))
        assert link["type"] in LINK_TYPES
        assert isinstance(link.get("appContext", ""), str)


def test_discovery_answers_as_specified(service: SpecClient) -> None:
    status, headers, body = service.request("GET", "/cds-services",
                                            audience=f"{service.base}/cds-services")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    services = json.loads(body)["services"]
    assert isinstance(services, list)
    for entry in services:
        for required in ("hook", "id", "description"):
            assert isinstance(entry[required], str)
        for template in entry.get("prefetch", {}).values():
            assert isinstance(template, str)
            assert set(TOKEN.findall(template)) <= {"patientId", "userId", "encounterId"}


def test_a_patient_view_call_gets_cards_and_feedback_is_accepted(service: SpecClient) -> None:
    _, _, body = service.request("GET", "/cds-services", audience=f"{service.base}/cds-services")
    entry = next(s for s in json.loads(body)["services"] if s["hook"] == "patient-view")
    endpoint = f"/cds-services/{entry['id']}"
    context = {"userId": "Practitioner/pr-7", "patientId": "pt-spec-1"}
    call = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": context,
            "prefetch": _prefetch(entry["prefetch"], context, _fhir_data("pt-spec-1"))}
    status, _, body = service.request("POST", endpoint, call, audience=service.base + endpoint)
    assert status == 200, body
    cards = json.loads(body)["cards"]
    assert isinstance(cards, list)
    assert cards
    for card in cards:
        _check_card(card)
    assert "critical" in {card["indicator"] for card in cards}  # prednisone alone for weeks
    with_suggestions = next(card for card in cards if card.get("suggestions"))
    feedback_url = f"{endpoint}/feedback"
    now = dt.datetime.now(dt.UTC).isoformat()
    accepted = {"feedback": [{"card": with_suggestions["uuid"], "outcome": "accepted",
                              "acceptedSuggestions": [{"id": with_suggestions["suggestions"][0]
                                                       ["uuid"]}],
                              "outcomeTimestamp": now}]}
    status, _, body = service.request("POST", feedback_url, accepted,
                                      audience=service.base + feedback_url)
    assert status == 200, body
    reason = cards[0]["overrideReasons"][0]
    overridden = {"feedback": [{"card": cards[0]["uuid"], "outcome": "overridden",
                                "overrideReason": {"reason": reason,
                                                   "userComment": "seen by the team"},
                                "outcomeTimestamp": now}]}
    status, _, body = service.request("POST", feedback_url, overridden,
                                      audience=service.base + feedback_url)
    assert status == 200, body
    # "acceptedSuggestions ... Required for accepted outcomes"
    status, _, _ = service.request("POST", feedback_url, {"feedback": [
        {"card": with_suggestions["uuid"], "outcome": "accepted", "outcomeTimestamp": now}]},
        audience=service.base + feedback_url)
    assert status == 400


def test_calls_the_specification_forbids_are_refused(service: SpecClient) -> None:
    endpoint = "/cds-services/anti-mi2-dm-plan"
    context = {"userId": "Practitioner/pr-7", "patientId": "pt-spec-1"}
    call = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": context}
    # No JWT, or one for another endpoint: unauthorised.
    assert service.request("POST", endpoint, call)[0] == 401
    assert service.request("POST", endpoint, call,
                           audience=f"{service.base}/cds-services")[0] == 401
    # fhirAuthorization without fhirServer ("If fhirAuthorization is provided, this field is
    # REQUIRED").
    status, _, body = service.request("POST", endpoint, call | {"fhirAuthorization": {
        "access_token": "secret-token", "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "cds-service"}}, audience=service.base + endpoint)
    assert status == 400
    assert b"secret-token" not in body
    # Neither prefetch nor a FHIR server to fetch from: 412 (Precondition Failed).
    assert service.request("POST", endpoint, call, audience=service.base + endpoint)[0] == 412


def test_browsers_get_cors_on_the_service(service: SpecClient) -> None:
    status, headers, _ = service.request("OPTIONS", "/cds-services/anti-mi2-dm-plan", headers={
        "Origin": "https://ehr-ui.example.net", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert status in (200, 204)
    assert headers["access-control-allow-origin"] in ("*", "https://ehr-ui.example.net")
    assert "POST" in headers["access-control-allow-methods"]
    assert "authorization" in headers["access-control-allow-headers"].lower()
