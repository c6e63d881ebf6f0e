"""``Database.when_stored``: every patient created or replaced is reported once its transaction has
committed (the web application renders its page and figures then), and nothing that was rolled back."""

from __future__ import annotations

import pytest

from myositis_cds.adapters.storage import Database
from myositis_cds.errors import StaleEditError
from myositis_cds.services.ports import StoredPatient
from tests.conftest import load_example


def test_created_and_replaced_patients_are_reported_after_commit_only(database: Database) -> None:
    seen: list[tuple[int, int, str]] = []

    def listener(patient: StoredPatient) -> None:
        with database() as work:  # committed already: another transaction sees it
            assert work.patients.get(patient.id) is not None
        seen.append((patient.id, patient.version, str(patient.record["id"])))

    database.when_stored(listener)
    record = load_example("non-severe")
    with database() as work:
        stored = work.patients.add(patient_key=str(record["id"]), record=record)
        assert seen == []  # not before the commit
        work.commit()
    assert seen == [(stored.id, 1, record["id"])]
    with database() as work:  # rolled back: not reported, and not by the next commit either
        work.patients.add(patient_key="other", record={**record, "id": "other"})
    with database() as work:
        current = work.patients.get(stored.id)
        assert current is not None
        work.patients.update(current, expected_version=1)
        with pytest.raises(StaleEditError):
            work.patients.update(current, expected_version=1)
        work.commit()
    with database() as work:
        work.patients.delete(stored.id, expected_version=2)  # deletions are not "stored"
        work.commit()
    assert seen == [(stored.id, 1, record["id"]), (stored.id, 2, record["id"])]
