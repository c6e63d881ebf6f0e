"""The patient list's store (``patient_summaries`` joined to ``patients``): sorted, filtered pages.

``put`` is an upsert, like the page views (two processes summarising the same patient at once both
succeed; either would have stored the same). ``page`` is one query: patients left-joined to their
summaries, filtered by identifier, attention and phase, ordered by the chosen key with patients
that have no summary last, limited and offset; and one count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from myositis_cds.adapters.storage.models import PatientRow, PatientSummaryRow
from myositis_cds.adapters.storage.repositories import patient_of_row
from myositis_cds.domain.patient_list import ListRow, PatientListQuery, PatientSummary

__all__ = ["SqlPatientListStore"]

_S = PatientSummaryRow
_FIELDS = ("version", "fingerprint", "as_of", "recheck_on", "age", "sex", "phase", "next_due",
           "next_due_date", "next_due_status", "critical", "warning", "info", "overdue",
           "inadequate", "invalid")


def _summary(row: PatientSummaryRow) -> PatientSummary:
    return PatientSummary(patient_id=row.patient_id, **{name: getattr(row, name) for name in _FIELDS})


def _order(sort: str) -> list[Any]:
    missing_last = _S.patient_id.is_(None)
    name = PatientRow.patient_key
    keys: dict[str, list[Any]] = {
        "attention": [_S.critical.desc(), _S.overdue.desc(), _S.inadequate.desc(),
                      _S.warning.desc(), _S.next_due_date.is_(None), _S.next_due_date],
        "next_due": [_S.next_due_date.is_(None), _S.next_due_date],
        "name": [],
        "age": [_S.age.is_(None), _S.age],
        "phase": [_S.phase.is_(None), _S.phase],
        "critical": [_S.critical.desc(), _S.warning.desc()],
        "warning": [_S.warning.desc(), _S.critical.desc()],
        "overdue": [_S.overdue.desc(), _S.next_due_date.is_(None), _S.next_due_date],
    }
    return [missing_last, *keys[sort], name] if sort != "name" else [name]


def _where(query: PatientListQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.text:
        conditions.append(PatientRow.patient_key.icontains(query.text, autoescape=True))
    if query.attention == "critical":
        conditions.append(_S.critical > 0)
    elif query.attention == "warning":
        conditions.append(_S.critical + _S.warning > 0)
    elif query.attention == "overdue":
        conditions.append(_S.overdue > 0)
    elif query.attention == "inadequate":
        conditions.append(_S.inadequate.is_(True))
    if query.phase:
        conditions.append(_S.phase == query.phase)
    return conditions


class SqlPatientListStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def put(self, summary: PatientSummary) -> None:
        values = {"patient_id": summary.patient_id, "updated_at": dt.datetime.now(dt.UTC),
                  **{name: getattr(summary, name) for name in _FIELDS}}
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(PatientSummaryRow).values(**values)
        changed = {k: stmt.excluded[k] for k in (*_FIELDS, "updated_at")}
        self._session.execute(stmt.on_conflict_do_update(
            index_elements=[PatientSummaryRow.patient_id], set_=changed))

    def _joined(self, stmt: Any, query: PatientListQuery) -> Any:  # any select of patients
        stmt = stmt.select_from(PatientRow).outerjoin(_S, _S.patient_id == PatientRow.id)
        conditions = _where(query)
        return stmt.where(and_(*conditions)) if conditions else stmt

    def page(self, query: PatientListQuery) -> tuple[list[ListRow], int]:
        stmt = self._joined(select(PatientRow, _S), query).order_by(*_order(query.sort))
        rows = self._session.execute(stmt.limit(query.limit).offset(query.offset)
                                     .execution_options(populate_existing=True))
        page = [ListRow(patient=patient_of_row(patient),
                        summary=None if summary is None else _summary(summary))
                for patient, summary in rows]
        total = int(self._session.scalar(self._joined(select(func.count(PatientRow.id)), query)) or 0)
        return page, total
