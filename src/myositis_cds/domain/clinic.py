"""The records of the clinic application: stored patients, users, roles and audit events.

Standard library only. These are the values the use cases (:mod:`myositis_cds.services`) and the
storage adapters exchange through the ports in :mod:`myositis_cds.services.ports`; they live in the
domain layer because both sides build them and neither may import the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "AUDIT_ACTIONS",
    "ROLES",
    "Actor",
    "AuditAction",
    "AuditEvent",
    "AuditQuery",
    "AuditVerification",
    "Role",
    "StoredPatient",
    "StoredView",
    "SystemActor",
    "User",
    "ViewSummary",
]

Role = Literal["clinician", "researcher", "admin"]
ROLES: tuple[Role, ...] = ("clinician", "researcher", "admin")

AuditAction = Literal[
    "patient.read", "patient.list", "patient.create", "patient.update", "patient.delete",
    "patient.entry_delete",
    "user.add", "user.list", "user.disable", "user.enable", "user.role_change",
    "user.password_reset", "user.password_change",
    "auth.login", "auth.failed", "access.denied",
    "audit.read", "audit.export", "cds.hook", "cds.feedback", "cohort.export", "user.unlock",
    "audit.verify",
]
AUDIT_ACTIONS: tuple[AuditAction, ...] = (
    "patient.read", "patient.list", "patient.create", "patient.update", "patient.delete",
    "patient.entry_delete",
    "user.add", "user.list", "user.disable", "user.enable", "user.role_change",
    "user.password_reset", "user.password_change",
    "auth.login", "auth.failed", "access.denied",
    "audit.read", "audit.export", "cds.hook", "cds.feedback", "cohort.export", "user.unlock",
    "audit.verify",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredView:
    """A rendered view of one stored patient: derived data, valid only for exactly these inputs.

    ``body`` is opaque to storage (the web application's compressed page parts). It was made from
    the patient at ``version`` for the assessment date ``as_of`` with the knowledge pack, settings
    and templates summarised by ``fingerprint``; any other version, date or fingerprint is a miss.
    """

    patient_id: int
    version: int
    as_of: dt.date
    fingerprint: str
    body: bytes
    summary: Mapping[str, int]
    """A few counts shown without the body (e.g. alerts by severity in the patient list)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewSummary:
    """A stored view's key and summary, without its body."""

    patient_id: int
    version: int
    as_of: dt.date
    summary: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredPatient:
    """A validated ``patient-record@1`` document as stored, with its optimistic-concurrency version."""

    id: int
    patient_key: str
    """The record's ``id``; unique among stored patients."""
    record: Mapping[str, object] = field(repr=False)
    """The ``patient-record@1`` document exactly as accepted (decoded JSON); kept out of ``repr``
    so that patient data never reaches a log through it."""
    version: int
    """1 when created, +1 on every update; an edit names the version it was based on."""
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    username: str
    password_hash: str = field(repr=False)
    """An argon2 hash (PHC string); never the password."""
    role: Role
    active: bool
    created_at: dt.datetime
    password_temporary_until: dt.datetime | None = None
    """Set while the password is one the system generated (a demo or reset password): it must be
    changed at the next sign-in and is refused after this time."""

    @property
    def must_change_password(self) -> bool:
        return self.password_temporary_until is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemActor:
    """Someone acting from the server's shell (e.g. ``cli:root``): trusted like an admin."""

    username: str
    role: Role = "admin"
    active: bool = True


class Actor(Protocol):
    """Who is acting: a signed-in :class:`User` or a :class:`SystemActor`."""

    @property
    def username(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """Who did what, when, to which patient. ``detail`` never holds patient data."""

    at: dt.datetime
    actor: str
    action: AuditAction
    patient_key: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditVerification:
    """What a check of the audit log's hash chain found (``problems`` empty: intact)."""

    events: int
    last_id: int
    last_hash: str
    """The head: written down, it is the anchor a later check compares against."""
    problems: tuple[str, ...]
    more_problems: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditQuery:
    """Filters for listing or exporting audit events; ``None`` means any."""

    actor: str | None = None
    action: AuditAction | None = None
    patient_key: str | None = None
    since: dt.datetime | None = None
    """Inclusive."""
    until: dt.datetime | None = None
    """Exclusive."""
