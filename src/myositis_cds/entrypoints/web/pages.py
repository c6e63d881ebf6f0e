"""Server-rendered pages: sign-in and out, import, export, trend figures, cohort; the data-entry
forms (:mod:`.form_pages`) and administration pages (:mod:`.admin_pages`) are included here, ahead
of the ``/patients/{patient_id}`` routes, and the patient list, page, letter and PDF
(:mod:`.patient_pages`) after the fixed ``/patients/...`` paths.

Forms work without JavaScript and every state-changing form carries the session's anti-forgery
token. The patient page embeds the same HTML report as ``myositis-cds assess --format html``
(every value escaped by its templates) with the trend figures, which are referenced by URL
(``/patients/{id}/figures/{name}.svg?v={version}&as_of={date}``) and drawn on their own request.
Researchers are refused patient pages by the use cases (403, audited) and see the de-identified
cohort page.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from myositis_cds import bootstrap
from myositis_cds.entrypoints.file_names import file_stem
from myositis_cds.entrypoints.web import (
    account_pages,
    admin_pages,
    cohort_pages,
    entry_pages,
    form_pages,
    patient_pages,
)
from myositis_cds.entrypoints.web.api import MAX_ID, AsOf, PatientId
from myositis_cds.entrypoints.web.auth import (
    CHANGE_PASSWORD_PAGE,
    SESSION_COOKIE,
    AccountWriter,
    PagePrincipal,
    PageWriter,
    end_session,
    set_session_cookie,
    sign_in,
)
from myositis_cds.entrypoints.web.figures import BEING_DRAWN_SVG, FIGURE_NAMES, decode_figures
from myositis_cds.entrypoints.web.sessions import login_form_token, verify_login_form_token
from myositis_cds.entrypoints.web.state import html_page, web_state
from myositis_cds.entrypoints.web.view_tokens import view_token
from myositis_cds.errors import AuthenticationError
from myositis_cds.presentation.html import jinja_environment as report_templates
from myositis_cds.services import patients, users
from myositis_cds.services.access import PATIENT_ROLES

__all__ = ["LOGIN_COOKIE", "router"]

LOGIN_COOKIE = "myositis_login"
router = APIRouter(include_in_schema=False)
router.include_router(form_pages.router)  # first: /patients/new is not /patients/{patient_id}
router.include_router(entry_pages.router)
router.include_router(admin_pages.router)
router.include_router(account_pages.router)
router.include_router(cohort_pages.router)
FIGURE_MAX_AGE = 3600
"""Seconds a browser may keep a figure requested at its current version and date."""


@router.get("/static/report.css")
def report_css() -> Response:
    css = report_templates().get_template("report.css.j2").render()
    return Response(css, media_type="text/css")


@router.get("/")
def home(request: Request) -> Response:
    state = web_state(request)
    session = state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return RedirectResponse("/login", status_code=303)
    user = users.get_user(state.uow, session.username)
    target = "/patients" if user is not None and user.role in ("clinician", "admin") else "/cohort"
    if user is not None and user.must_change_password:
        target = CHANGE_PASSWORD_PAGE
    return RedirectResponse(target, status_code=303)


def _login_page(request: Request, *, status: int = 200, message: str = "",
                username: str = "") -> HTMLResponse:
    nonce, token = login_form_token(web_state(request).settings.secret_key)
    response = html_page(request, "login.html.j2", status=status, title="Sign in", principal=None,
                     message=message, username=username, login_token=token)
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="lax", path="/login",
                        max_age=3600,
                        secure=web_state(request).settings.secure_cookies or request.url.scheme == "https")
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(request: Request, username: Annotated[str, Form(max_length=200)] = "",
          password: Annotated[str, Form(max_length=1024)] = "",
          login_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    settings = web_state(request).settings
    if not verify_login_form_token(settings.secret_key, request.cookies.get(LOGIN_COOKIE), login_token):
        return _login_page(request, status=403, username=username[:64],
                           message="The sign-in form had expired: please sign in again.")
    try:
        if not username or not password or "\x00" in username:
            raise AuthenticationError("enter your username and password")
        token, _session, user = sign_in(request, username=username, password=password)
    except AuthenticationError:
        return _login_page(request, status=401, username=username[:64],
                           message="Sign-in failed: unknown username, wrong password or disabled "
                                   "account.")
    target = "/patients" if user.role in ("clinician", "admin") else "/cohort"
    if user.must_change_password:
        target = CHANGE_PASSWORD_PAGE
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, principal: AccountWriter) -> Response:
    del principal
    response = RedirectResponse("/login", status_code=303)
    end_session(request, response)
    return response


@router.get("/patients/import")
def import_form(request: Request, principal: PagePrincipal) -> HTMLResponse:
    if principal.user.role not in PATIENT_ROLES:
        raise HTTPException(403, f"permission denied: the role {principal.user.role!r} may not "
                                 "store patient records")
    return html_page(request, "import.html.j2", title="Import a patient", principal=principal)


def _uploaded_record(request: Request, upload: UploadFile) -> dict[str, Any]:
    limit = web_state(request).settings.max_upload_bytes
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"the file is larger than {limit} bytes")
    return bootstrap.decode_json_object(data, source="uploaded file", max_bytes=limit,
                                 expected="one patient-record@1 JSON object")


@router.post("/patients/import")
def import_record(request: Request, principal: PageWriter,
                  file: Annotated[UploadFile, File()]) -> Response:
    state = web_state(request)
    stored = patients.create_patient(state.uow, principal.user, _uploaded_record(request, file),
                                     parse=state.clinic.parse)
    return RedirectResponse(f"/patients/{stored.id}", status_code=303)


@router.get("/patients/{patient_id}/figures/{name}.svg")
def trend_figure(request: Request, principal: PagePrincipal, patient_id: PatientId, name: str, *,
                 v: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                 as_of: AsOf = None,
                 view: Annotated[str, Query(max_length=64)] = "") -> Response:
    """One trend figure (``ck``, ``mmt8`` or ``titer``) of a stored patient as SVG. With the
    current version ``v`` and ``as_of`` (the URLs the page uses) the figure never changes, so the
    browser may keep it privately.

    A figure is part of the page view that references it: requested with that view's token
    (:func:`view_token`) and still at the version shown, it is covered by the page's one audited
    read; any other request for it is audited as a read of its own."""
    if name not in FIGURE_NAMES:
        raise HTTPException(status_code=404, detail="no such figure")
    state = web_state(request)
    clinic = state.clinic
    day = clinic.as_of(as_of)
    audited = (v if v is not None and as_of is not None and hmac.compare_digest(
        view.encode(), view_token(principal, patient_id, v, as_of).encode()) else None)
    stored, body = patients.read_patient_with_view(
        state.uow, principal.user, patient_id, as_of=day, fingerprint=clinic.figures_fingerprint,
        audited_version=audited)
    svg = (decode_figures(body).get(name) if body is not None
           else state.renderer.figure(stored, day, name,
                                      wait=state.settings.figure_wait.total_seconds()))
    if svg is None:  # not drawn yet: it is being drawn now
        return Response(BEING_DRAWN_SVG, media_type="image/svg+xml",
                        headers={"Cache-Control": "no-store", "Retry-After": "5"})
    versioned = v == stored.version and as_of is not None
    return Response(svg, media_type="image/svg+xml", headers={
        "Cache-Control": f"private, max-age={FIGURE_MAX_AGE}" if versioned else "no-store"})


@router.get("/patients/{patient_id}/export")
def export_record(request: Request, principal: PagePrincipal, patient_id: PatientId) -> Response:
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    body = orjson.dumps(stored.record, option=orjson.OPT_INDENT_2) + b"\n"
    name = f"{file_stem(stored.patient_key)}.json"
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/patients/{patient_id}/replace")
def replace_record(request: Request, principal: PageWriter, patient_id: PatientId,
                   version: Annotated[int, Form(ge=1, le=MAX_ID)],
                   file: Annotated[UploadFile, File()]) -> Response:
    state = web_state(request)
    patients.update_patient(state.uow, principal.user, patient_id, _uploaded_record(request, file),
                            expected_version=version, parse=state.clinic.parse)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


# Last: the patient list and page (/patients/{patient_id} would otherwise catch /patients/import).
router.include_router(patient_pages.router)
