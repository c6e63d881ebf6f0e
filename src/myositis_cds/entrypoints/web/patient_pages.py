"""The clinician's patient pages: the patient list, the act-now patient page, the print letter and
its PDF.

Each route reads the request, calls one use case and renders: the patient page comes from the
"patient page view" use case (one audited read; the stored view of this version, date and
fingerprint, or the typed results rendered by :meth:`Clinic.render_page` and kept); the letter and
the PDF from :func:`~myositis_cds.services.patient_page.read_patient_results` (one audited read,
results computed once; not kept, since the letter names who printed it and when).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from myositis_cds.entrypoints.file_names import file_stem
from myositis_cds.entrypoints.web.api import MAX_ID, AsOf, PatientId
from myositis_cds.entrypoints.web.auth import PagePrincipal
from myositis_cds.entrypoints.web.clinical import PageParts
from myositis_cds.entrypoints.web.form_pages import ADD_LINKS
from myositis_cds.entrypoints.web.middleware import CONTENT_SECURITY_POLICY
from myositis_cds.entrypoints.web.state import html_page, web_state
from myositis_cds.entrypoints.web.view_tokens import with_view_tokens
from myositis_cds.presentation.letter import (
    inline_style_sources,
    render_letter_html,
    render_letter_pdf,
)
from myositis_cds.presentation.patient_list import patient_list_view
from myositis_cds.services.patient_list import list_patient_page
from myositis_cds.services.patient_page import open_patient_page, read_patient_results
from myositis_cds.services.ports import Attention, ListSort, PatientListQuery, StoredPatient

__all__ = ["PAGE_SIZE", "router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/patients")
def patient_list(request: Request, principal: PagePrincipal, *,
                 q: Annotated[str, Query(max_length=200, pattern=r"^[^\x00]*$")] = "",
                 attention: Attention = "all",
                 phase: Annotated[str, Query(max_length=40, pattern=r"^[a-z_]*$")] = "",
                 sort: ListSort = "attention",
                 offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> HTMLResponse:
    """The worklist: who needs attention first (critical alerts, overdue items, inadequate
    response, warnings, what is due next), from the stored summaries, sorted and filtered."""
    state = web_state(request)
    clinic = state.clinic
    today = clinic.today()
    query = PatientListQuery(text=q, attention=attention, phase=phase or None, sort=sort,
                             limit=PAGE_SIZE, offset=offset)
    page = list_patient_page(state.uow, principal.user, query, as_of=today,
                             fingerprint=clinic.fingerprint, parse=clinic.parse, params=clinic.params)
    return html_page(request, "patients.html.j2", title="Patients", principal=principal,
                     listing=patient_list_view(page.rows, total=page.total, query=page.query,
                                               as_of=page.as_of, refreshed=page.refreshed))


def _page_context(request: Request, principal: PagePrincipal, patient_id: int,
                  as_of: dt.date | None) -> dict[str, Any]:
    state = web_state(request)
    clinic = state.clinic
    day = clinic.as_of(as_of)
    view = open_patient_page(state.uow, principal.user, patient_id, as_of=day,
                             fingerprint=clinic.fingerprint, parse=clinic.parse,
                             params=clinic.params, render=clinic.render_page)
    stored = view.patient
    page = with_view_tokens(PageParts.decode(view.body).page, principal, stored.id, stored.version,
                            day)
    return {"title": stored.patient_key, "principal": principal, "patient": stored,
            "as_of": day.isoformat(), "today": clinic.today().isoformat(),
            "page": Markup(page)}  # noqa: S704 - escaped by its templates


@router.get("/patients/{patient_id}")
def patient_page(request: Request, principal: PagePrincipal, patient_id: PatientId,
                 as_of: AsOf = None) -> HTMLResponse:
    """Act now first (who, alerts, due items, plan, current therapy, latest response), the rest
    in native ``<details>``; the trend figures are referenced by URL, drawn on their own request."""
    return html_page(request, "patient.html.j2", entry_links=ADD_LINKS,
                     **_page_context(request, principal, patient_id, as_of))


def _letter(request: Request, principal: PagePrincipal, patient_id: int,
            as_of: dt.date | None) -> tuple[StoredPatient, Any]:
    state = web_state(request)
    clinic = state.clinic
    stored, results = read_patient_results(state.uow, principal.user, patient_id,
                                           as_of=clinic.as_of(as_of), parse=clinic.parse,
                                           params=clinic.params)
    return stored, clinic.letter(stored, results, printed_by=principal.user.username)


@router.get("/patients/{patient_id}/print")
def print_view(request: Request, principal: PagePrincipal, patient_id: PatientId,
               as_of: AsOf = None) -> HTMLResponse:
    """The clinic letter (at most two A4 pages) as a page to print."""
    _, letter = _letter(request, principal, patient_id, as_of)
    html = render_letter_html(letter)
    styles = " ".join(inline_style_sources(html))  # the letter's own CSS, and nothing else inline
    return HTMLResponse(html, headers={
        "Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; style-src 'self' {styles}"})


@router.get("/patients/{patient_id}/letter.pdf")
def letter_pdf(request: Request, principal: PagePrincipal, patient_id: PatientId,
               as_of: AsOf = None) -> Response:
    """The clinic letter as a PDF download (rendered by WeasyPrint)."""
    stored, letter = _letter(request, principal, patient_id, as_of)
    name = f"{file_stem(stored.patient_key)}-letter-{letter.act.as_of}.pdf"
    return Response(render_letter_pdf(letter), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})
