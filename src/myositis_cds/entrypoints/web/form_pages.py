"""Data-entry pages that add: create a patient, change its details, record a visit (one screen:
core set, MMT-8, findings, labs, weight), and add one lab, antibody, finding, treatment,
investigation or body measurement.

Each submit is one change (:mod:`myositis_cds.services.record_changes`) made on the version the
form was loaded at: additions and patient details that someone else did not touch meanwhile are
applied to the latest version, so two clinicians adding different things never block each other;
a real conflict keeps the input and offers to apply it to the current version. The record is
validated by the engine's parser; an invalid form comes back with 422, every message next to its
field, every typed value kept. Nothing here runs without the session's anti-forgery token, and
researchers are refused by the use cases (403, audited).
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from myositis_cds.entrypoints.web.api import PatientId
from myositis_cds.entrypoints.web.auth import PagePrincipal, PageWriter, Principal
from myositis_cds.entrypoints.web.form_errors import PATIENT_TARGETS, form_targets
from myositis_cds.entrypoints.web.form_render import (
    FormPage,
    FormValues,
    Version,
    invalid_message,
    patient_reader,
    render_form,
    submit_change,
)
from myositis_cds.entrypoints.web.forms import (
    DETAIL_OF_FIELD,
    ENTRY_FORMS,
    PATIENT_FORM,
    FormSpec,
    apply_patient_fields,
    build_entry,
    patient_values,
    typed_values,
)
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.entrypoints.web.visit_form import (
    build_visit,
    visit_field_names,
    visit_layout,
    visit_targets,
)
from myositis_cds.errors import (
    AlreadyExistsError,
    EntryConflictError,
    FieldError,
    RecordValidationError,
)
from myositis_cds.services import patients
from myositis_cds.services.access import PATIENT_ROLES, require
from myositis_cds.services.ports import StoredPatient
from myositis_cds.services.record_changes import AddEntries, SetDetails

__all__ = ["ADD_LINKS", "router"]

router = APIRouter(include_in_schema=False)
ADD_LINKS: Final = (("visit", "Visit"), ("lab", "Lab"), ("treatment", "Treatment"),
                    ("finding", "Finding"), ("antibody", "Antibody"),
                    ("investigation", "Investigation"), ("measurement", "Weight or height"))
"""What the patient page offers to add (``/patients/{id}/add/{slug}``)."""


def _may_write(request: Request, principal: Principal) -> None:
    require(web_state(request).uow, principal.user, "patient.create", PATIENT_ROLES,
            what="create patient records")


@router.get("/patients/new")
def new_patient_form(request: Request, principal: PagePrincipal) -> HTMLResponse:
    _may_write(request, principal)
    return render_form(request, principal, FormPage(title="New patient", action="/patients/new",
                                                    fields=PATIENT_FORM, values={}))


@router.post("/patients/new")
def create_patient(request: Request, principal: PageWriter, values: FormValues) -> Response:
    state = web_state(request)
    _may_write(request, principal)
    document, errors = apply_patient_fields({}, values)
    page = FormPage(title="New patient", action="/patients/new", fields=PATIENT_FORM, values=values)
    try:  # the form's own problems and the record's, together
        state.clinic.parse(document, prefix="$", source="patient record")
    except RecordValidationError as exc:
        errors += exc.errors
    if errors:
        return render_form(request, principal, page, status=422, errors=errors,
                           targets=PATIENT_TARGETS, message=invalid_message(len(errors)))
    try:
        stored = patients.create_patient(state.uow, principal.user, document,
                                         parse=state.clinic.parse)
    except AlreadyExistsError as exc:
        return render_form(request, principal, page, status=409, message=f"Not stored: {exc}.")
    return RedirectResponse(f"/patients/{stored.id}", status_code=303)


def _details_page(stored: StoredPatient, values: dict[str, str], version: int,
                  base: dict[str, str]) -> FormPage:
    return FormPage(title=f"Edit {stored.patient_key}", action=f"/patients/{stored.id}/edit",
                    fields=PATIENT_FORM, values=values, patient=stored, version=version,
                    hidden={f"base_{name}": value for name, value in base.items()})


@router.get("/patients/{patient_id}/edit")
def edit_patient_form(request: Request, principal: PagePrincipal,
                      patient_id: PatientId) -> HTMLResponse:
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    values = patient_values(stored.record)
    return render_form(request, principal, _details_page(stored, values, stored.version, values))


def _details(values: dict[str, object]) -> dict[str, object]:
    return {DETAIL_OF_FIELD[name]: values.get(name) for name in DETAIL_OF_FIELD}


@router.post("/patients/{patient_id}/edit")
def edit_patient(request: Request, principal: PageWriter, patient_id: PatientId,
                 version: Version, values: FormValues) -> Response:
    current = patient_reader(request, principal, patient_id)
    problems: list[FieldError] = []
    after = _details(typed_values(PATIENT_FORM, values, problems))
    loaded = {name: values.get(f"base_{name}", "") for name in DETAIL_OF_FIELD}
    before = _details(typed_values(PATIENT_FORM, loaded, []))

    def page() -> FormPage:
        return _details_page(current(), values, version, loaded)

    def rebase(exc: EntryConflictError) -> FormPage:
        stored_now = exc.current if isinstance(exc.current, dict) else {}
        now = {name: "" if stored_now.get(key) is None else str(stored_now.get(key))
               for name, key in DETAIL_OF_FIELD.items()}
        return _details_page(current(), values, exc.current_version, now)

    return submit_change(request, principal, patient_id, SetDetails(before=before, after=after),
                         version=version, page=page, own_errors=problems,
                         targets_of=lambda _paths: PATIENT_TARGETS, rebase=rebase,
                         done=lambda _merged: f"/patients/{patient_id}")


def _visit_page(stored: StoredPatient, values: dict[str, str], version: int) -> FormPage:
    return FormPage(title=f"Visit — {stored.patient_key}", action=f"/patients/{stored.id}/add/visit",
                    fields=(), values={name: values.get(name, "") for name in visit_field_names()},
                    patient=stored, version=version, template="visit_form.html.j2",
                    submit="Save visit", extra={"layout": visit_layout()})


@router.get("/patients/{patient_id}/add/visit")
def visit_form(request: Request, principal: PagePrincipal, patient_id: PatientId) -> HTMLResponse:
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    values = {"date": web_state(request).clinic.today().isoformat()}
    return render_form(request, principal, _visit_page(stored, values, stored.version))


@router.post("/patients/{patient_id}/add/visit")
def add_visit(request: Request, principal: PageWriter, patient_id: PatientId, *,
              version: Version, values: FormValues) -> Response:
    current = patient_reader(request, principal, patient_id)
    parts, problems = build_visit(values)

    def page() -> FormPage:
        return _visit_page(current(), values, version)

    if not parts:
        return render_form(request, principal, page(), status=422, errors=problems,
                           message=invalid_message(len(problems)))
    return submit_change(
        request, principal, patient_id,
        AddEntries(entries=tuple((part.key, part.entry) for part in parts)), version=version,
        page=page, own_errors=problems, targets_of=lambda paths: visit_targets(parts, paths),
        rebase=lambda exc: _visit_page(current(), values, exc.current_version),
        done=lambda _merged: f"/patients/{patient_id}")


def _entry_form(slug: str) -> FormSpec:
    form = ENTRY_FORMS.get(slug)
    if form is None:
        raise HTTPException(404, f"no form {slug[:40]!r}: the forms are visit, "
                                 f"{', '.join(ENTRY_FORMS)}")
    return form


def _add_page(form: FormSpec, stored: StoredPatient, values: dict[str, str],
              version: int) -> FormPage:
    return FormPage(title=f"Add a {form.noun} — {stored.patient_key}",
                    action=f"/patients/{stored.id}/add/{form.slug}", fields=form.fields,
                    values=values, patient=stored, version=version)


@router.get("/patients/{patient_id}/add/{slug}")
def add_entry_form(request: Request, principal: PagePrincipal, patient_id: PatientId,
                   slug: str) -> HTMLResponse:
    form = _entry_form(slug)
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    return render_form(request, principal, _add_page(form, stored, {}, stored.version))


@router.post("/patients/{patient_id}/add/{slug}")
def add_entry(request: Request, principal: PageWriter, patient_id: PatientId, slug: str, *,
              version: Version, values: FormValues) -> Response:
    form = _entry_form(slug)
    current = patient_reader(request, principal, patient_id)
    entry, problems = build_entry(form, values)
    return submit_change(
        request, principal, patient_id, AddEntries(entries=((form.key, entry),)),  # type: ignore[arg-type]
        version=version, page=lambda: _add_page(form, current(), values, version),
        own_errors=problems, targets_of=lambda paths: form_targets(form, paths[0]),
        rebase=lambda exc: _add_page(form, current(), values, exc.current_version),
        done=lambda _merged: f"/patients/{patient_id}")
