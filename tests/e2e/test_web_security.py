"""Security of the web application: authentication, CSRF, rate limiting, headers, roles, faults."""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from myositis_cds.adapters.storage.web_sessions import SessionLimitError
from myositis_cds.entrypoints.web import WebSettings, create_app
from myositis_cds.entrypoints.web.clinical import svg_with_attributes
from myositis_cds.entrypoints.web.sessions import SqlSessionStore
from myositis_cds.services import users
from tests.conftest import load_example
from tests.e2e.web_support import ADMIN, PASSWORD, Web, api_sign_in, make_web, page_sign_in

REQUIRED_CSP = ("default-src 'self'", "script-src 'self'", "object-src 'none'",
                "frame-ancestors 'none'", "base-uri 'none'")
API_PATIENT_ROUTES = [
    ("GET", "/api/v1/patients"), ("POST", "/api/v1/patients"), ("GET", "/api/v1/patients/1"),
    ("PUT", "/api/v1/patients/1"), ("DELETE", "/api/v1/patients/1"),
    ("GET", "/api/v1/patients/1/assessment"), ("POST", "/api/v1/assess"),
    ("POST", "/api/v1/timeline"), ("GET", "/api/v1/session"), ("DELETE", "/api/v1/session"),
]
PAGE_ROUTES = [("GET", "/patients"), ("GET", "/patients/1"), ("GET", "/patients/1/export"),
               ("GET", "/patients/import"), ("GET", "/cohort"), ("POST", "/patients/import"),
               ("POST", "/patients/1/replace"), ("POST", "/patients/1/delete"), ("POST", "/logout")]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    web = make_web(tmp_path)
    web.add_user("alice")
    web.add_user("rita", role="researcher")
    yield web
    web.close()


@pytest.mark.parametrize(("method", "path"), API_PATIENT_ROUTES)
def test_every_api_route_needs_a_session(web: Web, method: str, path: str) -> None:
    stored = web.store("non-severe")
    with web.client() as client:
        response = client.request(method, path.replace("/1", f"/{stored.id}"),
                                  json=load_example("non-severe"), headers={"If-Match": '"1"'})
    assert response.status_code == 401
    assert "sign in" in response.json()["detail"]
    assert "ex-non-severe" not in response.text


@pytest.mark.parametrize(("method", "path"), PAGE_ROUTES)
def test_every_page_sends_the_unauthenticated_to_sign_in(web: Web, method: str, path: str) -> None:
    web.store("non-severe")
    with web.client() as client:
        response = client.request(method, path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in API_PATIENT_ROUTES if m != "GET"])
@pytest.mark.parametrize("token", [None, "forged"])
def test_state_changing_api_calls_need_the_sessions_csrf_token(web: Web, method: str, path: str,
                                                               token: str | None) -> None:
    stored = web.store("non-severe")
    with web.client() as client:
        api_sign_in(client, "alice")
        headers = {"If-Match": '"1"', **({"X-CSRF-Token": token} if token else {})}
        response = client.request(method, path.replace("/1", f"/{stored.id}"),
                                  json=load_example("juvenile"), headers=headers)
        assert response.status_code == 403
        assert "X-CSRF-Token" in response.json()["detail"]
        assert client.get(f"/api/v1/patients/{stored.id}").json()["version"] == 1
        assert client.get("/api/v1/patients").json()["total"] == 1


def test_forms_need_the_sessions_csrf_token(web: Web) -> None:
    stored = web.store("non-severe")
    with web.client() as client:
        page_sign_in(client, "alice")
        for data in ({"version": "1"}, {"version": "1", "csrf_token": "forged"}):
            response = client.post(f"/patients/{stored.id}/delete", data=data)
            assert response.status_code == 403
            assert "anti-forgery token" in response.text
        assert client.post("/logout", data={}).status_code == 403
        assert client.get("/patients").status_code == 200  # still signed in
        assert client.get(f"/api/v1/patients/{stored.id}").status_code == 200


