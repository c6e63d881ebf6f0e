"""Showing a data-entry form and submitting its change: one way for every form.

:func:`submit_change` hands a change to :func:`myositis_cds.services.record_changes.change_patient`
and turns each outcome into a response: stored (a redirect), invalid (422: every message next to
its field, the typed input kept), a real conflict (409: the user's input kept, what is stored now
shown, and the form re-based on the current version so that one click applies the change there).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Final

import orjson
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from myositis_cds.domain.vocabulary import canonical_drug
from myositis_cds.entrypoints.web.api import MAX_ID
from myositis_cds.entrypoints.web.auth import Principal
from myositis_cds.entrypoints.web.choices import word
from myositis_cds.entrypoints.web.form_errors import Target, errors_by_field
from myositis_cds.entrypoints.web.forms import FieldSpec
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.errors import (
    AlreadyExistsError,
    ChangeValidationError,
    EntryConflictError,
    FieldError,
    StaleEditError,
)
from myositis_cds.services import patients
from myositis_cds.services.ports import StoredPatient
from myositis_cds.services.record_changes import Change, change_patient

__all__ = [
    "FormPage",
    "FormValues",
    "Version",
    "changed_by_words",
    "describe_entry",
    "parse_base",
    "patient_reader",
    "render_form",
    "submit_change",
]

MAX_FIELD = 4000
MAX_BASE = 20_000


async def _typed_values(request: Request) -> dict[str, str]:
    """Every text field of the posted form (parsed once; FastAPI has cached it)."""
    form = await request.form()
    return {name: value[:MAX_BASE if name == "base" else MAX_FIELD]
            for name, value in form.items() if isinstance(value, str)}


FormValues = Annotated[dict[str, str], Depends(_typed_values)]
Version = Annotated[int, Form(ge=1, le=MAX_ID)]


@dataclass(frozen=True, slots=True, kw_only=True)
class FormPage:
    """One form as shown: where it posts, its fields and values, the patient and version."""

    title: str
    action: str
    fields: Sequence[FieldSpec]
    values: Mapping[str, str]
    patient: StoredPatient | None = None
    version: int | None = None
    template: str = "entry_form.html.j2"
    hidden: Mapping[str, str] = field(default_factory=dict)
    """More hidden fields (the entry as loaded, its index)."""
    submit: str = "Save"
    back: str = ""
    """Where Cancel goes (default: the patient page)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More for the template (a visit form's layout)."""


def render_form(request: Request, principal: Principal, page: FormPage, *, status: int = 200,
                errors: Sequence[FieldError] = (), targets: Sequence[Target] = (),
                message: str = "", conflict: Mapping[str, Any] | None = None) -> HTMLResponse:
    names = [f.name for f in page.fields] or list(page.values)
    by_field, other = errors_by_field(errors, targets=targets, names=names)
    patient = page.patient
    html = web_state(request).templates.get_template(page.template).render(
        title=page.title, principal=principal, action=page.action, fields=page.fields,
        values={**{f.name: "" for f in page.fields}, **page.values}, field_errors=by_field,
        other_errors=other, message=message, patient=patient, version=page.version,
        hidden=page.hidden, submit=page.submit, conflict=conflict,
        back=page.back or (f"/patients/{patient.id}" if patient else "/patients"), **page.extra)
    return HTMLResponse(html, status_code=status)


def patient_reader(request: Request, principal: Principal,
                   patient_id: int) -> Callable[[], StoredPatient]:
    """The patient, read (and audited) once, and only when a response shows it: a change that is
    stored is audited as that change alone, not also as a read."""

    @functools.cache
    def read() -> StoredPatient:
        return patients.read_patient(web_state(request).uow, principal.user, patient_id)

    return read


def invalid_message(count: int) -> str:
    return (f"{count} problem{'s' if count != 1 else ''} in the form: nothing was stored; correct "
            "the marked field" + ("s" if count != 1 else "") + " and submit again")


def changed_by_words(changed_by: str | None, principal: Principal) -> str:
    if changed_by is None:
        return "someone"
    if changed_by == principal.user.username:
        return "you (in another tab or window)"
    return changed_by


_KIND_OF_KEY: Final = {"drug": "drug", "code": "finding", "kind": "investigation",
                       "frequency": "frequency", "diagnosis.name": "diagnosis", "sex": "sex"}
"""What kind of code an entry's value is, by its key (for its words)."""


def _words(text: str) -> str:
    return (text[:1].upper() + text[1:]).replace("_", " ")


def describe_entry(entry: object, fields: Sequence[FieldSpec] = ()) -> list[tuple[str, str]]:
    """An entry as (what, value) pairs in words, for showing what is stored now; ``fields`` name
    the values as the form does."""
    if not isinstance(entry, Mapping):
        return []
    names = {spec.json_key: spec.label for spec in fields}
    pairs = []
    for key, value in entry.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            text = ", ".join(f"{names.get(f'{key}.{k}', _words(str(k)))} {v}" for k, v in value.items())
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            kind = _KIND_OF_KEY.get(str(key))
            code = canonical_drug(str(value)) or value if kind == "drug" else value  # MTX → methotrexate
            text = word(kind, code) if kind else str(value)
        flat = str(key).replace(".", "_")  # patient details: diagnosis.date → diagnosis_date
        pairs.append((names.get(str(key)) or names.get(flat) or _words(flat), text))
    return pairs


def parse_base(text: str) -> dict[str, object] | None:
    """The entry a form was loaded with (its hidden ``base`` field), or None if unreadable."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _conflict(request: Request, principal: Principal, exc: EntryConflictError,
              rebase: Callable[[EntryConflictError], FormPage]) -> HTMLResponse:
    who = changed_by_words(exc.changed_by, principal)
    if exc.fields:
        state = f"{who} changed {', '.join(_words(f.replace('.', ' ')).lower() for f in exc.fields)}"
    elif exc.current is None:
        state = f"{who} deleted it"
    else:
        state = f"{who} changed it"
    message = (f"Not saved yet: since you opened this form, {state}. Your input is kept below: "
               "compare it with what is stored now, then apply it to the current record.")
    shown = exc.current
    if exc.fields and isinstance(exc.current, Mapping):  # patient details: the clashing ones
        shown = {name: value for name, value in exc.current.items() if name in exc.fields}
    page = rebase(exc)
    return render_form(request, principal, page, status=409, message=message,
                       conflict={"now": describe_entry(shown, page.fields),
                                 "gone": exc.current is None})


def submit_change(request: Request, principal: Principal, patient_id: int, change: Change, *,
                  version: int, page: Callable[[], FormPage],
                  own_errors: Sequence[FieldError] = (),
                  targets_of: Callable[[tuple[str, ...]], list[Target]],
                  rebase: Callable[[EntryConflictError], FormPage],
                  done: Callable[[bool], str],
                  when_gone: Callable[[EntryConflictError], str] | None = None) -> Response:
    """Store ``change`` (a dry run when the form has problems of its own, so that the record's
    problems are listed with them) and answer the form; ``page()`` is the form again (made only
    when shown), ``done(merged)`` is where a stored change goes, ``rebase`` makes the form for
    re-applying the change after a real conflict; ``when_gone`` (a deletion) is where to go when
    the entry is no longer stored at all, which leaves nothing to do."""
    state = web_state(request)
    try:
        outcome = change_patient(state.uow, principal.user, patient_id, change,
                                 base_version=version, parse=state.clinic.parse,
                                 dry_run=bool(own_errors))
    except ChangeValidationError as exc:
        errors = [*own_errors, *exc.errors]
        return render_form(request, principal, page(), status=422, errors=errors,
                           targets=targets_of(exc.paths), message=invalid_message(len(errors)))
    except EntryConflictError as exc:
        if when_gone is not None and exc.current is None and not exc.fields:
            return RedirectResponse(when_gone(exc), status_code=303)
        return _conflict(request, principal, exc, rebase)
    except AlreadyExistsError as exc:
        return render_form(request, principal, page(), status=409, message=f"Not stored: {exc}.")
    except StaleEditError as exc:
        return render_form(request, principal, replace(page(), version=exc.current_version),
                           status=409, message=f"Not stored: {exc}.")
    if own_errors:
        return render_form(request, principal, page(), status=422, errors=own_errors,
                           targets=targets_of(outcome.paths),
                           message=invalid_message(len(own_errors)))
    return RedirectResponse(done(outcome.merged), status_code=303)
