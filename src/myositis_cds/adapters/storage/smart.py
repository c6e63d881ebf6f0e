"""What the SMART on FHIR launch keeps in the application database, shared by every server process.

- Launches in progress (``smart_launches``): the SHA-256 of the OAuth ``state``, and what the
  callback needs (the EHR, the launch parameter, the PKCE verifier) as JSON; ten minutes at most,
  and taken — read and deleted in one transaction — by the callback, so a state is used once.
- App sessions (``smart_sessions``): the SHA-256 of the session token (the browser holds the
  token), the EHR and patient it was launched for, and the record read from the EHR's FHIR server
  with the import report; deleted when the session expires. The EHR's access token is never kept.

Created by migration 0007; not ORM models (nothing but these classes reads or writes them).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, Text, delete, insert, select

__all__ = ["SMART_LAUNCHES", "SMART_SESSIONS", "SmartSession", "SqlSmartStore", "token_hash"]

_METADATA: Final = MetaData()
SMART_LAUNCHES: Final = Table(
    "smart_launches", _METADATA,
    Column("state_hash", String(64), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)
SMART_SESSIONS: Final = Table(
    "smart_sessions", _METADATA,
    Column("token_hash", String(64), primary_key=True),
    Column("iss", String(500), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("user_ref", String(300), nullable=False),
    Column("record", Text, nullable=False),
    Column("report", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartSession:
    """A launched app session: whose data, from which EHR, until when."""

    key: str
    """The token's SHA-256 (names the session in caches; never the token itself)."""
    iss: str
    patient_id: str
    user_ref: str
    record: dict[str, Any]
    """The ``patient-record@1`` document read from the EHR."""
    report: dict[str, Any]
    """The import's report (what could not be mapped; no patient data)."""
    created_at: int
    expires_at: int


class SqlSmartStore:
    """Launches in progress and app sessions (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put_launch(self, state: str, payload: dict[str, Any], *, lifetime: int,
                   now: float | None = None) -> None:
        at = math.floor(time.time() if now is None else now)
        with self._engine.begin() as connection:
            connection.execute(delete(SMART_LAUNCHES).where(SMART_LAUNCHES.c.expires_at < at))
            connection.execute(insert(SMART_LAUNCHES).values(
                state_hash=token_hash(state), payload=orjson.dumps(payload).decode(),
                expires_at=at + lifetime))

    def take_launch(self, state: str, *, now: float | None = None) -> dict[str, Any] | None:
        """The launch of ``state`` (deleted: used once), or None if unknown or expired."""
        at = math.floor(time.time() if now is None else now)
        key = token_hash(state)
        with self._engine.begin() as connection:
            row = connection.execute(select(SMART_LAUNCHES.c.payload, SMART_LAUNCHES.c.expires_at)
                                     .where(SMART_LAUNCHES.c.state_hash == key)).first()
            deleted = connection.execute(delete(SMART_LAUNCHES)
                                         .where(SMART_LAUNCHES.c.state_hash == key)).rowcount
        if row is None or deleted != 1 or row.expires_at < at:
            return None
        payload: dict[str, Any] = orjson.loads(row.payload)
        return payload

    def create_session(self, token: str, *, iss: str, patient_id: str, user_ref: str,
                       record: dict[str, Any], report: dict[str, Any], lifetime: int,
                       now: float | None = None) -> None:
        at = math.floor(time.time() if now is None else now)
        with self._engine.begin() as connection:
            connection.execute(delete(SMART_SESSIONS).where(SMART_SESSIONS.c.expires_at < at))
            connection.execute(insert(SMART_SESSIONS).values(
                token_hash=token_hash(token), iss=iss, patient_id=patient_id, user_ref=user_ref,
                record=orjson.dumps(record).decode(), report=orjson.dumps(report).decode(),
                created_at=at, expires_at=at + lifetime))

    def session(self, token: str | None, *, now: float | None = None) -> SmartSession | None:
        """The live session of ``token`` (the cookie's value), or None."""
        if not token or len(token) > 256:
            return None
        at = math.floor(time.time() if now is None else now)
        key = token_hash(token)
        with self._engine.connect() as connection:
            row = connection.execute(select(SMART_SESSIONS).where(
                SMART_SESSIONS.c.token_hash == key)).first()
        if row is None or row.expires_at < at:
            return None
        return SmartSession(key=key, iss=row.iss, patient_id=row.patient_id,
                            user_ref=row.user_ref, record=orjson.loads(row.record),
                            report=orjson.loads(row.report), created_at=row.created_at,
                            expires_at=row.expires_at)
