"""The feedback endpoint (audited, the user's comment never kept) and CORS on the CDS paths only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.cds_support import (
    EHR_ISS,
    FEEDBACK_URL,
    SERVICE_URL,
    Ehr,
    example_resources,
    hook_call,
    prefetch_of,
    write_config,
)
from tests.e2e.web_support import Web, make_web

PATH = "/cds-services/anti-mi2-dm-plan"


@pytest.fixture(scope="module")
def ehrs() -> tuple[Ehr, Ehr]:
    return Ehr(), Ehr(iss="https://other-ehr.example.org", kid="other-1")


@pytest.fixture
def web(tmp_path: Path, ehrs: tuple[Ehr, Ehr]) -> Iterator[Web]:
    """Two EHRs (the ``client`` fixture of tests/e2e/conftest.py serves this app)."""
    web = make_web(tmp_path, cds_hooks=write_config(tmp_path, *ehrs))
    yield web
    web.close()


def _cards(client: TestClient, ehr: Ehr) -> list[dict[str, Any]]:
    patient_id, resources = example_resources("incomplete-data")
    response = client.post(PATH, headers=ehr.auth(SERVICE_URL),
                           json=hook_call(patient_id, prefetch_of(resources)))
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def test_feedback_is_audited_against_the_cards_rule(client: TestClient, web: Web,
                                                    ehrs: tuple[Ehr, Ehr]) -> None:
    ehr, other = ehrs
    cards = _cards(client, ehr)
    feedback = {"feedback": [
        {"card": cards[0]["uuid"], "outcome": "overridden",
         "overrideReason": {"reason": {"code": "already-done",
                                       "system": "urn:myositis-cds:codes:override-reason"},
                            "userComment": "patient started azathioprine yesterday"},
         "outcomeTimestamp": "2026-11-21T08:00:00Z"},
        {"card": cards[-1]["uuid"], "outcome": "accepted",  # the plan card is the last
         "acceptedSuggestions": [{"id": cards[-1]["suggestions"][0]["uuid"]}],
         "outcomeTimestamp": "2026-11-21T08:01:00Z"},
        {"card": "00000000-0000-4000-8000-000000000000", "outcome": "overridden",
         "outcomeTimestamp": "2026-11-21T08:02:00Z"},
    ]}
    response = client.post(PATH + "/feedback", headers=ehr.auth(FEEDBACK_URL), json=feedback)
    assert (response.status_code, response.content) == (200, b"")
    events = [(e.actor, e.action, e.patient_key, e.detail) for e in web.audit()[1:]]
    assert events == [
        (EHR_ISS, "cds.feedback", "ex-incomplete-data",
         "anti-mi2-dm-plan card ALERT-DELAYED-IMMUNOSUPPRESSION: overridden, reason "
         "urn:myositis-cds:codes:override-reason|already-done, with a user comment (not kept)"),
        (EHR_ISS, "cds.feedback", "ex-incomplete-data",
         "anti-mi2-dm-plan card PLAN: accepted, 1 suggestion(s) accepted"),
        (EHR_ISS, "cds.feedback", None, "anti-mi2-dm-plan card unknown card: overridden"),
    ]
    # another client cannot learn or touch what a card was about
    client.post(PATH + "/feedback", headers=other.auth(FEEDBACK_URL),
                json={"feedback": [feedback["feedback"][0] | {"overrideReason": None}]})
    assert web.audit()[-1].patient_key is None
    assert "unknown card" in web.audit()[-1].detail


@pytest.mark.parametrize("body", [
    {"feedback": []},
    {"feedback": [{"card": "x", "outcome": "ignored", "outcomeTimestamp": "2026-11-21T08:00:00Z"}]},
    {"feedback": [{"card": "x", "outcome": "accepted"}]},
    {"feedback": [{"card": "x", "outcome": "accepted", "outcomeTimestamp": "yesterday"}]},
    {"items": []},
])
def test_bad_feedback_is_400_and_not_audited(client: TestClient, web: Web, ehrs: tuple[Ehr, Ehr],
                                             body: dict[str, Any]) -> None:
    response = client.post(PATH + "/feedback", headers=ehrs[0].auth(FEEDBACK_URL), json=body)
    assert response.status_code == 400
    assert response.json()["errors"]
    assert web.audit() == []


def test_cors_preflight_needs_no_token_and_allows_authorization(client: TestClient) -> None:
    response = client.options(PATH, headers={
        "Origin": "https://ehr-ui.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code == 204
    assert {k: response.headers[k] for k in (
        "access-control-allow-origin", "access-control-allow-methods",
        "access-control-allow-headers")} == {
        "access-control-allow-origin": "*", "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": "Authorization, Content-Type"}
    assert "access-control-allow-credentials" not in response.headers


def test_cors_headers_on_answers_and_refusals_but_not_elsewhere(client: TestClient,
                                                                ehrs: tuple[Ehr, Ehr]) -> None:
    origin = {"Origin": "https://ehr-ui.example.org"}
    refused = client.get("/cds-services", headers=origin)
    assert (refused.status_code, refused.headers["access-control-allow-origin"]) == (401, "*")
    cards = client.post(PATH, headers=origin | ehrs[0].auth(SERVICE_URL),
                        json=hook_call(*_non_severe()))
    assert cards.headers["access-control-allow-origin"] == "*"
    api = client.options("/api/v1/session", headers=origin | {
        "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in api.headers
    assert "access-control-allow-origin" not in client.get("/login", headers=origin).headers


def _non_severe() -> tuple[str, dict[str, Any]]:
    patient_id, resources = example_resources("non-severe")
    return patient_id, prefetch_of(resources)


def test_configured_origins_only(tmp_path: Path, ehrs: tuple[Ehr, Ehr]) -> None:
    config = write_config(tmp_path, ehrs[0], extra='cors_origins = ["https://ehr-ui.example.org"]')
    web = make_web(tmp_path, cds_hooks=config)
    try:
        with web.client() as client:
            preflight = {"Access-Control-Request-Method": "POST"}
            allowed = client.options(PATH, headers=preflight | {"Origin": "https://ehr-ui.example.org"})
            other = client.options(PATH, headers=preflight | {"Origin": "https://evil.example.org"})
    finally:
        web.close()
    assert allowed.headers["access-control-allow-origin"] == "https://ehr-ui.example.org"
    assert "Origin" in allowed.headers["vary"]
    assert other.status_code == 204
    assert "access-control-allow-origin" not in other.headers
