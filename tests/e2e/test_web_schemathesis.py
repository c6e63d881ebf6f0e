"""Schemathesis against the application on SQLite and on PostgreSQL: generated requests never get
a server error.

Two schemas: the API's own OpenAPI document, and one made for this test from the server-rendered
pages' GET routes (they are left out of the published document), so that hostile path and query
values (``as_of=0001-01-01``, NUL, lone surrogates, huge numbers) reach the pages too. Signed in
(session cookie and CSRF header) as a clinician for the API and as an admin for the pages, with
stored patients 1 and 2, so that generated ids and bodies reach the use cases, not only the
authentication. Bounded: a few examples per operation (``MYOSITIS_CDS_SCHEMATHESIS_EXAMPLES``
raises it for a longer run), no deadline.

The schemas are read at import from an application that is never connected (schemathesis needs
them to parametrize the test); each backend's application is put behind :data:`TARGET` by the
module's fixture, which migrates a fresh database for it.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from myositis_cds import bootstrap
from myositis_cds.entrypoints.web import OPENAPI_URL, WebSettings, create_app
from tests.e2e.web_support import Web, api_sign_in
from tests.postgres import BACKENDS, database_url_on

EXAMPLES = int(os.environ.get("MYOSITIS_CDS_SCHEMATHESIS_EXAMPLES", "12"))


class Target:
    """The application under test (one per backend), and the statuses it answered."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.statuses[int(message["status"])] += 1
            await send(message)

        await self.app(scope, receive, counted)  # type: ignore[arg-type]


_UNCONNECTED = create_app(WebSettings(database_url="sqlite:///unused-schemathesis.sqlite3"))
TARGET = Target(_UNCONNECTED)
AUTH: dict[str, dict[str, str]] = {}

api_schema = schemathesis.openapi.from_asgi(OPENAPI_URL, TARGET)


def _routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every route of the application, also inside included routers (the pages' have no prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)


_NOT_PAGES = ("/static", "/cds-services", "/launch", "/smart/")
"""Left out: files, the CDS Hooks service (JWT-authenticated; its own tests), and the SMART launch,
which answers 503 "not set up" without a configured EHR (``test_smart_launch.py`` runs it against
a fake EHR)."""


def _pages_document(app: FastAPI) -> dict[str, Any]:
    """An OpenAPI document of the pages' GET routes (excluded from the published one)."""
    pages = []
    for route in _routes(app.routes):
        if not route.include_in_schema and "GET" in (route.methods or set()) \
                and not route.path.startswith(_NOT_PAGES):
            page = copy.copy(route)
            page.include_in_schema = True
            pages.append(page)
    return get_openapi(title="pages", version="test", routes=pages)


pages_schema = schemathesis.openapi.from_dict(_pages_document(_UNCONNECTED))
pages_schema.app = TARGET
pages_schema.location = "/pages-openapi.json"


@pytest.fixture(scope="module", params=BACKENDS, autouse=True)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    for url in database_url_on(request.param, request, tmp, migrated=False):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MYOSITIS_CDS_TODAY", "2026-11-21")
            bootstrap.upgrade(url)
            app = create_app(WebSettings(database_url=url))
            web = Web(url=url, app=app, uow=bootstrap.make_unit_of_work(url))
            web.add_user("alice")
            web.add_user("ada", role="admin")
            web.store("non-severe")
            web.store("juvenile")
            for name, user in (("main", "alice"), ("sign-out", "alice"), ("pages", "ada")):
                with web.client() as client:  # signing out ends its own session only
                    AUTH[f"{name}-headers"] = {"X-CSRF-Token": api_sign_in(client, user)}
                    AUTH[f"{name}-cookies"] = {"myositis_session": client.cookies["myositis_session"]}
            web.close()
            TARGET.app, TARGET.statuses = app, Counter()
            yield request.param
            assert not [s for s in TARGET.statuses if s >= 500], TARGET.statuses
            _print_statuses(request.param)
            TARGET.app = _UNCONNECTED


def _print_statuses(backend: str) -> None:
    """The statuses of the run, for a long run's figures (``-s`` shows them)."""
    total = sum(TARGET.statuses.values())
    print(f"\nschemathesis on {backend}: {total} requests, statuses {dict(sorted(TARGET.statuses.items()))}")  # noqa: T201


_HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much]


@api_schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=_HEALTH)
def test_generated_api_requests_never_get_a_server_error(case: Any) -> None:
    name = "sign-out" if case.operation.label == "DELETE /api/v1/session" else "main"
    response = case.call(headers=dict(AUTH[f"{name}-headers"]), cookies=dict(AUTH[f"{name}-cookies"]))
    case.validate_response(response, checks=[not_a_server_error])


@pages_schema.parametrize()  # pages render reports, figures and PDFs: fewer examples each
@settings(max_examples=max(1, EXAMPLES // 3), deadline=None, derandomize=True,
          suppress_health_check=_HEALTH)
def test_generated_page_requests_never_get_a_server_error(case: Any) -> None:
    response = case.call(headers=dict(AUTH["pages-headers"]), cookies=dict(AUTH["pages-cookies"]))
    case.validate_response(response, checks=[not_a_server_error])
