"""Administration pages: users (list, add, disable) and the audit log (filters, pages, CSV)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from tests.e2e.web_support import PASSWORD, Web, api_sign_in, hidden_value, page_sign_in


@pytest.fixture
def web(staff_web: Web) -> Web:
    """The app with ``ada`` (administrator) and ``alice`` (clinician): see ``conftest.py``."""
    return staff_web


def test_admin_adds_and_disables_users(web: Web, admin: TestClient) -> None:
    page = admin.get("/admin/users")
    assert page.status_code == 200
    assert "<td>alice</td>" in page.text
    csrf = hidden_value(page.text, "csrf_token")
    short = admin.post("/admin/users", data={"csrf_token": csrf, "username": "carol",
                                             "role": "researcher", "password": "too short"})
    assert short.status_code == 422
    assert "at least 12" in short.text
    assert 'value="carol"' in short.text
    assert "too short" not in short.text  # the password is never echoed
    assert '<option value="researcher" selected>' in short.text
    added = admin.post("/admin/users", data={"csrf_token": csrf, "username": "carol",
                                             "role": "researcher",
                                             "password": "a long enough passphrase"})
    assert added.status_code == 200
    assert "Added carol (researcher)" in added.text
    assert "a long enough passphrase" not in added.text
    again = admin.post("/admin/users", data={"csrf_token": csrf, "username": "carol",
                                             "role": "clinician",
                                             "password": "a long enough passphrase"})
    assert again.status_code == 409
    assert "already exists" in again.text
    listing = admin.get("/admin/users").text
    assert re.search(r"<td>carol</td>.*?<option value=\"researcher\" selected>.*?"
                     r"<td>active, temporary password</td>", listing, re.DOTALL)
    with web.client() as carol:
        page_sign_in(carol, "carol", "a long enough passphrase")
    disabled = admin.post("/admin/users/carol/disable", data={"csrf_token": csrf})
    assert disabled.status_code == 200
    assert "Disabled carol" in disabled.text
    listing = admin.get("/admin/users").text
    assert re.search(r"<td>carol</td>.*?<td><span class=\"muted\">disabled", listing, re.DOTALL)
    assert admin.post("/admin/users/carol/disable", data={}).status_code == 403  # no CSRF token
    assert admin.post("/admin/users/nobody/disable", data={"csrf_token": csrf}).status_code == 404
    actions = [(e.actor, e.action) for e in web.audit()]
    assert ("ada", "user.add") in actions
    assert ("ada", "user.disable") in actions


def test_audit_view_filters_and_pages(web: Web, admin: TestClient) -> None:
    stored = web.store("non-severe")
    with web.client() as alice:
        page_sign_in(alice, "alice")
        for _ in range(55):
            assert alice.get(f"/api/v1/patients/{stored.id}").status_code == 200
        assert alice.get("/admin/users").status_code == 403
    everything = admin.get("/admin/audit")
    assert everything.status_code == 200
    assert everything.text.count("<tr><td>") == 50
    assert "offset=50" in everything.text
    older = admin.get("/admin/audit", params={"offset": 50})
    assert older.text.count("<tr><td>") >= 8
    reads = admin.get("/admin/audit", params={"actor": "alice", "action": "patient.read",
                                              "patient_key": "ex-non-severe",
                                              "since": "2020-01-01", "until": "2099-12-31"})
    rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>",
                      reads.text)
    assert len(rows) == 50
    assert set(rows) == {("alice", "patient.read", "ex-non-severe")}
    assert '<option value="patient.read" selected>' in reads.text
    denied = admin.get("/admin/audit", params={"action": "access.denied"})
    assert re.findall(r"<td>alice</td><td>access.denied</td>", denied.text)
    none = admin.get("/admin/audit", params={"until": "2000-01-01"})
    assert "No audit event matches" in none.text
    assert admin.get("/admin/audit", params={"since": "not a date"}).status_code == 422
    assert admin.get("/admin/audit", params={"action": "patient.eat"}).status_code == 422


def test_audit_csv_export(web: Web, admin: TestClient) -> None:
    stored = web.store("juvenile")
    with web.client() as alice:
        page_sign_in(alice, "alice")
        alice.get(f"/patients/{stored.id}")
    response = admin.get("/admin/audit.csv", params={"actor": "alice"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="audit-log.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["at", "actor", "action", "patient_key", "detail"]
    assert [r[1:4] for r in rows[1:]] == [["alice", "auth.login", ""],
                                         ["alice", "patient.read", "ex-juvenile"]]
    assert ("ada", "audit.export") in [(e.actor, e.action) for e in web.audit()]


def test_clinician_is_refused_every_admin_page(web: Web) -> None:
    with web.client() as alice:
        csrf = page_sign_in(alice, "alice")
        assert alice.get("/admin/users").status_code == 403
        assert alice.get("/admin/audit").status_code == 403
        assert alice.get("/admin/audit.csv").status_code == 403
        assert alice.post("/admin/users", data={"csrf_token": csrf, "username": "eve",
                                                "role": "admin",
                                                "password": "a long enough passphrase"}
                          ).status_code == 403
        assert alice.post("/admin/users/ada/disable", data={"csrf_token": csrf}).status_code == 403
    with web.uow() as work:
        assert work.users.get("eve") is None
        ada = work.users.get("ada")
        assert ada is not None
        assert ada.active
    with web.client() as anonymous:
        assert anonymous.get("/admin/users", follow_redirects=False).status_code == 303


def test_an_admin_unlocks_a_user_held_back_by_failed_sign_ins(web: Web, admin: TestClient) -> None:
    """Issue 13, item 13: wrong passwords must not lock the owner out; an admin ends the delay."""
    for n in range(6):
        with web.client(client=(f"198.51.100.{n}", 1000)) as guesser:
            guesser.post("/api/v1/session", json={"username": "alice", "password": "wrong"})
    with web.client(client=("203.0.113.1", 1000)) as owner:
        assert owner.post("/api/v1/session", json={"username": "alice",
                                                   "password": PASSWORD}).status_code == 429
        page = admin.get("/admin/users")
        assert 'action="/admin/users/alice/unlock"' in page.text
        csrf = hidden_value(page.text, "csrf_token")
        response = admin.post("/admin/users/alice/unlock", data={"csrf_token": csrf})
        assert response.status_code == 200
        assert "Unlocked alice: 5 failed sign-in(s) forgotten." in response.text
        assert owner.post("/api/v1/session", json={"username": "alice",
                                                   "password": PASSWORD}).status_code == 200
    events = [(e.actor, e.action, e.detail) for e in web.audit()]
    assert ("ada", "user.unlock", "alice: 5 failed sign-in(s) cleared") in events
    with web.client() as clinician:
        csrf = api_sign_in(clinician, "alice")
        assert clinician.post("/admin/users/ada/unlock",
                              data={"csrf_token": csrf}).status_code == 403