def test_the_sign_in_form_refuses_a_forged_post(web: Web) -> None:
    with web.client() as client:
        response = client.post("/login", data={"username": "alice", "password": PASSWORD},
                               follow_redirects=False)
        assert response.status_code == 403
        assert "myositis_session" not in client.cookies


def test_sign_in_is_limited_per_client_address(web: Web) -> None:
    with web.client() as client:
        for n in range(5):
            response = client.post("/api/v1/session", json={"username": f"guess{n}",
                                                            "password": "wrong"})
            assert response.status_code == 401
        blocked = client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
        assert "try again" in blocked.json()["detail"]
    with web.client(client=("203.0.113.9", 1234)) as other:  # another address is not blocked
        assert other.post("/api/v1/session", json={"username": "alice",
                                                   "password": PASSWORD}).status_code == 200


def test_sign_in_is_limited_per_username_across_addresses(web: Web) -> None:
    for n in range(5):
        with web.client(client=(f"198.51.100.{n}", 1000)) as client:
            assert client.post("/api/v1/session", json={"username": "alice",
                                                        "password": "wrong"}).status_code == 401
    with web.client(client=("198.51.100.77", 1000)) as client:
        page = client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text)
        assert token is not None
        response = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                                "login_token": token.group(1)})
        assert response.status_code == 429
        assert response.headers["retry-after"]
        assert "text/html" in response.headers["content-type"]


def test_sessions_end_after_their_lifetime_and_idle_time(web: Web) -> None:
    start = 1_800_000_000.0
    now = [start]
    store = SqlSessionStore(web.uow.engine, lifetime=100, idle=30, max_sessions=2,
                            clock=lambda: now[0])
    token, _ = store.create("a")
    now[0] = start + 29
    assert store.get(token) is not None
    now[0] = start + 58
    assert store.get(token) is not None  # used at 29: idle time restarted
    now[0] = start + 100
    assert store.get(token) is None  # lifetime over
    assert len(store) == 0  # and the row is gone


def test_one_account_cannot_sign_anyone_else_out(web: Web) -> None:
    """Issue 13, item 11: at the session limit a sign-in ended the oldest sessions of *others*."""
    now = [1_800_000_000.0]
    store = SqlSessionStore(web.uow.engine, lifetime=3600, idle=600, max_sessions=4,
                            max_per_user=2, clock=lambda: now[0])
    others = [store.create(name)[0] for name in ("bob", "carol")]
    mallory = []
    for _ in range(10):  # one account signing in again and again
        now[0] += 1
        mallory.append(store.create("mallory")[0])
    assert all(store.get(token) is not None for token in others)
    assert [store.get(token) is not None for token in mallory] == [False] * 8 + [True] * 2
    assert len(store) == 4
    with pytest.raises(SessionLimitError, match="maximum of 4 sessions"):
        store.create("dave")  # full: refused, nobody signed out
    assert all(store.get(token) is not None for token in [*others, *mallory[-2:]])
    now[0] += 601  # idle sessions end and make room
    assert store.create("dave")[0]
    assert len(store) == 1


def test_signing_in_beyond_the_per_user_limit_ends_only_your_oldest(tmp_path: Path) -> None:
    web = make_web(tmp_path, max_sessions_per_user=2)
    web.add_user("alice")
    web.add_user("bob")
    try:
        with web.client() as bob, contextlib.ExitStack() as stack:
            api_sign_in(bob, "bob")
            alices = [stack.enter_context(web.client()) for _ in range(3)]
            for client in alices:
                api_sign_in(client, "alice")
            assert [c.get("/api/v1/session").status_code for c in alices] == [401, 200, 200]
            assert bob.get("/api/v1/session").status_code == 200
    finally:
        web.close()


def test_a_disabled_account_is_signed_out_at_its_next_request(web: Web) -> None:
    with web.client() as client:
        api_sign_in(client, "alice")
        users.disable_user(web.uow, ADMIN, "alice")
        assert client.get("/api/v1/patients").status_code == 401


