"""What every CDS Hooks route shares: the runtime state, the EHR's authentication, reading the
JSON body and the error answers (``{"detail": ...}``; a refused token is a bare 401)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, cast

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool

from myositis_cds import bootstrap
from myositis_cds.adapters.storage.cds_hooks import SqlCardLedger, SqlCdsFeedback
from myositis_cds.bootstrap import FhirCodes
from myositis_cds.entrypoints.web.api import BodyRefusedError, json_body_bytes
from myositis_cds.entrypoints.web.cds_hooks.config import CdsClient, CdsHooksConfig
from myositis_cds.entrypoints.web.cds_hooks.prefetch import FhirTransport, urllib_transport
from myositis_cds.entrypoints.web.cds_hooks.security import (
    ReplayGuard,
    TokenRefusedError,
    logger,
    refusal,
    verify_token,
)
from myositis_cds.errors import DatabaseNotReadyError
from myositis_cds.services.decision_support import FhirImport

__all__ = ["DATABASE_ERRORS", "SERVICE_ID", "UNAVAILABLE", "CdsRuntime", "authenticate", "invalid",
           "json_error", "parsed_call", "read_body", "runtime_of", "unavailable"]

SERVICE_ID: Final = "anti-mi2-dm-plan"

UNAVAILABLE: Final = ("the database is unavailable: the call could not be checked and audited, "
                      "so it was not answered; try again in a moment")
DATABASE_ERRORS: Final = (DatabaseNotReadyError, OperationalError, InterfaceError)


@dataclass(slots=True, kw_only=True)
class CdsRuntime:
    """What the CDS Hooks routes hold (``app.state.cds``); ``transport`` is replaceable in tests."""

    config: CdsHooksConfig | None
    replay: ReplayGuard
    ledger: SqlCardLedger
    feedback: SqlCdsFeedback
    codes: FhirCodes
    """The site's code tables (suggested orders are coded with them)."""
    import_record: FhirImport
    """The EHR's resources → the validated record, with the site configuration (the use case's
    port)."""
    transport: FhirTransport = urllib_transport
    new_uuid: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))


def runtime_of(request: Request) -> CdsRuntime:
    return cast(CdsRuntime, request.app.state.cds)


def json_error(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def unavailable(what: str, exc: BaseException) -> JSONResponse:
    logger.warning("CDS Hooks %s, database unavailable: %s", what, type(exc).__name__)
    return JSONResponse({"detail": UNAVAILABLE}, status_code=503, headers={"Retry-After": "30"})


def authenticate(request: Request) -> CdsClient | Response:
    """The registered client whose JWT the request carries, or the response refusing it."""
    runtime = runtime_of(request)
    path = str(request.scope.get("path", ""))
    root = str(request.scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root):]
    audience = runtime.config.endpoint_url(path) if runtime.config is not None else ""
    try:
        client = verify_token(request.headers.get("authorization"), config=runtime.config,
                              audience=audience, replay=runtime.replay)
    except TokenRefusedError as exc:
        logger.info("CDS Hooks call refused: %s", exc.reason)
        return refusal()
    except DATABASE_ERRORS as exc:
        return unavailable("call not answered", exc)
    request.state.username = f"cds:{client.iss}"
    return client


async def read_body(request: Request) -> object | Response:
    """The decoded JSON body, or the response refusing it (size, nesting, encoding, NUL, not JSON)."""
    try:
        body = await json_body_bytes(request)
    except BodyRefusedError as exc:
        return json_error(exc.status, exc.message)
    try:  # NUL would reach the database (audit, card ledger) and the log
        data: object = bootstrap.decode_json(body, max_bytes=len(body), refuse_nul=True)
    except bootstrap.JsonRefusedError as exc:
        return json_error(400, f"$: got {exc.msg}; expected {exc.expected}")
    return data


def _path(loc: tuple[int | str, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def invalid(exc: ValidationError | list[dict[str, str]]) -> JSONResponse:
    """400 naming each field and what was expected — never the value (it may hold a token)."""
    rows = exc if isinstance(exc, list) else [
        {"path": _path(e["loc"]), "expected": e["msg"]} for e in exc.errors(include_input=False)]
    return json_error(400, f"{len(rows)} invalid field(s) in the request", errors=rows)


Model = TypeVar("Model", bound=BaseModel)


async def parsed_call(request: Request, service_id: str,
                      model: type[Model]) -> tuple[CdsClient, Model] | Response:
    """The client and the validated body of a call to the service, or the response refusing it:
    401 (token), 404 (another service id), 400/413/415 (body)."""
    client = await run_in_threadpool(authenticate, request)
    if isinstance(client, Response):
        return client
    if service_id != SERVICE_ID:
        return json_error(404, f"no CDS service with this id; the service is {SERVICE_ID!r} "
                               "(GET /cds-services)")
    body = await read_body(request)
    if isinstance(body, Response):
        return body
    try:
        return client, model.model_validate(body)
    except ValidationError as exc:
        return invalid(exc)
