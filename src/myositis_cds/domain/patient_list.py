"""The clinician's patient list (worklist): one summary per stored patient, and how to ask for a page.

Standard library only: the use case (:mod:`myositis_cds.services.patient_list`) makes the summaries
from the typed results of a patient page, the storage adapter keeps them in a table it can sort
and filter (so a list of 10,000 patients is one indexed query, not 10,000 assessments), and both
exchange these records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

from myositis_cds.domain.clinic import StoredPatient

__all__ = [
    "ATTENTION_FILTERS",
    "LIST_SORTS",
    "Attention",
    "ListRow",
    "ListSort",
    "PatientListQuery",
    "PatientSummary",
]

Attention = Literal["all", "critical", "warning", "overdue", "inadequate"]
ATTENTION_FILTERS: Final[tuple[Attention, ...]] = ("all", "critical", "warning", "overdue", "inadequate")
ListSort = Literal["attention", "next_due", "name", "age", "phase", "critical", "warning", "overdue"]
LIST_SORTS: Final[tuple[ListSort, ...]] = ("attention", "next_due", "name", "age", "phase",
                                           "critical", "warning", "overdue")


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientSummary:
    """What the patient list shows of one patient, made from its results on ``as_of``.

    Valid for the patient's ``version`` and the knowledge ``fingerprint``, on the dates from
    ``as_of`` up to the day before ``recheck_on`` (None: no date-dependent change is coming)."""

    patient_id: int
    version: int
    fingerprint: str
    as_of: dt.date
    recheck_on: dt.date | None
    age: int | None
    sex: str | None
    phase: str | None
    """The therapy phase (knowledge pack 2026.2); None where the results have none."""
    next_due: str | None
    """What is due next: ``screening`` (the labels table's ``due`` kind) or a safety check's ID
    (its ``safety`` kind, e.g. ``SAFETY-PJP``)."""
    next_due_date: dt.date | None
    next_due_status: str | None
    """``overdue``, ``due`` or ``missing``."""
    critical: int
    warning: int
    info: int
    overdue: int
    """Items past their date and not done: screening occasions and safety checks overdue, and
    safety checks missing whose date has come."""
    inadequate: bool
    """Inadequate response after 3 months of first-line treatment."""
    invalid: bool = False
    """The stored record no longer validates (nothing else is known)."""

    def current_on(self, day: dt.date, *, version: int, fingerprint: str) -> bool:
        """Whether this summary holds for ``day``, the patient's ``version`` and ``fingerprint``."""
        return (self.version == version and self.fingerprint == fingerprint and self.as_of <= day
                and (self.recheck_on is None or day < self.recheck_on))


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientListQuery:
    text: str = ""
    """Part of the patient's identifier (case-insensitive)."""
    attention: Attention = "all"
    phase: str | None = None
    sort: ListSort = "attention"
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRow:
    patient: StoredPatient
    summary: PatientSummary | None
    """The stored summary (perhaps of another version, date or fingerprint), or None."""
