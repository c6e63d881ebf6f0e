"""What the web application holds while it runs (one per application instance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from myositis_cds.entrypoints.web.background import BackgroundRenderer
from myositis_cds.entrypoints.web.clinical import Clinic
from myositis_cds.entrypoints.web.sessions import SqlLoginLimiter, SqlSessionStore
from myositis_cds.entrypoints.web.settings import WebSettings
from myositis_cds.services.ports import PasswordHasher, UnitOfWorkFactory

__all__ = ["WebState", "html_page", "web_state"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebState:
    settings: WebSettings
    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    sessions: SqlSessionStore
    limiter: SqlLoginLimiter
    clinic: Clinic
    templates: jinja2.Environment
    renderer: BackgroundRenderer
    """Renders stored patients' pages and figures off the request path."""


def web_state(request: Request) -> WebState:
    return cast(WebState, request.app.state.web)


def html_page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The web template ``template`` rendered with ``context`` (autoescaped)."""
    html = web_state(request).templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)
