"""Use cases of the SMART on FHIR launch: audit what the launched app read and showed.

The actor is the launching EHR (``smart:<iss>``): the EHR's authorization server authenticated its
user and granted the app access to one patient; that user is in the EHR's own audit trail. Every
read of the chart from the EHR and every page view is a ``patient.read`` event here, with the
patient's FHIR id as key and a detail naming what happened — never record values or tokens.
"""

from __future__ import annotations

from myositis_cds.services.access import event
from myositis_cds.services.ports import UnitOfWorkFactory

__all__ = ["MAX_DETAIL", "record_smart_read", "smart_actor"]

MAX_DETAIL = 500


def smart_actor(iss: str) -> str:
    """The audit actor of a launch from the EHR ``iss``."""
    return f"smart:{iss}"[:200]


def record_smart_read(uow: UnitOfWorkFactory, *, iss: str, patient_key: str, detail: str) -> None:
    """Append a ``patient.read`` event for a launched app's read or page view."""
    with uow() as work:
        work.audit.append(event(smart_actor(iss), "patient.read", patient_key=patient_key,
                                detail=detail[:MAX_DETAIL]))
        work.commit()
