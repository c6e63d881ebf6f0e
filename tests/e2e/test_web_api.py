"""The JSON API as an integrator uses it: sessions, assess, timeline, stored patients with versions.

Every test here runs on SQLite and on PostgreSQL (a fresh, migrated database each; see
:mod:`tests.postgres`).
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from myositis_cds.entrypoints.cli import main
from myositis_cds.entrypoints.cli.serve import DEMO_USERNAME, SERVE_ACTOR, prepare_database
from myositis_cds.entrypoints.web import WebSettings, create_app
from myositis_cds.services import users
from tests.conftest import ROOT, TODAY, load_example
from tests.e2e.web_support import PASSWORD, Web, make_web
from tests.postgres import BACKENDS, database_url_on

AS_OF = "2026-11-20"


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on each backend."""
    yield from database_url_on(request.param, request, tmp_path, migrated=False)


@pytest.fixture
def web(tmp_path: Path, database_url: str) -> Iterator[Web]:
    web = make_web(tmp_path, url=database_url)
    web.add_user("alice")
    yield web
    web.close()


@pytest.fixture
def client(signed_in_client: TestClient) -> TestClient:
    """Every test of this module calls the API signed in (``signed_in_client``)."""
    return signed_in_client


def test_session_cookie_is_http_only_and_same_site_and_ends_on_sign_out(web: Web) -> None:
    with web.client() as client:
        response = client.post("/api/v1/session", json={"username": "alice", "password":
                                                        "correct horse battery staple"})
        assert response.status_code == 200
        cookie = response.headers["set-cookie"]
        assert "myositis_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain HTTP and secure_cookies off
        token = client.cookies["myositis_session"]
        info = client.get("/api/v1/session").json()
        assert info["username"] == "alice"
        assert info["role"] == "clinician"
        assert client.delete("/api/v1/session",
                             headers={"X-CSRF-Token": info["csrf_token"]}).status_code == 204
        assert client.get("/api/v1/session").status_code == 401
        # The old cookie is worthless once signed out (server-side session ended).
        client.cookies.set("myositis_session", token)
        assert client.get("/api/v1/patients").status_code == 401


def test_wrong_password_is_401_without_saying_why(web: Web) -> None:
    with web.client() as client:
        response = client.post("/api/v1/session", json={"username": "alice", "password": "nope"})
        assert response.status_code == 401
        assert "unknown username, wrong password or disabled account" in response.json()["detail"]
        assert [e.action for e in web.audit()][-1] == "auth.failed"


