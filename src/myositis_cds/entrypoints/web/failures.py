"""Errors as responses: JSON under ``/api/``, a plain HTML page elsewhere; never a traceback.

Field problems (a bad record, a bad query parameter) become 422 with
``{"detail": ..., "errors": [{"path", "value", "expected"}]}`` (the same three parts as the
command line's messages). An unreachable database, or one whose migrations were not applied, is
503: the response says so and the log names only the kind of failure (a database error's text can
hold query parameters, i.e. patient data).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from myositis_cds.entrypoints.web.auth import (
    CHANGE_PASSWORD_PAGE,
    LoginRequired,
    PasswordChangeRequired,
    TooManySignInAttemptsError,
)
from myositis_cds.entrypoints.web.middleware import logger
from myositis_cds.entrypoints.web.sessions import SessionLimitError
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import (
    AlreadyExistsError,
    AuthenticationError,
    DatabaseNotReadyError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    RecordValidationError,
    SettingsError,
    StaleEditError,
    UsageError,
)

__all__ = ["install_error_handlers", "problem"]

_TITLES = {400: "Bad request", 401: "Sign-in failed", 403: "Not allowed", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Too large", 415: "Unsupported type",
           422: "Invalid input", 428: "Version required", 429: "Too many attempts",
           503: "Service unavailable"}
_UNAVAILABLE = ("the database is unavailable (not reachable, or its migrations were not applied): "
                "nothing was read or written; try again in a moment, and if it persists tell the "
                "administrator (`myositis-cds db upgrade` applies the migrations)")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem(request: Request, status: int, message: str, *,
            errors: Sequence[FieldError] | Sequence[dict[str, Any]] = (),
            extra: dict[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> Response:
    rows = [e.to_dict() if isinstance(e, FieldError) else e for e in errors]
    if _is_api(request):
        body: dict[str, Any] = {"detail": message, **(extra or {})}
        if rows:
            body["errors"] = rows
        return JSONResponse(body, status_code=status, headers=headers)
    page = web_state(request).templates.get_template("error.html.j2").render(
        title=_TITLES.get(status, "Error"), status=status, message=message, errors=rows)
    return HTMLResponse(page, status_code=status, headers=headers)


def _loc_path(loc: Sequence[int | str]) -> str:
    where, *rest = [*loc] or ["body"]
    path = "$" if where == "body" else str(where)
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _jsonable(value: object) -> object:
    if isinstance(value, str):
        return value[:200]
    if value is None or isinstance(value, int | float | bool):
        return value
    return repr(value)[:200]


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _handler(status: int, *, message: Callable[[Exception], str] = str,
             extra: Callable[[Exception], dict[str, Any]] | None = None) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        errors = getattr(exc, "errors", ()) if isinstance(exc, RecordValidationError | SettingsError) else ()
        return problem(request, status, message(exc), errors=errors,
                       extra=extra(exc) if extra else None)

    return handle


def _shown_input(error: Mapping[str, Any]) -> object:
    """The value a 422 shows: a query, path or header value as given (at most 200 characters);
    never anything of the body, which may be a password or a whole document."""
    loc = error.get("loc", ())
    if not loc or loc[0] == "body":
        return None
    return _jsonable(error.get("input"))


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    rows = [{"path": _loc_path(e.get("loc", ())), "value": _shown_input(e),
             "expected": str(e.get("msg", "a valid value")).removeprefix("Value error, ")}
            for e in exc.errors()]
    return problem(request, 422, f"{len(rows)} invalid value(s) in the request", errors=rows)


async def _record(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RecordValidationError)
    count = len(exc.errors)
    return problem(request, 422, f"{exc.source}: {count} error{'s' if count != 1 else ''}; nothing "
                   "was stored", errors=exc.errors)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return problem(request, exc.status_code, str(exc.detail), headers=exc.headers)


async def _too_many(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManySignInAttemptsError)
    return problem(request, 429, str(exc), headers={"Retry-After": str(exc.retry_after)})


async def _unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("database unavailable: %s", type(exc).__name__)
    return problem(request, 503, _UNAVAILABLE, headers={"Retry-After": "30"})


async def _session_limit(request: Request, exc: Exception) -> Response:
    return problem(request, 503, str(exc), headers={"Retry-After": "300"})


async def _login(request: Request, exc: Exception) -> Response:  # noqa: ARG001 - handler signature
    return RedirectResponse("/login", status_code=303)


async def _password(request: Request, exc: Exception) -> Response:  # noqa: ARG001
    return RedirectResponse(CHANGE_PASSWORD_PAGE, status_code=303)


def _stale(exc: Exception) -> dict[str, Any]:
    assert isinstance(exc, StaleEditError)
    return {"current_version": exc.current_version, "your_version": exc.expected_version}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(RecordValidationError, _record)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(TooManySignInAttemptsError, _too_many)
    app.add_exception_handler(LoginRequired, _login)
    app.add_exception_handler(SessionLimitError, _session_limit)
    app.add_exception_handler(PasswordChangeRequired, _password)
    app.add_exception_handler(AuthenticationError, _handler(401))
    app.add_exception_handler(PermissionDeniedError, _handler(403))
    app.add_exception_handler(NotFoundError, _handler(404))
    app.add_exception_handler(AlreadyExistsError, _handler(409))
    app.add_exception_handler(StaleEditError, _handler(409, extra=_stale))
    app.add_exception_handler(UsageError, _handler(400))
    app.add_exception_handler(SettingsError, _handler(400))
    for unavailable in (DatabaseNotReadyError, OperationalError, InterfaceError):
        app.add_exception_handler(unavailable, _unavailable)
