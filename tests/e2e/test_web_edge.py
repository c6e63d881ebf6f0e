"""The web application's edge (issue 13): what an attacker's bytes can and cannot reach.

Deep nesting and oversized bodies, records posted as JSON strings, strict UTF-8, NUL and lone
surrogates in paths, queries, JWT claims and CDS feedback, assessment dates out of range, request
bodies echoed in errors, HSTS — on SQLite and PostgreSQL where text reaches the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from myositis_cds.adapters.json_edge import MAX_DEPTH
from tests.conftest import load_example
from tests.e2e.cds_support import FEEDBACK_URL, SERVICE_URL, Ehr, write_config
from tests.e2e.web_support import Web, api_sign_in, make_web

RECORD = load_example("non-severe")
CDS_PATH = "/cds-services/anti-mi2-dm-plan"


def _web(tmp_path: Path, url: str | None, ehr: Ehr) -> Web:
    web = make_web(tmp_path, url=url, cds_hooks=write_config(tmp_path, ehr),
                   max_upload_bytes=256 * 1024)
    web.add_user("alice")
    web.add_user("ada", role="admin")
    return web


@pytest.fixture
def web(tmp_path: Path, ehr: Ehr) -> Iterator[Web]:
    """On SQLite: what these tests check happens before any database is used."""
    web = _web(tmp_path, None, ehr)
    yield web
    web.close()


@pytest.fixture
def stored_web(tmp_path: Path, database_url: str, ehr: Ehr) -> Iterator[Web]:
    """On SQLite and PostgreSQL: text that would reach the database."""
    web = _web(tmp_path, database_url, ehr)
    yield web
    web.close()


@pytest.fixture
def client(signed_in_client: TestClient) -> TestClient:
    """Every test of this module calls the API signed in (``signed_in_client``)."""
    return signed_in_client


def _nested(depth: int) -> bytes:
    body = dict(RECORD)
    text = json.dumps(body)[:-1] + ', "labs": ' + "[" * depth + "]" * depth + "}"
    return text.encode()


def test_deep_nesting_is_refused_before_parsing(client: TestClient) -> None:
    """Issue 13, item 4: depths 985–1023 gave 500 (RecursionError after orjson's own limit)."""
    for depth in (MAX_DEPTH + 1, 985, 1023, 100_000):
        for path in ("/api/v1/assess", "/api/v1/timeline", "/api/v1/patients"):
            response = client.post(path, content=_nested(depth),
                                   headers={"Content-Type": "application/json"})
            assert response.status_code in (400, 413), (path, response.text)
            if response.status_code == 400:
                assert f"nested more than {MAX_DEPTH} levels deep" in response.json()["detail"]


def test_nesting_within_the_limit_reaches_the_record_validator(client: TestClient) -> None:
    response = client.post("/api/v1/assess", content=_nested(MAX_DEPTH - 2),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"].startswith("$.labs")


def test_bodies_over_the_limit_are_413(client: TestClient) -> None:
    big = json.dumps(RECORD | {"padding": "x" * (300 * 1024)}).encode()
    response = client.post("/api/v1/assess", content=big,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_a_record_posted_as_a_json_string_is_refused(client: TestClient) -> None:
    for path in ("/api/v1/assess", "/api/v1/timeline", "/api/v1/patients"):
        response = client.post(path, json=json.dumps(RECORD))
        assert response.status_code == 422, path
        assert response.json()["errors"] == [{"path": "$", "value": "a string",
                                              "expected": "a JSON object (patient-record@1)"}]
    assert client.get("/api/v1/patients").json()["total"] == 0


def test_bodies_that_are_not_strict_utf8_are_refused(client: TestClient) -> None:
    for body in (b'{"id": "x\xed\xa0\x80y"}', b'{"id": "x\\ud800y"}', b'{"id": "x\xffy"}'):
        response = client.post("/api/v1/patients", content=body,
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith("$: got ")


def test_assessment_dates_outside_1900_to_today_are_422(web: Web, client: TestClient) -> None:
    """Issue 13, item 5: as_of=0001-01-01 gave 500 on four routes; as_of=0 meant 1970-01-01."""
    stored = web.store("non-severe")
    for as_of in ("0001-01-01", "0", "1899-12-31", "9999-12-31", "2026-11-22", "1700000000",
                  "2026-02-30"):
        responses = [client.post("/api/v1/assess", json=RECORD, params={"as_of": as_of}),
                     client.post("/api/v1/timeline", json=RECORD, params={"as_of": as_of}),
                     client.get(f"/api/v1/patients/{stored.id}/assessment",
                                params={"as_of": as_of}),
                     client.get(f"/patients/{stored.id}", params={"as_of": as_of}),
                     client.get(f"/patients/{stored.id}/print", params={"as_of": as_of}),
                     client.get(f"/patients/{stored.id}/figures/ck.svg", params={"as_of": as_of})]
        assert [r.status_code for r in responses] == [422] * 6, as_of
        assert "as_of" in responses[0].text
    assert client.post("/api/v1/assess", json=RECORD,
                       params={"as_of": "1900-01-01"}).status_code == 200


def test_audit_filter_dates_are_bounded(web: Web) -> None:
    with web.client() as admin:
        api_sign_in(admin, "ada")
        for until in ("0001-01-01", "9999-12-31", "0"):
            assert admin.get("/admin/audit", params={"until": until}).status_code == 422
            assert admin.get("/admin/audit.csv", params={"since": until}).status_code == 422
        assert admin.get("/admin/audit", params={"until": "2026-11-21"}).status_code == 200


def test_nul_in_paths_queries_and_headers_is_400_before_any_route(stored_web: Web) -> None:
    web = stored_web
    with web.client() as admin:
        csrf = api_sign_in(admin, "ada")
        assert admin.post("/admin/users/a%00b/disable",
                          data={"csrf_token": csrf}).status_code == 400
        assert admin.get("/api/v1/patients", params={"q": "a\x00b"}).status_code == 400
        assert admin.get("/admin/audit", params={"actor": "a\x00"}).status_code == 400
        assert admin.get("/api/v1/patients", headers={"X-Note": "a%00b"}).status_code == 400
    with web.uow() as work:
        assert [u.username for u in work.users.list()] == ["ada", "alice"]


def test_cds_feedback_and_jwt_claims_with_nul_or_surrogates_are_refused(
        stored_web: Web, ehr: Ehr, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with stored_web.client() as cds:
        body = {"feedback": [{"card": "c\u0000d", "outcome": "accepted",
                              "outcomeTimestamp": "2026-11-21T08:00:00Z"}]}
        response = cds.post(CDS_PATH + "/feedback", headers=ehr.auth(FEEDBACK_URL), json=body)
        assert response.status_code == 400
        assert "NUL" in response.json()["detail"]
        deep = b'{"hook": "patient-view", "context": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        response = cds.post(CDS_PATH, headers={**ehr.auth(SERVICE_URL),
                                               "Content-Type": "application/json"}, content=deep)
        assert response.status_code == 400
        assert "nested more than 64 levels deep" in response.json()["detail"]
        for jti in ("a\x00b", "a\ud800b"):
            response = cds.post(CDS_PATH, headers=ehr.auth(SERVICE_URL, jti=jti),
                                json={"hook": "patient-view"})
            assert (response.status_code, response.content) == (401, b"")
    assert "a\x00b" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_password_posted_as_text_is_never_echoed(web: Web) -> None:
    secret = "S3cret-" + "x" * 1100
    with web.client() as client:
        for content_type in ("text/plain", "application/json"):
            response = client.post("/api/v1/session", headers={"Content-Type": content_type},
                                   content=json.dumps({"username": "alice", "password": secret}))
            assert response.status_code == 422
            assert "S3cret" not in response.text
            assert all(e["value"] is None for e in response.json()["errors"])


def test_hsts_over_tls_or_behind_a_tls_proxy_only(web: Web, tmp_path: Path) -> None:
    with web.client() as plain:
        assert "strict-transport-security" not in plain.get("/login").headers
    with web.client(base_url="https://testserver") as tls:
        assert tls.get("/login").headers["strict-transport-security"] == "max-age=31536000"
    proxied = make_web(tmp_path, url=web.url, secure_cookies=True)
    try:
        with proxied.client() as client:
            assert client.get("/login").headers["strict-transport-security"] == "max-age=31536000"
    finally:
        proxied.close()
