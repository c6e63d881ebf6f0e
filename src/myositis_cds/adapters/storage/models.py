"""The tables, as typed SQLAlchemy 2 declarative models.

The schema itself is created by the Alembic migrations (``migrations/versions``), which also add
what models cannot express: the triggers that make ``audit_log`` append-only (no UPDATE, no
DELETE, no INSERT of an id that is not new, so no REPLACE or UPSERT either). A test checks that
the migrated schema and these models agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AuditChainRow",
    "AuditRow",
    "Base",
    "PageViewRow",
    "PatientRow",
    "PatientSummaryRow",
    "SignInFailureRow",
    "SignInKeyRow",
    "UserRow",
    "UtcDateTime",
    "WebSessionRow",
]


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite stores no zone; PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = f"naive datetime {value.isoformat()}: expected an aware (UTC) datetime"
            raise ValueError(msg)
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None,
                             dialect: Dialect) -> dt.datetime | None:  # noqa: ARG002 - the API
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


RecordJson = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class PatientRow(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("patient_key", name="uq_patients_patient_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_key: Mapped[str] = mapped_column(String(200))
    record: Mapped[dict[str, Any]] = mapped_column(RecordJson)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),
                      CheckConstraint("role IN ('clinician', 'researcher', 'admin')",
                                      name="ck_users_role"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    password_temporary_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditRow(Base):
    """One audit event, chained to the one before it (``prev_hash``) by its SHA-256 ``hash``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(40))
    patient_key: Mapped[str | None] = mapped_column(String(200), index=True)
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainRow(Base):
    """The head of the audit chain (one row): the last event's id and hash. Appending updates it
    first, so concurrent appends queue on this row and chain in id order."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class PageViewRow(Base):
    """The last rendered page of a patient for one knowledge fingerprint (derived data)."""

    __tablename__ = "page_views"

    patient_id: Mapped[int] = mapped_column(Integer, ForeignKey("patients.id", ondelete="CASCADE"),
                                            primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[dt.date] = mapped_column(Date)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    summary: Mapped[dict[str, int]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PatientSummaryRow(Base):
    """What the patient list shows of one patient (derived data, replaced in place)."""

    __tablename__ = "patient_summaries"

    patient_id: Mapped[int] = mapped_column(Integer, ForeignKey("patients.id", ondelete="CASCADE"),
                                            primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date] = mapped_column(Date)
    recheck_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sex: Mapped[str | None] = mapped_column(String(20), nullable=True)
    phase: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    next_due: Mapped[str | None] = mapped_column(String(80), nullable=True)
    next_due_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    next_due_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    critical: Mapped[int] = mapped_column(Integer, index=True)
    warning: Mapped[int] = mapped_column(Integer)
    info: Mapped[int] = mapped_column(Integer)
    overdue: Mapped[int] = mapped_column(Integer, index=True)
    inadequate: Mapped[bool] = mapped_column(Boolean)
    invalid: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class WebSessionRow(Base):
    __tablename__ = "web_sessions"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class SignInFailureRow(Base):
    """One sign-in attempt of one key (reserved before the password check; a success removes it)."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_digest: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class SignInKeyRow(Base):
    """One row per limited key: the lock concurrent attempts on that key queue behind."""

    __tablename__ = "sign_in_keys"

    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
