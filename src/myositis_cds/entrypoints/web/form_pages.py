"""Data-entry pages: create a patient, edit its details, add visits, labs, antibodies, findings,
treatments, investigations and body measurements.

Every submit builds the whole new ``patient-record@1`` document and stores it through
:func:`myositis_cds.services.patients.create_patient` or
:func:`~myositis_cds.services.patients.update_patient` with the version the form was loaded at, so
the record validation is the engine's and an edit based on an old version is refused (409, the
form kept). An invalid form comes back with 422, each message next to its field and every typed
value kept. Nothing here runs without the session's anti-forgery token, and researchers are
refused by the use cases (403, audited).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from myositis_cds.entrypoints.web.api import MAX_ID, PatientId
from myositis_cds.entrypoints.web.auth import PagePrincipal, PageWriter, Principal
from myositis_cds.entrypoints.web.forms import (
    ENTRY_FORMS,
    PATIENT_FORM,
    FieldSpec,
    FormSpec,
    apply_patient_fields,
    build_entry,
    errors_by_field,
    patient_values,
)
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import AlreadyExistsError, FieldError, RecordValidationError, StaleEditError
from myositis_cds.services import patients
from myositis_cds.services.access import PATIENT_ROLES, require
from myositis_cds.services.ports import StoredPatient

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
MAX_FIELD = 4000


async def _typed_values(request: Request) -> dict[str, str]:
    """Every text field of the posted form (parsed once; FastAPI has cached it)."""
    form = await request.form()
    return {name: value[:MAX_FIELD] for name, value in form.items() if isinstance(value, str)}


FormValues = Annotated[dict[str, str], Depends(_typed_values)]
Version = Annotated[int, Form(ge=1, le=MAX_ID)]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Form:
    """One form as shown: where it posts, its fields and values, the patient and version."""

    title: str
    action: str
    fields: Sequence[FieldSpec]
    values: Mapping[str, str]
    patient: StoredPatient | None = None
    version: int | None = None
    prefix: str = "$"
    """The record path of the form's part (``$.assessments[3]``): where its fields' errors are."""


def _render(request: Request, principal: Principal, form: _Form, *, status: int = 200,
            errors: Sequence[FieldError] = (), message: str = "") -> HTMLResponse:
    by_field, other = errors_by_field(errors, prefix=form.prefix,
                                      names=[f.name for f in form.fields])
    html = web_state(request).templates.get_template("record_form.html.j2").render(
        title=form.title, principal=principal, action=form.action, fields=form.fields,
        values={f.name: form.values.get(f.name, "") for f in form.fields}, field_errors=by_field,
        other_errors=other, message=message, patient=form.patient, version=form.version)
    return HTMLResponse(html, status_code=status)


def _invalid(count: int) -> str:
    return (f"{count} problem{'s' if count != 1 else ''} in the form: nothing was stored; correct "
            "the marked field" + ("s" if count != 1 else "") + " and submit again")


def _stale(exc: StaleEditError) -> str:
    return (f"Not stored: patient {exc.patient_key} was changed by someone else since you opened "
            f"this form (now version {exc.current_version}, your form was based on version "
            f"{exc.expected_version}). Reload the patient page to see the change, then enter "
            "yours again.")


def _may_write(request: Request, principal: Principal) -> None:
    require(web_state(request).uow, principal.user, "patient.create", PATIENT_ROLES,
            what="create patient records")


@router.get("/patients/new")
def new_patient_form(request: Request, principal: PagePrincipal) -> HTMLResponse:
    _may_write(request, principal)
    return _render(request, principal, _Form(title="New patient", action="/patients/new",
                                             fields=PATIENT_FORM, values={}))


@router.post("/patients/new")
def create_patient(request: Request, principal: PageWriter, values: FormValues) -> Response:
    state = web_state(request)
    document, problems = apply_patient_fields({}, values)
    page = _Form(title="New patient", action="/patients/new", fields=PATIENT_FORM, values=values)
    if problems:
        _may_write(request, principal)
        return _render(request, principal, page, status=422, errors=problems,
                       message=_invalid(len(problems)))
    try:
        stored = patients.create_patient(state.uow, principal.user, document, parse=state.clinic.parse)
    except RecordValidationError as exc:
        return _render(request, principal, page, status=422, errors=exc.errors,
                       message=_invalid(len(exc.errors)))
    except AlreadyExistsError as exc:
        return _render(request, principal, page, status=409, message=f"Not stored: {exc}.")
    return RedirectResponse(f"/patients/{stored.id}", status_code=303)


@router.get("/patients/{patient_id}/edit")
def edit_patient_form(request: Request, principal: PagePrincipal,
                      patient_id: PatientId) -> HTMLResponse:
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    return _render(request, principal, _Form(
        title=f"Edit {stored.patient_key}", action=f"/patients/{patient_id}/edit",
        fields=PATIENT_FORM, values=patient_values(stored.record), patient=stored,
        version=stored.version))


def _store(request: Request, principal: Principal, patient_id: int, *, document: dict[str, Any],
           version: int, page: _Form) -> Response:
    state = web_state(request)
    try:
        patients.update_patient(state.uow, principal.user, patient_id, document,
                                expected_version=version, parse=state.clinic.parse)
    except RecordValidationError as exc:
        return _render(request, principal, page, status=422, errors=exc.errors,
                       message=_invalid(len(exc.errors)))
    except StaleEditError as exc:
        return _render(request, principal, page, status=409, message=_stale(exc))
    except AlreadyExistsError as exc:
        return _render(request, principal, page, status=409, message=f"Not stored: {exc}.")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/patients/{patient_id}/edit")
def edit_patient(request: Request, principal: PageWriter, patient_id: PatientId,
                 version: Version, values: FormValues) -> Response:
    current = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    document, problems = apply_patient_fields(current.record, values)
    page = _Form(title=f"Edit {current.patient_key}", action=f"/patients/{patient_id}/edit",
                 fields=PATIENT_FORM, values=values, patient=current, version=version)
    if problems:
        return _render(request, principal, page, status=422, errors=problems,
                       message=_invalid(len(problems)))
    return _store(request, principal, patient_id, document=document, version=version, page=page)


def _entry_form(slug: str) -> FormSpec:
    form = ENTRY_FORMS.get(slug)
    if form is None:
        raise HTTPException(404, f"no form {slug[:40]!r}: the forms are {', '.join(ENTRY_FORMS)}")
    return form


@router.get("/patients/{patient_id}/add/{slug}")
def add_entry_form(request: Request, principal: PagePrincipal, patient_id: PatientId,
                   slug: str) -> HTMLResponse:
    form = _entry_form(slug)
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    return _render(request, principal, _Form(
        title=f"{form.title} — {stored.patient_key}",
        action=f"/patients/{patient_id}/add/{form.slug}", fields=form.fields, values={},
        patient=stored, version=stored.version))


@router.post("/patients/{patient_id}/add/{slug}")
def add_entry(request: Request, principal: PageWriter, patient_id: PatientId, slug: str, *,
              version: Version, values: FormValues) -> Response:
    form = _entry_form(slug)
    current = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    existing = current.record.get(form.key)
    entries = list(existing) if isinstance(existing, list) else []
    entry, problems = build_entry(form, values, len(entries))
    page = _Form(title=f"{form.title} — {current.patient_key}",
                 action=f"/patients/{patient_id}/add/{form.slug}", fields=form.fields,
                 values=values, patient=current, version=version,
                 prefix=f"$.{form.key}[{len(entries)}]")
    if problems:
        return _render(request, principal, page, status=422, errors=problems,
                       message=_invalid(len(problems)))
    document = {**current.record, form.key: [*entries, entry]}
    return _store(request, principal, patient_id, document=document, version=version, page=page)
