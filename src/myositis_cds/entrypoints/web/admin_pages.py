"""Administration pages (role ``admin``): users (list, add, disable, unlock sign-in) and the audit
log (filtered view, paginated, and CSV export).

Every check of the role is the use cases' (:mod:`myositis_cds.services.users`,
:mod:`myositis_cds.services.audit`): anyone else gets 403 and the refusal is audited. Passwords
are never echoed back into a form.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from myositis_cds.entrypoints.dates import filter_date_problem
from myositis_cds.entrypoints.web.api import IsoDate
from myositis_cds.entrypoints.web.auth import PagePrincipal, PageWriter, Principal
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import AlreadyExistsError, UsageError
from myositis_cds.services import audit, users
from myositis_cds.services.ports import AUDIT_ACTIONS, ROLES, AuditAction, AuditQuery

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 50
_Text = Annotated[str, Query(max_length=200, pattern=r"^[^\x00]*$")]
_Day = Annotated[IsoDate | None, Query()]


def _users_page(request: Request, principal: Principal, *, status: int = 200, message: str = "",
                username: str = "", role: str = "clinician") -> HTMLResponse:
    state = web_state(request)
    accounts = users.list_users(state.uow, principal.user)
    html = state.templates.get_template("admin_users.html.j2").render(
        title="Users", principal=principal, users=accounts, roles=ROLES, message=message,
        username=username, role=role)
    return HTMLResponse(html, status_code=status)


@router.get("/admin/users")
def users_page(request: Request, principal: PagePrincipal) -> HTMLResponse:
    return _users_page(request, principal)


@router.post("/admin/users")
def add_user(request: Request, principal: PageWriter,
             username: Annotated[str, Form(max_length=200)] = "",
             password: Annotated[str, Form(max_length=1024)] = "",
             role: Annotated[str, Form(max_length=40)] = "clinician") -> Response:
    state = web_state(request)
    try:
        users.add_user(state.uow, state.hasher, principal.user, username=username.strip(),
                       password=password, role=role)
    except UsageError as exc:
        return _users_page(request, principal, status=422, message=f"Not added: {exc}.",
                           username=username[:64], role=role)
    except AlreadyExistsError as exc:
        return _users_page(request, principal, status=409, message=f"Not added: {exc}.",
                           username=username[:64], role=role)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/disable")
def disable_user(request: Request, principal: PageWriter, username: str) -> Response:
    users.disable_user(web_state(request).uow, principal.user, username[:200])
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/unlock")
def unlock_user(request: Request, principal: PageWriter, username: str) -> Response:
    """End the user's sign-in delay now (audited): the path for an owner held back by someone
    else's wrong guesses."""
    cleared = users.unlock_user(web_state(request).uow, principal.user, username[:200])
    return _users_page(request, principal, message=f"Unlocked {username[:64]}: {cleared} failed "
                       "sign-in(s) forgotten.")


def _audit_query(actor: str, action: str, patient_key: str, since: dt.date | None,
                 until: dt.date | None) -> AuditQuery:
    for name, day in (("since", since), ("until", until)):
        problem = None if day is None else filter_date_problem(day)
        if problem is not None:
            raise HTTPException(422, f"{name}: got {day}; expected {problem}")
    chosen: AuditAction | None = next((a for a in AUDIT_ACTIONS if a == action), None)
    if action and chosen is None:
        raise HTTPException(422, f"action: got {action[:40]!r}; expected one of "
                                 f"{', '.join(AUDIT_ACTIONS)} (or empty for any)")
    return AuditQuery(
        actor=actor.strip() or None, action=chosen, patient_key=patient_key.strip() or None,
        since=None if since is None else dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC),
        until=None if until is None else dt.datetime.combine(until + dt.timedelta(days=1),
                                                             dt.time(), tzinfo=dt.UTC))


@router.get("/admin/audit")
def audit_page(request: Request, principal: PagePrincipal, *, actor: _Text = "", action: _Text = "",
               patient_key: _Text = "", since: _Day = None, until: _Day = None,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> HTMLResponse:
    state = web_state(request)
    query = _audit_query(actor, action, patient_key, since, until)
    events = audit.list_audit_events(state.uow, principal.user, query, limit=AUDIT_PAGE + 1,
                                     offset=offset)
    filters: dict[str, Any] = {"actor": actor, "action": action if query.action else "",
                               "patient_key": patient_key,
                               "since": since.isoformat() if since else "",
                               "until": until.isoformat() if until else ""}
    html = state.templates.get_template("admin_audit.html.j2").render(
        title="Audit log", principal=principal, events=events[:AUDIT_PAGE], filters=filters,
        actions=AUDIT_ACTIONS, offset=offset,
        previous_offset=max(0, offset - AUDIT_PAGE) if offset > 0 else None,
        next_offset=offset + AUDIT_PAGE if len(events) > AUDIT_PAGE else None)
    return HTMLResponse(html)


@router.get("/admin/audit.csv")
def audit_csv(request: Request, principal: PagePrincipal, *, actor: _Text = "", action: _Text = "",
              patient_key: _Text = "", since: _Day = None, until: _Day = None) -> Response:
    out = io.StringIO()
    audit.export_audit_events(web_state(request).uow, principal.user, out,
                              _audit_query(actor, action, patient_key, since, until), fmt="csv")
    return Response(out.getvalue().encode(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})
