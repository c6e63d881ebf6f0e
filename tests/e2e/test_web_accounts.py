"""Accounts as people use them: a temporary password must be replaced at the first sign-in, the
change-password page, and the administrator's enable, reset and role change — all audited."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from myositis_cds import bootstrap
from myositis_cds.entrypoints.cli.serve import DEMO_USERNAME, prepare_database
from myositis_cds.services import users
from tests.e2e.web_support import ADMIN, PASSWORD, Web, hidden_value, make_web, page_sign_in


@pytest.fixture
def web(staff_web: Web) -> Web:
    """The app with ``ada`` (administrator) and ``alice`` (clinician): see ``conftest.py``."""
    return staff_web


NEW_PASSWORD = "a brand new passphrase of mine"


def _submit_sign_in(client: TestClient, username: str, password: str) -> tuple[int, str]:
    """Submit the sign-in form: the status and where it redirects."""
    form = client.get("/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "login_token": hidden_value(form.text, "login_token")},
                           follow_redirects=False)
    return response.status_code, response.headers.get("location", "")


def _sign_in(client: TestClient, username: str, password: str) -> str:
    """Submit the sign-in form; returns where it redirects."""
    status, location = _submit_sign_in(client, username, password)
    assert status == 303
    return location


def _actions(web: Web) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.detail) for e in web.audit()]


def _issued_password(html: str) -> str:
    match = re.search(r'<code class="secret">([^<]+)</code>', html)
    assert match is not None, "no temporary password shown"
    return match.group(1)


def test_a_temporary_password_must_be_replaced_before_anything_else(web: Web,
                                                                   admin: TestClient) -> None:
    csrf = hidden_value(admin.get("/admin/users").text, "csrf_token")
    added = admin.post("/admin/users", data={"csrf_token": csrf, "username": "tom",
                                             "role": "clinician", "password": ""})
    assert added.status_code == 200
    temporary = _issued_password(added.text)
    assert "72 hours" in added.text
    stored = web.store("non-severe")
    with web.client() as tom:
        assert _sign_in(tom, "tom", temporary) == "/account/password"
        for path in ("/patients", f"/patients/{stored.id}", "/patients/new", "/"):
            response = tom.get(path, follow_redirects=False)
            assert (response.status_code, response.headers["location"]) == (303, "/account/password")
        api = tom.get("/api/v1/patients")
        assert api.status_code == 403
        assert "password change required" in api.json()["detail"]
        page = tom.get("/account/password")
        assert "choose your own before you continue" in page.text
        csrf = hidden_value(page.text, "csrf_token")
        # Every problem at once, next to its field; nothing changed.
        bad = tom.post("/account/password", data={"csrf_token": csrf, "current_password": "",
                                                   "new_password": "short",
                                                   "repeat_password": "other"})
        assert bad.status_code == 422
        for field in ("current_password", "new_password", "repeat_password"):
            assert f'id="e-{field}"' in bad.text
        assert "Got 5 characters; expected at least 12" in bad.text
        wrong = tom.post("/account/password", data={
            "csrf_token": csrf, "current_password": "not the password",
            "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
        assert wrong.status_code == 422
        assert "does not match" in wrong.text
        same = tom.post("/account/password", data={
            "csrf_token": csrf, "current_password": temporary, "new_password": temporary,
            "repeat_password": temporary})
        assert same.status_code == 422
        assert "choose another one" in same.text
        done = tom.post("/account/password", data={
            "csrf_token": csrf, "current_password": temporary, "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD}, follow_redirects=False)
        assert (done.status_code, done.headers["location"]) == (303, "/")
        assert tom.get(f"/patients/{stored.id}").status_code == 200
        assert tom.get("/api/v1/patients").status_code == 200
    with web.client() as again:
        assert _sign_in(again, "tom", NEW_PASSWORD) == "/patients"
    with web.client() as old:
        assert _submit_sign_in(old, "tom", temporary)[0] == 401
    assert ("tom", "user.password_change", "tom") in _actions(web)
    assert ("tom", "auth.failed", "password change: wrong current password") in _actions(web)
    assert ("ada", "user.add", "tom (clinician), temporary password") in _actions(web)


def test_a_temporary_password_lapses(web: Web) -> None:
    users.add_user(web.uow, bootstrap.password_hasher(), ADMIN, username="late",
                   password=PASSWORD, role="clinician", temporary=True)
    with web.uow() as work:
        user = work.users.get("late")
        assert user is not None
        work.users.set_password_hash("late", user.password_hash,
                                     temporary_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        work.commit()
    with web.client() as late:
        assert _submit_sign_in(late, "late", PASSWORD)[0] == 401
    assert ("late", "auth.failed", "temporary password expired") in _actions(web)


def test_changing_the_password_ends_the_other_sessions_only(web: Web) -> None:
    with web.client() as first, web.client() as second:
        page_sign_in(first, "alice")
        page_sign_in(second, "alice")
        csrf = hidden_value(first.get("/account/password").text, "csrf_token")
        done = first.post("/account/password", data={
            "csrf_token": csrf, "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD}, follow_redirects=False)
        assert done.status_code == 303
        assert first.get("/patients", follow_redirects=False).status_code == 200
        assert second.get("/patients", follow_redirects=False).headers["location"] == "/login"


def test_password_change_through_the_api(web: Web) -> None:
    with web.client() as client:
        csrf = page_sign_in(client, "alice")
        body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        assert client.post("/api/v1/account/password", json=body).status_code == 403  # no token
        wrong = client.post("/api/v1/account/password", headers={"X-CSRF-Token": csrf},
                            json={**body, "current_password": "wrong password"})
        assert wrong.status_code == 400
        changed = client.post("/api/v1/account/password", headers={"X-CSRF-Token": csrf}, json=body)
        assert changed.status_code == 204
    with web.client() as client:
        page_sign_in(client, "alice", NEW_PASSWORD)


def test_guessing_the_current_password_is_limited_like_signing_in(web: Web) -> None:
    """A signed-in session left open must not become a password-guessing oracle: wrong current
    passwords count against the same budget as sign-ins (5), after which even the right one is
    not checked (429, form and API) and the password stays as it was."""
    with web.client() as client:
        csrf = page_sign_in(client, "alice")
        form = {"csrf_token": csrf, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
        for attempt in range(5):
            wrong = client.post("/account/password",
                                data={**form, "current_password": f"guess number {attempt}"})
            assert (wrong.status_code, "does not match" in wrong.text) == (422, True)
        limited = client.post("/account/password", data={**form, "current_password": PASSWORD})
        assert limited.status_code == 429
        assert "Too many wrong passwords; try again in" in limited.text
        api = client.post("/api/v1/account/password", headers={"X-CSRF-Token": csrf},
                          json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert api.status_code == 429
        assert int(api.headers["Retry-After"]) >= 1
    assert ("alice", "user.password_change", "alice") not in _actions(web)
    failed = [a for a in _actions(web) if a[:2] == ("alice", "auth.failed")]
    assert len(failed) == 5  # the limited attempts were never checked
    users.authenticate(web.uow, bootstrap.password_hasher(), username="alice", password=PASSWORD)


def test_admin_enables_resets_and_changes_roles(web: Web, admin: TestClient) -> None:
    stored = web.store("juvenile")
    csrf = hidden_value(admin.get("/admin/users").text, "csrf_token")
    with web.client() as alice:
        page_sign_in(alice, "alice")
        assert alice.get(f"/patients/{stored.id}").status_code == 200
        # Role change applies to the open session at its next request.
        role = admin.post("/admin/users/alice/role", data={"csrf_token": csrf, "role": "researcher"})
        assert "alice is now researcher" in role.text
        assert alice.get(f"/patients/{stored.id}").status_code == 403
        reset = admin.post("/admin/users/alice/reset-password", data={"csrf_token": csrf})
        temporary = _issued_password(reset.text)
        assert "their sessions ended" in reset.text
        assert alice.get("/cohort", follow_redirects=False).headers["location"] == "/login"
    disabled = admin.post("/admin/users/alice/disable", data={"csrf_token": csrf})
    assert "Enable alice" in disabled.text
    with web.client() as alice:
        assert _submit_sign_in(alice, "alice", temporary)[0] == 401
    enabled = admin.post("/admin/users/alice/enable", data={"csrf_token": csrf})
    assert "Disable alice" in enabled.text
    with web.client() as alice:
        assert _sign_in(alice, "alice", temporary) == "/account/password"
    own = admin.post("/admin/users/ada/role", data={"csrf_token": csrf, "role": "clinician"})
    assert own.status_code == 422
    assert "cannot change your own role" in own.text
    bad = admin.post("/admin/users/alice/role", data={"csrf_token": csrf, "role": "superuser"})
    assert bad.status_code == 422
    assert admin.post("/admin/users/nobody/enable", data={"csrf_token": csrf}).status_code == 404
    assert admin.post("/admin/users/alice/enable", data={}).status_code == 403  # no CSRF token
    actions = _actions(web)
    for expected in (("ada", "user.role_change", "alice: clinician → researcher"),
                     ("ada", "user.password_reset", "alice"), ("ada", "user.disable", "alice"),
                     ("ada", "user.enable", "alice")):
        assert expected in actions
    assert temporary not in repr(actions)


def test_clinicians_cannot_manage_accounts(web: Web) -> None:
    with web.client() as alice:
        csrf = page_sign_in(alice, "alice")
        for action in ("enable", "reset-password"):
            assert alice.post(f"/admin/users/ada/{action}", data={"csrf_token": csrf}).status_code == 403
        assert alice.post("/admin/users/ada/role", data={"csrf_token": csrf,
                                                         "role": "clinician"}).status_code == 403
    with web.uow() as work:
        ada = work.users.get("ada")
        assert ada is not None
        assert (ada.role, ada.must_change_password) == ("admin", False)


def test_serve_creates_the_demo_account_with_a_temporary_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    lines = prepare_database(url, seed_examples=False)
    assert any("temporary password" in line and "72 hours" in line for line in lines)
    web = make_web(tmp_path, url=url)
    try:
        with web.uow() as work:
            demo = work.users.get(DEMO_USERNAME)
        assert demo is not None
        assert demo.must_change_password
        assert any("reset-password demo" in line
                   for line in prepare_database(url, seed_examples=False))
    finally:
        web.close()
