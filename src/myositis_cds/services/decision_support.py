"""Use cases of the CDS Hooks service: audit each hook call and each feedback, find the stored patient.

The actor is the calling EHR (its JWT ``iss``): CDS Hooks calls are made by a system on behalf of
its user, not by a signed-in account here. The audit detail names the service, the counts and the
outcome codes only — never record values, card text, the EHR user's free-text comment or a token.
"""

from __future__ import annotations

from myositis_cds.services.access import event
from myositis_cds.services.ports import UnitOfWorkFactory

__all__ = ["MAX_DETAIL", "record_feedback", "record_hook_call"]

MAX_DETAIL = 500
"""Characters of audit detail kept at most."""


def record_hook_call(uow: UnitOfWorkFactory, *, client: str, patient_key: str,
                     detail: str) -> int | None:
    """Append a ``cds.hook`` event (the EHR ``client`` read ``patient_key``'s data to assess it)
    and return the id of the patient stored here under the same key, if there is one."""
    with uow() as work:
        stored = work.patients.get_by_key(patient_key)
        work.audit.append(event(client, "cds.hook", patient_key=patient_key,
                                detail=detail[:MAX_DETAIL]))
        work.commit()
    return None if stored is None else stored.id


def record_feedback(uow: UnitOfWorkFactory, *, client: str, patient_key: str | None,
                    detail: str) -> None:
    """Append a ``cds.feedback`` event: what the EHR's user did with one card."""
    with uow() as work:
        work.audit.append(event(client, "cds.feedback", patient_key=patient_key,
                                detail=detail[:MAX_DETAIL]))
        work.commit()
