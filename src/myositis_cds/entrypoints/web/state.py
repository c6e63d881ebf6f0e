"""What the web application holds while it runs (one per application instance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import jinja2
from starlette.requests import Request

from myositis_cds.entrypoints.web.clinical import Clinic
from myositis_cds.entrypoints.web.sessions import SqlLoginLimiter, SqlSessionStore
from myositis_cds.entrypoints.web.settings import WebSettings
from myositis_cds.services.ports import PasswordHasher, UnitOfWorkFactory

__all__ = ["WebState", "web_state"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebState:
    settings: WebSettings
    uow: UnitOfWorkFactory
    hasher: PasswordHasher
    sessions: SqlSessionStore
    limiter: SqlLoginLimiter
    clinic: Clinic
    templates: jinja2.Environment


def web_state(request: Request) -> WebState:
    return cast(WebState, request.app.state.web)
