"""The signed-in user's own account: change the password (page and API).

A user whose password is temporary lands here after signing in and can do nothing else until
they have chosen their own (see :mod:`.auth`). Changing the password asks for the current one,
ends the user's other sessions (a stolen session does not outlive the change) and is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from myositis_cds.entrypoints.web.auth import (
    CHANGE_PASSWORD_PAGE,
    AccountPrincipal,
    AccountWriter,
    ApiPrincipal,
    Principal,
    TooManySignInAttemptsError,
)
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import UsageError
from myositis_cds.services import users

__all__ = ["api_router", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1")
_Password = Annotated[str, Form(max_length=1024)]


def _form(request: Request, principal: Principal, *, status: int = 200,
          errors: dict[str, str] | None = None) -> HTMLResponse:
    html = web_state(request).templates.get_template("account_password.html.j2").render(
        title="Change your password", principal=principal, errors=errors or {},
        forced=principal.user.must_change_password, minimum=users.MIN_PASSWORD_LENGTH)
    return HTMLResponse(html, status_code=status)


@router.get(CHANGE_PASSWORD_PAGE)
def password_form(request: Request, principal: AccountPrincipal) -> HTMLResponse:
    return _form(request, principal)


def _change(request: Request, principal: Principal, current: str, new: str) -> None:
    """Check the current password under the sign-in limiter (the same per-address and per-user
    budget as signing in: a guess at the current password is a guess at the password), then
    replace it. Raises :class:`TooManySignInAttemptsError` before any check when over budget."""
    if new == current:
        msg = "new password: it is the current one; expected a different password"
        raise UsageError(msg)  # before the limiter: a known-current password is not a guess
    state = web_state(request)
    username = principal.user.username
    client = request.client.host if request.client else "unknown"
    reservation = state.limiter.reserve(address=client, username=username)
    users.change_password(state.uow, state.hasher, principal.user, current_password=current,
                          new_password=new)
    state.limiter.succeeded(reservation, username=username)
    state.sessions.end_user_sessions(username, keep=principal.token)


@router.post(CHANGE_PASSWORD_PAGE)
def change_password(request: Request, principal: AccountWriter, *, current_password: _Password = "",
                    new_password: _Password = "", repeat_password: _Password = "") -> Response:
    problems: list[tuple[str, str]] = []  # (field, message)
    if not current_password:
        problems.append(("current_password", "Enter your current password."))
    if len(new_password) < users.MIN_PASSWORD_LENGTH:
        problems.append(("new_password", f"Got {len(new_password)} characters; expected at least "
                         f"{users.MIN_PASSWORD_LENGTH} (a passphrase of several words is easiest)."))
    elif new_password == current_password:
        problems.append(("new_password", "This is the current password; choose another one."))
    if repeat_password != new_password:
        problems.append(("repeat_password", "The two new passwords differ; type the same twice."))
    status = 422
    if not problems:
        try:
            _change(request, principal, current_password, new_password)
        except UsageError as exc:
            problems.append(("current_password", f"{str(exc).split(': ', 1)[-1].capitalize()}."))
        except TooManySignInAttemptsError as exc:
            status = 429
            problems.append(("current_password", f"Too many wrong passwords; try again in "
                                                 f"{exc.retry_after} seconds."))
    errors = dict(problems)
    if errors:
        return _form(request, principal, status=status, errors=errors)
    return RedirectResponse("/", status_code=303)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=users.MIN_PASSWORD_LENGTH, max_length=1024)


@api_router.post("/account/password", status_code=204, tags=["session"],
                 summary="Change the signed-in user's password (ends their other sessions)",
                 responses={400: {"description": "Wrong current password, or the same password"},
                            401: {"description": "Not signed in"},
                            403: {"description": "Missing or invalid X-CSRF-Token"},
                            422: {"description": "Invalid input"},
                            429: {"description": "Too many wrong passwords; see Retry-After"}})
def change_password_api(request: Request, principal: ApiPrincipal, body: PasswordChange) -> Response:
    _change(request, principal, body.current_password, body.new_password)
    return Response(status_code=204)
