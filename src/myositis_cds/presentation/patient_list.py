"""The patient list (worklist) as the clinician reads it: one row per patient, in words.

:func:`patient_list_view` turns a page of stored summaries into display rows (identifier, age, sex,
phase, what is due next and when, alert counts by severity, overdue items, inadequate response)
and the links that sort, filter and page through the list. Words come from the labels table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from myositis_cds.domain.patient_list import (
    ATTENTION_FILTERS,
    LIST_SORTS,
    ListRow,
    PatientListQuery,
)
from myositis_cds.presentation.labels import EMPTY, clean, fmt_date, label, labels

__all__ = ["ListRowView", "PatientListView", "patient_list_view"]

_ATTENTION_WORDS = {"all": "all patients", "critical": "critical alert",
                    "warning": "critical or warning alert", "overdue": "something overdue",
                    "inadequate": "inadequate response"}
_SORT_WORDS = {"attention": "needs attention first", "next_due": "next due date", "name": "identifier",
               "age": "age", "phase": "phase", "critical": "critical alerts", "warning": "warnings",
               "overdue": "overdue items"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRowView:
    patient_id: int
    name: str
    age: str
    sex: str
    phase: str
    next_due: str
    next_due_date: str
    next_due_status: str
    critical: int
    warning: int
    info: int
    overdue: int
    inadequate: bool
    invalid: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientListView:
    rows: tuple[ListRowView, ...]
    total: int
    first: int
    last: int
    as_of: str
    query: PatientListQuery
    attention_choices: tuple[tuple[str, str], ...]
    sort_choices: tuple[tuple[str, str], ...]
    phase_choices: tuple[tuple[str, str], ...]
    sort_links: dict[str, str]
    previous_link: str | None
    next_link: str | None
    refreshed: int


def _next_due(code: str | None) -> str:
    if code is None:
        return EMPTY
    return label("safety", code) if code.startswith("SAFETY-") else label("due", code)


def _row(row: ListRow) -> ListRowView:
    s, patient = row.summary, row.patient
    if s is None or s.invalid:
        return ListRowView(patient_id=patient.id, name=clean(patient.patient_key), age=EMPTY, sex=EMPTY,
                           phase=EMPTY, next_due=EMPTY, next_due_date=EMPTY, next_due_status="",
                           critical=0, warning=0, info=0, overdue=0, inadequate=False,
                           invalid=s is not None and s.invalid)
    return ListRowView(
        patient_id=patient.id, name=clean(patient.patient_key),
        age=EMPTY if s.age is None else str(s.age), sex=label("sex", s.sex or "unknown"),
        phase=EMPTY if s.phase is None else label("phase", s.phase),
        next_due=_next_due(s.next_due),
        next_due_date=fmt_date(s.next_due_date), next_due_status=clean(s.next_due_status or ""),
        critical=s.critical, warning=s.warning, info=s.info, overdue=s.overdue,
        inadequate=s.inadequate, invalid=False)


def _link(query: PatientListQuery, **changes: object) -> str:
    values = {"q": query.text, "attention": query.attention, "phase": query.phase or "",
              "sort": query.sort, "offset": query.offset, **changes}
    kept = {k: v for k, v in values.items()
            if v not in ("", None, 0) and not (k == "attention" and v == "all")
            and not (k == "sort" and v == "attention")}
    return "/patients" + (f"?{urlencode(kept)}" if kept else "")


def patient_list_view(rows: Sequence[ListRow], *, total: int, query: PatientListQuery,
                      as_of: dt.date, refreshed: int) -> PatientListView:
    """The display records of one page of the patient list."""
    shown = tuple(_row(r) for r in rows)
    size = query.limit
    previous = _link(query, offset=max(0, query.offset - size)) if query.offset > 0 else None
    following = _link(query, offset=query.offset + size) if query.offset + size < total else None
    phases = tuple(labels().get("phase", {}).items())
    return PatientListView(
        rows=shown, total=total, first=query.offset + 1 if shown else 0,
        last=query.offset + len(shown), as_of=fmt_date(as_of), query=query,
        attention_choices=tuple((a, _ATTENTION_WORDS[a]) for a in ATTENTION_FILTERS),
        sort_choices=tuple((s, _SORT_WORDS[s]) for s in LIST_SORTS),
        phase_choices=phases,
        sort_links={s: _link(query, sort=s, offset=0) for s in LIST_SORTS},
        previous_link=previous, next_link=following, refreshed=refreshed)
