"""De-identified cohort views (every active role): counts, and per-patient derived features.

:func:`cohort_summary` is a count: it reads no patient's data, so it is not an audited read.
:func:`deidentified_cohort` reads every stored patient and returns only what a researcher may see
(clinical-reference §8 analyses): each patient under a random pseudonym (``P0001``...; the order
of the pseudonyms is shuffled so that it does not follow the patient keys), derived features
without names, identifiers or dates (times are days since diagnosis, ages completed years, ages of
90 and over reported as 90), and the titer mixed model fitted on the pseudonymised records. The
read is audited as one
``cohort.export`` event naming how many patients were read (no patient key).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from myositis_cds.engine import EngineParams, PatientContext, build_timeline
from myositis_cds.errors import PermissionDeniedError
from myositis_cds.services.access import event, require
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.ports import ROLES, Actor, StoredPatient, UnitOfWorkFactory

if TYPE_CHECKING:
    from myositis_cds.stats.association import MixedModelResult
    from myositis_cds.stats.cohort_features import CohortPatient

__all__ = ["COHORT_ROLES", "CohortSummary", "DeidentifiedCohort", "cohort_summary", "deidentified_cohort"]

COHORT_ROLES: Final = frozenset(ROLES)
"""Every active role may see the de-identified cohort (it holds no identifying data)."""
_PAGE: Final = 500
AGE_CAP: Final = 90
"""Ages at or above this are reported as this (HIPAA Safe Harbor groups ages over 89 together)."""


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


@dataclass(frozen=True, slots=True, kw_only=True)
class DeidentifiedCohort:
    as_of: dt.date
    patients: tuple[CohortPatient, ...]
    titer_model: MixedModelResult
    synthetic: bool
    """Every stored patient was made by ``cohort synthesize`` (outputs then say "synthetic")."""
    notes: tuple[str, ...]


def _stored(uow: UnitOfWorkFactory, actor: Actor) -> list[StoredPatient]:
    stored: list[StoredPatient] = []
    with uow() as work:
        while True:
            page = work.patients.list(limit=_PAGE, offset=len(stored))
            stored += page
            if len(page) < _PAGE:
                break
        work.audit.append(event(actor, "cohort.export",
                                detail=f"de-identified cohort of {len(stored)} patients"))
        work.commit()
    return stored


def deidentified_cohort(uow: UnitOfWorkFactory, actor: Actor, *, parse: RecordParser,
                        params: EngineParams, as_of: dt.date) -> DeidentifiedCohort:
    """Every stored patient's derived features under a pseudonym (module docstring)."""
    from myositis_cds.stats.association import cohort_titer_model  # noqa: PLC0415 - scipy on use
    from myositis_cds.stats.cohort_features import derive_patient  # noqa: PLC0415
    from myositis_cds.stats.synthetic_cohort import is_synthetic  # noqa: PLC0415

    require(uow, actor, "cohort.export", COHORT_ROLES, what="export the de-identified cohort")
    stored = _stored(uow, actor)
    order = list(range(len(stored)))
    secrets.SystemRandom().shuffle(order)
    width = max(4, len(str(len(stored))))
    patients: list[CohortPatient] = []
    timelines = []
    for number, stored_patient in zip(order, stored, strict=True):
        pseudonym = f"P{number + 1:0{width}d}"
        document = {**stored_patient.record, "id": pseudonym}
        record = parse(document, prefix="$", source=f"stored patient {pseudonym}")
        timeline = build_timeline(record, as_of, params)
        timelines.append(timeline)
        derived = derive_patient(PatientContext(record, as_of), timeline, params, key=pseudonym)
        age = derived.features.get("age_at_diagnosis")
        if isinstance(age, int) and age >= AGE_CAP:
            derived = dataclasses.replace(derived, features={**derived.features, "age_at_diagnosis": AGE_CAP})
        patients.append(derived)
    patients.sort(key=lambda p: p.key)
    return DeidentifiedCohort(
        as_of=as_of, patients=tuple(patients), titer_model=cohort_titer_model(timelines, params),
        synthetic=is_synthetic(p.patient_key for p in stored),
        notes=("de-identified: pseudonyms in random order; no names, identifiers or dates "
               f"(times are days since diagnosis, ages completed years, {AGE_CAP} and over shown as "
               f"{AGE_CAP})",))
