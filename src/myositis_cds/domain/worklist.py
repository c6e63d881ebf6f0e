"""Population worklist records: one row per open item, a patient's result, what a run caches.

Plain values shared by the use case that computes them (:mod:`myositis_cds.services.worklist`,
:mod:`myositis_cds.services.population`) and the adapters that read, group, parallelise and store
them (:mod:`myositis_cds.adapters.population`). Standard library only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "ROW_FIELDS",
    "SEVERITY_ORDER",
    "CachedResult",
    "PatientEvaluator",
    "PatientResult",
    "WorklistItem",
]

SEVERITY_ORDER: tuple[str, ...] = ("critical", "warning", "info")
"""Worklist sort order (the severities of the knowledge pack's alerts)."""

ROW_FIELDS: tuple[str, ...] = ("patient_key", "severity", "rule_id", "item", "kind", "status",
                               "due", "values", "scope")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorklistItem:
    """One open item of one patient."""

    patient_key: str
    severity: str
    rule_id: str
    item: str
    """What is open within the rule: the alert or work-up ID, the screening occasion, the drug."""
    kind: str
    """``alert``, ``alert_not_evaluable``, ``workup``, ``screening``, ``response``, ``severity``,
    ``plan`` or ``record_error``."""
    status: str
    due: dt.date | None
    values: str
    """Compact JSON of the triggering values."""
    scope: str
    """The assessment's scope status (``in_scope``, ``out_of_scope``, ``not_evaluable``)."""

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ROW_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorklistItem:
        return cls(**{name: data[name] for name in ROW_FIELDS})


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedResult:
    """What a previous run kept for one patient."""

    content_hash: str
    as_of: dt.date
    recheck_on: dt.date | None
    rows: tuple[WorklistItem, ...]

    def valid_on(self, content: str, as_of: dt.date) -> bool:
        """Reusable when the inputs hash equal and ``as_of`` is in ``[self.as_of, recheck_on)``."""
        return (content == self.content_hash and self.as_of <= as_of
                and (self.recheck_on is None or as_of < self.recheck_on))


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientResult:
    patient_key: str
    content_hash: str
    as_of: dt.date
    """The as-of date the rows were computed for (an earlier one when they were reused)."""
    recheck_on: dt.date | None
    rows: tuple[WorklistItem, ...]
    reused: bool
    invalid: bool
    unmapped: int = 0
    """FHIR elements or resources of this patient the importer could not map (0 for records)."""
    in_population: bool = True
    """False for a patient outside the worklist's population (no DM diagnosis, no Mi-2 result,
    not listed in the cohort): not evaluated, no rows, counted in the summary."""


class PatientEvaluator(Protocol):
    """The per-patient pure function every engine calls (see :mod:`myositis_cds.services.population`)."""

    def __call__(self, key: str, document: Mapping[str, object],
                 previous: CachedResult | None = None) -> PatientResult: ...

    def invalid(self, key: str, errors: list[dict[str, Any]]) -> PatientResult:
        """The result of a patient whose input could not even be decoded."""
        ...

    def admits_key(self, key: str) -> bool:
        """Whether the patient is in the population whatever its data (listed, or ``--all``)."""
        ...

    def outside(self, key: str) -> PatientResult:
        """The result of a patient outside the population (not evaluated)."""
        ...
