"""SMART App Launch 2.x: the app launched from an EHR shows the patient page for the EHR's patient.

- ``GET /launch?iss=…&launch=…`` — **EHR launch** (the EHR opens the app in a patient's context);
  ``GET /launch?iss=…`` (or ``/launch`` when one EHR is configured) — **standalone launch** (the
  user picks the patient at the EHR, scope ``launch/patient``). The EHR must be configured; its
  ``.well-known/smart-configuration`` gives the endpoints; the browser is sent to the authorization
  endpoint with PKCE (S256), a ``state`` bound to the browser by a cookie, and ``aud`` = the FHIR
  base.
- ``GET /smart/callback?code=…&state=…`` — the state must be the browser's and unused (ten
  minutes); the code is exchanged for an access token (checked: Bearer, a patient in context, a
  patient read scope); the chart is read from the EHR's FHIR server with it (the searches of
  :mod:`myositis_cds.adapters.fhir.chart`, paged, Medications included), imported with the site
  configuration and validated; a session (cookie) holds the record — not the token — for
  ``session_minutes``. Then ``303`` to the page.
- ``GET /smart/patient[?as_of=…]`` — the patient page, rendered by the same function as a stored
  patient's page (the same results and :meth:`~myositis_cds.entrypoints.web.clinical.Clinic.render_page`:
  the act-now page), read-only;
  ``GET /smart/figures/{name}.svg`` its trend figures.

Every read of the chart and every page view is audited (``patient.read``, actor ``smart:<iss>``).
These pages may be framed by the configured EHR origins only (Content-Security-Policy
``frame-ancestors``; the security middleware); every other page of the application may not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Final, cast
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Engine

from myositis_cds.adapters.fhir.chart import (
    CHART_SEARCHES,
    ChartError,
    ChartFetcher,
    FetchError,
    urllib_transport,
)
from myositis_cds.adapters.storage.smart import SmartSession, SqlSmartStore
from myositis_cds.bootstrap import SiteConfig, fhir_record_importer
from myositis_cds.entrypoints.web.api import AsOf
from myositis_cds.entrypoints.web.clinical import PageParts
from myositis_cds.entrypoints.web.figures import FIGURE_NAMES
from myositis_cds.entrypoints.web.smart.config import SmartConfig, SmartEhr
from myositis_cds.entrypoints.web.smart.oauth import (
    LaunchError,
    challenge,
    discover,
    exchange_code,
    new_verifier,
)
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import RecordValidationError
from myositis_cds.services.decision_support import FhirImport
from myositis_cds.services.ports import StoredPatient
from myositis_cds.services.smart_launch import open_launched_page, record_smart_read

__all__ = ["SESSION_COOKIE", "STATE_COOKIE", "SmartRuntime", "install_smart", "router"]

router = APIRouter(include_in_schema=False)
STATE_COOKIE: Final = "myositis_smart_state"
SESSION_COOKIE: Final = "myositis_smart"
LAUNCH_SECONDS: Final = 600
_REQUIRED: Final = frozenset({"patient", "observations", "conditions", "medicationRequests"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartRuntime:
    config: SmartConfig | None
    store: SqlSmartStore
    import_record: FhirImport
    """The site's FHIR import (:func:`myositis_cds.bootstrap.fhir_record_importer`)."""


def install_smart(app: FastAPI, config: SmartConfig | None, *, engine: Engine,
                  site: SiteConfig) -> None:
    app.state.smart = SmartRuntime(config=config, store=SqlSmartStore(engine),
                                   import_record=fhir_record_importer(site))
    app.include_router(router)


def _runtime(request: Request) -> SmartRuntime:
    return cast(SmartRuntime, request.app.state.smart)


