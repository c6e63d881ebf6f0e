"""Shared fixtures of the end-to-end tests: a database on each backend (see :mod:`tests.postgres`)
and an API client signed in as "alice" on the module's own ``web`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.e2e.web_support import Web, api_sign_in
from tests.postgres import BACKENDS, database_url_on


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend (a test module may define its own)."""
    yield from database_url_on(request.param, request, tmp_path, migrated=True)


@pytest.fixture
def client(web: Web) -> Iterator[TestClient]:
    """The API signed in as "alice" (session cookie and CSRF header) on the module's ``web``."""
    with web.client() as client:
        client.headers["X-CSRF-Token"] = api_sign_in(client, "alice")
        yield client
