"""Group commit of audited reads: the ``patient.read`` events of concurrent page views are
appended to the chain in one transaction with one durable commit, and each view returns only once
its own event is committed.

Every audit append takes the chain head's lock (:mod:`.audit_chain`) until its transaction
commits, and a durable commit waits for the disk (on this machine ≈ 3.5 ms for SQLite's WAL with
``synchronous=FULL``, PostgreSQL's WAL flush likewise): one transaction per page view capped every
server at a few hundred views a second in all and queued each view behind the others' disk
writes. Here a view's unit of work hands its events over at commit and waits; whichever waiting
thread finds no commit in progress becomes the leader: it takes every event queued so far (its
own and those of the views that arrived meanwhile), appends them in order with one set of
statements, commits, and wakes them. A failed commit fails every view of that batch (nothing is
shown without its event). Within one process; server processes still take turns at the lock,
one batch each.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from myositis_cds.adapters.storage.audit_chain import NewEvent, append_chained

__all__ = ["GroupCommit"]


@dataclass(slots=True)
class _Ticket:
    events: Sequence[NewEvent]
    done: bool = False
    error: BaseException | None = None


class GroupCommit:
    """Durable appends of events for many threads at once (see the module)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._changed = threading.Condition()
        self._queue: list[_Ticket] = []
        self._leading = False
        self.batches = 0
        """Transactions committed (for tests and benchmarks)."""

    def commit(self, events: Sequence[NewEvent]) -> None:
        """Append ``events`` (in order, contiguous in the chain) and return once they are
        committed; raises what the commit raised."""
        ticket = _Ticket(events=tuple(events))
        with self._changed:
            self._queue.append(ticket)
            while not ticket.done and self._leading:
                self._changed.wait()
            if not ticket.done:
                self._leading = True
                batch, self._queue = self._queue, []
        if not ticket.done:
            self._lead(batch)
        if ticket.error is not None:
            raise ticket.error

    def _lead(self, batch: list[_Ticket]) -> None:
        error: BaseException | None = None
        try:
            with self._sessions() as session:
                append_chained(session, [e for ticket in batch for e in ticket.events])
                session.commit()
        except BaseException as exc:  # every view of the batch fails with it
            error = exc
        with self._changed:
            for ticket in batch:
                ticket.error, ticket.done = error, True
            self.batches += 1
            self._leading = False
            self._changed.notify_all()
