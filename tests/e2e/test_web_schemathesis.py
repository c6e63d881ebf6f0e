"""Schemathesis against the API's OpenAPI document: generated requests never get a server error.

Signed in as a clinician (session cookie and CSRF header) with stored patients 1 and 2, so that
generated ids and bodies reach the use cases, not only the authentication. Bounded: a few examples
per operation, no deadline (the first assessment loads the pack).

The application is made at import (schemathesis reads its OpenAPI document to parametrize the
test; its lazy ``from_fixture`` loader does not work with this pytest); it opens no connection
until the module's fixture has migrated its database in a temporary folder.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from myositis_cds import bootstrap
from myositis_cds.entrypoints.web import OPENAPI_URL, WebSettings, create_app
from tests.e2e.web_support import Web, api_sign_in

_FOLDER = Path(tempfile.mkdtemp(prefix="myositis-cds-schemathesis-"))
_URL = f"sqlite:///{_FOLDER / 'web.sqlite3'}"
APP = create_app(WebSettings(database_url=_URL))
AUTH: dict[str, dict[str, str]] = {}

schema = schemathesis.openapi.from_asgi(OPENAPI_URL, APP)


@pytest.fixture(scope="module", autouse=True)
def _signed_in() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYOSITIS_CDS_TODAY", "2026-11-21")
        bootstrap.upgrade(_URL)
        web = Web(url=_URL, app=APP, uow=bootstrap.make_unit_of_work(_URL))
        web.add_user("alice")
        web.store("non-severe")
        web.store("juvenile")
        for name in ("main", "sign-out"):  # signing out ends its own session, not the main one
            with web.client() as client:
                AUTH[f"{name}-headers"] = {"X-CSRF-Token": api_sign_in(client, "alice")}
                AUTH[f"{name}-cookies"] = {"myositis_session": client.cookies["myositis_session"]}
        web.close()
    yield
    shutil.rmtree(_FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_generated_requests_never_get_a_server_error(case: Any) -> None:
    name = "sign-out" if case.operation.label == "DELETE /api/v1/session" else "main"
    response = case.call(headers=dict(AUTH[f"{name}-headers"]), cookies=dict(AUTH[f"{name}-cookies"]))
    case.validate_response(response, checks=[not_a_server_error])
