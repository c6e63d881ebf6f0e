"""Rendered patient views: read a patient together with its stored view; keep and pre-render views.

A view (e.g. the web page's report, timeline and figure references) is a pure function of the
stored record at one version, the assessment date and the knowledge pack, settings and templates
(summarised by a fingerprint), so a stored view is reused only when all of these are equal; there
is nothing to invalidate. Reading a patient with its view is one audited read
(:func:`~myositis_cds.services.patients.read_patient_with_view`). Pre-rendering (:func:`render_views`, e.g. a
nightly job for the new date) reads every patient and audits each read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from myositis_cds.errors import RecordValidationError
from myositis_cds.services.access import PATIENT_ROLES, event, require
from myositis_cds.services.ports import (
    Actor,
    PatientSummary,
    StoredPatient,
    StoredView,
    UnitOfWorkFactory,
)

__all__ = ["RenderSummary", "render_views", "save_view"]

Render = Callable[[StoredPatient, dt.date],
                  tuple[bytes, Mapping[str, int]] | tuple[bytes, Mapping[str, int], PatientSummary]]
"""Renders the view body and summary of a stored patient for an assessment date (and, where the
caller makes one, the patient list's summary)."""

BATCH = 200


def save_view(uow: UnitOfWorkFactory, view: StoredView,
              summary: PatientSummary | None = None) -> bool:
    """Keep ``view`` (and the patient list's ``summary`` made from the same results) unless the
    patient changed (or went) meanwhile; True when kept.

    Not audited: the patient's data was read (and audited) by whoever rendered the view."""
    with uow() as work:
        current = work.patients.get(view.patient_id)
        if current is None or current.version != view.version:
            return False
        work.views.put(view)
        if summary is not None:
            work.patient_list.put(summary)
        work.commit()
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderSummary:
    as_of: dt.date
    rendered: int
    """Views rendered and stored."""
    current: int
    """Patients whose view for this date and fingerprint was stored already."""
    invalid: int
    """Stored records that no longer validate (no view; their page shows the errors)."""


def render_views(uow: UnitOfWorkFactory, actor: Actor, *, as_of: dt.date, fingerprint: str,
                 render: Render, progress: Callable[[int], None] | None = None) -> RenderSummary:
    """Render and store the view of every stored patient that lacks one for ``as_of``.

    Patients are read in batches by id (each read audited, as a page view would be), so memory
    stays bounded; a patient changed meanwhile keeps no stale view (see :func:`save_view`)."""
    require(uow, actor, "patient.read", PATIENT_ROLES, what="read identifiable patient records")
    rendered = current = invalid = offset = 0
    while True:
        with uow() as work:
            batch = work.patients.list(limit=BATCH, offset=offset)
            todo: list[StoredPatient] = []
            for stored in batch:
                view = work.views.get(stored.id, fingerprint)
                if view is not None and view.version == stored.version and view.as_of == as_of:
                    current += 1
                    continue
                todo.append(stored)
                work.audit.append(event(actor, "patient.read", patient_key=stored.patient_key,
                                        detail=f"id {stored.id}, version {stored.version}, "
                                               f"view pre-rendered for {as_of.isoformat()}"))
            work.commit()
        for stored in todo:
            try:
                made = render(stored, as_of)
            except RecordValidationError:
                invalid += 1
                continue
            listed = made[2] if len(made) == 3 else None
            rendered += save_view(uow, StoredView(patient_id=stored.id, version=stored.version,
                                                  as_of=as_of, fingerprint=fingerprint, body=made[0],
                                                  summary=made[1]), listed)
        offset += len(batch)
        if progress is not None:
            progress(offset)
        if len(batch) < BATCH:
            return RenderSummary(as_of=as_of, rendered=rendered, current=current, invalid=invalid)
