"""What the CDS Hooks service keeps in the application database, shared by every server process.

- The replay guard: each accepted JWT's ``(iss, jti)`` until the token expires, so a token replayed
  to any process (``myositis-cds serve --workers N``) is refused. Rows past their expiry are
  deleted as new tokens arrive; the primary key makes the check atomic (of two concurrent uses of
  one token exactly one insert succeeds).
- The card ledger: each issued card's uuid with the client, the patient key and the rule it stands
  for, so that feedback (possibly received by another process) is audited against its rule. Kept
  ``retention_days`` (default 30), then deleted.

Neither table holds record values or card text. Both are created by migration 0003; they are not
ORM models (nothing but these two classes reads or writes them).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

__all__ = ["CDS_CARDS", "CDS_TOKEN_USES", "IssuedCard", "SqlCardLedger", "SqlReplayStore"]

_METADATA: Final = MetaData()
CDS_TOKEN_USES: Final = Table(
    "cds_token_uses", _METADATA,
    Column("iss", String(200), primary_key=True),
    Column("jti", String(256), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
)
CDS_CARDS: Final = Table(
    "cds_cards", _METADATA,
    Column("card_uuid", String(64), primary_key=True),
    Column("iss", String(200), nullable=False),
    Column("patient_key", String(200), nullable=False),
    Column("rule", String(80), nullable=False),
    Column("issued_at", BigInteger, nullable=False, index=True),
)


class SqlReplayStore:
    """``remember(iss, jti)`` is True the first time, False for a replay (until ``expires``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def remember(self, iss: str, jti: str, *, expires: float, now: float) -> bool:
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(CDS_TOKEN_USES).where(
                    CDS_TOKEN_USES.c.expires_at < math.floor(now)))
                connection.execute(insert(CDS_TOKEN_USES).values(
                    iss=iss, jti=jti, expires_at=math.ceil(expires)))
        except IntegrityError:
            return False
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedCard:
    iss: str
    patient_key: str
    rule: str


class SqlCardLedger:
    """The cards issued in the last ``retention_days``: uuid → client, patient key, rule."""

    def __init__(self, engine: Engine, *, retention_days: int = 30) -> None:
        self._engine = engine
        self._retention = retention_days * 86_400

    def add(self, cards: dict[str, IssuedCard], *, now: float | None = None) -> None:
        at = math.floor(time.time() if now is None else now)
        with self._engine.begin() as connection:
            connection.execute(delete(CDS_CARDS).where(CDS_CARDS.c.issued_at < at - self._retention))
            if cards:
                connection.execute(insert(CDS_CARDS), [
                    {"card_uuid": key, "iss": card.iss, "patient_key": card.patient_key,
                     "rule": card.rule, "issued_at": at} for key, card in cards.items()])

    def get(self, card_uuid: str) -> IssuedCard | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(CDS_CARDS.c.iss, CDS_CARDS.c.patient_key,
                                            CDS_CARDS.c.rule)
                                     .where(CDS_CARDS.c.card_uuid == card_uuid)).first()
        return None if row is None else IssuedCard(iss=row.iss, patient_key=row.patient_key,
                                                   rule=row.rule)