def test_cookies_are_secure_over_https_or_when_configured(web: Web, tmp_path: Path) -> None:
    with web.client(base_url="https://testserver") as client:
        client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
        assert "Secure" in client.get("/login").headers["set-cookie"]
    app = create_app(WebSettings(database_url=web.url, secure_cookies=True))
    with TestClient(app) as client:
        response = client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
        assert "Secure" in response.headers["set-cookie"]
        assert "HttpOnly" in response.headers["set-cookie"]


def _check_headers(response_headers: dict[str, str], path: str) -> None:
    csp = response_headers["content-security-policy"]
    for directive in REQUIRED_CSP:
        assert directive in csp, (path, csp)
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response_headers["x-content-type-options"] == "nosniff"
    assert response_headers["referrer-policy"] == "no-referrer"
    assert response_headers["x-frame-options"] == "DENY"


def test_security_headers_on_every_response_and_no_store_on_patient_data(web: Web) -> None:
    stored = web.store("drug-free-remission")
    with web.client() as anonymous:
        responses = {path: anonymous.get(path, follow_redirects=False) for path in
                     ("/", "/login", "/static/app.css", "/static/report.css", "/api/v1/openapi.json",
                      "/nowhere", "/api/v1/patients", "/patients")}
        responses["POST /api/v1/session"] = anonymous.post("/api/v1/session", json={"username": "x"})
    with web.client() as client:
        csrf = api_sign_in(client, "alice")
        for path in ("/patients", f"/patients/{stored.id}", f"/patients/{stored.id}/export",
                     f"/api/v1/patients/{stored.id}", f"/api/v1/patients/{stored.id}/assessment",
                     "/api/v1/patients", "/patients/import", "/cohort"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["cache-control"] == "no-store", path
            responses[path] = response
        responses["POST /api/v1/assess"] = client.post("/api/v1/assess", json=load_example("juvenile"),
                                                      headers={"X-CSRF-Token": csrf})
        responses["422"] = client.post("/api/v1/assess", json={}, headers={"X-CSRF-Token": csrf})
        responses["413"] = client.post("/api/v1/assess", content=b"x" * (6 * 1024 * 1024),
                                       headers={"X-CSRF-Token": csrf,
                                                "Content-Type": "application/json"})
    assert responses["413"].status_code == 413
    for path, response in responses.items():
        _check_headers(dict(response.headers), path)


def test_pages_have_no_inline_script_or_style(web: Web) -> None:
    stored = web.store("refractory-3-months")
    with web.client() as client:
        page_sign_in(client, "alice")
        for path in ("/login", "/patients", f"/patients/{stored.id}", "/patients/import", "/cohort"):
            html = client.get(path).text
            assert "<script" not in html.lower(), path
            assert not re.search(r"\son[a-z]+\s*=", html), path
            assert not re.search(r"\sstyle\s*=", html), path
            assert "<style" not in html.lower(), path
            assert "javascript:" not in html.lower(), path


def test_svg_styles_become_presentation_attributes() -> None:
    svg = ('<svg style="max-width:100%;height:auto" height="10pt"><defs><style type="text/css">'
           "*{stroke-linejoin: round; stroke-linecap: butt}</style></defs>"
           '<path d="M 0 0" style="fill: #ffffff; stroke: url(#a); stroke-width: 0.8"/>'
           '<g fill="red" style="fill: blue; opacity: 0.5"></g></svg>')
    out = svg_with_attributes(svg)
    assert out == ('<svg height="10pt" stroke-linejoin="round" stroke-linecap="butt"><defs></defs>'
                   '<path d="M 0 0" fill="#ffffff" stroke="url(#a)" stroke-width="0.8"/>'
                   '<g fill="red" opacity="0.5"></g></svg>')


def test_researchers_get_403_on_identifiable_routes_and_see_only_counts(web: Web) -> None:
    stored = web.store("non-severe")
    web.store("juvenile")
    with web.client() as client:
        csrf = api_sign_in(client, "rita")
        client.headers["X-CSRF-Token"] = csrf
        for method, path in [("GET", "/api/v1/patients"), ("GET", f"/api/v1/patients/{stored.id}"),
                             ("GET", f"/api/v1/patients/{stored.id}/assessment"),
                             ("POST", "/api/v1/patients")]:
            response = client.request(method, path, json=load_example("severe-ild"))
            assert response.status_code == 403, path
            assert "researcher" in response.json()["detail"]
        for path in ("/patients", f"/patients/{stored.id}", f"/patients/{stored.id}/export"):
            response = client.get(path)
            assert response.status_code == 403, path
            assert "ex-non-severe" not in response.text
        assert client.get("/", follow_redirects=False).headers["location"] == "/cohort"
        cohort = client.get("/cohort")
        assert cohort.status_code == 200
        assert "2 stored patients" in cohort.text
        assert "ex-" not in cohort.text
        assert not re.search(r"\d{4}-\d{2}-\d{2}", cohort.text)
    denied = [e for e in web.audit() if e.action == "access.denied"]
    assert len(denied) == 7
    assert {e.actor for e in denied} == {"rita"}


def test_an_unreachable_database_is_503_without_a_traceback(tmp_path: Path) -> None:
    # PostgreSQL on a loopback port where nothing listens.
    app = create_app(WebSettings(database_url="postgresql+psycopg://u:p@127.0.0.1:9/none"))
    with TestClient(app) as client:
        api = client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
        assert api.status_code == 503
        assert "database is unavailable" in api.json()["detail"]
        page = client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text)
        assert token is not None
        html = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                           "login_token": token.group(1)})
        assert html.status_code == 503
        assert "text/html" in html.headers["content-type"]
        assert "database is unavailable" in html.text
        for response in (api, html):
            assert "Traceback" not in response.text
            assert "psycopg" not in response.text
            assert "127.0.0.1" not in response.text
            _check_headers(dict(response.headers), "503")
    # A SQLite "file" that is a directory cannot be opened.
    folder = tmp_path / "not-a-file.sqlite3"
    folder.mkdir()
    with TestClient(create_app(WebSettings(database_url=f"sqlite:///{folder}"))) as client:
        response = client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 503
        assert response.headers["retry-after"]


