"""Use cases of the CDS Hooks service: the hook's answer (the EHR's FHIR data imported, validated and
assessed once), the audit of each hook call and each feedback, the stored patient.

The actor is the calling EHR (its JWT ``iss``): CDS Hooks calls are made by a system on behalf of
its user, not by a signed-in account here. The audit detail names the service, the counts and the
outcome codes only — never record values, card text, the EHR user's free-text comment or a token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import Assessment, EngineParams, assess
from myositis_cds.errors import FieldError
from myositis_cds.services.access import event
from myositis_cds.services.ports import UnitOfWorkFactory

__all__ = ["MAX_DETAIL", "FhirImport", "HookAnswer", "ImportedRecord", "UnmappedCounts",
           "answer_patient_view", "record_feedback", "record_hook_call"]

MAX_DETAIL = 500
"""Characters of audit detail kept at most."""


class UnmappedCounts(Protocol):
    """What an import could not map, counted (never patient data)."""

    @property
    def total(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


class ImportedRecord(Protocol):
    """One patient imported from FHIR and validated (the FHIR adapter's result)."""

    @property
    def document(self) -> dict[str, Any] | None: ...
    @property
    def record(self) -> PatientRecord | None: ...
    @property
    def errors(self) -> tuple[FieldError, ...]: ...
    @property
    def unmapped(self) -> UnmappedCounts: ...


FhirImport = Callable[[Sequence[Mapping[str, Any]], dt.date], ImportedRecord]
"""The FHIR adapter's port: one patient's resources → its validated record (as of a date)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HookAnswer:
    imported: ImportedRecord
    assessment: Assessment | None
    """None when the imported record was refused (``imported.errors`` says why)."""


def answer_patient_view(resources: Sequence[Mapping[str, Any]], *, import_record: FhirImport,
                        as_of: dt.date, params: EngineParams) -> HookAnswer:
    """The use case "CDS hook answer": one patient's FHIR resources imported and validated once,
    and the record assessed once; the entrypoint turns the typed result into cards."""
    imported = import_record(resources, as_of)
    record = imported.record
    return HookAnswer(imported=imported,
                      assessment=None if record is None else assess(record, as_of, params))


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