@pytest.mark.parametrize("name", ["non-severe", "refractory-3-months", "juvenile"])
def test_assess_equals_the_command_lines_json(client: TestClient, name: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "examples" / f"{name}.json"
    assert main(["assess", str(path), "--as-of", AS_OF, "--format", "json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    response = client.post(f"/api/v1/assess?as_of={AS_OF}", json=load_example(name))
    assert response.status_code == 200
    assert response.json() == expected
    assert response.headers["cache-control"] == "no-store"


def test_timeline_equals_the_command_lines_json(client: TestClient,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "examples" / "drug-free-remission.json"
    assert main(["timeline", str(path), "--as-of", AS_OF, "--format", "json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    response = client.post(f"/api/v1/timeline?as_of={AS_OF}", json=load_example("drug-free-remission"))
    assert response.status_code == 200
    assert response.json() == expected


def test_assess_defaults_to_today_and_refuses_a_future_date(client: TestClient) -> None:
    response = client.post("/api/v1/assess", json=load_example("non-severe"))
    assert response.json()["as_of"] == TODAY.isoformat()
    response = client.post("/api/v1/assess?as_of=2030-01-01", json=load_example("non-severe"))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"path": "as_of", "value": "2030-01-01",
                                          "expected": f"a date from 1900-01-01 to today ({TODAY})"}]
    response = client.post("/api/v1/assess?as_of=yesterday", json=load_example("non-severe"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "query.as_of"


def test_a_bad_record_is_422_with_path_value_expected_and_nothing_is_stored(client: TestClient,
                                                                            web: Web) -> None:
    record = load_example("non-severe")
    record["labs"][0]["value"] = -5
    record["sex"] = "unknown-sex"
    response = client.post("/api/v1/patients", json=record)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {"path": "$.labs[0].value", "value": -5,
            "expected": "greater than or equal to 0"} in errors
    assert any(e["path"] == "$.sex" and e["value"] == "unknown-sex" for e in errors)
    assert all(set(e) == {"path", "value", "expected"} for e in errors)
    assert client.get("/api/v1/patients").json()["total"] == 0
    assert not [e for e in web.audit() if e.action == "patient.create"]
    assess = client.post("/api/v1/assess", json=record)
    assert assess.status_code == 422
    assert assess.json()["errors"] == errors


@pytest.mark.parametrize(("content", "content_type", "status"), [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 422),
    (b"{}", "text/plain", 415),
])
def test_malformed_bodies_are_4xx_with_a_message(client: TestClient, content: bytes,
                                                 content_type: str, status: int) -> None:
    response = client.post("/api/v1/patients", content=content,
                           headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.json()["detail"]


def test_crud_with_versions_refuses_a_stale_edit_and_overwrites_nothing(client: TestClient,
                                                                        web: Web) -> None:
    record = load_example("non-severe")
    created = client.post("/api/v1/patients", json=record)
    assert created.status_code == 201
    patient_id = created.json()["id"]
    assert created.headers["location"] == f"/api/v1/patients/{patient_id}"
    assert created.headers["etag"] == '"1"'
    assert client.post("/api/v1/patients", json=record).status_code == 409  # the id is taken

    read = client.get(f"/api/v1/patients/{patient_id}")
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json()["record"] == record

    first_edit = copy.deepcopy(record)
    first_edit["body_measurements"][-1]["weight_kg"] = 67.0
    assert client.put(f"/api/v1/patients/{patient_id}", json=first_edit).status_code == 428
    assert client.put(f"/api/v1/patients/{patient_id}", json=first_edit,
                      headers={"If-Match": "latest"}).status_code == 400
    updated = client.put(f"/api/v1/patients/{patient_id}", json=first_edit,
                         headers={"If-Match": '"1"'})
    assert updated.status_code == 200
    assert updated.headers["etag"] == '"2"'

    second_edit = copy.deepcopy(record)
    second_edit["body_measurements"][-1]["weight_kg"] = 50.0
    stale = client.put(f"/api/v1/patients/{patient_id}", json=second_edit,
                       headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    body = stale.json()
    assert body["current_version"] == 2
    assert body["your_version"] == 1
    assert "version 2" in body["detail"]
    assert "based on 1" in body["detail"]
    kept = client.get(f"/api/v1/patients/{patient_id}").json()
    assert kept["version"] == 2
    assert kept["record"] == first_edit

    assert client.delete(f"/api/v1/patients/{patient_id}").status_code == 428
    assert client.delete(f"/api/v1/patients/{patient_id}",
                         headers={"If-Match": '"1"'}).status_code == 409
    assert client.delete(f"/api/v1/patients/{patient_id}",
                         headers={"If-Match": '"2"'}).status_code == 204
    gone = client.get(f"/api/v1/patients/{patient_id}")
    assert gone.status_code == 404
    assert "reload the patient list" in gone.json()["detail"]


def test_list_search_paging_and_stored_assessment(client: TestClient, web: Web) -> None:
    for name in ("non-severe", "juvenile", "severe-ild"):
        web.store(name)
    listing = client.get("/api/v1/patients", params={"q": "SEVERE", "limit": 1})
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 2
    assert [p["patient_key"] for p in body["patients"]] == ["ex-non-severe"]
    assert "record" not in body["patients"][0]
    assert client.get("/api/v1/patients", params={"limit": 0}).status_code == 422
    patient_id = body["patients"][0]["id"]
    stored = client.get(f"/api/v1/patients/{patient_id}/assessment", params={"as_of": AS_OF})
    posted = client.post(f"/api/v1/assess?as_of={AS_OF}", json=load_example("non-severe"))
    assert stored.status_code == 200
    assert stored.json() == posted.json()


def test_search_is_case_insensitive_and_takes_like_wildcards_literally(client: TestClient,
                                                                       web: Web) -> None:
    for name in ("non-severe", "juvenile", "severe-ild"):
        web.store(name)

    def keys(q: str) -> list[str]:
        response = client.get("/api/v1/patients", params={"q": q})
        assert response.status_code == 200, response.text
        assert response.json()["total"] == len(response.json()["patients"])
        return [p["patient_key"] for p in response.json()["patients"]]

    assert keys("Ex-SeVeRe") == ["ex-severe-ild"]
    assert keys("-SEVERE") == ["ex-non-severe", "ex-severe-ild"]
    for wildcard in ("%", "_", "ex%severe", "ex_severe", "/", "\\"):
        assert keys(wildcard) == [], wildcard
    nul = client.get("/api/v1/patients", params={"q": "ex\x00"})
    assert nul.status_code == 400  # refused before any route (issue 13, item 10)
    assert "NUL" in nul.json()["detail"]


def test_a_database_lost_while_signed_in_is_503_without_details(client: TestClient, web: Web,
                                                                database_url: str,
                                                                request: pytest.FixtureRequest) -> None:
    web.store("non-severe")
    assert client.get("/api/v1/patients").json()["total"] == 1
    web.close()
    name = make_url(database_url).database
    assert name
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(name)
        connection.execute("DROP TABLE patients")
        connection.commit()
        connection.close()
    else:  # the whole database goes; the app's pooled connections are terminated
        request.getfixturevalue("postgres_server").drop_database(name)
    response = client.get("/api/v1/patients")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the database is unavailable")
    assert response.headers["retry-after"]
    for leak in ("Traceback", "psycopg", "sqlite", "127.0.0.1", name):
        assert leak not in response.text


def test_a_database_without_migrations_is_503(empty_database_url: str) -> None:
    with TestClient(create_app(WebSettings(database_url=empty_database_url))) as client:
        response = client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 503
        assert response.json()["detail"].startswith("the database is unavailable")
        assert "Traceback" not in response.text


def test_reads_and_writes_are_audited_with_who_what_and_which_patient(client: TestClient,
                                                                      web: Web) -> None:
    created = client.post("/api/v1/patients", json=load_example("juvenile")).json()
    patient_id = created["id"]
    client.get(f"/api/v1/patients/{patient_id}")
    client.get(f"/api/v1/patients/{patient_id}/assessment")
    client.get("/api/v1/patients")
    client.put(f"/api/v1/patients/{patient_id}", json=load_example("juvenile"),
               headers={"If-Match": '"1"'})
    client.delete(f"/api/v1/patients/{patient_id}", headers={"If-Match": '"2"'})
    events = [(e.actor, e.action, e.patient_key) for e in web.audit() if e.actor == "alice"]
    assert events == [
        ("alice", "auth.login", None),
        ("alice", "patient.create", "ex-juvenile"),
        ("alice", "patient.read", "ex-juvenile"),
        ("alice", "patient.read", "ex-juvenile"),
        ("alice", "patient.list", None),
        ("alice", "patient.update", "ex-juvenile"),
        ("alice", "patient.delete", "ex-juvenile"),
    ]


def test_openapi_documents_every_api_route_with_the_record_schema(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    assert set(paths) == {"/api/v1/session", "/api/v1/account/password", "/api/v1/assess",
                          "/api/v1/timeline",
                          "/api/v1/patients", "/api/v1/patients/{patient_id}",
                          "/api/v1/patients/{patient_id}/assessment"}
    body = paths["/api/v1/assess"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PatientRecord"}
    text = json.dumps(document)
    assert "#/$defs/" not in text
    schemas = document["components"]["schemas"]
    for ref in {r.split('"')[0] for r in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in schemas
    assert {"session", "csrf"} <= set(document["components"]["securitySchemes"])


def test_serve_migrates_seeds_once_as_a_system_actor_and_creates_one_demo_user(
        empty_database_url: str) -> None:
    url = empty_database_url
    first = prepare_database(url, seed_examples=True)
    examples = len(list((ROOT / "examples").glob("*.json")))
    assert f"seeded {examples} example patient(s) (0 already stored)" in first
    assert any("temporary password" in line for line in first)
    second = prepare_database(url, seed_examples=True)
    assert f"seeded 0 example patient(s) ({examples} already stored)" in second
    assert not any("created the clinician" in line for line in second)
    from myositis_cds import bootstrap  # noqa: PLC0415

    database = bootstrap.make_unit_of_work(url)
    try:
        assert [u.username for u in users.list_users(database, SERVE_ACTOR)] == [DEMO_USERNAME]
        with database() as work:
            creates = [e for e in work.audit.export() if e.action == "patient.create"]
        assert len(creates) == examples
        assert {e.actor for e in creates} == {SERVE_ACTOR.username}
    finally:
        database.dispose()
