"""Correcting the record: every entry listed with its correct, stop (treatments) and delete
actions, and deleting a whole patient after a confirmation.

A correction, a stop and a deletion name the entry as the form loaded it (a hidden copy) and the
version: when the patient changed meanwhile they still apply if that entry did not change (see
:mod:`myositis_cds.services.record_changes`); otherwise the form comes back with the entry as it
is now and the user's input, ready to apply to the current version with one click. A deletion
needs a reason from a list (audited; no free text, which could carry patient data into the audit
trail). Deleting a patient needs a confirmation page that names the patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Final

import orjson
from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from myositis_cds.entrypoints.web.api import MAX_ID, PatientId
from myositis_cds.entrypoints.web.auth import PagePrincipal, PageWriter, Principal
from myositis_cds.entrypoints.web.form_errors import form_targets
from myositis_cds.entrypoints.web.form_render import (
    FormPage,
    FormValues,
    Version,
    describe_entry,
    parse_base,
    patient_reader,
    render_form,
    submit_change,
)
from myositis_cds.entrypoints.web.forms import FORM_OF_KEY, FieldSpec, build_entry, entry_values
from myositis_cds.entrypoints.web.record_view import record_sections
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import EntryConflictError, FieldError, UsageError
from myositis_cds.services import patients
from myositis_cds.services.ports import StoredPatient
from myositis_cds.services.record_changes import (
    DELETE_REASONS,
    ENTRY_KEYS,
    ENTRY_LABELS,
    DeleteEntry,
    ReplaceEntry,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Index = Annotated[int, Path(ge=0, le=MAX_ID)]
DONE: Final = {"corrected": "was corrected", "stopped": "was stopped", "deleted": "was deleted",
               "gone": "had already been deleted (by someone else, or in another tab)"}
_REASON = FieldSpec(name="reason", label="Why is it deleted?", kind="select",
                    choices=tuple(DELETE_REASONS), required=True,
                    labels={k: v[:1].upper() + v[1:] for k, v in DELETE_REASONS.items()})
_STOP = FieldSpec(name="stop", label="Stopped on", kind="date", required=True)


def _key(key: str) -> str:
    if key not in ENTRY_KEYS:
        raise HTTPException(404, f"no list {key[:40]!r} in a patient record")
    return key


def _entry(stored: StoredPatient, key: str, index: int) -> dict[str, object]:
    entries = stored.record.get(key)
    if not isinstance(entries, list) or index >= len(entries) or not isinstance(entries[index], dict):
        raise HTTPException(404, f"this {ENTRY_LABELS[key]} is no longer stored (it may have been "
                                 "deleted): open the record page again")
    return dict(entries[index])


def _base_fields(entry: Mapping[str, object], index: int) -> dict[str, str]:
    return {"base": orjson.dumps(entry, option=orjson.OPT_SORT_KEYS).decode(), "index": str(index)}


def _loaded(values: Mapping[str, str], index: int) -> tuple[dict[str, object], int]:
    base = parse_base(values.get("base", ""))
    if base is None:
        raise HTTPException(400, "the form lost the entry it was opened with: open the record "
                                 "page and start the correction again")
    text = values.get("index", "")
    return base, int(text) if text.isdigit() and int(text) <= MAX_ID else index


def _record_url(patient_id: int, done: str = "", key: str = "", merged: bool = False) -> str:
    if not done:
        return f"/patients/{patient_id}/record"
    return (f"/patients/{patient_id}/record?done={done}&what={key}"
            + ("&merged=1" if merged else ""))


@router.get("/patients/{patient_id}/record")
def record_page(request: Request, principal: PagePrincipal, patient_id: PatientId, *,
                done: Annotated[str, Query(max_length=20)] = "",
                what: Annotated[str, Query(max_length=40)] = "",
                merged: Annotated[bool, Query()] = False) -> HTMLResponse:
    state = web_state(request)
    stored = patients.read_patient(state.uow, principal.user, patient_id)
    notice = ""
    if done in DONE and what in ENTRY_LABELS:
        notice = f"The {ENTRY_LABELS[what]} {DONE[done]}."
        if merged:
            notice += " The patient had changed since you opened the form; your change was " \
                      "applied to the current version (nothing else it held was touched)."
    html = state.templates.get_template("patient_record.html.j2").render(
        title=f"Record of {stored.patient_key}", principal=principal, patient=stored,
        sections=record_sections(stored.record), notice=notice,
        today=state.clinic.today().isoformat(),
        base_of=_base_fields)
    return HTMLResponse(html)


def _correct_page(stored: StoredPatient, key: str, index: int, *, values: Mapping[str, str],
                  version: int, entry: Mapping[str, object]) -> FormPage:
    form = FORM_OF_KEY[key]
    return FormPage(title=f"Correct a {form.noun} — {stored.patient_key}",
                    action=f"/patients/{stored.id}/entries/{key}/{index}", fields=form.fields,
                    values=values, patient=stored, version=version,
                    hidden=_base_fields(entry, index), submit=f"Save the corrected {form.noun}",
                    back=_record_url(stored.id))


def _rebased(page: FormPage, stored: StoredPatient, key: str, values: Mapping[str, str],
             exc: EntryConflictError, *, slug_if_gone: str) -> FormPage:
    """The form again, on the current version: over the entry as it is now, or (it is gone) as a
    new entry."""
    if exc.current is None or exc.current_index is None or not isinstance(exc.current, Mapping):
        return FormPage(title=page.title, action=f"/patients/{stored.id}/add/{slug_if_gone}",
                        fields=page.fields, values=values, patient=stored,
                        version=exc.current_version, submit=f"Save it as a new {ENTRY_LABELS[key]}",
                        back=page.back)
    index = exc.current_index
    return FormPage(title=page.title, action=f"/patients/{stored.id}/entries/{key}/{index}",
                    fields=page.fields, values=values, patient=stored, version=exc.current_version,
                    hidden=_base_fields(exc.current, index),
                    submit="Apply my change to the current version", back=page.back)


@router.get("/patients/{patient_id}/entries/{key}/{index}")
def correct_form(request: Request, principal: PagePrincipal, patient_id: PatientId, key: str,
                 index: Index) -> HTMLResponse:
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    entry = _entry(stored, _key(key), index)
    values = entry_values(FORM_OF_KEY[key], entry)
    return render_form(request, principal, _correct_page(stored, key, index, values=values,
                                                         version=stored.version, entry=entry))


@router.post("/patients/{patient_id}/entries/{key}/{index}")
def correct(request: Request, principal: PageWriter, patient_id: PatientId, key: str,
            index: Index, *, version: Version, values: FormValues) -> Response:
    current = patient_reader(request, principal, patient_id)
    form = FORM_OF_KEY[_key(key)]
    before, index = _loaded(values, index)
    after, problems = build_entry(form, values, base=before)
    stopped = key == "treatments" and before.get("stop") != after.get("stop")

    def page() -> FormPage:
        return _correct_page(current(), key, index, values=values, version=version, entry=before)

    return submit_change(
        request, principal, patient_id,
        ReplaceEntry(key=key, index=index, before=before, after=after),  # type: ignore[arg-type]
        version=version, page=page, own_errors=problems,
        targets_of=lambda paths: form_targets(form, paths[0]),
        rebase=lambda exc: _rebased(page(), current(), key, values, exc, slug_if_gone=form.slug),
        done=lambda merged: _record_url(patient_id, "stopped" if stopped else "corrected", key,
                                        merged))


def _stop_page(stored: StoredPatient, index: int, values: Mapping[str, str], version: int,
               entry: Mapping[str, object]) -> FormPage:
    return FormPage(title=f"Stop a treatment — {stored.patient_key}",
                    action=f"/patients/{stored.id}/entries/treatments/{index}/stop",
                    fields=(_STOP,), values=values, patient=stored, version=version,
                    hidden=_base_fields(entry, index), submit="Stop this treatment",
                    back=_record_url(stored.id),
                    extra={"entry": describe_entry(entry, FORM_OF_KEY["treatments"].fields)})


@router.get("/patients/{patient_id}/entries/treatments/{index}/stop")
def stop_form(request: Request, principal: PagePrincipal, patient_id: PatientId,
              index: Index) -> HTMLResponse:
    state = web_state(request)
    stored = patients.read_patient(state.uow, principal.user, patient_id)
    entry = _entry(stored, "treatments", index)
    values = {"stop": state.clinic.today().isoformat()}
    return render_form(request, principal, _stop_page(stored, index, values, stored.version, entry))


@router.post("/patients/{patient_id}/entries/treatments/{index}/stop")
def stop(request: Request, principal: PageWriter, patient_id: PatientId, index: Index, *,
         version: Version, values: FormValues) -> Response:
    current = patient_reader(request, principal, patient_id)
    before, index = _loaded(values, index)
    problems: list[FieldError] = []
    day = values.get("stop", "").strip()
    if not day:
        problems.append(FieldError(path="form.stop", value="<missing>",
                                   expected="the date the treatment was stopped"))
    after = {**before, "stop": day} if day else dict(before)

    def page() -> FormPage:
        return _stop_page(current(), index, values, version, before)

    def rebase(exc: EntryConflictError) -> FormPage:
        if exc.current is None or exc.current_index is None or not isinstance(exc.current, Mapping):
            return page()  # gone: nothing left to stop; the message says so
        return _stop_page(current(), exc.current_index, values, exc.current_version, exc.current)

    return submit_change(
        request, principal, patient_id,
        ReplaceEntry(key="treatments", index=index, before=before, after=after), version=version,
        page=page, own_errors=problems,
        targets_of=lambda paths: [(paths[0], {"stop": "stop", "start": "stop"})], rebase=rebase,
        done=lambda merged: _record_url(patient_id, "stopped", "treatments", merged))


def _delete_page(stored: StoredPatient, key: str, index: int, *, values: Mapping[str, str],
                 version: int, entry: Mapping[str, object]) -> FormPage:
    noun = ENTRY_LABELS[key]
    return FormPage(title=f"Delete a {noun} — {stored.patient_key}",
                    action=f"/patients/{stored.id}/entries/{key}/{index}/delete", fields=(_REASON,),
                    values=values, patient=stored, version=version,
                    hidden=_base_fields(entry, index), submit=f"Delete this {noun}",
                    back=_record_url(stored.id), extra={
                        "entry": describe_entry(entry, FORM_OF_KEY[key].fields), "danger": True})


@router.get("/patients/{patient_id}/entries/{key}/{index}/delete")
def delete_form(request: Request, principal: PagePrincipal, patient_id: PatientId, key: str,
                index: Index) -> HTMLResponse:
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    entry = _entry(stored, _key(key), index)
    return render_form(request, principal, _delete_page(stored, key, index, values={},
                                                        version=stored.version, entry=entry))


@router.post("/patients/{patient_id}/entries/{key}/{index}/delete")
def delete(request: Request, principal: PageWriter, patient_id: PatientId, key: str,
           index: Index, *, version: Version, values: FormValues) -> Response:
    _key(key)
    current = patient_reader(request, principal, patient_id)
    before, index = _loaded(values, index)
    reason = values.get("reason", "")

    def page() -> FormPage:
        return _delete_page(current(), key, index, values=values, version=version, entry=before)

    if reason not in DELETE_REASONS:
        problem = FieldError(path="form.reason", value=reason or "<missing>",
                             expected="one of the listed reasons")
        return render_form(request, principal, page(), status=422, errors=[problem],
                           message="Not deleted: choose why it is deleted.")

    def rebase(exc: EntryConflictError) -> FormPage:
        if exc.current is None or exc.current_index is None or not isinstance(exc.current, Mapping):
            return page()
        return _delete_page(current(), key, exc.current_index, values=values,
                            version=exc.current_version, entry=exc.current)

    return submit_change(
        request, principal, patient_id,
        DeleteEntry(key=key, index=index, before=before, reason=reason),  # type: ignore[arg-type]
        version=version, page=page, targets_of=lambda _paths: [], rebase=rebase,
        done=lambda merged: _record_url(patient_id, "deleted", key, merged),
        when_gone=lambda _exc: _record_url(patient_id, "gone", key))


@router.get("/patients/{patient_id}/delete")
def delete_patient_form(request: Request, principal: PagePrincipal,
                        patient_id: PatientId) -> HTMLResponse:
    stored = patients.read_patient(web_state(request).uow, principal.user, patient_id)
    return _confirm_patient_deletion(request, principal, stored)


def _confirm_patient_deletion(request: Request, principal: Principal, stored: StoredPatient, *,
                              status: int = 200, message: str = "") -> HTMLResponse:
    counts = [(ENTRY_LABELS[key], len(v)) for key in ENTRY_KEYS
              if isinstance(v := stored.record.get(key), list) and v]
    html = web_state(request).templates.get_template("delete_patient.html.j2").render(
        title=f"Delete {stored.patient_key}?", principal=principal, patient=stored, counts=counts,
        reasons=DELETE_REASONS, message=message)
    return HTMLResponse(html, status_code=status)


@router.post("/patients/{patient_id}/delete")
def delete_patient(request: Request, principal: PageWriter, patient_id: PatientId, *,
                   version: Version, confirm: Annotated[str, Form(max_length=200)] = "",
                   reason: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Deletes only with the patient's identifier typed again (``confirm``) and a reason."""
    state = web_state(request)
    try:
        if reason not in DELETE_REASONS:
            msg = "reason: none chosen; expected one of the listed reasons"
            raise UsageError(msg)
        patients.delete_patient(state.uow, principal.user, patient_id, expected_version=version,
                                confirm_key=confirm.strip(), reason=DELETE_REASONS[reason])
    except UsageError:
        stored = patients.read_patient(state.uow, principal.user, patient_id)
        return _confirm_patient_deletion(
            request, principal, stored, status=422,
            message="Not deleted: type the patient's identifier exactly as shown and choose a "
                    "reason.")
    return RedirectResponse("/patients", status_code=303)
