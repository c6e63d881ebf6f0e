"""The audit log as a hash chain: each event's SHA-256 covers its content and the previous hash.

Rewriting an event changes its hash; deleting one breaks the next event's link; truncating the
end leaves the chain's head (``audit_chain``) pointing past the last event; the head itself can
be checked against an anchor written down earlier (``audit verify --expect ID:HASH``), which no
one with write access to the database can change. The database's triggers and privileges refuse
such statements in the first place; the chain makes it *visible* when someone with the file or
the owner role went around them.

Appending takes the head row's lock first (an UPDATE), so concurrent appends on either database
queue there and get consecutive positions in the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy.orm import Session

from myositis_cds.adapters.storage.models import AuditChainRow, AuditRow

__all__ = ["GENESIS", "ChainReport", "NewEvent", "append_chained", "chain_hash", "verify_chain"]

GENESIS: Final = "0" * 64
"""The previous hash of the first event."""
_HEAD: Final = 1
_SHOWN: Final = 20


def _utc_text(at: dt.datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)  # SQLite stores UTC, naive
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(previous: str, *, event_id: int, at: dt.datetime, actor: str, action: str,
               patient_key: str | None, detail: str) -> str:
    """SHA-256 (hex) of the canonical JSON of the event with its id and the previous hash."""
    canonical = json.dumps([previous, event_id, _utc_text(at), actor, action, patient_key, detail],
                           ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


_TAKE_HEAD: Final = (update(AuditChainRow).where(AuditChainRow.id == _HEAD)
                     .values(last_id=AuditChainRow.last_id + bindparam("count", type_=Integer))
                     .returning(AuditChainRow.last_id, AuditChainRow.last_hash))
_INSERT: Final = insert(AuditRow)
_MOVE_HEAD: Final = update(AuditChainRow).where(AuditChainRow.id == _HEAD)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append (its id and hashes are given by the chain)."""

    at: dt.datetime
    actor: str
    action: str
    patient_key: str | None
    detail: str


def append_chained(session: Session, events: Sequence[NewEvent]) -> int:
    """Append ``events`` in order after the head (locking it until the transaction ends); the id
    of the last one.

    Three Core statements on the session's connection whatever the number of events (no ORM unit
    of work): the head is moved by ``len(events)`` (which takes its lock and returns the previous
    hash), the events are inserted in one ``executemany`` and the head's hash is set. The lock is
    held from the first statement to the commit, so the less work in between the better."""
    connection = session.connection()
    last_id, previous = connection.execute(_TAKE_HEAD, {"count": len(events)}).one()
    event_id, previous = int(last_id) - len(events), str(previous)
    rows = []
    for new in events:
        event_id += 1
        digest = chain_hash(previous, event_id=event_id, at=new.at, actor=new.actor,
                            action=new.action, patient_key=new.patient_key, detail=new.detail)
        rows.append({"id": event_id, "at": new.at, "actor": new.actor, "action": new.action,
                     "patient_key": new.patient_key, "detail": new.detail,
                     "prev_hash": previous, "hash": digest})
        previous = digest
    connection.execute(_INSERT, rows)
    connection.execute(_MOVE_HEAD, {"last_hash": previous})
    return event_id


@dataclass(slots=True)
class ChainReport:
    """What :func:`verify_chain` found: the events checked, the head, and every problem."""

    events: int = 0
    last_id: int = 0
    last_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < _SHOWN:
            self.problems.append(text)
        else:
            self.more_problems += 1


def _rows(session: Session) -> Iterator[AuditRow]:
    yield from session.scalars(select(AuditRow).order_by(AuditRow.id)
                               .execution_options(yield_per=1000))


def verify_chain(session: Session, *, expect: tuple[int, str] | None = None) -> ChainReport:
    """Recompute the chain from the first event; ``expect`` an anchor (id, hash) seen earlier."""
    report = ChainReport()
    previous, anchor_seen = GENESIS, False
    for row in _rows(session):
        report.events += 1
        if row.prev_hash != previous:
            report.problem(f"event {row.id}: its link to the event before does not match (an "
                           "event before it was removed or altered)")
        digest = chain_hash(row.prev_hash, event_id=row.id, at=row.at, actor=row.actor,
                            action=row.action, patient_key=row.patient_key, detail=row.detail)
        if digest != row.hash:
            report.problem(f"event {row.id}: its content does not match its hash (altered)")
        if expect is not None and row.id == expect[0]:
            anchor_seen = True
            if row.hash != expect[1]:
                report.problem(f"event {row.id}: its hash differs from the anchor {expect[1]}")
        previous, report.last_id, report.last_hash = row.hash, row.id, row.hash
    head = session.get(AuditChainRow, _HEAD)
    if head is None:
        report.problem("the chain's head (audit_chain) is missing")
    elif (head.last_id, head.last_hash) != (report.last_id, report.last_hash):
        report.problem(f"the chain's head names event {head.last_id} but the last event is "
                       f"{report.last_id} (events were removed from the end, or added around "
                       "the chain)")
    if expect is not None and not anchor_seen:
        report.problem(f"event {expect[0]} of the anchor is missing")
    return report
