"""Shared e2e fixtures.

The CDS Hooks tests: one test EHR per module, the app with that EHR registered (a fresh database per
test) and a client on it. A module that needs another set-up (two EHRs, a FHIR server) defines its
own ``web`` and ``client``, which override these.

The administration and account tests: ``staff_web``, an app with an administrator (``ada``) and a
clinician (``alice``), which those modules use as their ``web``, and ``ada``'s signed-in client
``admin``.

The tests on both backends: ``database_url``, a migrated, empty database on each (see
:mod:`tests.postgres`); ``signed_in_client``, the API signed in as "alice" (session cookie and
CSRF header) on the module's own ``web``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.e2e.cds_support import Ehr, write_config
from tests.e2e.web_support import Web, api_sign_in, make_web, page_sign_in
from tests.postgres import BACKENDS, database_url_on

__all__ = ["admin", "client", "database_url", "ehr", "signed_in_client", "staff_web", "web"]


@pytest.fixture(scope="module")
def ehr() -> Ehr:
    return Ehr()


@pytest.fixture
def web(tmp_path: Path, ehr: Ehr) -> Iterator[Web]:
    web = make_web(tmp_path, cds_hooks=write_config(tmp_path, ehr))
    yield web
    web.close()


@pytest.fixture
def client(web: Web) -> Iterator[TestClient]:
    with web.client() as client:
        yield client


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend (a test module may define its own)."""
    yield from database_url_on(request.param, request, tmp_path, migrated=True)


@pytest.fixture
def signed_in_client(web: Web) -> Iterator[TestClient]:
    """The API signed in as "alice" (session cookie and CSRF header) on the module's ``web``."""
    with web.client() as client:
        client.headers["X-CSRF-Token"] = api_sign_in(client, "alice")
        yield client


@pytest.fixture
def staff_web(tmp_path: Path) -> Iterator[Web]:
    web = make_web(tmp_path)
    web.add_user("ada", role="admin")
    web.add_user("alice")
    yield web
    web.close()


@pytest.fixture
def admin(staff_web: Web) -> Iterator[TestClient]:
    with staff_web.client() as client:
        page_sign_in(client, "ada")
        yield client
