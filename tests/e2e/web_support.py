"""Helpers for the web application tests: a migrated database, users, clients."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from myositis_cds import bootstrap
from myositis_cds.adapters.storage import Database
from myositis_cds.entrypoints.web import WebSettings, create_app
from myositis_cds.services import patients, users
from myositis_cds.services.ports import AuditEvent, StoredPatient, SystemActor
from tests.conftest import load_example

PASSWORD = "correct horse battery staple"
ADMIN = SystemActor(username="test:setup")


@dataclass
class Web:
    url: str
    app: FastAPI
    uow: Database

    def client(self, **kwargs: Any) -> TestClient:
        return TestClient(self.app, **kwargs)

    def add_user(self, username: str, role: str = "clinician") -> None:
        users.add_user(self.uow, bootstrap.password_hasher(), ADMIN, username=username,
                       password=PASSWORD, role=role)

    def store(self, name: str) -> StoredPatient:
        return patients.create_patient(self.uow, ADMIN, load_example(name),
                                       parse=bootstrap.make_live_parser())

    def audit(self) -> list[AuditEvent]:
        with self.uow() as work:
            return list(work.audit.export())

    def close(self) -> None:
        self.uow.dispose()


def make_web(tmp_path: Path, *, url: str | None = None, **settings: Any) -> Web:
    """The app on ``url`` (already migrated), or on a new, migrated SQLite file in ``tmp_path``.
    A figure not drawn yet is waited for up to a minute (not "being drawn" on a loaded machine);
    records stored are not rendered in the background unless a test asks for it (``render_on_write``:
    the suite's many writes would each draw six figures)."""
    if url is None:
        url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
        bootstrap.upgrade(url)
    settings.setdefault("figure_wait", dt.timedelta(minutes=1))
    settings.setdefault("render_on_write", False)
    app = create_app(WebSettings(database_url=url, **settings))
    return Web(url=url, app=app, uow=bootstrap.make_unit_of_work(url))


def api_sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the API; returns the session's CSRF token (the cookie stays in the client)."""
    response = client.post("/api/v1/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token


def page_sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the sign-in form; returns the session's CSRF token (read from a page)."""
    form = client.get("/login")
    token = form.text.split('name="login_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"username": username, "password": password,
                                           "login_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    session = client.get("/api/v1/session")
    assert session.status_code == 200
    csrf: str = session.json()["csrf_token"]
    return csrf


def hidden_value(html: str, name: str) -> str:
    """The value of the hidden form field ``name`` (e.g. ``csrf_token``, ``version``) in a page."""
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert match is not None, f"no hidden field {name!r} in the page"
    return match.group(1)


def hidden_fields(html: str, action: str | None = None) -> dict[str, str]:
    """Every hidden field (name → value, HTML entities decoded) of the form posting to ``action``
    (default: the page's last form with a ``csrf_token``), as a browser would send them."""
    forms = re.findall(r'<form\b[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>', html, re.DOTALL)
    chosen = [body for target, body in forms
              if (action is None and 'name="csrf_token"' in body) or target == action]
    assert chosen, f"no form posting to {action!r} in the page"
    return {name: unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', chosen[-1])}
