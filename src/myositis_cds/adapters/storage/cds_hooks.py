"""What the CDS Hooks service keeps in the application database, shared by every server process.

- The replay guard: each accepted JWT's ``(iss, jti)`` until the token expires, so a token replayed
  to any process (``myositis-cds serve --workers N``) is refused. Rows past their expiry are
  deleted as new tokens arrive; the primary key makes the check atomic (of two concurrent uses of
  one token exactly one insert succeeds).
- The card ledger: each issued card's uuid with the client, the patient key, the rule it stands
  for and the uuids of its suggestions, so that feedback (possibly received by another process) is
  audited against its rule and checked against what the card offered. Kept ``retention_days``
  (default 30), then deleted.
- The feedback analytics: one row per feedback item (client, rule, outcome, override reason code,
  suggestions accepted) and the counts per rule (:meth:`SqlCdsFeedback.by_rule`).

No table holds record values, card text or user comments. They are created by migrations 0003 and
0007; they are not ORM models (nothing but these classes reads or writes them).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

__all__ = ["CDS_CARDS", "CDS_CARD_SUGGESTIONS", "CDS_FEEDBACK", "CDS_TOKEN_USES", "FeedbackRow",
           "IssuedCard", "RuleFeedback", "SqlCardLedger", "SqlCdsFeedback", "SqlReplayStore"]

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
CDS_CARD_SUGGESTIONS: Final = Table(
    "cds_card_suggestions", _METADATA,
    Column("card_uuid", String(64), primary_key=True),
    Column("suggestion_uuid", String(64), primary_key=True),
)
CDS_FEEDBACK: Final = Table(
    "cds_feedback", _METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", BigInteger, nullable=False, index=True),
    Column("iss", String(200), nullable=False),
    Column("rule", String(80), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason_code", String(120), nullable=True),
    Column("accepted_suggestions", Integer, nullable=False),
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
    suggestions: tuple[str, ...] = ()
    """The uuids of the card's suggestions."""


class SqlCardLedger:
    """The cards issued in the last ``retention_days``: uuid → client, patient key, rule."""

    def __init__(self, engine: Engine, *, retention_days: int = 30) -> None:
        self._engine = engine
        self._retention = retention_days * 86_400

    def add(self, cards: dict[str, IssuedCard], *, now: float | None = None) -> None:
        at = math.floor(time.time() if now is None else now)
        expired = select(CDS_CARDS.c.card_uuid).where(CDS_CARDS.c.issued_at < at - self._retention)
        with self._engine.begin() as connection:
            connection.execute(delete(CDS_CARD_SUGGESTIONS).where(
                CDS_CARD_SUGGESTIONS.c.card_uuid.in_(expired)))
            connection.execute(delete(CDS_CARDS).where(CDS_CARDS.c.issued_at < at - self._retention))
            if cards:
                connection.execute(insert(CDS_CARDS), [
                    {"card_uuid": key, "iss": card.iss, "patient_key": card.patient_key,
                     "rule": card.rule, "issued_at": at} for key, card in cards.items()])
            offered = [{"card_uuid": key, "suggestion_uuid": suggestion}
                       for key, card in cards.items() for suggestion in card.suggestions]
            if offered:
                connection.execute(insert(CDS_CARD_SUGGESTIONS), offered)

    def get(self, card_uuid: str) -> IssuedCard | None:
        with self._engine.connect() as connection:
            row = connection.execute(select(CDS_CARDS.c.iss, CDS_CARDS.c.patient_key,
                                            CDS_CARDS.c.rule)
                                     .where(CDS_CARDS.c.card_uuid == card_uuid)).first()
            if row is None:
                return None
            suggestions = connection.execute(
                select(CDS_CARD_SUGGESTIONS.c.suggestion_uuid)
                .where(CDS_CARD_SUGGESTIONS.c.card_uuid == card_uuid)
                .order_by(CDS_CARD_SUGGESTIONS.c.suggestion_uuid)).scalars().all()
        return IssuedCard(iss=row.iss, patient_key=row.patient_key, rule=row.rule,
                          suggestions=tuple(suggestions))

    def issued_by_rule(self, *, since: float) -> dict[str, int]:
        """Cards issued per rule since ``since`` (within the ledger's retention)."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(CDS_CARDS.c.rule, func.count())
                                      .where(CDS_CARDS.c.issued_at >= math.floor(since))
                                      .group_by(CDS_CARDS.c.rule)).all()
        return {str(rule): int(count) for rule, count in rows}


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRow:
    """One feedback item as kept for the analytics (no patient, no comment)."""

    iss: str
    rule: str
    outcome: str
    reason_code: str | None
    accepted_suggestions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleFeedback:
    """What the EHRs' users did with one rule's cards since a date."""

    rule: str
    issued: int
    """Cards of the rule issued in the period (within the ledger's 30 days)."""
    accepted: int
    overridden: int
    suggestions_accepted: int
    reasons: tuple[tuple[str, int], ...]
    """(override reason code, count), commonest first; ``(none)`` for an override without one."""

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "issued": self.issued, "accepted": self.accepted,
                "overridden": self.overridden, "suggestions_accepted": self.suggestions_accepted,
                "override_reasons": [{"code": c, "count": n} for c, n in self.reasons]}


class SqlCdsFeedback:
    """Feedback rows and their counts per rule (the analytics of ``myositis-cds cds-feedback``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, rows: list[FeedbackRow], *, now: float | None = None) -> None:
        at = math.floor(time.time() if now is None else now)
        if not rows:
            return
        with self._engine.begin() as connection:
            connection.execute(insert(CDS_FEEDBACK), [
                {"received_at": at, "iss": r.iss, "rule": r.rule, "outcome": r.outcome,
                 "reason_code": r.reason_code, "accepted_suggestions": r.accepted_suggestions}
                for r in rows])

    def by_rule(self, *, since: float, issued: dict[str, int] | None = None) -> list[RuleFeedback]:
        """Counts per rule of the feedback received since ``since`` (and of ``issued`` cards),
        rules by feedback volume."""
        table = CDS_FEEDBACK.c
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(table.rule, table.outcome, table.reason_code, func.count(),
                       func.sum(table.accepted_suggestions))
                .where(table.received_at >= math.floor(since))
                .group_by(table.rule, table.outcome, table.reason_code)).all()
        tallies: dict[str, _Tally] = {}
        for rule, outcome, reason, count, accepted in rows:
            tally = tallies.setdefault(str(rule), _Tally())
            tally.suggestions += int(accepted or 0)
            if outcome == "accepted":
                tally.accepted += int(count)
            else:
                tally.overridden += int(count)
                code = reason or "(none)"
                tally.reasons[code] = tally.reasons.get(code, 0) + int(count)
        issued = issued or {}
        found = [RuleFeedback(rule=rule, issued=issued.get(rule, 0), accepted=tally.accepted,
                              overridden=tally.overridden, suggestions_accepted=tally.suggestions,
                              reasons=tuple(sorted(tally.reasons.items(),
                                                   key=lambda item: (-item[1], item[0]))))
                 for rule in sorted(set(tallies) | set(issued))
                 for tally in (tallies.get(rule, _Tally()),)]
        found.sort(key=lambda r: (-(r.accepted + r.overridden), -r.issued, r.rule))
        return found


@dataclass(slots=True)
class _Tally:
    accepted: int = 0
    overridden: int = 0
    suggestions: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
