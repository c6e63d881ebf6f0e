"""The ports of the clinic use cases: what they need from storage and password hashing.

Standard library only. The use cases in :mod:`myositis_cds.services` take these as arguments; the
concrete adapters (SQLAlchemy storage, argon2 hashing) live in :mod:`myositis_cds.adapters` and are
wired in by :mod:`myositis_cds.bootstrap`. Tests use in-memory fakes of the same protocols. The
plain records exchanged (:class:`StoredPatient`, :class:`User`, :class:`AuditEvent`...) are
defined in :mod:`myositis_cds.domain.clinic`, because the storage adapters build them and adapters
may not import services; they are re-exported here.

Every write goes through a :class:`UnitOfWork`: nothing is visible to anyone else until
:meth:`UnitOfWork.commit`, and leaving the ``with`` block without committing rolls everything back,
audit events included, so a write and its audit event are stored together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping
from types import TracebackType
from typing import Protocol, Self

from myositis_cds.domain.clinic import (
    AUDIT_ACTIONS,
    ROLES,
    Actor,
    AuditAction,
    AuditEvent,
    AuditQuery,
    AuditVerification,
    Role,
    StoredPatient,
    StoredView,
    SystemActor,
    User,
    ViewSummary,
)
from myositis_cds.domain.patient_list import (
    Attention,
    ListRow,
    ListSort,
    PatientListQuery,
    PatientSummary,
)

__all__ = [
    "AUDIT_ACTIONS",
    "ROLES",
    "Actor",
    "Attention",
    "AuditAction",
    "AuditEvent",
    "AuditLog",
    "AuditQuery",
    "AuditVerification",
    "ListRow",
    "ListSort",
    "PasswordHasher",
    "PatientListQuery",
    "PatientListStore",
    "PatientRepository",
    "PatientSummary",
    "Role",
    "StoredPatient",
    "StoredView",
    "SystemActor",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "User",
    "UserRepository",
    "ViewStore",
    "ViewSummary",
]

class PatientRepository(Protocol):
    def add(self, *, patient_key: str, record: Mapping[str, object]) -> StoredPatient:
        """Store a new patient at version 1; :class:`~myositis_cds.errors.AlreadyExistsError` if
        the key is taken."""
        ...

    def get(self, patient_id: int) -> StoredPatient | None: ...

    def get_by_key(self, patient_key: str) -> StoredPatient | None: ...

    def list(self, *, query: str = "", limit: int = 50, offset: int = 0) -> list[StoredPatient]:
        """Patients whose key contains ``query`` (case-insensitive), ordered by key."""
        ...

    def count(self, *, query: str = "") -> int: ...

    def update(self, patient: StoredPatient, *, expected_version: int) -> StoredPatient:
        """Replace key and record of ``patient.id`` if its stored version is ``expected_version``.

        Returns the stored patient at the next version. Raises
        :class:`~myositis_cds.errors.StaleEditError` when the stored version differs and
        :class:`~myositis_cds.errors.NotFoundError` when the patient is gone.
        """
        ...

    def delete(self, patient_id: int, *, expected_version: int) -> None:
        """Same concurrency rule as :meth:`update`."""
        ...


class UserRepository(Protocol):
    def add(self, user: User) -> User:
        """:class:`~myositis_cds.errors.AlreadyExistsError` if the username is taken."""
        ...

    def get(self, username: str) -> User | None: ...

    def list(self) -> list[User]:
        """Every user, ordered by username."""
        ...

    def set_active(self, username: str, active: bool) -> User: ...

    def set_password_hash(self, username: str, password_hash: str, *,
                          temporary_until: dt.datetime | None = None) -> User:
        """Replace the hash; ``temporary_until`` marks a generated password (see
        :attr:`User.password_temporary_until`), None one the user chose."""
        ...

    def set_role(self, username: str, role: Role) -> User: ...

    def clear_sign_in_failures(self, username: str) -> int:
        """Forget the username's failed sign-ins (its sign-in delay ends); returns how many."""
        ...


class AuditLog(Protocol):
    """Append-only: there is deliberately no way to change or remove an event."""

    def append(self, event: AuditEvent) -> None:
        """Append ``event`` in this unit of work's transaction (atomic with its writes)."""
        ...

    def append_read(self, event: AuditEvent) -> None:
        """Record a read: ``event`` is committed durably by this unit of work's ``commit()``,
        which returns only once it is, possibly in one transaction with the events of other
        concurrent reads (group commit). Only in a unit of work that writes nothing else."""
        ...

    def list(self, query: AuditQuery | None = None, *, limit: int = 100,
             offset: int = 0) -> list[AuditEvent]:
        """Newest first."""
        ...

    def export(self, query: AuditQuery | None = None) -> Iterator[AuditEvent]:
        """Every matching event, oldest first, streamed."""
        ...

    def verify(self, *, expect: tuple[int, str] | None = None) -> AuditVerification:
        """Recompute the hash chain; ``expect`` is an anchor (event id, hash) noted earlier."""
        ...


class ViewStore(Protocol):
    """Rendered patient views, one per patient and fingerprint (derived data, never audited data)."""

    def get(self, patient_id: int, fingerprint: str) -> StoredView | None: ...

    def summaries(self, patient_ids: Collection[int], fingerprint: str) -> list[ViewSummary]:
        """The stored views' summaries of these patients (bodies are not read)."""
        ...

    def put(self, view: StoredView) -> None:
        """Store ``view``, replacing the patient's view for that fingerprint."""
        ...


class PatientListStore(Protocol):
    """The patient list's summaries (derived data, one per patient, replaced in place)."""

    def put(self, summary: PatientSummary) -> None:
        """Store ``summary``, replacing the patient's previous one."""
        ...

    def page(self, query: PatientListQuery) -> tuple[list[ListRow], int]:
        """One page of patients matching ``query``, each with its stored summary (or None), in
        the query's order; and how many match in all. Patients without a summary sort last."""
        ...


class UnitOfWork(Protocol):
    """One transaction. ``commit()`` makes its writes durable; leaving without it rolls back."""

    @property
    def patients(self) -> PatientRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def views(self) -> ViewStore: ...
    @property
    def patient_list(self) -> PatientListStore: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""Makes a fresh :class:`UnitOfWork` for each use case call."""


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches; constant-time; False (never an exception) otherwise."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...
