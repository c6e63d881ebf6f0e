"""The per-patient function every worklist engine calls, and the stored-patient source.

:class:`WorklistEvaluator` maps one patient's ``patient-record@1`` document (plus what the previous
run cached for that patient) to a :class:`PatientResult`: validate with the parser port, run the
engine's :func:`~myositis_cds.engine.assess`, map to worklist rows with
:func:`~myositis_cds.services.worklist.worklist_items`. It is the only place where population runs
touch clinical logic: the local, DuckDB and Spark engines differ only in how they read and group
their input and in how they parallelise calls to it. It is picklable, so Spark ships it to workers.

Population first: a health system's export holds every patient, and most have no myositis. Only
patients in the worklist's population are evaluated (:class:`PopulationScope`): a dermatomyositis
diagnosis, an anti-Mi-2 result (any result: a negative one is what puts a patient out of the
pack's scope, and that must be visible), or a patient listed in the site's cohort; the others are
counted in the summary and get no rows. ``everyone`` (``--all``) evaluates every patient.

Incremental runs: a patient's previous rows are reused, without validating or assessing, when the
content hash of its document and the parameters is unchanged and the as-of date lies within
``[previous as-of, previous recheck_on)`` (see :mod:`myositis_cds.services.recheck`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from myositis_cds.domain.vocabulary import ANTIBODY_ALIASES, DM_DIAGNOSES, MI2_TARGETS
from myositis_cds.domain.worklist import CachedResult, PatientResult
from myositis_cds.engine import EngineParams, assess
from myositis_cds.errors import RecordValidationError
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.patients import list_patients
from myositis_cds.services.ports import Actor, UnitOfWorkFactory
from myositis_cds.services.recheck import content_hash, durations_of, params_fingerprint, recheck_on
from myositis_cds.services.worklist import error_item, worklist_items

__all__ = ["PopulationScope", "WorklistEvaluator", "iter_stored_documents", "mentions_population"]


def _named(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    return ANTIBODY_ALIASES.get(text, text)


def mentions_population(document: Mapping[str, object]) -> bool:
    """Whether a record document names a dermatomyositis diagnosis or holds an anti-Mi-2 result
    (read before validation: a record that mentions either is evaluated, valid or not)."""
    diagnosis = document.get("diagnosis")
    if isinstance(diagnosis, Mapping) and diagnosis.get("name") in DM_DIAGNOSES:
        return True
    antibodies = document.get("antibodies")
    return isinstance(antibodies, list) and any(
        isinstance(a, Mapping) and _named(a.get("target")) in MI2_TARGETS for a in antibodies)


@dataclass(frozen=True, slots=True, kw_only=True)
class PopulationScope:
    """Who a worklist evaluates (module docstring): ``everyone``, or the patients that
    :func:`mentions_population` admits plus those listed in ``cohort``."""

    everyone: bool = False
    cohort: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *, everyone: bool = False, cohort: Iterable[str] = ()) -> PopulationScope:
        return cls(everyone=everyone, cohort=frozenset(cohort))

    def admits_key(self, key: str) -> bool:
        return self.everyone or key in self.cohort

    def admits(self, key: str, document: Mapping[str, object]) -> bool:
        return self.admits_key(key) or mentions_population(document)


class WorklistEvaluator:
    """``evaluator(key, document, previous)`` → :class:`PatientResult` (module docstring)."""

    def __init__(self, *, as_of: dt.date, params: EngineParams, parse: RecordParser,
                 incremental: bool = True, scope: PopulationScope | None = None) -> None:
        self.as_of = as_of
        self.scope = scope or PopulationScope(everyone=True)
        self.params = params
        self.parse = parse
        # Without a state file there is nothing to reuse: no content hash nor recheck date.
        self.incremental = incremental
        self.fingerprint = params_fingerprint(params)
        self.durations = durations_of(params)

    def __call__(self, key: str, document: Mapping[str, object],
                 previous: CachedResult | None = None) -> PatientResult:
        if not self.scope.admits(key, document):
            return self.outside(key)
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

    def admits_key(self, key: str) -> bool:
        return self.scope.admits_key(key)

    def outside(self, key: str) -> PatientResult:
        # Never reused: recheck_on == as_of (the data may enter the population any day).
        return PatientResult(patient_key=key, content_hash="", as_of=self.as_of,
                             recheck_on=self.as_of, rows=(), reused=False, invalid=False,
                             in_population=False)

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
