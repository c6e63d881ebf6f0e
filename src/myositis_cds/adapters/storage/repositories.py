"""SQLAlchemy implementations of the storage ports, working inside one session (one transaction).

Optimistic concurrency: an update or delete is ``... WHERE id = :id AND version = :expected``; when
no row matches, the stored version is read back to say why (:class:`StaleEditError`, or
:class:`NotFoundError` when the patient is gone). The audit log has no update or delete method; the
database refuses them too (triggers created by the migration).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from myositis_cds.adapters.storage.audit_chain import NewEvent, append_chained, verify_chain
from myositis_cds.adapters.storage.models import (
    AuditRow,
    PatientRow,
    SignInFailureRow,
    SignInKeyRow,
    UserRow,
)
from myositis_cds.adapters.storage.sign_in_limits import key_digest, user_key
from myositis_cds.domain.clinic import (
    ROLES,
    AuditEvent,
    AuditQuery,
    AuditVerification,
    Role,
    StoredPatient,
    User,
)
from myositis_cds.errors import AlreadyExistsError, NotFoundError, StaleEditError

__all__ = ["STORED_IN_SESSION", "SqlAuditLog", "SqlPatientRepository", "SqlUserRepository",
           "patient_of_row", "user_of_row"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def patient_of_row(row: PatientRow) -> StoredPatient:
    return StoredPatient(id=row.id, patient_key=row.patient_key, record=row.record,
                         version=row.version, created_at=row.created_at, updated_at=row.updated_at)


STORED_IN_SESSION = "myositis_cds.stored_patients"
"""``Session.info`` key: the patients this transaction created or replaced, by id (see
:meth:`myositis_cds.adapters.storage.database.Database.when_stored`)."""


def _note_stored(session: Session, stored: StoredPatient) -> StoredPatient:
    session.info.setdefault(STORED_IN_SESSION, {})[stored.id] = stored
    return stored


_PATIENTS = PatientRow.__table__
_BY_ID = select(_PATIENTS).where(_PATIENTS.c.id == bindparam("id"))


def _taken(key: str) -> AlreadyExistsError:
    return AlreadyExistsError(f"a patient with id {key!r} is already stored: open that patient and "
                              "edit it, or give the new record another id")


class SqlPatientRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _flush(self, key: str) -> None:
        try:
            self._session.flush()
        except IntegrityError:
            raise _taken(key) from None

    def add(self, *, patient_key: str, record: Mapping[str, object]) -> StoredPatient:
        now = _now()
        row = PatientRow(patient_key=patient_key, record=dict(record), version=1, created_at=now,
                         updated_at=now)
        self._session.add(row)
        self._flush(patient_key)
        return _note_stored(self._session, patient_of_row(row))

    def get(self, patient_id: int) -> StoredPatient | None:
        """One Core SELECT on the session's connection (the hot path of every page view: no
        ORM identity map or unit of work)."""
        row = self._session.connection().execute(_BY_ID, {"id": patient_id}).one_or_none()
        if row is None:
            return None
        return StoredPatient(id=row.id, patient_key=row.patient_key, record=row.record,
                             version=row.version, created_at=row.created_at,
                             updated_at=row.updated_at)

    def get_by_key(self, patient_key: str) -> StoredPatient | None:
        row = self._session.scalars(
            select(PatientRow).where(PatientRow.patient_key == patient_key)
            .execution_options(populate_existing=True)).one_or_none()
        return None if row is None else patient_of_row(row)

    @staticmethod
    def _matching(stmt: Select[Any], query: str) -> Select[Any]:
        if query:
            return stmt.where(PatientRow.patient_key.icontains(query, autoescape=True))
        return stmt

    def list(self, *, query: str = "", limit: int = 50, offset: int = 0) -> list[StoredPatient]:
        stmt = self._matching(select(PatientRow), query).order_by(PatientRow.patient_key)
        rows = self._session.scalars(stmt.limit(limit).offset(offset)
                                     .execution_options(populate_existing=True))
        return [patient_of_row(row) for row in rows]

    def count(self, *, query: str = "") -> int:
        return int(self._session.scalar(self._matching(select(func.count(PatientRow.id)), query))
                   or 0)

    def _refuse(self, patient_id: int, key: str, expected_version: int) -> None:
        current = self._session.scalar(select(PatientRow.version).where(PatientRow.id == patient_id))
        if current is None:
            msg = f"patient {key} (id {patient_id}) no longer exists: someone else deleted it"
            raise NotFoundError(msg)
        raise StaleEditError(patient_key=key, current_version=current,
                             expected_version=expected_version)

    def update(self, patient: StoredPatient, *, expected_version: int) -> StoredPatient:
        stmt = (update(PatientRow)
                .where(PatientRow.id == patient.id, PatientRow.version == expected_version)
                .values(patient_key=patient.patient_key, record=dict(patient.record),
                        version=expected_version + 1, updated_at=_now())
                .returning(PatientRow.id)
                .execution_options(synchronize_session=False))
        try:
            updated = self._session.execute(stmt).scalar_one_or_none()
        except IntegrityError:
            raise _taken(patient.patient_key) from None
        if updated is None:
            self._refuse(patient.id, patient.patient_key, expected_version)
        stored = self.get(patient.id)
        assert stored is not None
        return _note_stored(self._session, stored)

    def delete(self, patient_id: int, *, expected_version: int) -> None:
        stmt = (delete(PatientRow)
                .where(PatientRow.id == patient_id, PatientRow.version == expected_version)
                .returning(PatientRow.id)
                .execution_options(synchronize_session=False))
        if self._session.execute(stmt).scalar_one_or_none() is None:
            key = self._session.scalar(select(PatientRow.patient_key)
                                       .where(PatientRow.id == patient_id))
            self._refuse(patient_id, key or f"#{patient_id}", expected_version)
        existing = self._session.get(PatientRow, patient_id)
        if existing is not None:
            self._session.expunge(existing)


def _role(value: str) -> Role:
    for role in ROLES:  # a CHECK constraint guarantees one matches
        if value == role:
            return role
    msg = f"users.role: got {value!r}; expected one of {', '.join(ROLES)}"
    raise ValueError(msg)


class _UserColumns(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def password_hash(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def password_temporary_until(self) -> dt.datetime | None: ...


def user_of_row(row: _UserColumns) -> User:
    """The account of a ``users`` row (an ORM row, or a Core row with the same column names)."""
    role = _role(row.role)
    return User(username=row.username, password_hash=row.password_hash, role=role,
                active=row.active, created_at=row.created_at,
                password_temporary_until=row.password_temporary_until)


class SqlUserRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _row(self, username: str) -> UserRow:
        row = self._session.scalars(select(UserRow).where(UserRow.username == username)
                                    ).one_or_none()
        if row is None:
            msg = f"no user {username!r}: `myositis-cds users list` shows the users"
            raise NotFoundError(msg)
        return row

    def add(self, user: User) -> User:
        row = UserRow(username=user.username, password_hash=user.password_hash, role=user.role,
                      active=user.active, created_at=user.created_at,
                      password_temporary_until=user.password_temporary_until)
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError:
            msg = f"user {user.username!r} already exists: choose another username"
            raise AlreadyExistsError(msg) from None
        return user_of_row(row)

    def get(self, username: str) -> User | None:
        row = self._session.scalars(select(UserRow).where(UserRow.username == username)
                                    ).one_or_none()
        return None if row is None else user_of_row(row)

    def list(self) -> list[User]:
        return [user_of_row(row) for row in self._session.scalars(select(UserRow)
                                                            .order_by(UserRow.username))]

    def set_active(self, username: str, active: bool) -> User:
        row = self._row(username)
        row.active = active
        self._session.flush()
        return user_of_row(row)

    def set_password_hash(self, username: str, password_hash: str, *,
                          temporary_until: dt.datetime | None = None) -> User:
        row = self._row(username)
        row.password_hash = password_hash
        row.password_temporary_until = temporary_until
        self._session.flush()
        return user_of_row(row)

    def set_role(self, username: str, role: Role) -> User:
        row = self._row(username)
        row.role = role
        self._session.flush()
        return user_of_row(row)

    def clear_sign_in_failures(self, username: str) -> int:
        digest = key_digest(user_key(username))
        cleared = self._session.execute(
            delete(SignInFailureRow).where(SignInFailureRow.key_digest == digest))
        self._session.execute(delete(SignInKeyRow).where(SignInKeyRow.key_digest == digest))
        return int(getattr(cleared, "rowcount", 0) or 0)


def _event(row: AuditRow) -> AuditEvent:
    return AuditEvent(at=row.at, actor=row.actor, action=row.action,  # type: ignore[arg-type]
                      patient_key=row.patient_key, detail=row.detail)


def _new(event: AuditEvent) -> NewEvent:
    return NewEvent(at=event.at, actor=event.actor, action=event.action,
                    patient_key=event.patient_key, detail=event.detail)


class SqlAuditLog:
    """Append (chained, see :mod:`.audit_chain`), read and verify only: there is no method to
    change or remove an event."""

    def __init__(self, session: Session, reads: list[NewEvent] | None = None) -> None:
        self._session = session
        self._reads = reads if reads is not None else []

    def append(self, event: AuditEvent) -> None:
        append_chained(self._session, [_new(event)])

    def append_read(self, event: AuditEvent) -> None:
        """Kept for the unit of work's commit, which hands it to the group commit."""
        self._reads.append(_new(event))

    def verify(self, *, expect: tuple[int, str] | None = None) -> AuditVerification:
        report = verify_chain(self._session, expect=expect)
        return AuditVerification(events=report.events, last_id=report.last_id,
                                 last_hash=report.last_hash, problems=tuple(report.problems),
                                 more_problems=report.more_problems)

    @staticmethod
    def _filtered(query: AuditQuery | None) -> Select[AuditRow]:
        stmt = select(AuditRow)
        if query is None:
            return stmt
        if query.actor is not None:
            stmt = stmt.where(AuditRow.actor == query.actor)
        if query.action is not None:
            stmt = stmt.where(AuditRow.action == query.action)
        if query.patient_key is not None:
            stmt = stmt.where(AuditRow.patient_key == query.patient_key)
        if query.since is not None:
            stmt = stmt.where(AuditRow.at >= query.since)
        if query.until is not None:
            stmt = stmt.where(AuditRow.at < query.until)
        return stmt

    def list(self, query: AuditQuery | None = None, *, limit: int = 100,
             offset: int = 0) -> list[AuditEvent]:
        stmt = self._filtered(query).order_by(AuditRow.id.desc()).limit(limit).offset(offset)
        return [_event(row) for row in self._session.scalars(stmt)]

    def export(self, query: AuditQuery | None = None) -> Iterator[AuditEvent]:
        stmt = self._filtered(query).order_by(AuditRow.id).execution_options(yield_per=500)
        for row in self._session.scalars(stmt):
            yield _event(row)
