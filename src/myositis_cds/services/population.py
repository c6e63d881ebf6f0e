"""The per-patient function every worklist engine calls, and the stored-patient source.

:class:`WorklistEvaluator` maps one patient's ``patient-record@1`` document (plus what the previous
run cached for that patient) to a :class:`PatientResult`: validate with the parser port, run the
engine's :func:`~myositis_cds.engine.assess`, map to worklist rows with
:func:`~myositis_cds.services.worklist.worklist_items`. It is the only place where population runs
touch clinical logic: the local, DuckDB and Spark engines differ only in how they read and group
their input and in how they parallelise calls to it. It is picklable, so Spark ships it to workers.

Incremental runs: a patient's previous rows are reused, without validating or assessing, when the
content hash of its document and the parameters is unchanged and the as-of date lies within
``[previous as-of, previous recheck_on)`` (see :mod:`myositis_cds.services.recheck`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from myositis_cds.domain.worklist import CachedResult, PatientResult
from myositis_cds.engine import EngineParams, assess
from myositis_cds.errors import RecordValidationError
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.patients import list_patients
from myositis_cds.services.ports import Actor, UnitOfWorkFactory
from myositis_cds.services.recheck import content_hash, durations_of, params_fingerprint, recheck_on
from myositis_cds.services.worklist import error_item, worklist_items

__all__ = ["WorklistEvaluator", "iter_stored_documents"]


class WorklistEvaluator:
    """``evaluator(key, document, previous)`` → :class:`PatientResult` (module docstring)."""

    def __init__(self, *, as_of: dt.date, params: EngineParams, parse: RecordParser,
                 incremental: bool = True) -> None:
        self.as_of = as_of
        self.params = params
        self.parse = parse
        # Without a state file there is nothing to reuse: no content hash nor recheck date.
        self.incremental = incremental
        self.fingerprint = params_fingerprint(params)
        self.durations = durations_of(params)

    def __call__(self, key: str, document: Mapping[str, object],
                 previous: CachedResult | None = None) -> PatientResult:
        content = content_hash(document, self.fingerprint) if self.incremental else ""
        if previous is not None and previous.valid_on(content, self.as_of):
            return PatientResult(patient_key=key, content_hash=content, as_of=previous.as_of,
                                 recheck_on=previous.recheck_on, rows=previous.rows,
                                 reused=True, invalid=False)
        try:
            record = self.parse(document, prefix="$", source=f"patient {key}")
        except RecordValidationError as exc:
            return self._invalid(key, content, [e.to_dict() for e in exc.errors])
        assessment = assess(record, self.as_of, self.params)
        recheck = (recheck_on(record, assessment, self.as_of, self.durations) if self.incremental
                   else None)
        return PatientResult(
            patient_key=key, content_hash=content, as_of=self.as_of, recheck_on=recheck,
            rows=tuple(worklist_items(key, assessment)), reused=False, invalid=False)


    def invalid(self, key: str, errors: list[dict[str, Any]]) -> PatientResult:
        return self._invalid(key, "", errors)

    def _invalid(self, key: str, content: str, errors: list[dict[str, Any]]) -> PatientResult:
        # Validation depends on today's date too: an invalid record is never reused
        # (recheck_on == as_of, so no later run falls inside [as_of, recheck_on)).
        return PatientResult(patient_key=key, content_hash=content, as_of=self.as_of,
                             recheck_on=self.as_of, rows=(error_item(key, errors),),
                             reused=False, invalid=True)


def iter_stored_documents(uow: UnitOfWorkFactory, actor: Actor, *,
                          page: int = 500) -> Iterator[tuple[str, Mapping[str, object]]]:
    """Every stored patient's (key, document), read page by page through the audited
    :func:`~myositis_cds.services.patients.list_patients` use case (one audit event per page)."""
    offset = 0
    while True:
        found = list_patients(uow, actor, limit=page, offset=offset)
        for stored in found.patients:
            yield stored.patient_key, stored.record
        offset += len(found.patients)
        if not found.patients or offset >= found.total:
            return
