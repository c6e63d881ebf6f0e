"""The rendered-view store (``page_views``): one row per patient and fingerprint, replaced in place.

``put`` is an upsert (``INSERT ... ON CONFLICT DO UPDATE`` on both SQLite and PostgreSQL), so two
server processes that render the same patient at once both succeed and the last one wins; the
views are derived data that either would have produced identically.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from myositis_cds.adapters.storage.models import PageViewRow
from myositis_cds.domain.clinic import StoredView, ViewSummary

__all__ = ["SqlViewStore"]


_VIEWS = PageViewRow.__table__
_ONE = select(_VIEWS).where(_VIEWS.c.patient_id == bindparam("patient_id"),
                            _VIEWS.c.fingerprint == bindparam("fingerprint"))


class SqlViewStore:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, patient_id: int, fingerprint: str) -> StoredView | None:
        """One Core SELECT on the session's connection (every page view reads one)."""
        row = self._session.connection().execute(
            _ONE, {"patient_id": patient_id, "fingerprint": fingerprint}).one_or_none()
        if row is None:
            return None
        return StoredView(patient_id=row.patient_id, version=row.version, as_of=row.as_of,
                          fingerprint=row.fingerprint, body=row.body, summary=row.summary)

    def summaries(self, patient_ids: Collection[int], fingerprint: str) -> list[ViewSummary]:
        if not patient_ids:
            return []
        rows = self._session.execute(
            select(PageViewRow.patient_id, PageViewRow.version, PageViewRow.as_of,
                   PageViewRow.summary)
            .where(PageViewRow.fingerprint == fingerprint,
                   PageViewRow.patient_id.in_(list(patient_ids))))
        return [ViewSummary(patient_id=row.patient_id, version=row.version, as_of=row.as_of,
                            summary=row.summary) for row in rows]

    def put(self, view: StoredView) -> None:
        values = {"patient_id": view.patient_id, "fingerprint": view.fingerprint,
                  "version": view.version, "as_of": view.as_of, "body": view.body,
                  "summary": dict(view.summary),
                  "created_at": dt.datetime.now(dt.UTC)}
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(PageViewRow).values(**values)
        changed = {k: stmt.excluded[k] for k in ("version", "as_of", "body", "summary",
                                                 "created_at")}
        self._session.execute(stmt.on_conflict_do_update(
            index_elements=[PageViewRow.patient_id, PageViewRow.fingerprint], set_=changed))