def test_a_database_lost_while_signed_in_is_503_for_api_and_pages(web: Web, tmp_path: Path) -> None:
    stored = web.store("non-severe")
    with web.client() as client:
        api_sign_in(client, "alice")
        web.uow.dispose()
        connection = sqlite3.connect(tmp_path / "web.sqlite3")
        connection.execute("DROP TABLE patients")
        connection.commit()
        connection.close()
        api = client.get("/api/v1/patients")
        assert api.status_code == 503
        assert api.json()["detail"].startswith("the database is unavailable")
        page = client.get(f"/patients/{stored.id}")
        assert page.status_code == 503
        assert "<h1>Service unavailable</h1>" in page.text
        assert "Traceback" not in api.text + page.text
        assert "DROP" not in page.text


def test_logs_name_routes_users_and_statuses_but_no_patient_data(web: Web,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with web.client() as client:
        client.headers["X-CSRF-Token"] = api_sign_in(client, "alice")
        created = client.post("/api/v1/patients", json=load_example("tif1-gamma-copositive")).json()
        patient_id = created["id"]
        client.get(f"/api/v1/patients/{patient_id}")
        client.get(f"/api/v1/patients/{patient_id}/assessment", params={"as_of": "2026-11-01"})
        client.get("/api/v1/patients", params={"q": "tif1-gamma"})
        client.get(f"/patients/{patient_id}")
        client.post("/api/v1/patients", json={**load_example("juvenile"), "sex": "secret-value"})
    # Everything the server side logged (the test client's own request log is not the application's).
    text = "\n".join(record.getMessage() for record in caplog.records
                     if not record.name.startswith("httpx"))
    assert "GET /api/v1/patients/{patient_id} 200" in text
    assert "POST /api/v1/patients 201" in text
    assert "POST /api/v1/patients 422" in text
    assert "user=alice" in text
    for leaked in ("ex-tif1-gamma-copositive", "tif1-gamma", "ex-juvenile", "secret-value",
                   "2026-11-01", f"/patients/{patient_id}", "1992-", PASSWORD):
        assert leaked not in text, leaked