def _error(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {400: "Launch refused", 401: "No launched session", 403: "Not authorised",
              404: "Not found", 502: "The EHR did not answer", 503: "SMART launch not set up"}
    html = web_state(request).templates.get_template("error.html.j2").render(
        status=status, title=titles.get(status, "Launch failed"), message=message, errors=())
    return HTMLResponse(html, status_code=status)


def _cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    """HttpOnly, path /smart. Over HTTPS (or with secure cookies) ``SameSite=None; Secure;
    Partitioned`` so that it works in the EHR's frame; over plain HTTP (a development set-up),
    ``SameSite=Lax``."""
    secure = web_state(request).settings.secure_cookies or request.url.scheme == "https"
    response.set_cookie(name, value, max_age=max_age, path="/smart", httponly=True,
                        secure=secure, samesite="none" if secure else "lax")
    if secure:  # CHIPS: starlette has no parameter for it yet
        header = response.headers.getlist("set-cookie")[-1]
        del response.headers["set-cookie"]
        response.headers.append("set-cookie", header + "; Partitioned")


def _ehr(config: SmartConfig, iss: str | None) -> SmartEhr | None:
    if iss is None:
        return next(iter(config.ehrs.values())) if len(config.ehrs) == 1 else None
    return config.ehrs.get(iss.rstrip("/"))


@router.get("/launch")
def launch(request: Request,
           iss: Annotated[str | None, Query(max_length=2048)] = None,
           launch: Annotated[str | None, Query(max_length=2048)] = None) -> Response:
    config = _runtime(request).config
    if config is None:
        return _error(request, 503, "this application is not set up for SMART launches "
                                    "(MYOSITIS_CDS_SMART)")
    ehr = _ehr(config, iss)
    if ehr is None:
        return _error(request, 400, "iss: the EHR that launched the app is not one this "
                                    "application is registered with; expected one of "
                                    + ", ".join(sorted(config.ehrs)))
    try:
        endpoints = discover(ehr, timeout=config.timeout)
    except LaunchError as exc:
        return _error(request, exc.status, str(exc))
    state, verifier = secrets.token_urlsafe(32), new_verifier()
    _runtime(request).store.put_launch(state, {"iss": ehr.iss, "verifier": verifier,
                                               "standalone": launch is None},
                                       lifetime=LAUNCH_SECONDS)
    query = {"response_type": "code", "client_id": ehr.client_id,
             "redirect_uri": config.redirect_uri,
             "scope": ehr.scope if launch is not None else ehr.standalone_scope,
             "state": state, "aud": ehr.iss, "code_challenge": challenge(verifier),
             "code_challenge_method": "S256"}
    if launch is not None:
        query["launch"] = launch
    response = RedirectResponse(f"{endpoints.authorize}?{urlencode(query)}", status_code=302)
    _cookie(request, response, STATE_COOKIE, state, max_age=LAUNCH_SECONDS)
    return response


def _read_chart(config: SmartConfig, ehr: SmartEhr, token: str, patient: str) -> tuple[
        list[dict[str, Any]], list[str]]:
    """The chart's resources and the optional searches the EHR could not answer."""
    fetcher = ChartFetcher(base=ehr.iss, token=token, transport=urllib_transport,
                           timeout=config.timeout, max_pages=100, page_size=1000)
    resources: list[dict[str, Any]] = []
    missing = []
    for key in CHART_SEARCHES:
        try:
            resources += fetcher.fetch(key, patient)
        except FetchError:
            if key in _REQUIRED:
                raise
            missing.append(key)
    return resources, missing


@router.get("/smart/callback")
def callback(request: Request,
             code: Annotated[str | None, Query(max_length=4096)] = None,
             state: Annotated[str | None, Query(max_length=512)] = None,
             error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    runtime = _runtime(request)
    config = runtime.config
    if config is None:
        return _error(request, 503, "this application is not set up for SMART launches")
    browser_state = request.cookies.get(STATE_COOKIE)
    if not state or not browser_state or not secrets.compare_digest(state, browser_state):
        return _error(request, 400, "state: the launch was not started in this browser (or the "
                                    "page was opened twice); launch the app again from the EHR")
    pending = runtime.store.take_launch(state)
    ehr = config.ehrs.get(str(pending.get("iss"))) if pending else None
    if pending is None or ehr is None:
        return _error(request, 400, "state: the launch expired or was already used; launch the "
                                    "app again from the EHR")
    if error is not None or not code:
        reason = "".join(c for c in (error or "no code") if c.isalnum() or c in "_-")[:60]
        return _error(request, 403, f"the EHR did not authorise the app ({reason})")
    try:
        endpoints = discover(ehr, timeout=config.timeout)
        answer = exchange_code(ehr, endpoints, code=code, verifier=str(pending["verifier"]),
                               redirect_uri=config.redirect_uri, timeout=config.timeout)
        resources, missing = _read_chart(config, ehr, answer.access_token, answer.patient)
    except LaunchError as exc:
        return _error(request, exc.status, str(exc))
    except (FetchError, ChartError) as exc:
        return _error(request, 502, f"the patient's chart could not be read from the EHR ({exc})")
    today = web_state(request).clinic.today()
    validated = runtime.import_record(resources, today)
    report = {"unmapped": validated.unmapped.to_dict(), "not_provided": missing,
              "errors": [e.to_dict() for e in validated.errors]}
    kind = "standalone" if pending.get("standalone") else "EHR"
    record_smart_read(web_state(request).uow, iss=ehr.iss, patient_key=answer.patient,
                      detail=f"SMART {kind} launch: chart read from the EHR ({len(resources)} "
                             f"resources, {validated.unmapped.total} item(s) unmapped, "
                             f"{len(missing)} search(es) not answered)")
    if validated.document is None:
        return _error(request, 422, "the EHR's data could not be made into a valid patient "
                                    f"record ({len(validated.errors)} problem(s)): nothing was "
                                    "assessed")
    session = secrets.token_urlsafe(32)
    lifetime = min(config.session_minutes * 60, answer.expires_in or config.session_minutes * 60)
    runtime.store.create_session(session, iss=ehr.iss, patient_id=answer.patient,
                                 user_ref=kind, record=validated.document, report=report,
                                 lifetime=max(lifetime, 60))
    response = RedirectResponse("/smart/patient", status_code=303)
    _cookie(request, response, SESSION_COOKIE, session, max_age=max(lifetime, 60))
    response.delete_cookie(STATE_COOKIE, path="/smart")
    return response


def _session(request: Request) -> SmartSession | None:
    return _runtime(request).store.session(request.cookies.get(SESSION_COOKIE))


def _stored(session: SmartSession) -> StoredPatient:
    """The launched record as the page renders a patient (not stored here: id 0, version 1)."""
    created = dt.datetime.fromtimestamp(session.created_at, dt.UTC)
    return StoredPatient(id=0, patient_key=str(session.record.get("id", session.patient_id)),
                         record=session.record, version=1, created_at=created,
                         updated_at=created)


@router.get("/smart/patient")
def smart_patient(request: Request, as_of: AsOf = None) -> Response:
    session = _session(request)
    if session is None:
        return _error(request, 401, "no launched session (or it expired): launch the app again "
                                    "from the EHR")
    state = web_state(request)
    clinic = state.clinic
    try:
        day = clinic.as_of(as_of)
        body = open_launched_page(
            state.uow, iss=session.iss, patient_key=session.patient_id, launched=_stored(session),
            as_of=day, parse=clinic.parse, params=clinic.params,
            render=lambda stored, results: clinic.render_page(
                stored, results,
                figure_url=lambda name: f"/smart/figures/{name}.svg?as_of={day.isoformat()}"
                                        f"&view={_view_token(request, session, day)}"))
    except RecordValidationError as exc:
        return _error(request, 422, str(exc).splitlines()[0])
    html = state.templates.get_template("smart_patient.html.j2").render(
        title=session.patient_id, principal=None, session=session, as_of=day.isoformat(),
        today=clinic.today().isoformat(),
        page=Markup(PageParts.decode(body).page),  # noqa: S704 - escaped by its templates
        unmapped=session.report.get("unmapped", {}),
        not_provided=session.report.get("not_provided", []))
    return HTMLResponse(html)


def _view_token(request: Request, session: SmartSession, day: dt.date) -> str:
    """What ties a figure request to the audited page view that referenced it (as a stored
    patient's view token): an HMAC, keyed with the server's secret, of the session and date."""
    message = f"smart-view:{session.key}:{day.isoformat()}".encode()
    return hmac.new(web_state(request).settings.secret_key, message,
                    hashlib.sha256).hexdigest()[:32]


@router.get("/smart/figures/{name}.svg")
def smart_figure(request: Request, name: str, as_of: AsOf = None,
                 view: Annotated[str, Query(max_length=64)] = "") -> Response:
    """One trend figure of the launched record. Requested with the page view's token it is part
    of that view's one audit event; any other request for it is audited as a read of its own."""
    session = _session(request)
    if session is None:
        return _error(request, 401, "no launched session (or it expired)")
    if name not in FIGURE_NAMES:
        return _error(request, 404, "no such figure")
    state = web_state(request)
    day = state.clinic.as_of(as_of)
    pseudo = -int(hashlib.sha256(session.key.encode()).hexdigest()[:12], 16)  # per session
    svg = state.clinic.figure_svg(patient_id=pseudo, version=1, document=session.record,
                                  as_of=day, name=name)
    if not hmac.compare_digest(view.encode(), _view_token(request, session, day).encode()):
        record_smart_read(state.uow, iss=session.iss, patient_key=session.patient_id,
                          detail=f"SMART figure {name} as of {day.isoformat()}, outside a page "
                                 "view")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
