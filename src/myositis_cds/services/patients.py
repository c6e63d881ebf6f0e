"""Use cases on stored patients: create, read, update, delete and list, audited.

Each call is one transaction: the record is validated by the ``parse`` port first (an invalid
record is refused before anything is written), then the change and its audit event are committed
together. Reads are audited too (``patient.read``, ``patient.list``). Audit details never hold
patient data beyond the patient key; a list's search text is not recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from myositis_cds.errors import NotFoundError, UsageError
from myositis_cds.services.access import PATIENT_ROLES, event, require
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.ports import Actor, StoredPatient, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "ImportOutcome",
    "PatientPage",
    "create_patient",
    "delete_patient",
    "insert_or_update",
    "list_patients",
    "read_patient",
    "read_patient_with_view",
    "update_patient",
]

MAX_PAGE = 500


def _key_of(document: Mapping[str, object], parse: RecordParser) -> str:
    """Validate ``document`` (raising RecordValidationError listing every problem); its ``id``."""
    return parse(document, prefix="$", source="patient record").id


def _missing(patient_id: int) -> NotFoundError:
    return NotFoundError(f"no stored patient with id {patient_id}: it may have been deleted; "
                         "reload the patient list")


def create_patient(uow: UnitOfWorkFactory, actor: Actor, document: Mapping[str, object], *,
                   parse: RecordParser) -> StoredPatient:
    require(uow, actor, "patient.create", PATIENT_ROLES, what="create patient records")
    key = _key_of(document, parse)
    with uow() as work:
        stored = work.patients.add(patient_key=key, record=dict(document))
        work.audit.append(event(actor, "patient.create", patient_key=key,
                                detail=f"id {stored.id}, version {stored.version}"))
        work.commit()
    return stored


def _read(work: UnitOfWork, actor: Actor, patient_id: int, *,
          audited_version: int | None = None) -> StoredPatient:
    stored = work.patients.get(patient_id)
    if stored is None:
        raise _missing(patient_id)
    if stored.version != audited_version:  # committed (durably) before the caller shows it
        work.audit.append_read(event(actor, "patient.read", patient_key=stored.patient_key,
                                     detail=f"id {stored.id}, version {stored.version}"))
    return stored


def read_patient(uow: UnitOfWorkFactory, actor: Actor, patient_id: int, *,
                 audited_version: int | None = None) -> StoredPatient:
    """The stored patient, permission-checked, with one ``patient.read`` audit event.

    ``audited_version``: the request is part of a page view of this patient that has been audited
    already (the caller checked that, e.g. a figure requested with the page's view token) and
    showed this version; when the stored version is still that one, no second event is written.
    """
    require(uow, actor, "patient.read", PATIENT_ROLES, what="read identifiable patient records")
    with uow() as work:
        stored = _read(work, actor, patient_id, audited_version=audited_version)
        work.commit()
    return stored


def read_patient_with_view(uow: UnitOfWorkFactory, actor: Actor, patient_id: int, *,
                           as_of: dt.date, fingerprint: str,
                           audited_version: int | None = None) -> tuple[StoredPatient, bytes | None]:
    """The patient (one audited read, as :func:`read_patient`, ``audited_version`` too) and its
    stored view body for exactly this version, date and fingerprint, or None (see
    :mod:`myositis_cds.services.views`)."""
    require(uow, actor, "patient.read", PATIENT_ROLES, what="read identifiable patient records")
    with uow() as work:
        view = work.views.get(patient_id, fingerprint)  # read before the audit write: the write
        stored = _read(work, actor, patient_id,         # lock is held only until the commit
                       audited_version=audited_version)
        work.commit()
    if view is None or view.version != stored.version or view.as_of != as_of:
        return stored, None
    return stored, view.body


def update_patient(uow: UnitOfWorkFactory, actor: Actor, patient_id: int,
                   document: Mapping[str, object], *, expected_version: int,
                   parse: RecordParser) -> StoredPatient:
    """Replace the record; refused with StaleEditError if the stored version is not ``expected_version``."""
    require(uow, actor, "patient.update", PATIENT_ROLES, what="change patient records")
    key = _key_of(document, parse)
    with uow() as work:
        current = work.patients.get(patient_id)
        if current is None:
            raise _missing(patient_id)
        changed = StoredPatient(id=current.id, patient_key=key, record=dict(document),
                                version=current.version, created_at=current.created_at,
                                updated_at=current.updated_at)
        stored = work.patients.update(changed, expected_version=expected_version)
        renamed = "" if key == current.patient_key else f", key changed from {current.patient_key}"
        work.audit.append(event(actor, "patient.update", patient_key=key,
                                detail=f"id {stored.id}, version {expected_version} → "
                                       f"{stored.version}{renamed}"))
        work.commit()
    return stored


def delete_patient(uow: UnitOfWorkFactory, actor: Actor, patient_id: int, *,
                   expected_version: int, confirm_key: str | None = None, reason: str = "") -> None:
    """Delete the patient at ``expected_version``. ``confirm_key``: the identifier the user typed
    to confirm (refused with UsageError unless it is the patient's); ``reason`` goes into the
    audit event (a phrase from a fixed list, never free text)."""
    require(uow, actor, "patient.delete", PATIENT_ROLES, what="delete patient records")
    with uow() as work:
        current = work.patients.get(patient_id)
        if current is None:
            raise _missing(patient_id)
        if confirm_key is not None and confirm_key != current.patient_key:
            msg = ("confirm: got a different identifier; expected the identifier of the patient "
                   "to delete, typed exactly")
            raise UsageError(msg)
        work.patients.delete(patient_id, expected_version=expected_version)
        work.audit.append(event(actor, "patient.delete", patient_key=current.patient_key,
                                detail=f"id {patient_id}, version {expected_version}"
                                + (f"; reason: {reason}" if reason else "")))
        work.commit()


ImportOutcome = Literal["created", "updated", "unchanged", "kept"]
"""What :func:`insert_or_update` did: stored a new patient, replaced a different stored record,
found the same record stored, or kept a different stored record (``replace`` not asked)."""


def insert_or_update(uow: UnitOfWorkFactory, actor: Actor, document: Mapping[str, object], *,
                     parse: RecordParser, replace: bool) -> ImportOutcome:
    """Store an imported record (e.g. from FHIR) under its ``id``: create it, or compare it with
    the patient stored under that key (an audited read) and replace it only when ``replace``."""
    require(uow, actor, "patient.create", PATIENT_ROLES, what="store imported patient records")
    key = _key_of(document, parse)
    with uow() as work:
        stored = work.patients.get_by_key(key)
        if stored is None:
            created = work.patients.add(patient_key=key, record=dict(document))
            work.audit.append(event(actor, "patient.create", patient_key=key,
                                    detail=f"id {created.id}, version {created.version}, imported"))
            work.commit()
            return "created"
        work.audit.append(event(actor, "patient.read", patient_key=key,
                                detail=f"id {stored.id}, version {stored.version}, compared with "
                                       "an import"))
        work.commit()
    if dict(stored.record) == dict(document):
        return "unchanged"
    if not replace:
        return "kept"
    update_patient(uow, actor, stored.id, document, expected_version=stored.version, parse=parse)
    return "updated"


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientPage:
    """One page of a patient list: the patients and how many match in all."""

    patients: tuple[StoredPatient, ...]
    total: int
    limit: int
    offset: int
    summaries: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    """By patient id: the summary of the stored view for exactly the listed version, the asked
    date and fingerprint (see :func:`list_patients`); patients without one are absent."""


def list_patients(uow: UnitOfWorkFactory, actor: Actor, *, query: str = "", limit: int = 50,
                  offset: int = 0, views_of: tuple[dt.date, str] | None = None) -> PatientPage:
    """Patients whose key contains ``query`` (case-insensitive); ``limit`` is capped at 500.

    With ``views_of=(as_of, fingerprint)`` the page also carries the summaries of the listed
    patients' stored views for that date and fingerprint (current versions only)."""
    require(uow, actor, "patient.list", PATIENT_ROLES, what="list identifiable patient records")
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    with uow() as work:
        patients = work.patients.list(query=query, limit=limit, offset=offset)
        total = work.patients.count(query=query)
        summaries: dict[int, Mapping[str, int]] = {}
        if views_of is not None:
            as_of, fingerprint = views_of
            versions = {p.id: p.version for p in patients}
            summaries = {v.patient_id: v.summary
                         for v in work.views.summaries(list(versions), fingerprint)
                         if v.as_of == as_of and versions.get(v.patient_id) == v.version}
        work.audit.append(event(actor, "patient.list",
                                detail=f"{len(patients)} of {total} shown (offset {offset})"
                                + (", filtered" if query else "")))
        work.commit()
    return PatientPage(patients=tuple(patients), total=total, limit=limit, offset=offset,
                       summaries=summaries)
