"""Who is asking: session cookies, the anti-forgery (CSRF) check and signing in and out.

API routes authenticate with the session cookie; every request with a method other than GET,
HEAD or OPTIONS must also carry the session's token in the ``X-CSRF-Token`` header (pages: the
``csrf_token`` form field). A missing or wrong token is refused with 403 before anything runs.
Sign-in attempts are limited per client address and per username (429 with ``Retry-After``),
reserved before the password is checked (:mod:`myositis_cds.adapters.storage.sign_in_limits`).

A user whose password is temporary (generated: the demo account's, an administrator's reset) must
choose their own first: every page but the change-password page and signing out redirects there,
and the API refuses everything but its session and password routes (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, Response, Security
from fastapi.security import APIKeyCookie, APIKeyHeader

from myositis_cds.entrypoints.web.sessions import Session, SignInLimitedError, same_token
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.services import users
from myositis_cds.services.ports import User

__all__ = [
    "CHANGE_PASSWORD_PAGE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "AccountPrincipal",
    "AccountWriter",
    "ApiPrincipal",
    "LoginRequired",
    "PagePrincipal",
    "PageWriter",
    "PasswordChangeRequired",
    "Principal",
    "TooManySignInAttemptsError",
    "end_session",
    "set_session_cookie",
    "sign_in",
]

SESSION_COOKIE = "myositis_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHANGE_PASSWORD_PAGE = "/account/password"  # noqa: S105 - a URL, not a password
_API_WITH_TEMPORARY_PASSWORD = frozenset({"/api/v1/session", "/api/v1/account/password"})

_session_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="session",
    description="The session cookie set by `POST /api/v1/session` (or the sign-in page).")
_csrf_header = APIKeyHeader(
    name=CSRF_HEADER, auto_error=False, scheme_name="csrf",
    description="The session's anti-forgery token (`csrf_token` of `GET /api/v1/session`); "
                "required on every POST, PUT and DELETE.")


class LoginRequired(Exception):  # noqa: N818 - a signal for a redirect, not an error
    """A page needs a signed-in user: the handler redirects to the sign-in page."""


class PasswordChangeRequired(Exception):  # noqa: N818 - a signal for a redirect, not an error
    """The signed-in user's password is temporary: the handler redirects to the change page."""


TooManySignInAttemptsError = SignInLimitedError
"""Too many recent attempts for the client address or the username (429 with Retry-After)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    user: User
    session: Session
    token: str


def _principal(request: Request, token: str | None) -> Principal | None:
    """The session of ``token`` and its account, read together (one query per request); a
    session whose account is gone or disabled ends."""
    signed_in = web_state(request).sessions.signed_in(token)
    if signed_in is None or token is None:
        return None
    session, user = signed_in
    request.state.username = user.username
    return Principal(user=user, session=session, token=token)


def _api_principal(request: Request, token: Annotated[str | None, Security(_session_cookie)],
                   csrf: Annotated[str | None, Security(_csrf_header)]) -> Principal:
    principal = _principal(request, token)
    if principal is None:
        raise HTTPException(401, "not signed in (or the session ended): sign in with "
                                 "POST /api/v1/session, then send its cookie",
                            headers={"WWW-Authenticate": 'Cookie realm="myositis-cds"'})
    if request.method not in SAFE_METHODS and not same_token(principal.session.csrf_token, csrf):
        raise HTTPException(403, f"missing or invalid {CSRF_HEADER} header: send the csrf_token "
                                 "of GET /api/v1/session")
    if (principal.user.must_change_password
            and request.url.path not in _API_WITH_TEMPORARY_PASSWORD):
        raise HTTPException(403, "password change required: the password of this account is "
                                 "temporary; choose your own with POST /api/v1/account/password "
                                 "(or on the sign-in page) first")
    return principal


def _signed_in_page(request: Request) -> Principal:
    principal = _principal(request, request.cookies.get(SESSION_COOKIE))
    if principal is None:
        raise LoginRequired
    return principal


# The dependencies that do no I/O are ``async``: FastAPI runs them on the event loop instead of
# handing each to a worker thread (one thread hop per request, not three).
async def _page_principal(principal: Annotated[Principal, Depends(_signed_in_page)]) -> Principal:
    if principal.user.must_change_password:
        raise PasswordChangeRequired
    return principal


def _checked_form(principal: Principal, csrf_token: str) -> Principal:
    if not same_token(principal.session.csrf_token, csrf_token):
        raise HTTPException(403, "the form's anti-forgery token is missing or out of date: "
                                 "reload the page and submit the form again")
    return principal


async def _page_writer(principal: Annotated[Principal, Depends(_page_principal)],
                 csrf_token: Annotated[str, Form()] = "") -> Principal:
    return _checked_form(principal, csrf_token)


async def _account_writer(principal: Annotated[Principal, Depends(_signed_in_page)],
                    csrf_token: Annotated[str, Form()] = "") -> Principal:
    return _checked_form(principal, csrf_token)


ApiPrincipal = Annotated[Principal, Depends(_api_principal)]
PagePrincipal = Annotated[Principal, Depends(_page_principal)]
"""A signed-in user whose password is their own (a temporary one redirects to its change)."""
PageWriter = Annotated[Principal, Depends(_page_writer)]
"""A signed-in user submitting a form that carries the session's anti-forgery token."""
AccountPrincipal = Annotated[Principal, Depends(_signed_in_page)]
"""A signed-in user, even one who must still change a temporary password (account pages)."""
AccountWriter = Annotated[Principal, Depends(_account_writer)]


def sign_in(request: Request, *, username: str, password: str) -> tuple[str, Session, User]:
    """Check the password and start a new session; the old one, if any, ends.

    The attempt is reserved with the limiter *before* the password is checked (an atomic
    database transaction): concurrent attempts cannot all pass a check made before any of them
    is counted. A wrong password keeps the attempt counted; a right one removes it."""
    state = web_state(request)
    client = request.client.host if request.client else "unknown"
    reservation = state.limiter.reserve(address=client, username=username)
    user = users.authenticate(state.uow, state.hasher, username=username, password=password)
    state.limiter.succeeded(reservation, username=username)
    state.sessions.end(request.cookies.get(SESSION_COOKIE))
    request.state.username = user.username
    token, session = state.sessions.create(user.username)
    return token, session, user


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = web_state(request).settings
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=settings.secure_cookies or request.url.scheme == "https",
                        max_age=int(settings.session_lifetime.total_seconds()))


def end_session(request: Request, response: Response) -> None:
    web_state(request).sessions.end(request.cookies.get(SESSION_COOKIE))
    settings = web_state(request).settings
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=settings.secure_cookies or request.url.scheme == "https")
