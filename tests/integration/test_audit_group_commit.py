"""Group commit of audited reads (issue 15, item 4): concurrent page views' ``patient.read`` events
are committed together, each view returning only once its own event is committed, and the chain
stays intact (``audit verify``)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, cast

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from myositis_cds.adapters.storage import Database
from myositis_cds.adapters.storage.audit_batch import GroupCommit
from myositis_cds.adapters.storage.audit_chain import NewEvent
from myositis_cds.services import patients
from myositis_cds.services.ports import StoredPatient, User
from tests.conftest import load_example

CLINICIAN = User(username="dr", password_hash="x", role="clinician", active=True,
                 created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def _stored(database: Database) -> StoredPatient:
    record = load_example("non-severe")
    with database() as work:
        stored = work.patients.add(patient_key=str(record["id"]), record=record)
        work.commit()
    return stored


def test_reads_waiting_for_the_chain_are_committed_as_one_batch(database: Database) -> None:
    stored = _stored(database)
    group = database._group
    before = group.batches
    done: list[int] = []
    errors: list[BaseException] = []

    def view() -> None:
        try:
            done.append(patients.read_patient(database, CLINICIAN, stored.id).version)
        except BaseException as exc:
            errors.append(exc)

    with database.engine.connect() as holder:  # another transaction holds the chain's head
        holder.execute(text("UPDATE audit_chain SET last_id = last_id WHERE id = 1"))
        first = threading.Thread(target=view)
        first.start()  # becomes the leader and waits for the head
        deadline = time.monotonic() + 30
        while not group._leading and time.monotonic() < deadline:
            time.sleep(0.01)
        others = [threading.Thread(target=view) for _ in range(9)]
        for thread in others:
            thread.start()
        while len(group._queue) < 9 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not done  # nobody returned before the events were committed
        holder.commit()
    for thread in (first, *others):
        thread.join(60)
    assert errors == []
    assert done == [1] * 10
    assert group.batches - before == 2  # the leader's own, then the nine that queued meanwhile
    with database() as work:
        reads = [e for e in work.audit.export() if e.action == "patient.read"]
        verified = work.audit.verify()
    assert len(reads) == 10
    assert verified.intact, verified.problems


class _Broken:
    def __call__(self) -> Any:
        msg = "the disk is full"
        raise OSError(msg)


def test_a_failed_batch_fails_every_view_in_it() -> None:
    group = GroupCommit(cast(sessionmaker[Session], _Broken()))
    event = NewEvent(at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC), actor="dr",
                     action="patient.read", patient_key="p", detail="id 1, version 1")
    with pytest.raises(OSError, match="disk is full"):
        group.commit([event])
    assert group.batches == 1
