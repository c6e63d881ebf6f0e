"""Use cases of the SMART on FHIR launch: audit what the launched app read and showed.

The actor is the launching EHR (``smart:<iss>``): the EHR's authorization server authenticated its
user and granted the app access to one patient; that user is in the EHR's own audit trail. Every
read of the chart from the EHR and every page view is a ``patient.read`` event here, with the
patient's FHIR id as key and a detail naming what happened — never record values or tokens.
"""

from __future__ import annotations

import datetime as dt

from myositis_cds.engine import EngineParams
from myositis_cds.services.access import event
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.patient_page import RenderPage
from myositis_cds.services.patient_results import patient_results
from myositis_cds.services.ports import StoredPatient, UnitOfWorkFactory

__all__ = ["MAX_DETAIL", "open_launched_page", "record_smart_read", "smart_actor"]

MAX_DETAIL = 500


def smart_actor(iss: str) -> str:
    """The audit actor of a launch from the EHR ``iss``."""
    return f"smart:{iss}"[:200]


def record_smart_read(uow: UnitOfWorkFactory, *, iss: str, patient_key: str, detail: str) -> None:
    """Append a ``patient.read`` event for a launched app's read or page view."""
    with uow() as work:
        work.audit.append_read(event(smart_actor(iss), "patient.read", patient_key=patient_key,
                                     detail=detail[:MAX_DETAIL]))
        work.commit()


def open_launched_page(uow: UnitOfWorkFactory, *, iss: str, patient_key: str,
                       launched: StoredPatient, as_of: dt.date, parse: RecordParser, params: EngineParams,
                       render: RenderPage) -> bytes:
    """The patient page of a launched record on ``as_of``: the same results and the same
    ``render`` port as a stored patient's page (:func:`~.patient_page.open_patient_page`), never
    kept (the record stays in the EHR); the view is audited (``patient_key``: the EHR's patient
    id) once it was made.

    Raises :class:`~myositis_cds.errors.RecordValidationError` when the record does not validate.
    """
    results = patient_results(launched.record, parse=parse, as_of=as_of, params=params)
    body, _ = render(launched, results)
    record_smart_read(uow, iss=iss, patient_key=patient_key,
                      detail=f"SMART page view as of {as_of.isoformat()}")
    return body
