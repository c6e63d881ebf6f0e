"""De-identified cohort views: counts only, no names, identifiers or dates (every active role).

A count reads no patient's data, so it is not an audited read of a patient.
"""

from __future__ import annotations

from dataclasses import dataclass

from myositis_cds.errors import PermissionDeniedError
from myositis_cds.services.ports import Actor, UnitOfWorkFactory

__all__ = ["CohortSummary", "cohort_summary"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CohortSummary:
    patients: int
    """How many patients are stored."""


def cohort_summary(uow: UnitOfWorkFactory, actor: Actor) -> CohortSummary:
    if not actor.active:
        msg = f"permission denied: the account {actor.username!r} is disabled; ask an administrator"
        raise PermissionDeniedError(msg)
    with uow() as work:
        return CohortSummary(patients=work.patients.count())
