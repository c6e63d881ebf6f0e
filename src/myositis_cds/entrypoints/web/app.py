"""The application factory: ``create_app(settings)`` wires the database, sessions and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

import jinja2
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from myositis_cds import __version__, bootstrap
from myositis_cds.entrypoints.web import account_pages, api, pages
from myositis_cds.entrypoints.web.background import BackgroundRenderer
from myositis_cds.entrypoints.web.cds_hooks.service import install_cds_hooks
from myositis_cds.entrypoints.web.clinical import Clinic
from myositis_cds.entrypoints.web.failures import install_error_handlers
from myositis_cds.entrypoints.web.middleware import SecurityMiddleware
from myositis_cds.entrypoints.web.openapi import install_openapi
from myositis_cds.entrypoints.web.sessions import (
    AddressWindow,
    SqlLoginLimiter,
    SqlSessionStore,
    UserDelay,
)
from myositis_cds.entrypoints.web.settings import WebSettings
from myositis_cds.entrypoints.web.smart.routes import install_smart
from myositis_cds.entrypoints.web.state import WebState
from myositis_cds.presentation.html import template_filters

__all__ = ["OPENAPI_URL", "create_app", "create_app_from_environment"]

OPENAPI_URL = "/api/v1/openapi.json"
_DESCRIPTION = """Clinical decision support for dermatomyositis with anti-Mi-2 antibodies.

Sign in with `POST /api/v1/session` (JSON username and password): it sets the session cookie and
returns the session's `csrf_token`, which every POST, PUT and DELETE must carry in the
`X-CSRF-Token` header. Records are `myositis-cds/patient-record@1`; assessments are
`myositis-cds/assessment@1` (the same JSON as `myositis-cds assess --format json`). Stored patients
are versioned: reads return `ETag: "<version>"`; `PUT` and `DELETE` need `If-Match: "<version>"`.
"""


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("myositis_cds.entrypoints.web", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(template_filters())
    env.globals["plausible"] = bootstrap.plausibility_limits().hint
    return env


def create_app(settings: WebSettings) -> FastAPI:
    """The web application on ``settings.database_url`` (migrations are applied by ``serve``).

    Nothing connects to the database until a request needs it, so an unreachable database gives
    503 responses rather than a server that does not start.
    """
    database = bootstrap.make_unit_of_work(settings.database_url)
    clinic = Clinic()
    renderer = BackgroundRenderer(database, clinic)
    if settings.render_on_write:
        database.when_stored(renderer.stored)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        renderer.open()
        yield
        renderer.close()
        database.dispose()

    # Swagger UI and ReDoc load scripts from a CDN and inline: our CSP forbids both. The OpenAPI
    # document itself is served.
    app = FastAPI(title="myositis-cds", version=__version__, description=_DESCRIPTION,
                  openapi_url=OPENAPI_URL, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.web = WebState(
        settings=settings, uow=database, hasher=bootstrap.password_hasher(),
        sessions=SqlSessionStore(database.engine,
                                 lifetime=settings.session_lifetime.total_seconds(),
                                 idle=settings.session_idle_timeout.total_seconds(),
                                 max_sessions=settings.max_sessions,
                                 max_per_user=settings.max_sessions_per_user),
        limiter=SqlLoginLimiter(
            database.engine, max_keys=settings.rate_limit_max_keys,
            address=AddressWindow(max_failures=settings.login_max_failures,
                                  window=settings.login_window.total_seconds()),
            user=UserDelay(max_failures=settings.login_max_failures,
                           delay=settings.login_delay.total_seconds(),
                           max_delay=settings.login_max_delay.total_seconds(),
                           memory=settings.login_memory.total_seconds())),
        clinic=clinic, templates=_templates(), renderer=renderer)
    app.include_router(api.router)
    app.include_router(account_pages.api_router)
    app.include_router(pages.router)
    static = resources.files("myositis_cds.entrypoints.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    install_error_handlers(app)
    install_openapi(app)
    install_cds_hooks(app, settings.cds_hooks, engine=database.engine,  # before the security layer
                      site=settings.site)
    install_smart(app, settings.smart, engine=database.engine, site=settings.site)
    app.add_middleware(SecurityMiddleware, max_body=settings.max_upload_bytes + 64 * 1024,
                       frame_origins=settings.smart.frame_origins if settings.smart else (),
                       hsts_behind_proxy=settings.secure_cookies)
    return app


def create_app_from_environment() -> FastAPI:
    """The application of one server process (``myositis-cds serve --workers N`` starts N), with
    :meth:`WebSettings.from_environment`; every process shares sessions through the database."""
    return create_app(WebSettings.from_environment())
