"""The use case "patient page view": one audited read of a stored patient and its page.

A patient page shows the results of one record at one version and date. They are computed once per
request (:func:`~.patient_results.patient_results`: the record is parsed once, assessed once, its
timeline and trends built once) and handed, typed, to the ``render`` port that the entrypoint
passes in (presentation is not a dependency of the use cases). The rendered body is kept as the
stored view of that version, date and fingerprint (see :mod:`myositis_cds.services.views`), with
the patient list's summary made from the same results (:mod:`.patient_list`), so the next opening
reads it back: still one audited read, and no computation at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from myositis_cds.engine import EngineParams
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.patient_list import summarise
from myositis_cds.services.patient_results import PatientResults, patient_results
from myositis_cds.services.patients import read_patient, read_patient_with_view
from myositis_cds.services.ports import (
    Actor,
    PatientSummary,
    StoredPatient,
    StoredView,
    UnitOfWorkFactory,
)
from myositis_cds.services.views import RenderSummary, render_views, save_view

__all__ = [
    "PageView",
    "RenderPage",
    "keep_page",
    "open_patient_page",
    "pre_render_pages",
    "read_patient_results",
]


RenderPage = Callable[[StoredPatient, PatientResults], tuple[bytes, Mapping[str, int]]]
"""Renders the stored view's body and its summary (for the patient list) from the results."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PageView:
    patient: StoredPatient
    as_of: dt.date
    body: bytes
    """The rendered page parts (the ``render`` port's encoding)."""
    stored: bool
    """Read back from the stored view (nothing was computed)."""


def open_patient_page(uow: UnitOfWorkFactory, actor: Actor, patient_id: int, *, as_of: dt.date,
                      fingerprint: str, parse: RecordParser, params: EngineParams,
                      render: RenderPage) -> PageView:
    """The page of a stored patient on ``as_of``: one audited ``patient.read``, then the stored
    view of this version, date and fingerprint, or the results rendered and kept."""
    stored, body = read_patient_with_view(uow, actor, patient_id, as_of=as_of,
                                          fingerprint=fingerprint)
    if body is not None:
        return PageView(patient=stored, as_of=as_of, body=body, stored=True)
    results = patient_results(stored.record, parse=parse, as_of=as_of, params=params)
    body = keep_page(uow, stored, results, fingerprint=fingerprint, params=params, render=render)
    return PageView(patient=stored, as_of=as_of, body=body, stored=False)


def keep_page(uow: UnitOfWorkFactory, stored: StoredPatient, results: PatientResults, *,
              fingerprint: str, params: EngineParams, render: RenderPage) -> bytes:
    """Render the page of ``stored`` from its ``results`` and keep it as the stored view of its
    version and date, with the patient list's summary (unless the patient changed meanwhile:
    :func:`~.views.save_view`); returns the body. Not audited: whoever computed ``results`` read
    the record (a page view, or a write whose page is rendered in the background)."""
    body, summary = render(stored, results)
    save_view(uow, StoredView(patient_id=stored.id, version=stored.version,
                              as_of=results.assessment.as_of, fingerprint=fingerprint, body=body,
                              summary=dict(summary)),
              summarise(stored, results, fingerprint=fingerprint, params=params))
    return body


def pre_render_pages(uow: UnitOfWorkFactory, actor: Actor, *, as_of: dt.date, fingerprint: str,
                     parse: RecordParser, params: EngineParams, render: RenderPage,
                     progress: Callable[[int], None] | None = None) -> RenderSummary:
    """Render and keep the page of every stored patient that lacks one for ``as_of`` (e.g. a
    nightly job), each read audited as a page view would be (:func:`~.views.render_views`)."""

    def render_one(stored: StoredPatient,
                   day: dt.date) -> tuple[bytes, Mapping[str, int], PatientSummary]:
        results = patient_results(stored.record, parse=parse, as_of=day, params=params)
        body, summary = render(stored, results)
        return body, summary, summarise(stored, results, fingerprint=fingerprint, params=params)

    return render_views(uow, actor, as_of=as_of, fingerprint=fingerprint, render=render_one,
                        progress=progress)


def read_patient_results(uow: UnitOfWorkFactory, actor: Actor, patient_id: int, *, as_of: dt.date,
                         parse: RecordParser, params: EngineParams) -> tuple[StoredPatient, PatientResults]:
    """A stored patient (one audited ``patient.read``) and its results on ``as_of``, computed
    once (e.g. for the print letter, which names who printed it and is therefore not kept)."""
    stored = read_patient(uow, actor, patient_id)
    return stored, patient_results(stored.record, parse=parse, as_of=as_of, params=params)
